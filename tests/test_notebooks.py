"""Every notebook's code cells run top to bottom (no Jupyter needed), so the notebooks cannot go stale.

A notebook's sizes live in its first code cell tagged ``parameters`` (papermill's convention); the stored
defaults give a meaningful result for a reader, and the suite runs each notebook at the small sizes of
``SMALL`` below instead (those names are assigned after the cell, so any size it omits keeps its default).
"""
import json
import pathlib
import sys

import matplotlib
import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))

# Per notebook: the names of its parameters cell to override, with small values (a few seconds each).
SMALL = {
    "01_bradley_terry.ipynb": dict(SIZES=(250, 1000), REPS=40),
    "02_heterogeneity.ipynb": dict(SIZES=(300, 1200), REPS=2, N_CLASSES=2, N_INIT=1, N_FIT=1500,
                                   N_SUBSAMPLES=20),
    "03_ai_judge.ipynb": dict(SIZES=(200, 400), REPS=3, DIPO_REPS=2, FLIP_RATES=(0.3,), N_HUMAN=300, POLICY_REPS=1,
                              POLICY_N_HUMAN=200, POLICY_N_POOL=600),
    "05_arena_leaderboard.ipynb": dict(N_DRAWS=1000, N_RANK_DRAWS=1000, N_BOOTSTRAP=10, N_PERMUTATIONS=10),
}
# Even at small sizes these compile many programs (vmapped studies at two sizes, EM, cross-fitting): about
# 30 s of CPU each on a cold cache, so they run with the slow tests (``make test`` runs those too).
SLOW = {"02_heterogeneity.ipynb", "03_ai_judge.ipynb"}


def parameters_cell(cells) -> int | None:
    """Index of the first code cell tagged ``parameters`` (None when the notebook has none)."""
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            return i
    return None


def code_cells(path: pathlib.Path) -> list[str]:
    """The notebook's code cells as source strings, with the SMALL overrides appended to its parameters cell."""
    cells = json.loads(path.read_text())["cells"]
    i = parameters_cell(cells)
    small = SMALL.get(path.name, {})
    if small and i is None:
        raise AssertionError(f"{path.name} has small parameters in SMALL but no cell tagged 'parameters'")
    sources = []
    for j, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if j == i:
            namespace = {}
            exec(compile(source, f"{path.name}:parameters", "exec"), namespace)
            unknown = sorted(set(small) - set(namespace))
            if unknown:  # an override of a name the cell does not define would silently do nothing
                raise AssertionError(f"{path.name}: SMALL overrides {unknown}, which its parameters cell does not define")
            source += "\n" + "".join(f"{k} = {v!r}\n" for k, v in small.items())
        sources.append(source)
    return sources


@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.slow) if p.name in SLOW else p
                                  for p in NOTEBOOKS], ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, monkeypatch, tmp_path):
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for source in code_cells(path):
        exec(compile(source, f"{path.name}", "exec"), namespace)
    if "matplotlib.pyplot" in sys.modules:  # free the notebook's figures (pyplot is loaded only if it used it)
        sys.modules["matplotlib.pyplot"].close("all")


def test_notebooks_are_stored_without_outputs():
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs") and cell.get("execution_count") is None, path.name


def test_parameters_are_overridden(tmp_path):
    # The override must reach the notebook: the parameters cell's names end with the SMALL values.
    nb = tmp_path / "x.ipynb"
    nb.write_text(json.dumps({"cells": [
        {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": ["N = 10**6\n", "M = 3"]},
        {"cell_type": "code", "metadata": {}, "source": ["assert N == 5 and M == 3"]}]}))
    SMALL["x.ipynb"] = {"N": 5}
    try:
        namespace = {}
        for source in code_cells(nb):
            exec(source, namespace)
        assert namespace["N"] == 5
        SMALL["x.ipynb"] = {"K": 5}
        with pytest.raises(AssertionError, match="does not define"):
            code_cells(nb)
    finally:
        del SMALL["x.ipynb"]
