"""Regenerate ``data/arena_small.csv``, the bundled simulated arena battle table.

Run ``python -m prefstat.datasets.make_arena``. The table is one draw of
:class:`prefstat.simulate.processes.ArenaBoard` with the settings below (20
models, Zipf battle counts, Davidson ties (every other one labelled "tie (bothbad)"), a judge that prefers longer answers,
50 judges); answer lengths are rounded to whole tokens. The true abilities are
``ARENA_PROCESS.truth`` (style-free, sum-to-zero log-odds).
"""
from __future__ import annotations

import os

import jax

from ..simulate.processes import ArenaBoard

__all__ = ["ARENA_PROCESS", "ARENA_ROWS", "ARENA_SEED", "make_arena_frame"]

ARENA_PROCESS = ArenaBoard(n_models=20, zipf_exponent=1.0, tie_rate=0.2, length_effect=1.0, n_judges=50, seed=2024)
ARENA_ROWS = 4000
ARENA_SEED = 13


def make_arena_frame():
    from .._x64 import x64_scope

    with x64_scope():
        data = ARENA_PROCESS.sample(jax.random.PRNGKey(ARENA_SEED), ARENA_ROWS)
        frame = ARENA_PROCESS.to_frame(data)
    frame["len_a"] = frame["len_a"].round().astype(int)
    frame["len_b"] = frame["len_b"].round().astype(int)
    # Arena tables have two tie labels; every other tie is labelled "tie (bothbad)" (same outcome, 1/2).
    ties = (frame["winner"] == "tie").to_numpy().nonzero()[0]
    frame.loc[ties[1::2], "winner"] = "tie (bothbad)"
    return frame


if __name__ == "__main__":  # pragma: no cover
    path = os.path.join(os.path.dirname(__file__), "data", "arena_small.csv")
    make_arena_frame().to_csv(path, index=False)
    print(f"wrote {path}")
