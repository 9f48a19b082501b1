r"""The results object every regular estimator reports through.

:class:`EstimationResults` holds what a fitted Z-estimator knows about its
reported parameters: the estimate, its covariance (model-based, sandwich,
cluster-robust, bootstrap or influence-based, already in the reporting
parametrisation), the parameter names and, for the bootstrap, the draws.
Modelled on statsmodels' ``LikelihoodModelResults``: ``params``, ``bse``,
``cov_params()``, ``conf_int()``, ``summary()``, ``t_test()`` for linear
combinations one at a time, ``wald_test()`` for a joint hypothesis, plus
:meth:`~EstimationResults.pairwise` for all differences theta_i - theta_j.

Linear combinations are specified as a matrix ``L`` (q, k) or a vector (k,)
over the reported parameters, a ``{name: coefficient}`` dict, a list of such
dicts, or a string such as ``"A - B"`` / ``"A - B, C"`` (one combination per
comma; terms are parameter names with an optional numeric factor, e.g.
``"2*A - B"``). Inference on ``L theta`` uses ``L V L^T`` (delta method for a
linear map): a Wald z statistic per row and a chi-square statistic with q
degrees of freedom for the joint test. Intervals are normal-theory; see
``docs/methods.md#inference-layer`` for when they are valid.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from .intervals import coef_table, percentile_interval, wald_interval
from .ranks import DEFAULT_RANK_DRAWS, rank_confidence_sets, separated_pairs, top_set
from .simultaneous import simultaneous_intervals, simultaneous_pairwise_intervals

__all__ = ["EstimationResults", "ContrastResults", "WaldTestResults"]


class ContrastResults(NamedTuple):
    """Inference on q linear combinations ``L theta`` one at a time (statsmodels' ``t_test``)."""

    names: list
    estimate: np.ndarray
    stderr: np.ndarray
    cov: np.ndarray
    z: np.ndarray
    p_value: np.ndarray
    conf_int: np.ndarray  # (q, 2)
    level: float

    def summary_frame(self) -> pd.DataFrame:
        lo, hi = f"lower {self.level:.3g}", f"upper {self.level:.3g}"
        return pd.DataFrame({"estimate": self.estimate, "stderr": self.stderr, "z": self.z,
                             "p_value": self.p_value, lo: self.conf_int[:, 0], hi: self.conf_int[:, 1]},
                            index=pd.Index(self.names, name="contrast"))


class WaldTestResults(NamedTuple):
    """Joint Wald test of ``L theta = value``: chi-square statistic with ``df`` degrees of freedom."""

    statistic: float
    df: int
    p_value: float


_LEAD = re.compile(r"\s*([+-]?)\s*(?:(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)\s*\*\s*)?")


@dataclass(frozen=True)
class EstimationResults:
    """Estimate, covariance and names of a fitted estimator's reported parameters.

    Parameters
    ----------
    names : sequence of str
        Reported parameter names (item labels, feature names, ``order_effect``, ...).
    estimate : (k,) array
    cov : (k, k) array
        Covariance of ``estimate`` in the same parametrisation.
    cov_type : str
        How ``cov`` was obtained (reported in :meth:`summary` metadata).
    draws : (B, k) array or None
        Bootstrap draws (enables ``method="percentile"`` intervals).
    n_obs : float or None
        Number of observations (sum of frequency weights).
    """

    names: tuple
    estimate: np.ndarray
    cov: np.ndarray
    cov_type: str = "model"
    draws: np.ndarray | None = None
    n_obs: float | None = None

    def __post_init__(self):
        est = np.asarray(self.estimate, np.float64).reshape(-1)
        cov = np.asarray(self.cov, np.float64)
        k = est.size
        if cov.shape != (k, k):
            raise ValueError(f"cov must be ({k}, {k}) for {k} estimates; got {cov.shape}.")
        if len(self.names) != k:
            raise ValueError(f"{len(self.names)} names for {k} estimates.")
        object.__setattr__(self, "names", tuple(str(n) for n in self.names))
        object.__setattr__(self, "estimate", est)
        object.__setattr__(self, "cov", cov)
        if self.draws is not None:
            object.__setattr__(self, "draws", np.asarray(self.draws, np.float64))

    # ------------------------------------------------------------ statsmodels-style accessors
    @property
    def params(self) -> pd.Series:
        return pd.Series(self.estimate, index=pd.Index(self.names, name="parameter"))

    @property
    def stderr(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov))

    @property
    def bse(self) -> pd.Series:
        return pd.Series(self.stderr, index=pd.Index(self.names, name="parameter"))

    def cov_params(self) -> pd.DataFrame:
        return pd.DataFrame(self.cov, index=list(self.names), columns=list(self.names))

    def interval(self, level: float = 0.95, method: str = "wald") -> np.ndarray:
        """(k, 2) interval for every reported parameter: Wald, or bootstrap percentile."""
        if method == "wald":
            return wald_interval(self.estimate, self.stderr, level)
        if method == "percentile":
            if self.draws is None:
                raise ValueError("percentile intervals need cov_type='bootstrap'.")
            return percentile_interval(self.draws, level)
        raise ValueError(f"method must be 'wald' or 'percentile'; got {method!r}.")

    def conf_int(self, level: float = 0.95, method: str = "wald") -> pd.DataFrame:
        """Interval per parameter as a DataFrame with columns ``lower``/``upper``."""
        ci = self.interval(level, method)
        return pd.DataFrame(ci, index=pd.Index(self.names, name="parameter"), columns=["lower", "upper"])

    def summary(self, level: float = 0.95, method: str = "wald") -> pd.DataFrame:
        """Coefficient table: estimate, stderr, z, p-value (H0: parameter = 0), interval."""
        return coef_table(list(self.names), self.estimate, self.stderr, level,
                          interval=self.interval(level, method))

    # ------------------------------------------------------------------- contrasts
    def contrast_matrix(self, L) -> tuple[np.ndarray, list]:
        """``(L, row names)`` as a (q, k) float array from any accepted specification."""
        k = len(self.names)
        if isinstance(L, str):
            rows = [self._parse(part) for part in L.split(",") if part.strip()]
            if not rows:
                raise ValueError("empty contrast string.")
            return np.stack([r for r, _ in rows]), [n for _, n in rows]
        if isinstance(L, dict):
            L = [L]
        if isinstance(L, (list, tuple)) and L and all(isinstance(r, dict) for r in L):
            mats, names = [], []
            for spec in L:
                row = np.zeros(k)
                for name, c in spec.items():
                    row[self._index(name)] += float(c)
                mats.append(row)
                names.append(" ".join(f"{'+' if c >= 0 else '-'} {abs(c):g}*{n}" for n, c in spec.items())
                             .lstrip("+ ").replace("1*", ""))
            return np.stack(mats), names
        M = np.atleast_2d(np.asarray(L, np.float64))
        if M.ndim != 2 or M.shape[1] != k:
            raise ValueError(f"L must have {k} columns (one per parameter: {list(self.names)[:8]}...); "
                             f"got shape {np.shape(L)}.")
        if not np.all(np.isfinite(M)):
            raise ValueError("L has non-finite entries.")
        return M, [f"c{i}" for i in range(M.shape[0])]

    def _index(self, name) -> int:
        name = str(name).strip()
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueError(f"unknown parameter {name!r} in the contrast; parameters are "
                             f"{list(self.names)[:12]}{' ...' if len(self.names) > 12 else ''}.") from None

    def _parse(self, text: str) -> tuple[np.ndarray, str]:
        # Parameter names may contain '-', '+' or spaces ("gpt-4o-mini"): at each term, match the
        # longest parameter name that starts there rather than splitting on operators.
        row = np.zeros(len(self.names))
        by_length = sorted(range(len(self.names)), key=lambda i: -len(self.names[i]))
        s, pos, first = text.strip(), 0, True
        while pos < len(s):
            m = _LEAD.match(s, pos)
            sign_txt, factor_txt = m.group(1), m.group(2)
            if not sign_txt and not first:
                break
            pos = m.end()
            hit = next((i for i in by_length if s.startswith(self.names[i], pos)), None)
            if hit is None:
                raise ValueError(f"cannot read the contrast {s!r} at {s[pos:pos + 20]!r}: expected a parameter "
                                 f"name (parameters are {list(self.names)[:12]}).")
            row[hit] += (-1.0 if sign_txt == "-" else 1.0) * (float(factor_txt) if factor_txt else 1.0)
            pos += len(self.names[hit])
            while pos < len(s) and s[pos].isspace():
                pos += 1
            first = False
        if pos != len(s) or not np.any(row):
            raise ValueError(f"cannot read the contrast {s!r}: write parameter names joined by + and -, "
                             "optionally with numeric factors (e.g. 'A - B' or '2*A - B - C').")
        return row, s

    def t_test(self, L, value=0.0, level: float = 0.95) -> ContrastResults:
        """Wald z test and interval for each linear combination ``L theta`` (against ``value``)."""
        M, names = self.contrast_matrix(L)
        est = M @ self.estimate
        cov = M @ self.cov @ M.T
        cov = 0.5 * (cov + cov.T)
        se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        value = np.broadcast_to(np.asarray(value, np.float64), est.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (est - value) / se
        return ContrastResults(names=names, estimate=est, stderr=se, cov=cov, z=z,
                               p_value=2.0 * stats.norm.sf(np.abs(z)), conf_int=wald_interval(est, se, level),
                               level=level)

    contrast = t_test

    def wald_test(self, L, value=0.0) -> WaldTestResults:
        """Joint test of ``L theta = value`` (q restrictions): ``(L theta - v)^T (L V L^T)^-1 (L theta - v)``."""
        M, _ = self.contrast_matrix(L)
        diff = M @ self.estimate - np.broadcast_to(np.asarray(value, np.float64), (M.shape[0],))
        cov = M @ self.cov @ M.T
        rank = np.linalg.matrix_rank(cov)
        if rank < M.shape[0]:
            raise ValueError(f"the {M.shape[0]} restrictions are linearly dependent (rank {rank}) given the "
                             "covariance; drop redundant rows of L.")
        stat = float(diff @ np.linalg.solve(cov, diff))
        return WaldTestResults(statistic=stat, df=int(M.shape[0]), p_value=float(stats.chi2.sf(stat, M.shape[0])))

    def pairwise(self, names=None, level: float = 0.95) -> pd.DataFrame:
        """All differences ``theta_i - theta_j`` (i before j in ``names``; default: every parameter
        except ``order_effect``), with stderr, z, two-sided p-value and a marginal Wald interval."""
        names, idx = self._selection(names)
        rows = [(i, j) for a, i in enumerate(idx) for j in idx[a + 1:]]
        M = np.zeros((len(rows), len(self.names)))
        for r, (i, j) in enumerate(rows):
            M[r, i], M[r, j] = 1.0, -1.0
        res = self.t_test(M, level=level)
        frame = res.summary_frame()
        frame.index = pd.MultiIndex.from_tuples([(self.names[i], self.names[j]) for i, j in rows],
                                                names=["first", "second"])
        return frame

    # ------------------------------------------- simultaneous inference and ranks (inference/simultaneous.py,
    # inference/ranks.py do the work; docs/methods.md#simultaneous-inference-and-confidence-sets-for-ranks)
    def _selection(self, names) -> tuple[list, list]:
        """``(names, positions)``; default: every parameter except ``order_effect``."""
        if names is None:
            names = [n for n in self.names if n != "order_effect"]
        names = [str(n) for n in names]
        return names, [self._index(n) for n in names]

    def _block(self, names):
        names, idx = self._selection(names)
        return names, self.estimate[idx], self.cov[np.ix_(idx, idx)]

    def simultaneous_conf_int(self, level: float = 0.95, names=None, n_draws: int = 100_000,
                              random_state=None) -> pd.DataFrame:
        """Intervals covering all selected parameters jointly (``max-|t|`` critical value from ``cov``), with
        the marginal Wald intervals beside them; ``attrs["critical_value"]`` holds the max-t value."""
        names, est, cov = self._block(names)
        lo, hi, crit = simultaneous_intervals(est, cov, level, n_draws, random_state)
        marg = wald_interval(est, np.sqrt(np.clip(np.diag(cov), 0.0, None)), level)
        frame = pd.DataFrame({"estimate": est, "lower": lo, "upper": hi, "marginal_lower": marg[:, 0],
                              "marginal_upper": marg[:, 1]}, index=pd.Index(names, name="parameter"))
        frame.attrs["critical_value"] = crit
        return frame

    def simultaneous_pairwise(self, level: float = 0.95, names=None, n_draws: int = 20_000,
                              random_state=None) -> pd.DataFrame:
        """Every difference ``theta_i - theta_j`` (i before j in ``names``) with simultaneous (max-t over all
        differences) and marginal intervals; ``attrs["critical_value"]`` holds the max-t value."""
        names, est, cov = self._block(names)
        r = simultaneous_pairwise_intervals(est, cov, level, n_draws, random_state)
        frame = pd.DataFrame({"estimate": r.difference, "stderr": r.stderr, "lower": r.lower, "upper": r.upper,
                              "marginal_lower": r.marginal_lower, "marginal_upper": r.marginal_upper},
                             index=pd.MultiIndex.from_tuples([(names[a], names[b]) for a, b in r.pairs],
                                                             names=["first", "second"]))
        frame.attrs["critical_value"] = r.crit
        return frame

    def rank_sets(self, level: float = 0.95, names=None, simultaneous: bool = False,
                  n_draws: int = DEFAULT_RANK_DRAWS, random_state=None, stepdown: bool = True) -> pd.DataFrame:
        """Confidence sets for the ranks (rank 1 = largest) of the selected parameters (Mogstad et al. 2023):
        columns ``estimate``, ``rank`` (estimated), ``lower``, ``upper``; marginal or simultaneous."""
        names, est, cov = self._block(names)
        sets = rank_confidence_sets(est, cov, level, simultaneous, n_draws, random_state, stepdown)
        rank = 1 + np.sum(est[None, :] > est[:, None], axis=1)
        return pd.DataFrame({"estimate": est, "rank": rank, "lower": sets.lower, "upper": sets.upper},
                            index=pd.Index(names, name="parameter"))

    def top_set(self, tau: int, level: float = 0.95, names=None, n_draws: int = DEFAULT_RANK_DRAWS,
                random_state=None, stepdown: bool = True) -> pd.Series:
        """Boolean Series: the confidence set for the top-``tau`` parameters (Mogstad et al. 2023)."""
        names, est, cov = self._block(names)
        mask = top_set(est, cov, tau, level, n_draws, random_state, stepdown)
        return pd.Series(mask, index=pd.Index(names, name="parameter"), name=f"top_{tau}")

    def separated_pairs(self, level: float = 0.95, names=None, method: str = "holm", pairs: str = "adjacent",
                        n_draws: int = DEFAULT_RANK_DRAWS, random_state=None) -> pd.DataFrame:
        """Pairs (adjacent in the estimated order, or all) separated at family-wise level; see
        :func:`prefstat.inference.ranks.separated_pairs`."""
        names, est, cov = self._block(names)
        return separated_pairs(est, cov, names, level, method, pairs, n_draws, random_state)
