"""The simulation study runner: process grid x sizes x estimators x replications.

``Study(process, estimators, sizes, reps, seed).run()`` returns a tidy pandas
DataFrame with one row per replication x cell x estimator: the process
parameters of the cell, ``n``, ``estimator``, ``rep``, the array-valued
``estimate``, ``stderr``, ``lower``, ``upper``, ``truth``, and the metrics
``error`` (Euclidean distance to the truth), ``angle_deg``, ``disagreement``
(direction estimators on feature data), ``converged``, ``runtime_s`` and
``level``, ``exists`` (the existence verdict of the replication's estimate, see
:mod:`prefstat.simulate.protocols`; :mod:`prefstat.diagnostics` leaves replications
without one out of its metrics and counts them), and one column per extra value an
adapter returns (e.g. ``cone_radius`` and ``intervals`` of :class:`SignSim`, ``lam``
and ``n_eff`` of :class:`DebiasedSim`). Grid parameters come first, before ``estimator``.

Estimators are adapters (:mod:`prefstat.simulate.estimators`) or plain prefstat
estimator instances, which :func:`~prefstat.simulate.estimators.adapter_for` maps
to the vmapped adapter where one exists and to a loop otherwise.

Determinism: cell ``c`` draws its replications from ``PRNGKey`` seeded by
``SeedSequence([seed, c])``, and every estimator in a cell sees the same data
(common random numbers). Results therefore do not depend on the backend or on
the order in which cells run; only ``runtime_s`` (wall time) differs.

Execution: for an estimator with a pure JAX core, the replications of a cell
run as one compiled ``jit(vmap(core))`` per chunk of replications (chunks are
padded to one shape; compilation is excluded from ``runtime_s``, which is the
amortised per-replication run time). Compiled programs are kept in a
process-wide cache keyed by (adapter, process, data shapes and dtypes), so
cells with the same shapes and repeated ``run()`` calls compile once (plus
JAX's persistent cache across processes, see :mod:`prefstat.runtime`). The
compile time is reported separately: ``df.attrs["compile_s"]`` of the results
(seconds per estimator, 0 when every program came from the cache) and
``Study.compile_s_``. Estimators without a core are fitted in a Python loop.
``backend="dask"`` sends cells to a ``dask.distributed`` cluster as tasks.
"""
from __future__ import annotations

import dataclasses
import itertools
import time
from typing import Any, Sequence

import jax
import numpy as np
import pandas as pd
from scipy import stats
from tqdm.auto import tqdm

from ..runtime import register_cache
from .._x64 import x64_scope
from ..exceptions import StudyError
from ..geometry import angles_degrees
from .estimators import adapter_for, vmapped
from .protocols import RESULT_KEYS, LoopAdapter, SimAdapter, VmappedAdapter

__all__ = ["Study", "StudyError", "save_results", "load_results", "run_cell"]

_ARRAY_COLUMNS = ("estimate", "stderr", "lower", "upper", "truth")  # plus any array-valued extra column
_EVAL_SIZE = 100_000  # fresh pairs for the disagreement rate (Monte-Carlo s.e. <= 0.0016)


@dataclasses.dataclass(frozen=True)
class Cell:
    index: int
    params: tuple  # ((name, value), ...) process parameters of this cell
    n: int

    def describe(self) -> str:
        parts = [f"{k}={v!r}" for k, v in self.params] + [f"n={self.n}"]
        return "cell " + ", ".join(parts)


class Study:
    """A simulation study.

    Parameters
    ----------
    process : a process from :mod:`prefstat.simulate.processes` (frozen dataclass with ``sample(key, n)``)
    estimators : sequence of adapters (:class:`BTSim`, :class:`LoopSim`, ...; see
        :mod:`prefstat.simulate.protocols`) or plain prefstat estimator instances (``ps.BradleyTerry()``,
        mapped by :func:`~prefstat.simulate.estimators.adapter_for`); names must be unique
    sizes : sample sizes n
    reps : replications per cell
    seed : int
    grid : dict mapping process field names to lists of values (cells = product x sizes)
    level : confidence level of the reported intervals
    chunk : replications per vmapped call (default: bounded so one chunk holds ~2e7 numbers)
    pool_ratio : for two-sample processes, whose ``sample(key, n, n_pool)`` takes a second size
        (:class:`~prefstat.simulate.BiasedJudge`: n human rows and n_pool AI-labelled pool rows), the
        second size is ``round(pool_ratio * n)``; ``n`` in the results is the first size. None (default):
        ``sample(key, n)``.
    """

    def __init__(self, process, estimators: Sequence, sizes: Sequence[int], reps: int, seed: int = 0,
                 grid: dict | None = None, level: float = 0.95, chunk: int | None = None,
                 pool_ratio: float | None = None):
        estimators = [_as_adapter(e, process) for e in estimators]
        names = [e.name for e in estimators]
        if len(set(names)) != len(names):
            raise ValueError(f"estimator names must be unique; got {names}.")
        if reps < 1 or not sizes:
            raise ValueError("a study needs reps >= 1 and at least one sample size.")
        self.process = process
        self.estimators = list(estimators)
        self.sizes = [int(n) for n in sizes]
        self.reps = int(reps)
        self.seed = int(seed)
        self.grid = dict(grid or {})
        self.level = float(level)
        self.chunk = chunk
        self.pool_ratio = pool_ratio

    def sampler(self, process, n: int):
        """``key -> process.sample(key, n)``, or ``(key, n, round(pool_ratio * n))`` for two-sample processes."""
        if self.pool_ratio is None:
            return lambda key: process.sample(key, n)
        n_pool = int(round(self.pool_ratio * n))
        return lambda key: process.sample(key, n, n_pool)

    def cells(self) -> list[Cell]:
        keys = list(self.grid)
        combos = list(itertools.product(*(self.grid[k] for k in keys))) or [()]
        out = []
        for params in combos:
            for n in self.sizes:
                out.append(Cell(index=len(out), params=tuple(zip(keys, params)), n=n))
        return out

    def run(self, backend: str = "local", client: Any = None, progress: bool = True) -> pd.DataFrame:
        """Run every cell; ``backend="dask"`` needs ``client`` (a Client or a scheduler address)."""
        cells = self.cells()
        if backend == "local":
            frames = [self._run_cell(c) for c in tqdm(cells, desc="cells", disable=not progress)]
        elif backend == "dask":
            frames = self._run_dask(cells, client, progress)
        else:
            raise ValueError(f"backend must be 'local' or 'dask'; got {backend!r}.")
        compile_s = {}
        for frame in frames:  # per-cell compile times travel in the frames' attrs (also from Dask workers)
            for name, seconds in frame.attrs.get("compile_s", {}).items():
                compile_s[name] = compile_s.get(name, 0.0) + seconds
        df = pd.concat(frames, ignore_index=True)
        self.compile_s_ = compile_s
        df = df.sort_values(["_cell", "estimator", "rep"], kind="stable").drop(columns="_cell").reset_index(drop=True)
        df.attrs["compile_s"] = compile_s
        return df

    def _run_dask(self, cells, client, progress):
        from dask.distributed import Client, as_completed

        own = False
        if client is None:
            raise ValueError("backend='dask' needs client= (a dask.distributed.Client or a scheduler address).")
        if isinstance(client, str):
            client, own = Client(client), True
        try:
            futures = {client.submit(run_cell, self, c, pure=False): c for c in cells}
            frames = []
            for fut in tqdm(as_completed(futures), total=len(futures), desc="cells", disable=not progress):
                frames.append(fut.result())
            return frames
        finally:
            if own:
                client.close()

    def _run_cell(self, cell: Cell) -> pd.DataFrame:
        return run_cell(self, cell)


def _as_adapter(estimator, process):
    """An adapter as is (checked against the protocols), or the adapter of a plain estimator instance."""
    if isinstance(estimator, SimAdapter):
        vm, loop = isinstance(estimator, VmappedAdapter), isinstance(estimator, LoopAdapter)
        if vm == loop:
            raise ValueError(f"adapter {estimator.name!r} must define exactly one of core(process, data) and "
                             "fit(process, data) (see prefstat.simulate.protocols).")
        if estimator.compare not in ("coef", "direction"):
            raise ValueError(f"adapter {estimator.name!r}: compare must be 'coef' or 'direction'; "
                             f"got {estimator.compare!r}.")
        return estimator
    if hasattr(estimator, "get_params") and hasattr(estimator, "fit"):
        return adapter_for(estimator, process)
    raise ValueError(f"{estimator!r} is neither a simulation adapter (name, compare, truth, core or fit) nor a "
                     "prefstat estimator instance.")


def run_cell(study: Study, cell: Cell) -> pd.DataFrame:
    """Run one cell (all estimators, all replications); wraps any failure in :class:`StudyError`."""
    try:
        with x64_scope():
            return _cell_frame(study, cell)
    except StudyError:
        raise
    except Exception as err:  # noqa: BLE001 - re-raised with the cell named
        raise StudyError(f"{cell.describe()} failed: {type(err).__name__}: {err}") from err


def _cell_frame(study: Study, cell: Cell) -> pd.DataFrame:
    process = dataclasses.replace(study.process, **dict(cell.params)) if cell.params else study.process
    seed = int(np.random.SeedSequence([study.seed, cell.index]).generate_state(1)[0])
    keys = jax.random.split(jax.random.PRNGKey(seed), study.reps)
    draw = study.sampler(process, cell.n)
    sample = _jitted_sampler(study, process, cell.n, draw)
    chunk = study.chunk or max(1, min(study.reps, int(2e7 // _data_size(draw))))
    z_eval = None
    rows, compile_s = [], {}
    for est in study.estimators:
        truth = est.truth(process)
        if est.compare == "direction":
            truth = truth / np.linalg.norm(truth)
            if z_eval is None:
                eval_data = study.sampler(process, _EVAL_SIZE)(jax.random.PRNGKey(seed ^ 0x5EED))
                z_eval = np.asarray(eval_data["Z"]) if "Z" in eval_data else False
        out, runtime, compile_s[est.name] = _estimate(est, process, sample, keys, chunk)
        rows.append(_rows(est, cell, out, truth, runtime, study.level, z_eval))
    frame = pd.concat(rows, ignore_index=True)
    for name, value in cell.params:
        frame.insert(0, name, [value] * len(frame))
    frame["_cell"] = cell.index
    frame.attrs["compile_s"] = compile_s
    return frame


# Compiled jit(vmap(core)) programs of this process: (adapter, process, data avals) -> executable.
# Adapters and processes are frozen dataclasses, so equal ones (same repr too) share a program;
# an unhashable one (e.g. an array field) is compiled every time. Bounded: oldest entries go first.
_COMPILED: dict = {}
_COMPILED_MAX = 64
register_cache(_COMPILED.clear)


def _jitted_sampler(study, process, n, draw):
    """``jit(vmap(draw))``, one per (study class, pool ratio, process, n) in this process."""
    key = ("sampler", type(study), repr(study.pool_ratio), process, repr(process), n)
    try:
        hit = _COMPILED.get(key)
    except TypeError:
        return jax.jit(jax.vmap(draw))
    if hit is None:
        hit = _remember(key, jax.jit(jax.vmap(draw)))
    return hit


def _remember(key, value):
    if len(_COMPILED) >= _COMPILED_MAX:
        _COMPILED.pop(next(iter(_COMPILED)))
    _COMPILED[key] = value
    return value


def _compiled(est, process, data):
    """(executable of ``vmapped(est, process)`` for ``data``'s shapes, seconds spent compiling)."""
    leaves, tree = jax.tree_util.tree_flatten(data)
    # repr as well as equality: 1 == 1.0 == True and 0.0 == -0.0, but the traced constants differ
    key = (est, process, repr(est), repr(process), tree, tuple((x.shape, str(x.dtype)) for x in leaves),
           jax.config.jax_enable_x64)
    try:
        hit = _COMPILED.get(key)
    except TypeError:  # unhashable adapter or process
        key, hit = None, None
    if hit is not None:
        return hit, 0.0
    t0 = time.perf_counter()
    compiled = vmapped(est, process).lower(data).compile()
    elapsed = time.perf_counter() - t0
    if key is not None:
        _remember(key, compiled)
    return compiled, elapsed


def _data_size(draw) -> int:
    """Numbers in one sampled data set (all rows, all keys)."""
    probe = jax.eval_shape(draw, jax.random.PRNGKey(0))
    return max(1, sum(int(np.prod(v.shape)) for v in probe.values()))


def _estimate(est, process, sample, keys, chunk):
    """Estimates for all replications: vmapped core by padded chunks, or a host loop.

    Returns ({key: (reps, ...) array}, per-replication runtime, compile seconds); ``stderr`` is
    absent when the adapter reports none.
    """
    reps = keys.shape[0]
    outs, elapsed, compile_s = [], 0.0, 0.0
    if isinstance(est, VmappedAdapter):
        compiled = None
        for start in range(0, reps, chunk):
            idx = np.minimum(np.arange(start, start + chunk), reps - 1)  # pad the last chunk to one shape
            data = sample(keys[idx])
            if compiled is None:
                compiled, compile_s = _compiled(est, process, data)
            t0 = time.perf_counter()
            out = jax.block_until_ready(compiled(data))
            elapsed += time.perf_counter() - t0
            take = min(chunk, reps - start)
            outs.append({k: np.asarray(v)[:take] for k, v in out.items() if v is not None})
        merged = {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}
        return merged, elapsed / reps, compile_s
    per_rep = []
    for r in range(reps):
        data = {k: np.asarray(v)[0] for k, v in sample(keys[r : r + 1]).items()}
        t0 = time.perf_counter()
        per_rep.append(est.fit(process, data))
        elapsed += time.perf_counter() - t0
    ok = [o for o in per_rep if o.get("estimate") is not None]
    if not ok:
        errors = {o.get("fit_error") for o in per_rep} - {None, ""}
        raise ValueError(f"estimator {est.name!r} failed on every replication: {sorted(errors)[:1]}")
    shape = np.shape(ok[0]["estimate"])
    nan = np.full(shape, np.nan)
    merged = {"estimate": np.stack([nan if o.get("estimate") is None else o["estimate"] for o in per_rep]),
              "converged": np.array([bool(o.get("converged", True)) for o in per_rep]),
              "exists": np.array([bool(o.get("exists", True)) for o in per_rep])}
    if all(o.get("stderr") is not None for o in ok):
        merged["stderr"] = np.stack([nan if o.get("stderr") is None else o["stderr"] for o in per_rep])
    for key in dict.fromkeys(k for o in per_rep for k in o if k not in RESULT_KEYS):
        merged[key] = _column([o.get(key) for o in per_rep])
    return merged, elapsed / reps, 0.0


def _column(values):
    """Per-replication extra values as one array when they stack, else a list (object column)."""
    try:
        return np.stack([np.asarray(v) for v in values])
    except ValueError:
        return list(values)


def _rows(est, cell, out, truth, runtime, level, z_eval) -> pd.DataFrame:
    estimate = np.asarray(out["estimate"], np.float64)
    stderr = out.get("stderr")
    if estimate.shape[1] != truth.shape[0]:
        raise ValueError(f"estimator {est.name!r} returns {estimate.shape[1]} parameters but its truth has "
                         f"{truth.shape[0]}; check order_effect / truth_attr.")
    if est.compare == "direction":
        norms = np.linalg.norm(estimate, axis=1, keepdims=True)
        estimate = estimate / norms
        stderr = None  # Wald SEs of the unnormalised coefficients do not apply to the direction
    reps = estimate.shape[0]
    frame = pd.DataFrame({
        "estimator": est.name, "n": cell.n, "rep": np.arange(reps),
        "estimate": list(estimate), "truth": [truth] * reps,
        "error": np.linalg.norm(estimate - truth, axis=1),
        # an angle to the zero vector is undefined (e.g. equal abilities)
        "angle_deg": angles_degrees(estimate, truth) if np.any(truth) else np.full(reps, np.nan),
        "converged": np.asarray(out.get("converged", np.ones(reps, bool)), bool),
        "exists": np.asarray(out.get("exists", np.ones(reps, bool)), bool),
        "runtime_s": runtime, "level": level,
    })
    if stderr is not None:
        z = stats.norm.ppf(0.5 + level / 2)
        frame["stderr"] = list(stderr)
        frame["lower"] = list(estimate - z * stderr)
        frame["upper"] = list(estimate + z * stderr)
    else:
        frame["stderr"] = frame["lower"] = frame["upper"] = None
    frame["disagreement"] = np.nan
    if est.compare == "direction" and z_eval is not False and z_eval is not None:
        truth_sign = np.sign(z_eval @ truth)
        frame["disagreement"] = [float(np.mean(np.sign(z_eval @ b) != truth_sign)) for b in estimate]
    for key, values in out.items():  # extra values an adapter returns (cone radius, lambda, n_eff, ...)
        if key in RESULT_KEYS:
            continue
        if key in frame.columns:
            raise ValueError(f"estimator {est.name!r} returns {key!r}, a name the results reserve; rename it.")
        values = list(values) if isinstance(values, list) or np.ndim(values) > 1 else np.asarray(values)
        frame[key] = values
    return frame


def _is_array_column(series: pd.Series) -> bool:
    return series.dtype == object and any(isinstance(v, (np.ndarray, list)) for v in series)


def save_results(df: pd.DataFrame, path) -> None:
    """Write study results to Parquet (array-valued columns become list columns)."""
    out = df.copy()
    for col in out.columns:
        if col in _ARRAY_COLUMNS or _is_array_column(out[col]):
            out[col] = [None if v is None else np.asarray(v, np.float64).tolist() for v in out[col]]
    out.to_parquet(path, index=False)


def _to_array(v) -> np.ndarray:
    # pyarrow returns a list<list<double>> cell as an object array of float arrays
    return np.asarray([_to_array(x) for x in v] if getattr(v, "dtype", None) == object else v, np.float64)


def load_results(path) -> pd.DataFrame:
    """Read results written by :func:`save_results` (list columns back to float64 arrays)."""
    df = pd.read_parquet(path)
    for col in df.columns:
        if col in _ARRAY_COLUMNS or _is_array_column(df[col]):
            df[col] = [None if v is None else _to_array(v) for v in df[col]]
    return df
