#!/usr/bin/env python
"""Scale benchmark: exact Bradley-Terry fits on partitioned Parquet with Dask (issue 15).

On a LocalCluster of ``--workers`` worker processes (1 thread each; default 2):

* item level: 1M, 10M, 100M comparisons of 1000 items, generated to Parquet on disk (files of
  ``--rows-per-file`` rows, int32 labels, outcomes with 5% ties); fit time, peak client memory
  (RSS of this process, sampled) and peak cluster memory (sum over the workers, dask's
  MemorySampler); the in-memory fit on the same rows where they fit (``--in-memory-max`` rows,
  default 10M; time to read the files into a ComparisonTable reported separately);
* ``update`` with 1% new rows against a full refit on all files (largest item-level size);
* feature level: 10M comparisons x 64 features (dense, 500k rows per file): fit time, passes,
  memory; ``update`` with 1% new rows (the table's files plus the new ones, refitted from the
  previous solution) against a full refit.

Memory: peak client RSS (sampled), peak summed cluster memory (MemorySampler) and the largest
worker's peak RSS during each fit (VmHWM, reset before the fit; Linux). Rows per second for the
Dask and the in-memory fits.

``--quick`` shrinks these to 200k / 1M item rows, 200k x 8 features (smoke test). The data go to
``--data-dir`` (default: a temporary directory, removed afterwards; 100M item rows take ~1.6 GB
and 10M x 64 features ~5 GB on disk). Peers: none (no other tool fits BT on partitioned data;
the comparison is with prefstat's own in-memory fit). Writes its section of
benchmarks/RESULTS.md with ``--write`` (default: yes unless ``--quick``).

Usage::

    python benchmarks/bench_scale.py --quick            # smoke test, prints only
    python benchmarks/bench_scale.py                    # full run on an idle machine
"""
from __future__ import annotations

import argparse
import copy
import datetime as _dt
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_bt import command_line, write_results  # noqa: E402

RESULTS = HERE / "RESULTS.md"
START, END = "<!-- bench_scale:start -->", "<!-- bench_scale:end -->"


class PeakRSS:
    """Peak resident memory of this process, sampled every 50 ms in a thread."""

    def __init__(self):
        import psutil

        self.proc = psutil.Process(os.getpid())
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self):
        self.peak = self.proc.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def write_items(directory: Path, n_rows: int, per_file: int, k: int, seed: int, prefix="part") -> list:
    """Item-level comparisons to Parquet files (abilities ~ N(0, 1), 5% ties); returns the file names."""
    directory.mkdir(parents=True, exist_ok=True)
    theta = np.random.default_rng(0).normal(size=k)
    rng = np.random.default_rng(seed)
    files = []
    for i, start in enumerate(range(0, n_rows, per_file)):
        m = min(per_file, n_rows - start)
        a = rng.integers(0, k, m, dtype=np.int32)
        b = ((a + rng.integers(1, k, m)) % k).astype(np.int32)
        y = (rng.random(m) < 1 / (1 + np.exp(-(theta[a] - theta[b])))).astype(np.float64)
        y[rng.random(m) < 0.05] = 0.5
        path = directory / f"{prefix}-{i:05d}.parquet"
        pd.DataFrame(dict(left=a, right=b, outcome=y)).to_parquet(path)
        files.append(str(path))
    return files


def write_features(directory: Path, n_rows: int, d: int, per_file: int, seed: int, prefix="part") -> list:
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    beta = np.random.default_rng(0).normal(size=d) / np.sqrt(d)
    files = []
    for i, start in enumerate(range(0, n_rows, per_file)):
        m = min(per_file, n_rows - start)
        Z = rng.normal(size=(m, d))
        y = (rng.random(m) < 1 / (1 + np.exp(-(Z @ beta)))).astype(np.float64)
        df = pd.DataFrame(Z, columns=[f"z{j}" for j in range(d)])
        df["outcome"] = y
        path = directory / f"{prefix}-{i:05d}.parquet"
        df.to_parquet(path)
        files.append(str(path))
    return files


# Evaluated on the workers as source text (they need not import this script): reset the peak
# resident memory of the process (Linux: writing 5 to clear_refs resets VmHWM), and read it.
RESET_PEAK = "open('/proc/self/clear_refs', 'w').write('5')"
READ_PEAK = "int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]) * 1024"


def worker_peaks(client, reset: bool = False):
    """Largest peak resident memory over the workers (bytes), or NaN where /proc is not available."""
    try:
        if reset:
            client.run(eval, RESET_PEAK)
            return float("nan")
        return float(max(client.run(eval, READ_PEAK).values()))
    except Exception:  # noqa: BLE001 - not Linux, or clear_refs not writable: the column shows NaN
        return float("nan")


def timed_fit(client, fit):
    """Run ``fit()``; return (seconds, peak client RSS, peak summed cluster memory, peak of one worker)."""
    from distributed.diagnostics import MemorySampler

    ms = MemorySampler()
    worker_peaks(client, reset=True)
    with PeakRSS() as client_mem, ms.sample("fit", interval=0.1):
        t0 = time.perf_counter()
        fit()
        elapsed = time.perf_counter() - t0
    frame = ms.to_pandas()
    cluster_peak = float(frame["fit"].max()) if len(frame) else float("nan")
    return elapsed, client_mem.peak, cluster_peak, worker_peaks(client)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    ap.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (default: 2)")
    ap.add_argument("--sizes", type=int, nargs="+", help="item-level row counts (default 1e6 1e7 1e8)")
    ap.add_argument("--rows-per-file", type=int, help="item-level rows per Parquet file (default 1e6; quick 1e5)")
    ap.add_argument("--in-memory-max", type=int, default=10_000_000,
                    help="largest item-level size also fitted in memory (default: 1e7)")
    ap.add_argument("--feature-rows", type=int, help="feature-level rows (default 1e7; quick 2e5)")
    ap.add_argument("--features", type=int, help="feature-level columns (default 64; quick 8)")
    ap.add_argument("--feature-rows-per-file", type=int, default=500_000,
                    help="feature-level rows per Parquet file (default: 500000)")
    ap.add_argument("--data-dir", type=Path, help="where to write the Parquet data (default: a temporary directory)")
    ap.add_argument("--write", dest="write", action="store_true", default=None,
                    help="write the section of benchmarks/RESULTS.md (default: yes unless --quick)")
    ap.add_argument("--no-write", dest="write", action="store_false")
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    write = (not args.quick) if args.write is None else args.write
    sizes = args.sizes or ([200_000, 1_000_000] if args.quick else [1_000_000, 10_000_000, 100_000_000])
    per_file = args.rows_per_file or (100_000 if args.quick else 1_000_000)
    f_rows = args.feature_rows or (200_000 if args.quick else 10_000_000)
    d = args.features or (8 if args.quick else 64)
    k = 1000

    try:
        from distributed import Client, LocalCluster
    except ImportError:
        print("dask.distributed is not installed: nothing to benchmark.")
        return 0
    from prefstat import BradleyTerry, ComparisonTable
    from prefstat.distributed import PartitionedTable

    own_dir = args.data_dir is None
    root = Path(tempfile.mkdtemp(prefix="bench_scale_")) if own_dir else args.data_dir
    started = _dt.datetime.now()
    load0 = os.getloadavg()
    rows = []
    try:
        item_files = write_items(root / "items", max(sizes), per_file, k, seed=1)
        with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            # warm-up: worker start-up, JIT compilation of the in-memory solve (not part of the timings)
            BradleyTerry().fit(PartitionedTable(item_files[:1]))
            for n in sizes:
                files = item_files[: -(-n // per_file)]
                elapsed, client_peak, cluster_peak, worker_peak = timed_fit(
                    client, lambda: BradleyTerry().fit(PartitionedTable(files)))
                row = dict(design="items", rows=n, files=len(files), dask_s=elapsed, client_MB=client_peak / 1e6,
                           cluster_MB=cluster_peak / 1e6, worker_MB=worker_peak / 1e6, in_memory_s=np.nan,
                           read_s=np.nan)
                rows.append(row)
                print(row, flush=True)
            # in-memory fits after every Dask fit, so that the client's peaks above are the Dask fits' alone
            for row in rows:
                n = row["rows"]
                files = item_files[: -(-n // per_file)]
                if n <= args.in_memory_max:
                    t0 = time.perf_counter()
                    df = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
                    table = ComparisonTable.from_pandas(df, "left", "right", "outcome")
                    t1 = time.perf_counter()
                    BradleyTerry().fit(table)
                    row.update(read_s=t1 - t0, in_memory_s=time.perf_counter() - t1)
                    del df, table
                    print(row, flush=True)
            # update with 1% new rows against a full refit
            n = max(sizes)
            files = item_files[: -(-n // per_file)]
            new = write_items(root / "new", max(n // 100, 1), per_file, k, seed=2, prefix="new")
            model = BradleyTerry().fit(PartitionedTable(files))
            # warm-up on a copy: the in-memory solve on the merged cells compiles once (not timed)
            copy.deepcopy(model).update(PartitionedTable(new))
            t0 = time.perf_counter()
            model.update(PartitionedTable(new))
            t_update = time.perf_counter() - t0
            t0 = time.perf_counter()
            refit = BradleyTerry().fit(PartitionedTable(files + new))
            t_refit = time.perf_counter() - t0
            d_coef = float(np.max(np.abs(refit.coef_ - model.coef_)))
            update_row = dict(rows=n, new_rows=max(n // 100, 1), update_s=t_update, refit_s=t_refit, max_abs_diff=d_coef)
            print(update_row, flush=True)
            f_per_file = min(args.feature_rows_per_file, f_rows)
            feature_files = write_features(root / "features", f_rows, d, f_per_file, seed=3)
            model = BradleyTerry()
            elapsed, client_peak, cluster_peak, worker_peak = timed_fit(
                client, lambda: model.fit(PartitionedTable(feature_files)))
            feat_row = dict(design=f"features x {d}", rows=f_rows, files=len(feature_files), dask_s=elapsed,
                            client_MB=client_peak / 1e6, cluster_MB=cluster_peak / 1e6, worker_MB=worker_peak / 1e6,
                            passes=model.distributed_["passes"])
            print(feat_row, flush=True)
            # feature-level update: 1% new rows appended to the table, refitted from the previous solution
            f_new = max(f_rows // 100, 1)
            new = write_features(root / "features_new", f_new, d, f_per_file, seed=4, prefix="new")
            t0 = time.perf_counter()
            model.update(PartitionedTable(new))
            t_update = time.perf_counter() - t0
            passes_update = model.distributed_["passes"]
            refit = BradleyTerry()
            t0 = time.perf_counter()
            refit.fit(PartitionedTable(feature_files + new))
            t_refit = time.perf_counter() - t0
            feat_update = dict(rows=f_rows, new_rows=f_new, update_s=t_update, refit_s=t_refit,
                               passes_update=passes_update, passes_refit=refit.distributed_["passes"],
                               max_abs_diff=float(np.max(np.abs(refit.coef_ - model.coef_))))
            print(feat_update, flush=True)
    finally:
        if own_dir:
            shutil.rmtree(root, ignore_errors=True)
    load1 = os.getloadavg()
    lines = [START, "## Exact fits on partitioned Parquet with Dask (`benchmarks/bench_scale.py`)", "",
             f"- **Command**: `{command_line()}`",
             f"- **Date**: {started.isoformat(timespec='seconds')}; LocalCluster of {args.workers} worker processes, "
             f"1 thread each; load average at start {load0[0]:.2f}, at end {load1[0]:.2f}",
             f"- **Sizes**: {'quick (smoke test)' if args.quick else 'full'}; {per_file} rows per item-level file",
             "", "| design | rows | files | Dask fit (s) | rows/s (Dask) | peak client MB | peak cluster MB (sum) | "
             "peak worker MB | in-memory fit (s) | rows/s (in memory) | read to memory (s) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows + [dict(feat_row, in_memory_s=np.nan, read_s=np.nan)]:
        lines.append(f"| {r['design']} | {r['rows']:,} | {r['files']} | {r['dask_s']:.2f} | {r['rows'] / r['dask_s']:.3g} | "
                     f"{r['client_MB']:.0f} | {r['cluster_MB']:.0f} | {r['worker_MB']:.0f} | {r['in_memory_s']:.2f} | "
                     f"{r['rows'] / r['in_memory_s']:.3g} | {r['read_s']:.2f} |")
    lines += ["", "Peak client MB: resident memory of this process (sampled every 50 ms); peak cluster MB: dask's "
              "MemorySampler (sum over the workers); peak worker MB: the largest worker's peak resident memory "
              "during the fit (VmHWM). The in-memory fit does not include reading the files (last column).",
              "", f"Feature level: {feat_row['passes']} passes over the files (Newton iterations + validation).",
              f"Item-level update with {update_row['new_rows']:,} new rows (1%) on {update_row['rows']:,}: "
              f"{update_row['update_s']:.2f} s against a full refit {update_row['refit_s']:.2f} s "
              f"(max abs difference of the abilities {update_row['max_abs_diff']:.1e}).",
              f"Feature-level update with {feat_update['new_rows']:,} new rows (1%) on {feat_update['rows']:,}: "
              f"{feat_update['update_s']:.2f} s ({feat_update['passes_update']} passes) against a full refit "
              f"{feat_update['refit_s']:.2f} s ({feat_update['passes_refit']} passes); max abs difference of the "
              f"coefficients {feat_update['max_abs_diff']:.1e}.", "", END]
    text = "\n".join(lines)
    print(text)
    if write:
        write_results(text, args.results, START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
