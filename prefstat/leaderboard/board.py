"""The leaderboard: Elo-scale ratings with marginal and simultaneous intervals, ranks with confidence
sets, battle counts and win rates, from an arena battle table (optionally style-controlled).

Pipeline (each step a shared piece): arena input (:meth:`ComparisonTable.from_pandas` with
``winner=``) -> Bradley-Terry abilities (:class:`~prefstat.BradleyTerry`, ties as half wins, or
:class:`~prefstat.DavidsonBradleyTerry`), with style covariates through
:func:`~prefstat.leaderboard.style.fit_with_style` -> Elo transform
(:mod:`~prefstat.leaderboard.elo`) -> simultaneous intervals (``max-|t|``,
:mod:`prefstat.inference.simultaneous`) and confidence sets for ranks (Mogstad, Romano,
Shaikh & Wilhelm 2023, :mod:`prefstat.inference.ranks`). See docs/methods.md, "Leaderboards".
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..data import ComparisonTable
from ..inference import (EstimationResults, marginal_and_simultaneous_rank_sets, separated_pairs,
                         simultaneous_intervals, top_set, wald_interval)
from ..models import BradleyTerry, DavidsonBradleyTerry
from ..validation import (check_bool, check_int, check_level, check_option, check_random_state, check_real,
                          warn_caller)
from .elo import elo_transform
from .style import STYLE_NORMALIZATIONS, fit_with_style, style_features

__all__ = ["Leaderboard", "battle_counts"]


def battle_counts(table: ComparisonTable) -> pd.DataFrame:
    """Per model: ``battles`` (total weight of its battles), ``wins``, ``ties`` and ``win_rate``
    (wins plus half the ties, over battles), indexed by the sorted model labels."""
    a, b, items = table.item_codes
    k, w, y = items.size, table.weight, table.outcome
    battles = np.bincount(a, w, k) + np.bincount(b, w, k)
    score = np.bincount(a, w * y, k) + np.bincount(b, w * (1.0 - y), k)
    tie = np.where(y == 0.5, w, 0.0)
    ties = np.bincount(a, tie, k) + np.bincount(b, tie, k)
    wins = score - 0.5 * ties
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = score / battles
    return pd.DataFrame({"battles": battles, "wins": wins, "ties": ties, "win_rate": rate},
                        index=pd.Index(items, name="model"))


class Leaderboard:
    """Leaderboard of an arena battle table.

    Parameters
    ----------
    style : list or None, default None
        Style features (see :func:`~prefstat.leaderboard.style.resolve_style`): base names ``X``
        with columns ``X_a``/``X_b``, ``"col_a:col_b"`` pairs or ready per-battle columns. The
        abilities are then adjusted for style (``style_summary()`` gives the coefficients).
    normalize : {"relative", "difference"}, default "relative"
        ``(a - b)/(a + b)`` or ``a - b`` for style column pairs.
    standardize : bool, default True
        Divide each style feature by its standard deviation (not centred).
    ties : {"half", "davidson"}, default "half"
        Ties as half wins (Bradley-Terry quasi-likelihood) or as Davidson's third outcome.
    cov_type : {"model", "robust", "cluster", "bootstrap"}, default "model"
        Covariance of the abilities; "cluster" is cluster-robust by the ``group`` column
        (judge / user); "bootstrap" only with ``ties="half"``.
    level : float, default 0.95
        Confidence level of every interval and rank set.
    scale, base, anchor, anchor_model : Elo transform (default 400, 10, 1000, None: mean 1000;
        a model label: that model has rating ``anchor``; see :mod:`~prefstat.leaderboard.elo`).
    n_draws : int, default 100_000
        Monte-Carlo draws for the ``max-|t|`` critical value of the simultaneous intervals.
    n_rank_draws : int or None, default None
        Draws for the rank confidence sets (None: the default of
        :func:`prefstat.inference.ranks.rank_confidence_sets`).
    n_bootstrap : int, default 200
        Bootstrap refits (``cov_type="bootstrap"``).
    random_state : int, Generator or None, default 0
        Seed of the ``max-|t|`` draws (and of the bootstrap).

    Attributes
    ----------
    table_ : DataFrame, one row per model sorted by rating: ``rank`` (1 = best), ``rating``,
        ``stderr``, ``lower``/``upper`` (marginal), ``sim_lower``/``sim_upper`` (simultaneous over
        all models), ``rank_lower``/``rank_upper`` (marginal rank confidence set),
        ``sim_rank_lower``/``sim_rank_upper`` (simultaneous), ``battles``, ``wins``, ``ties``, ``win_rate``.
    results_ : EstimationResults of the fit on the log-odds scale (abilities, style coefficients, ...).
    ratings_ : EstimationResults of the ratings (Elo scale; contrasts give rating differences).
    items_ : model labels (sorted); ``critical_value_`` : simultaneous ``max-|t|`` critical value;
    model_ : the underlying fitted estimator.
    """

    def __init__(self, style=None, normalize="relative", standardize=True, ties="half", cov_type="model",
                 level=0.95, scale=400.0, base=10.0, anchor=1000.0, anchor_model=None, n_draws=100_000,
                 n_rank_draws=None, n_bootstrap=200, random_state=0):
        self.style = style
        self.normalize = normalize
        self.standardize = standardize
        self.ties = ties
        self.cov_type = cov_type
        self.level = level
        self.scale = scale
        self.base = base
        self.anchor = anchor
        self.anchor_model = anchor_model
        self.n_draws = n_draws
        self.n_rank_draws = n_rank_draws
        self.n_bootstrap = n_bootstrap
        self.random_state = random_state

    def _check_params(self) -> None:
        check_option("normalize", self.normalize, STYLE_NORMALIZATIONS)
        check_bool("standardize", self.standardize)
        check_option("ties", self.ties, ("half", "davidson"))
        check_option("cov_type", self.cov_type, ("model", "robust", "cluster", "bootstrap"))
        if self.ties == "davidson" and self.cov_type == "bootstrap":
            raise ValueError("cov_type='bootstrap' is not available with ties='davidson'; use 'model', 'robust' "
                             "or 'cluster'.")
        check_level(self.level)
        check_real("scale", self.scale, 0.0, low_open=True)
        check_real("base", self.base, 1.0, low_open=True)
        check_real("anchor", self.anchor)
        check_int("n_draws", self.n_draws, 100)
        check_int("n_rank_draws", self.n_rank_draws, 100, allow_none=True)
        check_int("n_bootstrap", self.n_bootstrap, 2)
        check_random_state("random_state", self.random_state)

    # ------------------------------------------------------------------- fit
    def fit(self, data, left="model_a", right="model_b", winner="winner", *, outcome=None, winner_map=None,
            group=None, weight=None) -> "Leaderboard":
        """Fit the leaderboard.

        ``data``: a battle DataFrame (columns named by ``left``, ``right``, ``winner`` (labels
        mapped by ``winner_map``, default :data:`~prefstat.data.ARENA_WINNER_MAP`) or a numeric
        ``outcome``, optional ``group`` (judge/user, for ``cov_type="cluster"``), ``weight`` and
        the style columns), or an item-level :class:`~prefstat.ComparisonTable` (no style).
        """
        self._check_params()
        if isinstance(data, ComparisonTable):
            if self.style:
                raise ValueError("style control needs the battle DataFrame (the style columns); a ComparisonTable "
                                 "holds no style features.")
            table = data
            if table.kind != "items":
                raise ValueError("a leaderboard needs an item-level table (left and right models).")
        elif isinstance(data, pd.DataFrame):
            if outcome is not None:
                winner = None
            table = ComparisonTable.from_pandas(data, left=left, right=right, outcome=outcome, winner=winner,
                                                winner_map=winner_map, group=group, weight=weight)
        else:
            raise ValueError(f"data must be a pandas DataFrame of battles or a ComparisonTable; got "
                             f"{type(data).__name__}.")
        if self.cov_type == "cluster" and table.group is None:
            raise ValueError("cov_type='cluster' needs the judge/user column: pass group=.")
        if table.group is not None and self.cov_type != "cluster":
            raise ValueError(f"group= only defines the clusters of cov_type='cluster'; with cov_type="
                             f"{self.cov_type!r} it would be ignored. Use cov_type='cluster' or drop group=.")
        counts = battle_counts(table)
        few = counts.index[counts["battles"] < 2].tolist()
        if few:
            shown = ", ".join(map(repr, few[:8])) + (f" and {len(few) - 8} more" if len(few) > 8 else "")
            warn_caller(f"models with a single battle: {shown}; a rating from one battle is not estimable "
                        "(it won or lost everything) or extremely uncertain. Collect more battles or drop them.")
        items = table.items
        k = items.size
        if self.style:
            Z, names = style_features(data, self.style, self.normalize, self.standardize)
            fit = fit_with_style(table, Z, names, ties=self.ties, cov_type=self.cov_type,
                                 n_bootstrap=self.n_bootstrap, random_state=self.random_state)
            self.results_, self.model_ = fit.results, fit.model
            self.style_names_ = names
        else:
            if self.ties == "half":
                extra = dict(n_bootstrap=self.n_bootstrap, random_state=self.random_state) \
                    if self.cov_type == "bootstrap" else {}
                model = BradleyTerry(cov_type=self.cov_type, **extra)
            else:
                model = DavidsonBradleyTerry(cov_type=self.cov_type)
            self.model_ = model.fit(table)
            self.results_ = model.results_
            self.style_names_ = []
        self.items_ = items
        theta, V = self.results_.estimate[:k], self.results_.cov[:k, :k]
        self._theta, self._V = theta, V
        ratings, Vr = elo_transform(theta, V, items, self.scale, self.base, self.anchor, self.anchor_model)
        self.ratings_ = EstimationResults(names=[str(i) for i in items], estimate=ratings, cov=Vr,
                                          cov_type=self.cov_type, n_obs=self.results_.n_obs)
        self.table_ = self._build_table(ratings, Vr, theta, V, counts)
        return self

    def _build_table(self, ratings, Vr, theta, V, counts) -> pd.DataFrame:
        k = ratings.size
        se = np.sqrt(np.clip(np.diag(Vr), 0.0, None))
        marginal = wald_interval(ratings, se, self.level)
        # The anchor model's rating is fixed by definition (variance 0): it takes no part in the
        # simultaneous family, and its interval is the point ``anchor``.
        free = se > 0
        sim = np.column_stack([ratings, ratings])
        lo, hi, crit = simultaneous_intervals(ratings[free], Vr[np.ix_(free, free)], level=self.level,
                                              n_draws=self.n_draws, random_state=self.random_state)
        sim[free, 0], sim[free, 1] = lo, hi
        self.critical_value_ = float(crit)
        draws = {} if self.n_rank_draws is None else {"n_draws": self.n_rank_draws}
        marg, joint = marginal_and_simultaneous_rank_sets(theta, V, level=self.level, random_state=self.random_state,
                                                          **draws)
        order = np.argsort(-ratings, kind="stable")
        rank = np.empty(k, int)
        rank[order] = np.arange(1, k + 1)
        frame = pd.DataFrame({
            "rank": rank, "rating": ratings, "stderr": se, "lower": marginal[:, 0], "upper": marginal[:, 1],
            "sim_lower": sim[:, 0], "sim_upper": sim[:, 1],
            "rank_lower": np.asarray(marg.lower, int), "rank_upper": np.asarray(marg.upper, int),
            "sim_rank_lower": np.asarray(joint.lower, int), "sim_rank_upper": np.asarray(joint.upper, int),
        }, index=pd.Index(self.items_, name="model"))
        frame = frame.join(counts)
        return frame.iloc[order]

    # -------------------------------------------------------------- reports
    def _fitted(self):
        if not hasattr(self, "table_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this Leaderboard is not fitted yet; call fit() first.")

    def summary(self) -> pd.DataFrame:
        """The leaderboard DataFrame (a copy of ``table_``)."""
        self._fitted()
        return self.table_.copy()

    def style_summary(self) -> pd.DataFrame | None:
        """Coefficient table of the style features (log-odds per unit of the feature), or None without style."""
        self._fitted()
        if not self.style_names_:
            return None
        table = self.results_.summary(self.level)
        return table.loc[[str(n) for n in self.style_names_]]

    def separated_pairs(self, pairs: str = "adjacent", method: str = "holm") -> pd.DataFrame:
        """Which pairs of models are separated at family-wise level ``level``
        (:func:`prefstat.inference.ranks.separated_pairs`; ``pairs``: "adjacent" in the ranking or "all")."""
        self._fitted()
        return separated_pairs(self._theta, self._V, [str(i) for i in self.items_], level=self.level,
                               method=method, pairs=pairs)

    def top_set(self, tau: int) -> list:
        """Models that may be among the true top ``tau`` at confidence ``level``
        (:func:`prefstat.inference.ranks.top_set`), best first."""
        self._fitted()
        draws = {} if self.n_rank_draws is None else {"n_draws": self.n_rank_draws}
        mask = top_set(self._theta, self._V, tau, level=self.level, random_state=self.random_state, **draws)
        keep = set(np.asarray(self.items_, dtype=object)[np.asarray(mask, bool)].tolist())
        return [m for m in self.table_.index if m in keep]

    def to_dict(self) -> dict:
        """JSON-ready description: settings, the leaderboard rows and the style coefficients."""
        self._fitted()
        rows = self.table_.reset_index()
        rows["model"] = rows["model"].astype(str)
        out = {"level": self.level, "cov_type": self.cov_type, "ties": self.ties, "scale": self.scale,
               "base": self.base, "anchor": self.anchor,
               "anchor_model": None if self.anchor_model is None else str(self.anchor_model),
               "critical_value": self.critical_value_, "n_battles": float(self.results_.n_obs),
               "models": rows.to_dict(orient="records")}
        style = self.style_summary()
        if style is not None:
            out["style"] = style.reset_index().to_dict(orient="records")
        return out

    def to_html(self, path=None, title: str = "prefstat leaderboard") -> str:
        """A self-contained HTML page (figures embedded as base64 PNG); written to ``path`` if given."""
        from .report import leaderboard_html

        self._fitted()
        page = leaderboard_html(self, title)
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(page)
        return page
