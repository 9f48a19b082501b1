"""Start-up, compilation reuse and JAX set-up (issue 16).

Timing-free evidence only: which modules an import loads, how many programs a jitted function
holds, JAX's own compilation-cache counters in a fresh process. Wall-clock targets live in the
benchmarks (benchmarks/guard.py), not here.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import prefstat as ps
from conftest import item_X, simulate_items
from prefstat import runtime
from prefstat.models import bradley_terry

ROOT = Path(ps.__file__).resolve().parent.parent


def _clean_env(tmp_path, **extra) -> dict:
    """The environment of a fresh user process: none of the JAX options prefstat may set, and the
    user cache directory inside ``tmp_path`` (the test process itself imported prefstat, which set
    them in its own environment)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "XLA_FLAGS",
                        runtime.NO_CACHE_ENV, runtime.NO_XLA_FLAGS_ENV)}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def _run(code: str, env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


HEAVY = ("jax", "jaxlib", "pandas", "scipy", "sklearn", "optax")


def test_import_and_help_load_no_heavy_module(tmp_path):
    # `import prefstat` and `prefstat --help` used to import JAX, pandas, scipy and scikit-learn
    # (1.5 s); the public names are now imported on first use.
    res = _run(f"""
        import contextlib, io, json, os, sys
        import prefstat
        after_import = [m for m in {HEAVY!r} if m in sys.modules]
        from prefstat.cli import main
        with contextlib.redirect_stdout(io.StringIO()) as help_text:
            try:
                main(["--help"])
            except SystemExit:
                pass
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = main(["fit"])  # an argument error answers without loading the models either
        after_help = [m for m in {HEAVY!r} if m in sys.modules]
        print(json.dumps(dict(after_import=after_import, after_help=after_help, code=code,
                              help="simulate" in help_text.getvalue(), file=prefstat.__file__)))
        """, _clean_env(tmp_path))
    assert res["file"].startswith(str(ROOT))
    assert res["after_import"] == [] and res["after_help"] == []
    assert res["help"] and res["code"] == 2


def test_lazy_names_resolve_to_the_defining_objects():
    from prefstat.data import ComparisonTable
    from prefstat.models.bradley_terry import BradleyTerry

    assert ps.BradleyTerry is BradleyTerry and ps.ComparisonTable is ComparisonTable
    assert ps.models.BradleyTerry is BradleyTerry  # submodules stay reachable as attributes
    assert callable(ps.datasets.load_baseball)
    assert set(ps.__all__) <= set(dir(ps))
    for name in ps.__all__ + ps.models.__all__:
        assert getattr(ps, name, None) is not None or getattr(ps.models, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ps.nope
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ps.models.nope


def test_simulate_help_still_lists_the_studies(capsys):
    from prefstat.cli import main

    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    assert "bt-coverage" in capsys.readouterr().out


_FIT_BASEBALL = """
    import json, jax
    counts = {}
    jax.monitoring.register_event_listener(lambda name, **kw: counts.__setitem__(name, counts.get(name, 0) + 1))
    import prefstat as ps
    bt = ps.BradleyTerry(order_effect=True, cov_type="robust").fit(ps.datasets.load_baseball())
    print(json.dumps(dict(hits=counts.get("/jax/compilation_cache/cache_hits", 0),
                          misses=counts.get("/jax/compilation_cache/cache_misses", 0),
                          requests=counts.get("/jax/compilation_cache/compile_requests_use_cache", 0),
                          coef=bt.coef_.tolist(), se=bt.stderr_.tolist())))
    """


def test_second_process_reads_compiled_programs_from_the_cache(tmp_path):
    # jax is imported by the script before prefstat here, so this also covers configure()'s
    # jax.config branch; test_xla_flags_* cover the environment branch.
    env = _clean_env(tmp_path)
    first = _run(_FIT_BASEBALL, env)
    second = _run(_FIT_BASEBALL, env)
    assert (tmp_path / "cache" / "prefstat" / "jax").is_dir()
    assert first["misses"] > 0
    assert second["misses"] == 0 and second["hits"] == first["requests"] > 0
    # the fit's program and the robust meat's, nothing else: an eager jnp operation on host data (e.g.
    # jnp.asarray of a numpy array) is a compiled program of its own, one cache lookup of several
    # milliseconds each in every fresh process (there were 21 before they were removed)
    assert first["requests"] <= 3
    np.testing.assert_array_equal(first["coef"], second["coef"])
    np.testing.assert_array_equal(first["se"], second["se"])


@pytest.mark.slow  # a third fresh process with JAX compilation (~5 s on 2 cores, more under load)
def test_cache_off_and_user_cache_setting_kept(tmp_path):
    off = _run(_FIT_BASEBALL, _clean_env(tmp_path, PREFSTAT_NO_CACHE="1"))
    # nothing written to (misses count writes) or read from a persistent cache
    assert off["hits"] == off["misses"] == 0 and not (tmp_path / "cache").exists()
    res = _run("""
        import json, os
        import prefstat
        import jax
        print(json.dumps(dict(dir=jax.config.jax_compilation_cache_dir,
                              min_time=jax.config.jax_persistent_cache_min_compile_time_secs)))
        """, _clean_env(tmp_path, JAX_COMPILATION_CACHE_DIR=str(tmp_path / "mine")))
    assert res == dict(dir=str(tmp_path / "mine"), min_time=1.0)  # the user's setting, JAX's default threshold


def test_xla_flags_set_unless_the_user_set_them(tmp_path):
    code = """
        import json, os, sys
        {before}
        import prefstat
        print(json.dumps(dict(flags=os.environ.get("XLA_FLAGS"), cache=os.environ.get("JAX_COMPILATION_CACHE_DIR"))))
        """
    fresh = _run(code.format(before=""), _clean_env(tmp_path))
    assert fresh == dict(flags=runtime.xla_flags(), cache=str(tmp_path / "cache" / "prefstat" / "jax"))
    assert _run(code.format(before=""), _clean_env(tmp_path, XLA_FLAGS="--mine"))["flags"] == "--mine"
    assert _run(code.format(before=""), _clean_env(tmp_path, PREFSTAT_NO_XLA_FLAGS="1"))["flags"] is None
    # XLA reads XLA_FLAGS at the first computation, so the flags apply after ``import jax`` too (the pool
    # off is also what keeps vmapped fits from wedging, see prefstat.runtime)
    assert _run(code.format(before="import jax"), _clean_env(tmp_path))["flags"] == runtime.xla_flags()


def test_dask_worker_env_divides_the_cores():
    env = runtime.dask_worker_env(4, n_cores=8)
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "2"
    assert runtime.dask_worker_env(4, n_cores=2)["MKL_NUM_THREADS"] == "1"
    with pytest.raises(ValueError, match="n_workers"):
        runtime.dask_worker_env(0)


def _table(k, seed):
    d = simulate_items(seed, k=k, n=200, order=True, weights=True, n_groups=5)
    return item_X(d), d["y"], d["w"], d["order"], d["groups"]


@pytest.mark.parametrize("cov_type", ["model", "robust", "cluster", "bootstrap"])
def test_padded_parameters_give_the_unpadded_numbers(cov_type, monkeypatch):
    X, y, w, o, g = _table(6, 3)
    kw = dict(cov_type=cov_type, order_effect=True, n_bootstrap=20, random_state=0)
    fit = dict(sample_weight=w, order=o, groups=g if cov_type == "cluster" else None)
    padded = ps.BradleyTerry(**kw).fit(X, y, **fit)
    monkeypatch.setattr(bradley_terry, "padded_columns", lambda p: p)
    plain = ps.BradleyTerry(**kw).fit(X, y, **fit)
    # Zero columns with a unit penalty leave the problem unchanged; only the order of floating-point
    # operations inside the Cholesky factorisation differs (rounding, ~1e-15).
    np.testing.assert_allclose(padded.results_.estimate, plain.results_.estimate, rtol=0, atol=1e-10)
    np.testing.assert_allclose(padded.results_.cov, plain.results_.cov, rtol=0, atol=1e-10)
    assert padded.n_iter_ == plain.n_iter_ and padded.loglik_ == pytest.approx(plain.loglik_, abs=1e-10)


def test_new_number_of_items_reuses_the_compiled_fit():
    # Tables with 5 and 7 items (and the same row bucket) used to compile the Newton fit twice.
    fits = []
    for k in (5, 7, 6):
        X, y, *_ = _table(k, k)
        fits.append(bradley_terry.fit_core._cache_size())
        ps.BradleyTerry().fit(X, y)
    fits.append(bradley_terry.fit_core._cache_size())
    assert fits[2] == fits[3] == fits[1] and fits[1] <= fits[0] + 1


def test_study_compiles_once_across_cells_and_runs(monkeypatch):
    from prefstat.simulate import study as study_module
    from prefstat.simulate.estimators import BTSim
    from prefstat.simulate.processes import HomogeneousBT

    calls = []
    original = study_module.vmapped
    monkeypatch.setattr(study_module, "vmapped", lambda est, process: calls.append(est.name) or original(est, process))
    # a process no other test uses, so the program is not in the process-wide cache yet
    process = HomogeneousBT(n_items=5, order_effect=0.2, seed_abilities=11)
    study = study_module.Study(process, [BTSim(name="bt-speed", order_effect=True, truth_attr="half_win_truth")],
                               sizes=[150, 150], reps=3, seed=1)
    first = study.run(progress=False)
    assert first.attrs["compile_s"]["bt-speed"] > 0 and study.compile_s_ == first.attrs["compile_s"]
    second = study.run(progress=False)
    # two cells of one shape and two run() calls: one compilation (the old runner compiled 4 times)
    assert calls == ["bt-speed"] and second.attrs["compile_s"] == {"bt-speed": 0.0}
    np.testing.assert_array_equal(np.stack(first.estimate), np.stack(second.estimate))
    assert not np.array_equal(first.estimate[0], first.estimate[3])  # the two cells have their own seeds


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="counts Linux memory maps")
def test_release_compiled_unmaps_the_programs_and_empties_the_study_cache():
    # Every cached XLA executable holds several memory maps; a long process that never releases them
    # reaches vm.max_map_count and XLA crashes it. 40 new programs add well over 40 maps (measured
    # ~6 each); after release_compiled at most a quarter of the growth may remain.
    import jax
    import jax.numpy as jnp
    from prefstat.simulate import Study

    def maps():
        return len(Path("/proc/self/maps").read_text().splitlines())

    runtime.release_compiled()
    before = maps()
    fns = [jax.jit(lambda x, i=i: jnp.cos(x) * i) for i in range(40)]
    for i, f in enumerate(fns):
        f(jnp.ones(200 + i)).block_until_ready()
    grown = maps() - before
    study = Study(_study_process(), [_study_estimator()], sizes=[60], reps=2, seed=3)
    study.run(progress=False)
    assert study.run(progress=False).attrs["compile_s"]["bt-release"] == 0.0 and grown > 40
    runtime.release_compiled()
    assert fns[0]._cache_size() == 0
    assert maps() - before < grown / 4, (before, grown, maps())
    # the Study's own program cache was emptied too: the next run compiles again
    assert study.run(progress=False).attrs["compile_s"]["bt-release"] > 0


def _study_process():
    from prefstat.simulate.processes import HomogeneousBT

    return HomogeneousBT(n_items=4, seed_abilities=5)


def _study_estimator():
    from prefstat.simulate.estimators import BTSim

    return BTSim(name="bt-release")


def test_small_host_algebra_runs_one_blas_thread_and_restores_it():
    # a multi-threaded OpenBLAS spins on a busy machine (prefstat.runtime); the limit is scoped to the call
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [m["num_threads"] for m in threadpool_info() if m["user_api"] == "blas"]

    before = blas_threads()
    with runtime.single_thread_blas(runtime.SMALL_HOST_MATRIX - 1):
        assert set(blas_threads()) <= {1}
    assert blas_threads() == before
    with runtime.single_thread_blas(runtime.SMALL_HOST_MATRIX):
        assert blas_threads() == before


def test_row_buckets_waste_at_most_a_quarter_above_4096_rows():
    # Padding to whole powers of two ran 36,528 item-level cells as 65,536 (1.8x the work of every
    # Newton iteration); above 4096 rows the buckets are quarter octaves.
    from prefstat.design import PAD_POW2_ROWS, padded_size

    sizes = np.unique(np.r_[1:5000, np.geomspace(5000, 1 << 16, 3000).astype(int), 36528, 65536, 65537, 10**6])
    buckets = np.array([padded_size(int(m)) for m in sizes])
    assert np.all(buckets >= sizes) and np.all(np.diff(buckets) >= 0)
    big = (sizes > PAD_POW2_ROWS) & (sizes <= 1 << 16)
    assert np.all(buckets[big] <= 1.25 * sizes[big])
    assert padded_size(36528) == 40960 and padded_size(65537) == 65537
    # few distinct programs: powers of two up to 4096, four buckets per octave up to 2^16
    assert len(np.unique(buckets[sizes <= 1 << 16])) == 7 + 4 * 4
