"""Every ``python`` block of README.md runs, in order, in one namespace (as a reader would paste them).

A block that cannot run here (it needs a Dask cluster or files the reader has) is preceded by the line
``<!-- readme-test: skip (reason) -->``; the test keeps that list short and explicit.
"""
import pathlib
import re
import sys

import matplotlib
import pytest

README = pathlib.Path(__file__).parent.parent / "README.md"
SKIP = "<!-- readme-test: skip"
BLOCK = re.compile(r"^(<!-- readme-test: skip[^\n]*-->\n)?```python\n(.*?)^```", re.M | re.S)


def python_blocks(text: str) -> list[tuple[bool, str]]:
    """(skipped, source) of each fenced python block, in order."""
    return [(bool(m.group(1)), m.group(2)) for m in BLOCK.finditer(text)]


def test_block_extraction():
    text = ("x\n```python\na = 1\n```\n<!-- readme-test: skip (cluster) -->\n```python\nb = 2\n```\n"
            "```bash\nmake\n```\n")
    assert python_blocks(text) == [(False, "a = 1\n"), (True, "b = 2\n")]


@pytest.mark.slow  # the examples fit every estimator once (~40 s of CPU, mostly compilation on a cold cache)
def test_readme_examples_run(monkeypatch, tmp_path):
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)  # examples write HTML pages into the working directory
    blocks = python_blocks(README.read_text())
    assert len(blocks) >= 8, "README.md lost its examples"
    skipped = [src.splitlines()[0] for skip, src in blocks if skip]
    assert len(skipped) <= 1, f"only the Dask example may be skipped; skipped: {skipped}"
    namespace = {}
    for i, (skip, source) in enumerate(blocks):
        if not skip:
            exec(compile(source, f"README.md python block {i + 1}", "exec"), namespace)
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
