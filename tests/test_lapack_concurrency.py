"""No compiled program runs two batched LAPACK calls at the same time.

jaxlib 0.10's CPU LAPACK kernels split a batched call (``num_batch_dims > 0``) over XLA's intra-op
thread pool and block until the pieces finish. If XLA schedules two such calls concurrently (they
do not depend on each other), both pool threads of a 2-core machine can block and the process
hangs. It happened in the RuLSIF fold fits (two independent batched solves) and was possible in
the vmapped debiased fit (a fallback Newton fit beside the first one; two sandwich inverses).
The checker below reads the optimised HLO of a program and reports pairs of instructions that
contain batched LAPACK custom calls (directly or inside a loop or called computation) when
neither depends on the other; the programs the simulation studies vmap must have none.
"""
import re

import jax
import jax.numpy as jnp
import numpy as np

from prefstat._x64 import x64_scope
from prefstat.design import DenseDesign
from prefstat.losses import logistic_fit
from prefstat.models.debiased import fit_core as debiased_fit_core
from prefstat.models.density_ratio_core import rulsif_fit_core
from prefstat.optim import run_after

_CALLED = re.compile(r"(?:body|condition|to_apply|calls|true_computation|false_computation)=%?([\w.\-]+)")
_BRANCHES = re.compile(r"branch_computations=\{([^}]*)\}")


def _parse(text):
    comps, cur = {}, None
    for line in text.splitlines():
        head = re.match(r"^(?:ENTRY )?%?([\w.\-]+) .*\{\s*$", line)
        if head and not line.startswith(" "):
            cur = head.group(1)
            comps[cur] = {}
            continue
        instr = re.match(r"^\s+(?:ROOT )?%?([\w.\-]+) = (.*)$", line) if cur else None
        if not instr:
            continue
        name, rest = instr.groups()
        args = re.search(r"\b[\w\-]+\((.*?)\)(,|$)", rest)
        operands = re.findall(r"%([\w.\-]+)", args.group(1)) if args else []
        called = _CALLED.findall(rest) + [c.strip().lstrip("%") for b in _BRANCHES.findall(rest) for c in b.split(",")]
        batched = 'custom_call_target="lapack_' in rest and re.search(r'num_batch_dims="[1-9]', rest) is not None
        comps[cur][name] = (operands, called, batched)
    return comps


def concurrent_batched_lapack(text):
    """Pairs ``(computation, a, b)`` of mutually independent instructions that both hold a batched LAPACK call."""
    comps = _parse(text)
    memo = {}

    def holds(comp):
        if comp not in memo:
            memo[comp] = False
            memo[comp] = any(b or any(holds(c) for c in called) for _, called, b in comps.get(comp, {}).values())
        return memo[comp]

    pairs = []
    for comp, instrs in comps.items():
        nodes = [n for n, (_, called, b) in instrs.items() if b or any(holds(c) for c in called)]
        ancestors = {}

        def up(n):
            if n not in ancestors:
                ancestors[n] = set()
                found = set()
                for o in instrs.get(n, ((), (), False))[0]:
                    if o in instrs:
                        found |= {o} | up(o)
                ancestors[n] = found
            return ancestors[n]

        for i, a in enumerate(nodes):
            for b in nodes[i + 1:]:
                if a not in up(b) and b not in up(a):
                    pairs.append((comp, a, b))
    return pairs


def _hlo(fn, *args):
    return jax.jit(fn).lower(*args).compile().as_text()


def test_checker_flags_independent_batched_solves_and_run_after_chains_them():
    A = jnp.eye(3)[None].repeat(4, 0) * 2.0

    def independent(A, B):
        return jnp.linalg.solve(A, A[..., :1]), jnp.linalg.solve(B, B[..., :1])

    def chained(A, B):
        x = jnp.linalg.solve(A, A[..., :1])
        B = run_after(B, x)
        return x, jnp.linalg.solve(B, B[..., :1])

    with x64_scope():
        assert concurrent_batched_lapack(_hlo(independent, A, A))
        assert not concurrent_batched_lapack(_hlo(chained, A, A))
        _, y = jax.jit(chained)(A + jnp.nan, A)  # the dependency adds an exact 0, even from a NaN
        np.testing.assert_array_equal(np.asarray(y), np.asarray(jnp.linalg.solve(A, A[..., :1])))


def _debiased_args(reps, m, p, n_folds):
    rng = np.random.default_rng(0)
    Z = jnp.asarray(rng.standard_normal((reps, m, p)))
    y = jnp.asarray(rng.integers(0, 2, (reps, m)) * 1.0)
    ai = jnp.asarray(rng.integers(0, 2, (reps, m)) * 1.0)
    human = jnp.asarray(np.tile(np.arange(m) % 3 == 0, (reps, 1)))
    F = jnp.concatenate([jnp.ones((reps, m, 1)), Z], -1) if n_folds else jnp.zeros((reps, m, 0))
    return Z, y, ai, human, F


def test_vmapped_debiased_fit_has_no_concurrent_batched_lapack():
    for n_folds, pooled in ((0, True), (0, False), (3, False)):
        with x64_scope():
            Z, y, ai, human, F = _debiased_args(4, 60, 3, n_folds)
            m = Z.shape[1]

            def one(Z, y, ai, human, F):
                res = debiased_fit_core(DenseDesign(X=Z), y, ai, human, jnp.ones(m), jnp.ones(m), 0.0, F,
                                        jnp.arange(m) % max(n_folds, 1), tune=True, pooled_tuning=pooled,
                                        n_folds=n_folds)
                return res.theta, res.cov, res.cov_human

            assert concurrent_batched_lapack(_hlo(jax.vmap(one), Z, y, ai, human, F)) == [], (n_folds, pooled)


def test_vmapped_rulsif_and_bt_fits_have_no_concurrent_batched_lapack():
    from prefstat import RelativeDensityRatio
    from prefstat.nuisance import assign_folds

    n, b = 40, 8
    lab = np.r_[np.ones(n), np.zeros(n)]
    folds = assign_folds(lab, 5, random_state=0)
    rows, fp, fm = RelativeDensityRatio(n_folds=5)._fold_rows(lab, folds)
    with x64_scope():
        Z = jnp.asarray(np.random.default_rng(1).standard_normal((3, 2 * n, 2)))

        def rulsif(z):
            out = rulsif_fit_core(z, z[:b], jnp.asarray(lab), jnp.asarray(folds), jnp.linspace(0.5, 2.0, 3),
                                  jnp.logspace(-3, 0, 3), 0.5, tuple(map(jnp.asarray, rows)), jnp.asarray(fp),
                                  jnp.asarray(fm), jnp.ones(3, bool))
            return out["pe"], out["se"]

        assert concurrent_batched_lapack(_hlo(jax.vmap(rulsif), Z)) == []

        def bt(z):
            W = jnp.ones(z.shape[0])
            res = logistic_fit(DenseDesign(X=z), W, 0.5 * W, jnp.zeros(2), jnp.zeros(2))
            return res.x, res.hess

        assert concurrent_batched_lapack(_hlo(jax.vmap(bt), Z)) == []
