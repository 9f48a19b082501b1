"""Classic comparison tables shipped with prefstat (no download at run time).

* :func:`load_baseball` - 1987 American League East, home and away wins for
  every ordered pair of the seven teams (Agresti 2002, *Categorical Data
  Analysis*, 2nd ed., Table 10.10; the home team is the left option and holds
  the order advantage).
* :func:`load_citations` - cross-citations among four statistics journals
  (Stigler 1994; Agresti 2002, Table 10.9): a citation is a comparison won by
  the cited journal.
"""
from __future__ import annotations

from importlib import resources

import pandas as pd

from ..data import ComparisonTable

__all__ = ["load_baseball", "load_citations", "load_arena"]


def _frame(name: str) -> pd.DataFrame:
    with resources.files(__package__).joinpath("data", name).open("r") as fh:
        return pd.read_csv(fh)


def load_baseball(as_frame: bool = False):
    """Baseball table: ``home_team, away_team, home_wins, away_wins`` (42 ordered pairs, 7 teams).

    Returns a :class:`ComparisonTable` (home team on the left, ``order = +1``),
    or the raw DataFrame with ``as_frame=True``.
    """
    df = _frame("baseball.csv")
    if as_frame:
        return df
    return ComparisonTable.from_pandas(df, left="home_team", right="away_team", left_wins="home_wins",
                                       right_wins="away_wins", order=1)


def load_citations(as_frame: bool = False):
    """Journal citations: ``citing, cited, count``; the cited journal wins each comparison.

    Returns a :class:`ComparisonTable` with the cited journal on the left
    (outcome 1, weight = count), or the raw DataFrame with ``as_frame=True``.
    """
    df = _frame("citations.csv")
    if as_frame:
        return df
    return ComparisonTable.from_pandas(df, left="cited", right="citing", left_wins="count")


def load_arena(as_frame: bool = True):
    """Simulated arena battles: ``model_a, model_b, winner`` ("model_a", "model_b", "tie"), answer
    lengths ``len_a, len_b`` (tokens) and ``judge``. The judge prefers longer answers, so
    ``prefstat.Leaderboard(style=["len"])`` and the plain leaderboard differ.

    Returns the DataFrame (the default: style columns are needed for style control), or with
    ``as_frame=False`` a :class:`ComparisonTable` (winner labels mapped by the default arena
    mapping, judge as the group column).
    """
    df = _frame("arena_small.csv")
    if as_frame:
        return df
    return ComparisonTable.from_pandas(df, left="model_a", right="model_b", winner="winner", group="judge")
