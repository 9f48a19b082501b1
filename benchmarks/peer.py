"""Run one benchmark function in another Python interpreter and return its result.

Installing arena-rank pulls JAX down to the version it pins, so a virtual environment with every peer
installed does not have the JAX a user of prefstat gets. The benchmarks therefore time prefstat in the
interpreter they run in (the one ``make test`` builds) and, with ``--peer-python PATH``, run a peer in
the interpreter at PATH (e.g. ``.venv-bench/bin/python``), in the same benchmark run, on the same
seeded data (each side simulates it from the seed). Results cross the process boundary as JSON;
numpy arrays become lists and come back as float64 arrays.
"""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def call(python: str | None, module: str, function: str, **kwargs) -> dict:
    """``module.function(**kwargs)`` (a dict of rows) here, or in the interpreter ``python`` when given."""
    if not python:
        return getattr(importlib.import_module(module), function)(**kwargs)
    request = json.dumps({"module": module, "function": function, "kwargs": kwargs})
    proc = subprocess.run([python, str(Path(__file__).resolve()), request], capture_output=True, text=True,
                          cwd=HERE)
    if proc.returncode != 0:
        raise RuntimeError(f"{python} failed running {module}.{function}:\n{proc.stderr[-3000:]}")
    rows = json.loads(proc.stdout.strip().splitlines()[-1])
    return {name: {k: np.asarray(v, np.float64) if isinstance(v, list) else v for k, v in row.items()}
            for name, row in rows.items()}


def versions(python: str | None, dists) -> dict:
    """``{dist: version}`` in the interpreter ``python`` (this one when None)."""
    code = ("import importlib.metadata as m, json, sys\n"
            "out = {}\n"
            "for d in sys.argv[1:]:\n"
            "    try: out[d] = m.version(d)\n"
            "    except m.PackageNotFoundError: out[d] = 'not installed'\n"
            "print(json.dumps(out))")
    proc = subprocess.run([python or sys.executable, "-c", code, *dists], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def _main(request: str) -> None:
    spec = json.loads(request)
    sys.path.insert(0, str(HERE))
    rows = getattr(importlib.import_module(spec["module"]), spec["function"])(**spec["kwargs"])
    print(json.dumps({name: {k: (np.asarray(v).tolist() if isinstance(v, np.ndarray) else v) for k, v in row.items()}
                      for name, row in rows.items()}))


if __name__ == "__main__":
    _main(sys.argv[1])
