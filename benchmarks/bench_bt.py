#!/usr/bin/env python
"""Bradley-Terry benchmark: prefstat against choix, arena-rank, statsmodels and scikit-learn.

One run, one process, every tool on the same seeded simulated data:

* A  item-level,    100k comparisons x 200 items   (random pairs, abilities ~ N(0, 1))
* B  item-level,      1M comparisons x 1000 items
* C  feature-level,   1M comparisons x 64 features (z ~ N(0, I), beta ~ N(0, 1/64))

``--quick`` shrinks these to 20k x 50, 100k x 200 and 100k x 16 (smoke test, < 2 min).

Every tool is timed from its own documented row-level input (built beforehand and
*not* timed; its build time is reported in the "input prep" column) to its estimates
(and standard errors where it computes them). The ratio column is
``peer warm time / prefstat warm time with robust SEs``. Agreement is the max abs
difference of the centred (sum-to-zero) abilities, or of the coefficients for the
feature-level design, against prefstat; SE agreement is against prefstat's robust
(HC0) SEs in the same parametrisation.

Usage::

    python benchmarks/bench_bt.py                 # full run, writes benchmarks/RESULTS.md
    python benchmarks/bench_bt.py --quick         # smoke test, prints only (add --write to write)
    python benchmarks/bench_bt.py --only A,C --repeats 5
    python benchmarks/bench_bt.py --quick --profile   # + cProfile of prefstat's fit per dataset

arena-rank is imported only inside its own function, and all arena-rank runs happen
after every other tool has run: importing it sets ``jax_enable_x64`` globally.
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as _dt
import gc
import importlib.metadata
import io
import os
import platform
import pstats
import shlex
import statistics
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
START, END = "<!-- bench_bt:start -->", "<!-- bench_bt:end -->"

# A non-JIT peer whose first call takes longer than this (seconds) is not repeated.
SLOW_SINGLE_CALL = {"full": 30.0, "quick": 2.0}
# statsmodels' item-level design is dense; skip it when the design alone exceeds this.
DENSE_LIMIT_BYTES = {"full": 2 * 1024**3, "quick": 64 * 1024**2}
# choix.opt_pairwise loops over the rows in Python (objective, gradient *and* Hessian):
# under --quick it only runs on data sets up to this many rows.
QUICK_OPT_PAIRWISE_MAX_ROWS = 20_000
# arena-rank recompiles its L-BFGS on every fit (~5-10 s per call here): under --quick it only
# runs on data sets up to this many rows.
QUICK_ARENA_MAX_ROWS = 20_000
MODE = "full"  # set by main()

SIZES = {
    "full": {"A": ("items", 100_000, 200), "B": ("items", 1_000_000, 1000), "C": ("features", 1_000_000, 64)},
    "quick": {"A": ("items", 20_000, 50), "B": ("items", 100_000, 200), "C": ("features", 100_000, 16)},
}
SEEDS = {"A": 1, "B": 2, "C": 3}

# Tolerances chosen so every peer agrees with the exact MLE to ~1e-4 or better.
SKLEARN_TOL = 1e-10
SKLEARN_MAX_ITER = 100_000
CHOIX_ILSR_TOL = 1e-8       # L1 norm of the change between ILSR iterates (choix default)
CHOIX_OPT_TOL = 1e-8        # Newton-CG xtol (choix default 1e-5 is too loose for 1e-4 agreement)


# --------------------------------------------------------------------------- data
@dataclass
class Dataset:
    name: str
    kind: str            # "items" | "features"
    n: int
    p: int               # items or features
    y: np.ndarray
    a: np.ndarray | None = None
    b: np.ndarray | None = None
    Z: np.ndarray | None = None
    truth: np.ndarray | None = None

    @property
    def label(self) -> str:
        what = "items" if self.kind == "items" else "features"
        return f"{self.name}: {self.kind}, {_si(self.n)} x {self.p} {what}"


def _si(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else (f"{n // 1000}k" if n % 1000 == 0 else str(n))


def simulate(name: str, kind: str, n: int, p: int) -> Dataset:
    rng = np.random.default_rng(SEEDS[name])
    if kind == "items":
        theta = rng.standard_normal(p)
        a = rng.integers(0, p, n)
        b = (a + rng.integers(1, p, n)) % p          # a uniformly random *other* item
        prob = 1.0 / (1.0 + np.exp(-(theta[a] - theta[b])))
        y = (rng.random(n) < prob).astype(np.float64)
        return Dataset(name, kind, n, p, y, a=a, b=b, truth=theta - theta.mean())
    Z = rng.standard_normal((n, p))
    beta = rng.normal(0.0, np.sqrt(1.0 / p), p)
    prob = 1.0 / (1.0 + np.exp(-(Z @ beta)))
    y = (rng.random(n) < prob).astype(np.float64)
    return Dataset(name, kind, n, p, y, Z=Z, truth=beta)


def centre(theta: np.ndarray) -> np.ndarray:
    return theta - theta.mean()


def centring_cov(cov_free: np.ndarray, k: int, ref: int = 0) -> np.ndarray:
    """Covariance of the centred abilities from that of the k-1 free ones (item ``ref`` fixed at 0)."""
    P = np.delete(np.eye(k), ref, axis=1)
    A = (np.eye(k) - 1.0 / k) @ P
    return A @ cov_free @ A.T


# --------------------------------------------------------------------------- results
@dataclass
class Result:
    dataset: str
    tool: str
    computes: str
    first: float | None = None           # first call (s)
    warm: float | None = None            # median of the warm calls (s)
    n_warm: int = 0
    jit: bool = False                    # compile column is meaningful
    prep: float | None = None            # building the tool's input (not in warm)
    est: np.ndarray | None = None
    se: np.ndarray | None = None
    status: str = "ok"                   # "ok" | "not installed" | "skipped" | "failed"
    notes: list = field(default_factory=list)
    ratio: float | None = None
    d_est: float | None = None
    d_se: float | None = None
    d_se_rel: float | None = None


def timed(fn, repeats: int, *, always_repeat: bool, min_warm: int = 0) -> tuple[object, float, float, int]:
    """(output of the last call, first-call time, median warm time, number of warm calls).

    ``always_repeat``: make ``repeats`` warm calls whatever the first call cost; otherwise a first
    call slower than SLOW_SINGLE_CALL is followed by only ``min_warm`` warm calls (1 for JAX tools,
    so that compilation can be told apart; 0 for the others: warm = first).
    """
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    if not always_repeat and first > SLOW_SINGLE_CALL[MODE]:
        repeats = min(repeats, min_warm)
        if repeats == 0:
            return out, first, first, 0
    times = []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, first, statistics.median(times), len(times)


def _missing(ds, tool, computes, module) -> Result | None:
    try:
        __import__(module)
    except ImportError as err:
        return Result(ds.label, tool, computes, status="not installed", notes=[f"{module}: {err}"])
    return None


def _failed(ds, tool, computes, err) -> Result:
    traceback.print_exc(file=sys.stderr)
    return Result(ds.label, tool, computes, status="failed", notes=[f"{type(err).__name__}: {err}"[:200]])


# --------------------------------------------------------------------------- prefstat
def run_prefstat(ds: Dataset, cov_type: str, repeats: int) -> Result:
    computes = "estimates + robust (HC0) SEs" if cov_type == "robust" else "estimates + model SEs"
    tool = f"prefstat BradleyTerry(cov_type={cov_type!r})"
    miss = _missing(ds, tool, computes, "prefstat")
    if miss:
        return miss
    from prefstat import BradleyTerry

    try:
        t0 = time.perf_counter()
        X = np.column_stack([ds.a, ds.b]) if ds.kind == "items" else ds.Z
        prep = time.perf_counter() - t0

        def fit():
            return BradleyTerry(cov_type=cov_type).fit(X, ds.y)

        m, first, warm, nw = timed(fit, repeats, always_repeat=True)
        if not m.converged_:
            raise RuntimeError("prefstat did not converge")
        est, se = np.asarray(m.coef_, float), np.asarray(m.stderr_, float)
        if ds.kind == "items":  # order by item label (labels are 0..k-1)
            order = np.argsort(np.asarray(m.items_, dtype=np.int64))
            est, se = est[order], se[order]
        r = Result(ds.label, tool, computes, first, warm, nw, True, prep, est, se)
        r.notes.append(f"{m.n_iter_} Newton iterations")
        return r
    except Exception as err:  # noqa: BLE001
        return _failed(ds, tool, computes, err)


def profile_prefstat(ds: Dataset, top: int = 25) -> str:
    """cProfile of one warm prefstat fit (robust SEs); JAX work shows up in the jitted-call frames."""
    from prefstat import BradleyTerry

    X = np.column_stack([ds.a, ds.b]) if ds.kind == "items" else ds.Z
    BradleyTerry(cov_type="robust").fit(X, ds.y)  # compile
    prof = cProfile.Profile()
    prof.enable()
    BradleyTerry(cov_type="robust").fit(X, ds.y)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(top)
    return buf.getvalue()


# --------------------------------------------------------------------------- choix
def _choix_data(ds: Dataset):
    winner = np.where(ds.y == 1.0, ds.a, ds.b)
    loser = np.where(ds.y == 1.0, ds.b, ds.a)
    return list(zip(winner.tolist(), loser.tolist()))


def run_choix_ilsr(ds: Dataset, repeats: int) -> Result:
    tool, computes = "choix.ilsr_pairwise", "estimates"
    miss = _missing(ds, tool, computes, "choix")
    if miss:
        return miss
    import choix

    try:
        t0 = time.perf_counter()
        data = _choix_data(ds)
        prep = time.perf_counter() - t0
        alpha, notes = 0.0, ["alpha=0 (unregularised)"]
        try:
            choix.ilsr_pairwise(ds.p, data[: min(len(data), 20_000)], alpha=0.0)  # cheap convergence probe
        except (RuntimeError, ValueError) as err:
            alpha, notes = 1e-8, [f"alpha=1e-8 (alpha=0 failed: {err})"]

        def fit():
            return choix.ilsr_pairwise(ds.p, data, alpha=alpha, tol=CHOIX_ILSR_TOL, max_iter=1000)

        est, first, warm, nw = timed(fit, repeats, always_repeat=False)
        r = Result(ds.label, tool, computes, first, warm, nw, False, prep, centre(np.asarray(est)))
        r.notes += notes + [f"tol={CHOIX_ILSR_TOL:g}"]
        return r
    except Exception as err:  # noqa: BLE001
        return _failed(ds, tool, computes, err)


def run_choix_opt(ds: Dataset, repeats: int) -> Result:
    tool, computes = "choix.opt_pairwise (Newton-CG)", "estimates"
    miss = _missing(ds, tool, computes, "choix")
    if miss:
        return miss
    if MODE == "quick" and ds.n > QUICK_OPT_PAIRWISE_MAX_ROWS:
        return Result(ds.label, tool, computes, status="skipped",
                      notes=[f"--quick runs it only up to {QUICK_OPT_PAIRWISE_MAX_ROWS} rows (pure-Python loops)"])
    import choix

    try:
        t0 = time.perf_counter()
        data = _choix_data(ds)
        prep = time.perf_counter() - t0

        def fit():
            return choix.opt_pairwise(ds.p, data, alpha=0.0, method="Newton-CG", tol=CHOIX_OPT_TOL)

        est, first, warm, nw = timed(fit, repeats, always_repeat=False)
        r = Result(ds.label, tool, computes, first, warm, nw, False, prep, centre(np.asarray(est)))
        r.notes.append(f"alpha=0 (choix default 1e-6), xtol={CHOIX_OPT_TOL:g}")
        return r
    except Exception as err:  # noqa: BLE001
        return _failed(ds, tool, computes, err)


# --------------------------------------------------------------------------- arena-rank
def run_arena(ds: Dataset, repeats: int) -> Result:
    tool, computes = "arena-rank BradleyTerry (sandwich)", "estimates + sandwich SEs"
    try:
        import importlib.util

        if importlib.util.find_spec("arena_rank") is None:
            raise ImportError("No module named 'arena_rank'")
    except (ImportError, ValueError) as err:
        return Result(ds.label, tool, computes, status="not installed", notes=[str(err)])
    if MODE == "quick" and ds.n > QUICK_ARENA_MAX_ROWS:
        return Result(ds.label, tool, computes, status="skipped",
                      notes=[f"--quick runs it only up to {QUICK_ARENA_MAX_ROWS} rows (it recompiles on every fit)"])
    try:
        import pandas as pd
        # NB: this import sets jax_enable_x64 globally (arena_rank/models/bradley_terry.py).
        from arena_rank.models.bradley_terry import BradleyTerry as ArenaBT
        from arena_rank.utils.data_utils import PairDataset

        t0 = time.perf_counter()
        df = pd.DataFrame({"model_a": ds.a, "model_b": ds.b,
                           "winner": np.where(ds.y == 1.0, "model_a", "model_b")})
        prep = time.perf_counter() - t0
        parts = {"from_pandas": [], "fit+sandwich": []}

        def fit():
            t0 = time.perf_counter()
            data = PairDataset.from_pandas(df)
            t1 = time.perf_counter()
            model = ArenaBT(n_competitors=len(data.competitors))
            out = model.compute_ratings_and_cis(data, ci_method="sandwich")
            ratings, var = np.asarray(out["ratings"]), np.asarray(out["variances"])  # blocks until ready
            parts["from_pandas"].append(t1 - t0)
            parts["fit+sandwich"].append(time.perf_counter() - t1)
            return data.competitors, ratings, var, model

        (comps, ratings, var, model), first, warm, nw = timed(fit, repeats, always_repeat=False, min_warm=1)
        scale = model.alpha                     # 400 / ln 10: rating = scale * theta + 1000
        order = np.argsort(np.asarray(comps, dtype=np.int64))
        theta = (ratings[order] - model.init_rating) / scale
        se = np.sqrt(var[order]) / scale
        r = Result(ds.label, tool, computes, first, warm, nw, True, prep, centre(theta), se)
        fp, fs = statistics.median(parts["from_pandas"][1:]), statistics.median(parts["fit+sandwich"][1:])
        r.notes.append(f"timed from_pandas + compute_ratings_and_cis; of the warm time {fp:.2f}s is from_pandas "
                       f"(aggregation), {fs:.2f}s L-BFGS fit + sandwich")
        r.notes.append(f"Elo scale converted: theta = (rating - 1000) * ln(10)/400; "
                       f"hessian_reg={model.hessian_reg:g} x n added to the Hessian")
        return r
    except Exception as err:  # noqa: BLE001
        return _failed(ds, tool, computes, err)


# --------------------------------------------------------------------------- statsmodels
def _dense_item_design(ds: Dataset) -> np.ndarray:
    """+1 at the left item, -1 at the right item, reference item 0 dropped."""
    X = np.zeros((ds.n, ds.p))
    rows = np.arange(ds.n)
    X[rows, ds.a] = 1.0
    X[rows, ds.b] = -1.0
    return np.ascontiguousarray(X[:, 1:])


def run_statsmodels(ds: Dataset, repeats: int) -> Result:
    tool, computes = "statsmodels GLM Binomial (HC0)", "estimates + HC0 SEs"
    miss = _missing(ds, tool, computes, "statsmodels")
    if miss:
        return miss
    if ds.kind == "items":
        need = ds.n * (ds.p - 1) * 8
        limit = DENSE_LIMIT_BYTES[MODE]
        if need > limit:
            return Result(ds.label, tool, computes, status="skipped",
                          notes=[f"dense +1/-1 design would be {need / 1024**2:,.0f} MB "
                                 f"(> {limit / 1024**2:,.0f} MB limit{' under --quick' if MODE == 'quick' else ''})"])
    import statsmodels.api as sm

    try:
        t0 = time.perf_counter()
        X = _dense_item_design(ds) if ds.kind == "items" else ds.Z
        prep = time.perf_counter() - t0

        def fit():
            return sm.GLM(ds.y, X, family=sm.families.Binomial()).fit(cov_type="HC0", tol=1e-10)

        res, first, warm, nw = timed(fit, repeats, always_repeat=False)
        params, cov = np.asarray(res.params), np.asarray(res.cov_params())
        if ds.kind == "items":
            est = centre(np.r_[0.0, params])
            se = np.sqrt(np.diag(centring_cov(cov, ds.p)))
        else:
            est, se = params, np.sqrt(np.diag(cov))
        r = Result(ds.label, tool, computes, first, warm, nw, False, prep, est, se)
        r.notes.append(f"IRLS, tol=1e-10, {int(res.fit_history['iteration'])} iterations; "
                       + ("dense design, item 0 dropped, SEs mapped to sum-to-zero"
                          if ds.kind == "items" else "dense design"))
        del X
        return r
    except Exception as err:  # noqa: BLE001
        return _failed(ds, tool, computes, err)


# --------------------------------------------------------------------------- scikit-learn
def run_sklearn(ds: Dataset, repeats: int) -> Result:
    tool, computes = "sklearn LogisticRegression (lbfgs)", "estimates"
    miss = _missing(ds, tool, computes, "sklearn")
    if miss:
        return miss
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    try:
        t0 = time.perf_counter()
        if ds.kind == "items":
            rows = np.repeat(np.arange(ds.n), 2)
            cols = np.column_stack([ds.a, ds.b]).ravel()
            vals = np.tile([1.0, -1.0], ds.n)
            X = sp.csr_matrix((vals, (rows, cols)), shape=(ds.n, ds.p))[:, 1:].tocsr()
        else:
            X = ds.Z
        prep = time.perf_counter() - t0

        def make():
            # C=inf is "no penalty" in scikit-learn >= 1.8 (penalty=None deprecated there).
            kw = dict(fit_intercept=False, solver="lbfgs", tol=SKLEARN_TOL, max_iter=SKLEARN_MAX_ITER)
            try:
                from sklearn import __version__ as v
                major, minor = (int(x) for x in v.split(".")[:2])
                new = (major, minor) >= (1, 8)
            except Exception:  # noqa: BLE001
                new = False
            return LogisticRegression(C=np.inf, **kw) if new else LogisticRegression(penalty=None, **kw)

        def fit():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return make().fit(X, ds.y)

        m, first, warm, nw = timed(fit, repeats, always_repeat=False)
        coef = np.asarray(m.coef_).ravel()
        est = centre(np.r_[0.0, coef]) if ds.kind == "items" else coef
        r = Result(ds.label, tool, computes, first, warm, nw, False, prep, est)
        r.notes.append(f"C=inf, tol={SKLEARN_TOL:g}, {int(np.max(m.n_iter_))} iterations"
                       + ("; CSR design, item 0 dropped" if ds.kind == "items" else "; dense design"))
        return r
    except Exception as err:  # noqa: BLE001
        return _failed(ds, tool, computes, err)


# --------------------------------------------------------------------------- report
def machine_info() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024**2:.1f} GB"
    except OSError:
        pass
    threads = ", ".join(f"{v}={os.environ[v]!r}" if v in os.environ else f"{v} unset"
                        for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS"))
    return {"cores": os.cpu_count(), "cpu": cpu, "mem": mem, "os": platform.platform(),
            "python": platform.python_version(), "threads": threads}


def versions() -> dict:
    out = {}
    for dist in ("prefstat", "jax", "jaxlib", "numpy", "scipy", "pandas", "choix", "arena-rank", "optax",
                 "statsmodels", "scikit-learn"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _fmt(x, spec=".3f", none="—"):
    return none if x is None else format(x, spec)


def compare(results: list[Result]) -> None:
    ref = {r.dataset: r for r in results if r.tool.startswith("prefstat") and "robust" in r.tool and r.status == "ok"}
    for r in results:
        base = ref.get(r.dataset)
        if base is None or r.status != "ok":
            continue
        if r.warm is not None and base.warm:
            r.ratio = r.warm / base.warm
        if r is base:
            continue
        if r.est is not None:
            r.d_est = float(np.max(np.abs(r.est - base.est)))
        if r.se is not None and base.se is not None and "model SEs" not in r.computes:
            d = np.abs(r.se - base.se)
            r.d_se, r.d_se_rel = float(np.max(d)), float(np.max(d / base.se))


def table(results: list[Result]) -> str:
    head = ("| dataset | tool | computes | input prep (s) | first call (s) | warm (s) | compile (s) | "
            "peer / prefstat | max abs Δ estimate | max abs Δ SE (rel) | notes |")
    lines = [head, "|" + "|".join(["---"] * (head.count("|") - 1)) + "|"]
    for r in results:
        if r.status != "ok":
            lines.append(f"| {r.dataset} | {r.tool} | {r.computes} | — | — | — | — | — | — | — | "
                         f"**{r.status}**: {'; '.join(r.notes)} |")
            continue
        warm = f"{r.warm:.3f}" + (f" (median of {r.n_warm})" if r.n_warm > 1 else
                                  " (first call only)" if r.n_warm == 0 else " (1 warm call)")
        if not r.jit:
            compile_ = "—"
        elif not r.n_warm:
            compile_ = "n/a"
        else:
            c = r.first - r.warm
            compile_ = "≈0" if c < 0.01 else f"{c:.3f}"
        d_se = "—" if r.d_se is None else f"{r.d_se:.1e} ({r.d_se_rel:.1e})"
        d_est = "ref" if r.tool.startswith("prefstat") and "robust" in r.tool else _fmt(r.d_est, ".1e")
        if r.tool.startswith("prefstat") and "model" in r.tool:
            d_est = _fmt(r.d_est, ".1e")
        lines.append(f"| {r.dataset} | {r.tool} | {r.computes} | {_fmt(r.prep, '.2f')} | {r.first:.3f} | {warm} | "
                     f"{compile_} | {_fmt(r.ratio, '.2f')} | {d_est} | {d_se} | {'; '.join(r.notes)} |")
    return "\n".join(lines)


def command_line() -> str:
    """The command that ran this benchmark, with the BLAS thread setting when one was made."""
    env = [f"{k}={os.environ[k]}" for k in ("OPENBLAS_NUM_THREADS",) if k in os.environ]
    return " ".join(env + [shlex.join([sys.executable] + sys.argv)])


def section(results, args, info, vers, load0, load1, load_max, started, elapsed, extra_notes) -> str:
    cmd = command_line()
    # This process alone keeps the load near 1 to 2 on a small machine; above the core count, or
    # anything at the start (before this process did any work), means other processes competed.
    loaded = load0[0] > 0.5 or load_max > (os.cpu_count() or 1)
    sizes = "quick (smoke-test sizes)" if args.quick else "full"
    out = [
        START,
        "## Bradley-Terry MLE (`benchmarks/bench_bt.py`)",
        "",
        f"- **Command**: `{cmd}` (run from `{os.getcwd()}`)",
        f"- **Date**: {started.isoformat(timespec='seconds')} (wall time of the whole run {elapsed / 60:.1f} min)",
        f"- **Machine**: {info['cores']} cores, {info['cpu']}, {info['mem']} RAM, {info['os']}, Python {info['python']}",
        f"- **Load average** (1/5/15 min) at start {load0[0]:.2f}/{load0[1]:.2f}/{load0[2]:.2f}, "
        f"at end {load1[0]:.2f}/{load1[1]:.2f}/{load1[2]:.2f}, highest 1-min value sampled after each tool "
        f"{load_max:.2f}"
        + (" — **the machine was loaded by other processes: timings are noisy**" if loaded else ""),
        f"- **Threading environment**: {info['threads']} (JAX's CPU LAPACK calls, e.g. prefstat's Cholesky, "
        "go through scipy's OpenBLAS, so OPENBLAS_NUM_THREADS affects prefstat as well as the NumPy peers)",
        "- **Versions**: " + ", ".join(f"{k} {v}" for k, v in vers.items()),
        f"- **Sizes**: {sizes}; repeats (warm calls) = {args.repeats}; seeds A=1, B=2, C=3",
        "",
        "Timing: each tool is timed from its own documented row-level input (built beforehand, build time in "
        "*input prep*, not in *warm*) to its estimates (+ SEs where listed). *first call* includes JIT "
        "compilation for JAX tools (the JAX backend is initialised beforehand); *warm* is the median of the "
        f"warm calls; *compile* = first − warm. Non-JIT peers whose first call exceeds {SLOW_SINGLE_CALL[MODE]:.0f} s "
        "are not repeated (warm = that single call). *peer / prefstat* = warm time / prefstat's warm time "
        "**with robust SEs** on the same data (> 1: prefstat faster). *max abs Δ estimate*: centred "
        "(sum-to-zero) abilities (items) or coefficients (features) vs prefstat; *max abs Δ SE*: vs prefstat's "
        "robust (HC0) SEs of the same parametrisation, relative difference in brackets. prefstat with "
        "model-based SEs is compared on estimates only.",
        "",
        table(results),
        "",
    ]
    if extra_notes:
        out += ["Notes:", ""] + [f"- {n}" for n in extra_notes] + [""]
    out.append(END)
    return "\n".join(out)


def write_results(text: str, path: Path, start: str = START, end: str = END) -> None:
    """Replace the section between the markers ``start`` and ``end`` of ``path`` by ``text`` (which
    carries the markers), or append it; every benchmark script writes only its own section."""
    if path.exists():
        old = path.read_text()
        if start in old and end in old:
            pre, rest = old.split(start, 1)
            new = pre + text + rest.split(end, 1)[1]
        else:
            new = old.rstrip("\n") + "\n\n" + text + "\n"
    else:
        new = ("# prefstat benchmarks\n\nEach benchmark script writes only its own section, between its "
               "`<!-- name:start -->` / `<!-- name:end -->` markers; the rest of this file is preserved.\n\n"
               + text + "\n")
    path.write_text(new)


# --------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test, < 2 min)")
    ap.add_argument("--only", default="A,B,C", help="comma-separated datasets among A,B,C (default all)")
    ap.add_argument("--repeats", type=int, default=3, help="warm calls per tool (median reported; default 3)")
    ap.add_argument("--write", dest="write", action="store_true", default=None,
                    help="write the section of benchmarks/RESULTS.md (default: yes unless --quick)")
    ap.add_argument("--no-write", dest="write", action="store_false")
    ap.add_argument("--results", type=Path, default=RESULTS, help="results file (default benchmarks/RESULTS.md)")
    ap.add_argument("--skip", default="", help="comma-separated peers to leave out: choix_opt, statsmodels, "
                    "arena, choix_ilsr, sklearn (e.g. the slow ones for a short re-measurement)")
    ap.add_argument("--profile", action="store_true", help="also print a cProfile of one warm prefstat fit per dataset")
    args = ap.parse_args(argv)
    global MODE
    MODE = "quick" if args.quick else "full"
    write = (not args.quick) if args.write is None else args.write
    only = [s.strip().upper() for s in args.only.split(",") if s.strip()]
    bad = [s for s in only if s not in ("A", "B", "C")]
    if bad:
        ap.error(f"--only takes A, B and/or C; got {bad}")
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = skip - {"choix_opt", "statsmodels", "arena", "choix_ilsr", "sklearn"}
    if unknown:
        ap.error(f"--skip takes choix_opt, statsmodels, arena, choix_ilsr, sklearn; got {sorted(unknown)}")

    started = _dt.datetime.now().astimezone()
    t_start = time.perf_counter()
    load0 = os.getloadavg()
    info, vers = machine_info(), versions()
    print(f"# bench_bt: {info['cores']} cores, {info['cpu']}; load {load0[0]:.2f}", flush=True)

    try:  # initialise the JAX backend outside every timed call
        import jax
        import jax.numpy as jnp
        jnp.zeros(1).block_until_ready()
        x64_before = bool(jax.config.jax_enable_x64)
    except ImportError:
        x64_before = None

    sizes = SIZES["quick" if args.quick else "full"]
    datasets = {}
    for name in only:
        kind, n, p = sizes[name]
        t0 = time.perf_counter()
        datasets[name] = simulate(name, kind, n, p)
        print(f"simulated {datasets[name].label} in {time.perf_counter() - t0:.1f}s", flush=True)

    results: list[Result] = []
    loads: list[float] = [load0[0]]
    extra_notes: list[str] = []

    def add(r: Result):
        loads.append(os.getloadavg()[0])
        results.append(r)
        msg = f"{r.warm:.3f}s warm" if r.status == "ok" else r.status
        print(f"  {r.dataset:<40} {r.tool:<45} {msg}  {'; '.join(r.notes)}", flush=True)

    profiles = {}
    for name, ds in datasets.items():
        print(f"[{ds.label}]", flush=True)
        add(run_prefstat(ds, "robust", args.repeats))
        add(run_prefstat(ds, "model", args.repeats))
        if ds.kind == "items":
            if "choix_ilsr" not in skip:
                add(run_choix_ilsr(ds, args.repeats))
            if "choix_opt" not in skip:
                add(run_choix_opt(ds, args.repeats))
        if "statsmodels" not in skip:
            add(run_statsmodels(ds, args.repeats))
        if "sklearn" not in skip:
            add(run_sklearn(ds, args.repeats))
        if args.profile:
            profiles[name] = profile_prefstat(ds)

    # arena-rank last: importing it flips jax_enable_x64 globally for the rest of the process.
    for name, ds in datasets.items():
        if ds.kind == "items" and "arena" not in skip:
            print(f"[{ds.label}] arena-rank", flush=True)
            add(run_arena(ds, args.repeats))
    if any(r.tool.startswith("arena") and r.status == "ok" for r in results):
        extra_notes.append("arena-rank ran after every other tool because importing it sets jax_enable_x64 "
                           f"globally (before: {x64_before}; prefstat scopes x64 itself, so its timings are "
                           "unaffected either way). arena-rank builds a new jitted L-BFGS closure on every fit, "
                           "so it recompiles on every call: its warm time includes compilation.")
    if any(r.tool.startswith("arena") and r.d_se is not None for r in results):
        extra_notes.append("arena-rank's sandwich adds hessian_reg x (number of comparisons) = 1e-5 n to the "
                           "diagonal of the Hessian (the bread), which shrinks its SEs by roughly "
                           "1e-5 n / (information of an item): that, not the estimates, is what separates its SEs "
                           "from prefstat's exact HC0 (see benchmarks/README.md).")
    extra_notes.append("choix and arena-rank fit the full k-vector of abilities (no reference); statsmodels "
                       "and scikit-learn drop item 0. All estimates are centred before comparison.")
    # Simulation sanity: prefstat's error against the truth (sampling error, not a tool difference).
    for r in results:
        if r.tool.startswith("prefstat") and "robust" in r.tool and r.status == "ok":
            ds = next(d for d in datasets.values() if d.label == r.dataset)
            z = (r.est - ds.truth) / r.se
            extra_notes.append(f"{ds.name}: prefstat vs simulated truth: RMS of (estimate − truth)/SE = "
                               f"{np.sqrt(np.mean(z**2)):.2f} (≈ 1 expected)")

    compare(results)
    elapsed = time.perf_counter() - t_start
    load1 = os.getloadavg()
    text = section(results, args, info, vers, load0, load1, max(loads), started, elapsed, extra_notes)
    print()
    print(text)
    for name, prof in profiles.items():
        print(f"\n### cProfile, prefstat BradleyTerry(cov_type='robust'), warm fit on {datasets[name].label}\n")
        print(prof)
    if write:
        write_results(text, args.results)
        print(f"\nwrote section to {args.results}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
