"""How prefstat sets up JAX: a persistent compilation cache, and XLA CPU threads sized to the machine.

Almost all of the time of a small fit (``prefstat fit`` on an 80-row table) is
XLA compilation, repeated in every new process. prefstat therefore keeps
compiled programs in a persistent cache, and reads them back in the next
process instead of compiling again.

What :func:`configure` (run once by ``import prefstat``) does, and only when
you have not set the corresponding JAX option yourself:

* **Compilation cache.** JAX's persistent cache is a process-wide option
  (``jax_compilation_cache_dir``); JAX offers no per-function switch. If it is
  unset (no ``JAX_COMPILATION_CACHE_DIR`` in the environment and, when JAX is
  already imported, no ``jax.config.jax_compilation_cache_dir``), prefstat sets
  it to :func:`cache_dir` (``$XDG_CACHE_HOME/prefstat/jax``, by default
  ``~/.cache/prefstat/jax``) and lowers the minimum compile time worth caching
  to 0 s (JAX's default of 1 s would skip every prefstat program). Because the
  option is process-wide, JAX programs of your own in the same process are then
  cached in that directory too. Before JAX is imported this is done through the
  environment variables JAX reads at import (``JAX_COMPILATION_CACHE_DIR``,
  ``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS``), so subprocesses started
  afterwards (e.g. Dask workers) share the cache; otherwise through
  ``jax.config.update``.
* **CPU threads.** XLA's CPU client starts a thread pool with one thread per
  core, and concurrent JAX processes (a notebook beside a simulation, or Dask
  workers on one machine) then fight over the cores. If ``XLA_FLAGS`` is unset,
  prefstat sets it from :func:`xla_flags` (Eigen's intra-op thread pool off: the
  fits prefstat runs are small enough that one thread per op is fastest once
  another process competes). XLA reads the variable when JAX runs its first
  computation, so this holds when JAX was imported first too, but not once a
  computation has run. There is a second reason: with jaxlib 0.10.2 and the
  Eigen pool on, a vmapped simulation program (batched Newton fits with linear
  solves in a while loop) sometimes never returned from ``block_until_ready``
  (every XLA thread idle; measured here on a fresh compilation cache, about two
  runs in three), and with the pool off it always returned; others report the
  same wedge and the same cure (e.g. PyAutoFit issue 1530). With ``XLA_FLAGS``
  already set, nothing changes: add the flag yourself if you run large vmapped
  studies. A related hang has a known cause: jaxlib 0.10's batched LAPACK
  kernels split their batch over XLA's intra-op pool and block until it is done,
  so two such calls running at once can leave no thread to do the work. prefstat's
  programs never run two of them concurrently (:func:`prefstat.optim.run_after`
  chains independent factorisations; ``tests/test_lapack_concurrency.py`` checks
  the compiled programs).

**Releasing compiled programs.** Every program XLA compiles stays mapped in
memory while JAX caches it, several memory maps each, and Linux caps a
process's maps (``vm.max_map_count``, 65530 by default). A long session that
compiles for thousands of shapes (a test suite, a notebook sweeping table sizes)
can reach that cap, and XLA then crashes the process. :func:`release_compiled`
drops every compiled program held by JAX's caches and by prefstat's own (the
persistent on-disk cache is kept, so the next call reads it back rather than
compiling).

**Host BLAS threads.** After the compiled part of a fit, prefstat does a little linear
algebra in numpy on the host (a p x p inverse, the covariance in the reported
parametrisation). numpy's OpenBLAS would run it on one thread per core, and
its threads spin while they wait for each other: on a busy machine one of them
is descheduled and a 100k-row fit that takes 20-30 ms slowed 3-10x beside a
simulation study in another process (measured on 2 cores; with one BLAS thread
it slowed 1.2x, and it was faster on a quiet machine too). For matrices below
:data:`SMALL_HOST_MATRIX` rows, Bradley-Terry fits (and the Davidson model and
the leaderboard, which use them) therefore limit BLAS to one thread while they
run (:func:`single_thread_blas`, threadpoolctl), and restore it afterwards. The
same OpenBLAS serves JAX's CPU LAPACK calls, so the limit covers the Newton
steps' factorisations too. The limit is process-wide while it lasts: BLAS calls of
another thread of yours during a fit run single-threaded too.

Turn either off with the environment variables ``PREFSTAT_NO_CACHE=1`` and
``PREFSTAT_NO_XLA_FLAGS=1`` (set them before ``import prefstat``), or set the
JAX options yourself. The cache directory can be deleted at any time.
"""
from __future__ import annotations

import contextlib
import os
import sys

__all__ = ["cache_dir", "configure", "xla_flags", "dask_worker_env", "register_cache", "release_compiled",
           "single_thread_blas", "SMALL_HOST_MATRIX", "NO_CACHE_ENV", "NO_XLA_FLAGS_ENV"]

NO_CACHE_ENV = "PREFSTAT_NO_CACHE"
NO_XLA_FLAGS_ENV = "PREFSTAT_NO_XLA_FLAGS"
_CACHE_ENV = "JAX_COMPILATION_CACHE_DIR"
_MIN_TIME_ENV = "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"


# Callables that empty one of prefstat's in-process caches of compiled programs (see register_cache).
_CACHE_CLEARERS: list = []


def register_cache(clear) -> None:
    """Register ``clear()``, which empties a module's in-process cache of compiled programs, so that
    :func:`release_compiled` empties it too (``functools.lru_cache(...).cache_clear``, ``dict.clear``)."""
    _CACHE_CLEARERS.append(clear)


def release_compiled() -> None:
    """Drop every compiled program held in this process by JAX's caches and by prefstat's.

    Use it in long sessions that compile for many shapes; see the module notes on
    ``vm.max_map_count``. Numbers do not change: the next call compiles again, or
    reads the program from the persistent cache. JAX itself is not imported by this call.
    """
    for clear in _CACHE_CLEARERS:
        clear()
    jax = sys.modules.get("jax")
    if jax is not None:
        jax.clear_caches()


# Host matrices with fewer rows than this get one BLAS thread inside a fit (module docstring): at
# 1000 x 1000 a second thread saves 20 ms of an inverse, below a few hundred rows it saves nothing.
SMALL_HOST_MATRIX = 512

_BLAS_CONTROLLER = []


@contextlib.contextmanager
def single_thread_blas(n_rows: int):
    """Context in which numpy's BLAS runs on one thread when ``n_rows < SMALL_HOST_MATRIX``.

    The threadpoolctl controller is built once per process (about 1 ms); entering and leaving the
    limit then costs microseconds.
    """
    if n_rows >= SMALL_HOST_MATRIX:
        yield
        return
    if not _BLAS_CONTROLLER:
        # the controller sees only the libraries loaded when it is built: scipy's OpenBLAS (which also
        # serves JAX's CPU LAPACK calls) is loaded by scipy.linalg
        import scipy.linalg  # noqa: F401
        from threadpoolctl import ThreadpoolController

        _BLAS_CONTROLLER.append(ThreadpoolController())
    with _BLAS_CONTROLLER[0].limit(limits=1, user_api="blas"):
        yield


def _off(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def cache_dir() -> str:
    """Directory of prefstat's persistent compilation cache: ``$XDG_CACHE_HOME/prefstat/jax`` (default
    ``~/.cache/prefstat/jax``), the XDG base-directory rule without a dependency."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "prefstat", "jax")


def xla_flags() -> str:
    """``XLA_FLAGS`` prefstat uses when it starts JAX itself (see the module docstring)."""
    return "--xla_cpu_multi_thread_eigen=false"


def dask_worker_env(n_workers: int, n_cores: int | None = None) -> dict:
    """Environment for ``n_workers`` JAX worker processes sharing ``n_cores`` (default: all) cores.

    Each worker gets at most ``n_cores // n_workers`` (>= 1) threads for the BLAS libraries and
    XLA's single-threaded Eigen ops, so the workers together do not oversubscribe the machine.
    Pass it as ``env=`` to ``dask.distributed.LocalCluster`` (or export it before starting
    ``dask worker``).
    """
    if n_workers < 1:
        raise ValueError(f"n_workers must be at least 1; got {n_workers}.")
    cores = n_cores if n_cores is not None else (os.cpu_count() or 1)
    threads = str(max(1, cores // n_workers))
    env = {name: threads for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    if "XLA_FLAGS" not in os.environ and not _off(NO_XLA_FLAGS_ENV):
        env["XLA_FLAGS"] = xla_flags()
    return env


def configure() -> None:
    """Set up the compilation cache and XLA threads as the module docstring says (idempotent)."""
    jax_loaded = "jax" in sys.modules
    if not _off(NO_CACHE_ENV):
        if not jax_loaded:
            if _CACHE_ENV not in os.environ:
                os.environ[_CACHE_ENV] = cache_dir()
                os.environ.setdefault(_MIN_TIME_ENV, "0")
        else:
            import jax

            if jax.config.jax_compilation_cache_dir is None:
                jax.config.update("jax_compilation_cache_dir", cache_dir())
                jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    # XLA reads XLA_FLAGS when JAX's backend starts (first computation), not at ``import jax``; so
    # this also works after ``import jax``, and does nothing once a computation has run.
    if "XLA_FLAGS" not in os.environ and not _off(NO_XLA_FLAGS_ENV):
        os.environ["XLA_FLAGS"] = xla_flags()
