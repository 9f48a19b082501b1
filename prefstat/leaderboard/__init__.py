"""Leaderboards from arena battle tables: style control (:mod:`.style`), Elo-scale ratings
(:mod:`.elo`), the :class:`Leaderboard` (:mod:`.board`) and its HTML page (:mod:`.report`)."""
from .board import Leaderboard, battle_counts
from .elo import elo_factor, elo_matrix, elo_transform
from .style import STYLE_NORMALIZATIONS, StyleFit, fit_with_style, resolve_style, style_design, style_features

__all__ = ["Leaderboard", "battle_counts", "elo_factor", "elo_matrix", "elo_transform", "STYLE_NORMALIZATIONS",
           "StyleFit", "fit_with_style", "resolve_style", "style_design", "style_features"]
