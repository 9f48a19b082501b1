#!/usr/bin/env python
"""Start-up benchmark: what a command-line user waits for (fresh processes, wall time, median of runs).

* ``import prefstat``                  (target: under 0.5 s)
* ``prefstat --help``                  (target: under 0.5 s)
* ``prefstat fit`` on the bundled baseball table (80 rows, order effect): the first call with an
  empty compilation cache, then the median of the following calls, which reuse the persistent
  compilation cache under ``$XDG_CACHE_HOME/prefstat`` (target: under 1.5 s from the second call)
* for scale: ``import jax``, ``import pandas`` and ``python -c pass`` in the same interpreter.

Each run is a new interpreter (``sys.executable``) with a private, initially empty cache directory,
so nothing of this process or of earlier runs is reused except what the cache is meant to keep.

Usage::

    python benchmarks/bench_startup.py             # writes its section of benchmarks/RESULTS.md
    python benchmarks/bench_startup.py --no-write  # prints only
"""
from __future__ import annotations

import argparse
import datetime as _dt
import importlib.metadata
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_bt import command_line, machine_info, write_results  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "RESULTS.md"
START, END = "<!-- bench_startup:start -->", "<!-- bench_startup:end -->"
BASEBALL = ["fit", str(ROOT / "prefstat" / "datasets" / "data" / "baseball.csv"), "--left", "home_team",
            "--right", "away_team", "--left-wins", "home_wins", "--right-wins", "away_wins", "--order-effect"]
CLI = "from prefstat.cli import run; run()"


def wall(args, env) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *args], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7, help="fresh processes per command (median; default 7)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    started, load0 = _dt.datetime.now().astimezone(), os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, XDG_CACHE_HOME=tmp, PYTHONPATH=str(ROOT))
        for name, cmd, target in (("python -c pass", ["-c", "pass"], None),
                                  ("import jax", ["-c", "import jax"], None),
                                  ("import pandas", ["-c", "import pandas"], None),
                                  ("import prefstat", ["-c", "import prefstat"], 0.5),
                                  ("prefstat --help", ["-c", CLI, "--help"], 0.5)):
            times = [wall(cmd, env) for _ in range(args.runs)]
            rows.append((name, None, statistics.median(times), target))
        first = wall(["-c", CLI, *BASEBALL], env)  # empty cache: compiles and stores
        later = statistics.median(wall(["-c", CLI, *BASEBALL], env) for _ in range(args.runs))
        rows.append(("prefstat fit baseball.csv --order-effect", first, later, 1.5))
    load1 = os.getloadavg()
    info = machine_info()
    vers = ", ".join(f"{d} {importlib.metadata.version(d)}" for d in ("prefstat", "jax", "jaxlib", "numpy", "pandas"))
    lines = ["| command (fresh process) | first call, empty cache (s) | median of later calls (s) | target | verdict |",
             "|---|---|---|---|---|"]
    for name, f, med, target in rows:
        verdict = "—" if target is None else ("met" if med < target else "not met")
        lines.append(f"| `{name}` | {'—' if f is None else f'{f:.2f}'} | {med:.2f} | "
                     f"{'—' if target is None else f'< {target} s'} | {verdict} |")
    loaded = load0[0] > 0.5 or load1[0] > (os.cpu_count() or 1)
    text = "\n".join([
        START, "## Start-up and the command line (`benchmarks/bench_startup.py`)", "",
        f"- **Command**: `{command_line()}`",
        f"- **Date**: {started.isoformat(timespec='seconds')}",
        f"- **Machine**: {info['cores']} cores, {info['cpu']}, {info['mem']} RAM; load average at start "
        f"{load0[0]:.2f}, at end {load1[0]:.2f}" + (" (other processes were running: noisy)" if loaded else ""),
        f"- **Versions**: {vers}",
        f"- **Runs**: {args.runs} fresh interpreters per command (median); a private, initially empty "
        "`XDG_CACHE_HOME`, so the first `prefstat fit` compiles and the later ones read the persistent cache",
        "", *lines, END])
    print(text)
    if not args.no_write:
        write_results(text, RESULTS, START, END)
        print(f"wrote section to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
