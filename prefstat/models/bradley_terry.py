r"""Bradley-Terry maximum likelihood, item-level and feature-level.

Model (Zermelo 1929; Bradley & Terry 1952): row i compares a left and a right
option and

.. math::  P(y_i = 1) = \sigma(\eta_i), \qquad
           \eta_i = \theta_{a_i} - \theta_{b_i} + \gamma o_i \ \text{(items)}
           \quad\text{or}\quad \beta^\top z_i + \gamma o_i \ \text{(features)},

with :math:`o_i \in \{-1, 0, 1\}` the order indicator (+1: the left option
holds the home / first-position advantage). The log-likelihood is
:math:`\ell = \sum_i w_i [y_i \eta_i - \log(1 + e^{\eta_i})]`; ties enter as
:math:`y = 1/2`, half a win for each side (the usual quasi-likelihood, whose
estimating equation is unbiased when the expected outcome is
:math:`\sigma(\eta)`). Weights are frequency weights.

The pure core :func:`fit_core` (damped Newton, jit- and vmap-able) is what the
simulation engine and the bootstrap call; :class:`BradleyTerry` is the
scikit-learn-style shell. Item-level rows are first aggregated into cells of
identical (left, right, order[, group]) with the sufficient statistics
:math:`W = \sum w`, :math:`WY = \sum w y`, :math:`WY_2 = \sum w y^2`, so the
cost grows with the number of distinct pairs, not rows.

Identifiability: abilities are fitted with one reference item fixed at 0.
``reference=None`` reports the sum-to-zero parametrisation
:math:`\theta_c = C \theta`, :math:`C = I - 11^\top/k`, with covariance
:math:`C V C^\top` (as R's BradleyTerry2).

Layout: the item-level design and reparametrisation live in
:mod:`~prefstat.models.bt_items`, the multinomial bootstrap in
:mod:`~prefstat.models.bt_bootstrap`, reporting in
:class:`prefstat.inference.EstimationResults` (``results_``). What remains here
(about 560 lines, most of them docstrings) is one estimator's shell: problem
building, existence checks, covariance and prediction, which share the
:class:`_Problem` description and are read together.
"""
from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from functools import partial

import jax
import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from .._x64 import x64
from ..data import ComparisonTable, as_table, factorize_items
from ..data.keys import unique_keys
from ..design import (DenseDesign, SparseRowsDesign, feature_design, pad_columns, pad_rows, padded_columns,
                      padded_size, to_device)
from ..distributed import (ItemCells, PartitionedTable, TransferLog, as_partitioned, cells_from_rows, fit_features,
                           is_partitioned, item_cells)
from ..existence import check_beat_graph, check_identifiable, find_separation
from ..inference import COV_TYPES, EstimationResults, Inference
from ..optim import OptimResult
from ..runtime import single_thread_blas
from ..losses import (SUSPICIOUS_ETA, logistic_fit, logistic_group_scores, logistic_meat,
                      logistic_objective)
from ..validation import check_bool, check_int, check_option, check_random_state, check_real, warn_caller
from .base import PreferenceClassifier
from .bt_bootstrap import multinomial_bootstrap
from .bt_items import item_design, item_reparametrize, item_transform
from .bt_update import UPDATE_PARAMS, check_update_params, kept_rows, merge_feature_rows

__all__ = ["BradleyTerry", "fit_core", "bt_objective", "item_design", "item_transform", "item_reparametrize"]

# The Bradley-Terry likelihood (ties as half wins) is the weighted soft-target logistic loss of
# prefstat.losses on the item or feature design; its MLE is that loss's minimiser.
bt_objective = logistic_objective
fit_core = logistic_fit


@partial(jax.jit, static_argnames=("max_iter", "solver"))
def _fit_and_predictor(design, W, WY, penalty, beta0, gtol=1e-12, max_iter=100, solver="newton"):
    # the fit and its linear predictor in one compiled program: computed eagerly afterwards, the
    # predictor's half-dozen primitives each cost a compilation-cache lookup in a fresh process
    res = fit_core(design, W, WY, penalty, beta0, gtol=gtol, max_iter=max_iter, solver=solver)
    return res, design.matvec(res.x)


@dataclass
class _Problem:
    """Host-side description of one BT fit, in the free parametrisation."""

    design: object  # DenseDesign | SparseRowsDesign (padded)
    W: np.ndarray
    WY: np.ndarray
    WY2: np.ndarray
    penalty: np.ndarray
    T: np.ndarray  # free -> reported parameters
    names: list  # reported parameter names
    n_cells: int  # before padding
    group: np.ndarray | None = None
    n_groups: int = 0
    atoms: tuple | None = None  # (cell index, y, weight) of distinct (cell, outcome) rows, for the bootstrap
    reparam: object = None  # fast T V T^T (None: T is the identity or small)
    loglik_saturated: float = 0.0
    extra: np.ndarray | None = None  # per-cell sums from BradleyTerry._cell_stats (subclass likelihoods)
    # Checks of the input that change nothing in the problem (e.g. that the MLE exists). The solver
    # runs them after dispatching the fit, so that they overlap the device's work; each raises, as
    # before the fit, before any result is read.
    pending: tuple = ()

    def run_pending(self) -> None:
        for check in self.pending:
            check()


def _row_entropy(y, w) -> float:
    """sum_i w_i [y log y + (1-y) log(1-y)]: the saturated log-likelihood of the rows (0 for y in {0, 1})."""
    soft = (y > 0) & (y < 1)
    ys = y[soft]
    return float(np.sum(w[soft] * (ys * np.log(ys) + (1 - ys) * np.log1p(-ys))))


class BradleyTerry(PreferenceClassifier):
    """Bradley-Terry MLE with model-based, robust, cluster-robust or bootstrap standard errors.

    Parameters
    ----------
    reference : label or None, default None
        ``None`` reports sum-to-zero abilities; an item label fixes that item at 0.
        Ignored for the feature-level design.
    order_effect : bool, default False
        Estimate an order (home / first-position) effect ``gamma``. The order
        indicator comes from the table's ``order`` column (+1 left holds the
        advantage, -1 right, 0 neither); when it is absent every row's left
        option is taken to hold the advantage.
    cov_type : {"model", "robust", "cluster", "bootstrap"}, default "model"
        Inverse information; Huber-White sandwich (HC0); cluster-robust by
        ``groups`` with statsmodels' small-sample factor; multinomial bootstrap
        over comparisons (vmapped refits; Wald intervals from the bootstrap
        covariance, percentile intervals via ``conf_int(method="percentile")``).
        Only ``"cluster"`` uses ``groups``: with any other cov_type, groups
        passed to ``fit`` (or a table's group column) are not used and a
        UserWarning says so.
    alpha : float, default 0.0
        L2 penalty ``alpha/2 * ||theta||^2`` on abilities / coefficients (not on
        the order effect). With ``alpha > 0`` the estimate always exists, and
        standard errors are those of the penalised fit (inverse penalised
        information, sandwiches with it as bread).
    design : {"auto", "items", "features"}, default "auto"
        How to read an array ``X`` (see :meth:`ComparisonTable.from_arrays`).
    n_bootstrap : int >= 2, default 200
        Bootstrap refits (``cov_type="bootstrap"``).
    random_state : int, numpy Generator or None
        Seed of the bootstrap draws.
    solver : {"auto", "newton", "subsampled", "lbfgs"}, default "auto"
        ``"auto"``: damped Newton (quadratic convergence) for at most 2000
        parameters, except for tall dense designs (n * d > 5e6), which get
        ``"subsampled"``: Newton steps on the full data whose Hessian comes
        from every k-th row (about 30,000 rows; one gradient pass per step
        instead of a full Hessian), then one full Newton step with the
        information the standard errors need anyway. The estimate is the same
        minimiser. ``"lbfgs"`` (more than 2000 parameters): L-BFGS followed by
        that Newton step.
    tol : positive float or None
        Newton stops when the Newton decrement ``g^T H^-1 g <= tol^2 * total
        weight`` (scale invariant; default 1e-12); the subsampled steps at
        ``tol / 100 * total weight``, before the final full Newton step squares
        the error; L-BFGS when ``max|g| <= tol * total weight`` (default 1e-10).
    max_iter : int >= 1 or None
        Default 100 (Newton, subsampled) or 5000 (L-BFGS).

    Attributes
    ----------
    items_, coef_, stderr_, cov_, order_effect_, order_effect_stderr_,
    loglik_, deviance_, nobs_, n_iter_, converged_, param_names_
    results_ : :class:`~prefstat.inference.EstimationResults`
        Every reported parameter (coefficients, order effect, ...) with its
        covariance: ``conf_int``, ``summary``, ``t_test``, ``wald_test`` and
        ``pairwise`` delegate to it.
    cell_stats_ (item level) or rows_ (feature level), solution_ :
        what :meth:`update` merges new rows into (:mod:`prefstat.models.bt_update`); ``rows_``
        holds the fitted rows (as large as the data; ``del model.rows_`` frees them, after which
        ``update`` raises), or the PartitionedTable of a partitioned fit.
    feature_names_in_ : column names of a DataFrame ``X`` passed to ``fit``
        (only when they are all strings; feature-level fits then use them as
        ``param_names_``). Predict-time DataFrames must have the same columns
        in the same order.

    Notes
    -----
    Every hyperparameter is validated by ``fit`` (a ValueError names it and its allowed range).

    Scoring: :meth:`score` is the mean log-likelihood per comparison (ties as
    half wins), the default scorer of ``GridSearchCV``. Predict-based scorers
    (``scoring="accuracy"``, ``"roc_auc"``) need ``y`` in {0, 1}: with ties use
    the default or :data:`prefstat.models.preference_accuracy_scorer`.
    """

    def __init__(self, reference=None, order_effect=False, cov_type="model", alpha=0.0, design="auto",
                 n_bootstrap=200, random_state=None, solver="auto", tol=None, max_iter=None):
        self.reference = reference
        self.order_effect = order_effect
        self.cov_type = cov_type
        self.alpha = alpha
        self.design = design
        self.n_bootstrap = n_bootstrap
        self.random_state = random_state
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter

    _solvers = ("auto", "newton", "subsampled", "lbfgs")

    def _check_params(self) -> None:
        """Validate every hyperparameter (called by ``fit``)."""
        check_bool("order_effect", self.order_effect)
        check_option("cov_type", self.cov_type, self._cov_types())
        check_real("alpha", self.alpha, 0.0)
        check_option("design", self.design, ("auto", "items", "features"))
        check_option("solver", self.solver, self._solvers)
        check_real("tol", self.tol, 0.0, low_open=True, allow_none=True)
        check_int("max_iter", self.max_iter, 1, allow_none=True)
        if "n_bootstrap" in self.get_params():
            check_int("n_bootstrap", self.n_bootstrap, 2)
            check_random_state("random_state", self.random_state)

    def _cov_types(self) -> tuple:
        return COV_TYPES

    def _solver_options(self, design) -> dict:
        # A dense Hessian costs n p^2 per Newton step; for tall dense designs a gradient costs
        # only n p, so Newton steps with a subsample's Hessian (plus one full Newton step at the
        # end) are cheaper. Item-level and sparse designs build their Hessian in O(nnz) and keep
        # Newton up to 2000 parameters; beyond that, L-BFGS.
        tall_dense = isinstance(design, DenseDesign) and design.X.shape[0] * design.p > 5_000_000
        auto = "lbfgs" if design.p > 2000 else ("subsampled" if tall_dense else "newton")
        solver = self.solver if self.solver != "auto" else auto
        newton_ = solver != "lbfgs"
        tol = self.tol if self.tol is not None else (1e-12 if newton_ else 1e-10)
        max_iter = self.max_iter if self.max_iter is not None else (100 if newton_ else 5000)
        return dict(solver=solver, gtol=tol, max_iter=max_iter)

    # --------------------------------------------------------------- problem
    def _table(self, X, y, sample_weight, groups, order) -> ComparisonTable:
        table = as_table(X, y, sample_weight, groups, order, design=self.design)
        if table.group is not None and self.cov_type != "cluster":
            source = "groups=" if groups is not None else "the table's group column"
            warn_caller(f"{source} is not used with cov_type={self.cov_type!r}: only cov_type='cluster' uses "
                        "groups (cluster-robust standard errors). Pass cov_type='cluster', or drop groups.")
        return table

    def _order_column(self, table: ComparisonTable) -> np.ndarray | None:
        if not self.order_effect:
            return None
        return np.ones(table.n_rows) if table.order is None else table.order

    def _build(self, table: ComparisonTable) -> _Problem:
        if self.cov_type == "cluster" and table.group is None:
            raise ValueError("cov_type='cluster' needs groups: pass groups= to fit (or a table with a group column).")
        group_codes = group_labels = None
        if table.group is not None and self.cov_type == "cluster":
            group_codes, group_labels = live_group_codes(table.group, table.weight)
        o = self._order_column(table)
        y, w = table.outcome, table.weight
        if table.kind == "items":
            return self._build_items(table, y, w, o, group_codes, group_labels)
        return self._build_features(table, y, w, o, group_codes)

    def _reference_index(self, items) -> int:
        """Position of ``reference`` among the sorted item labels (0, a placeholder, when it is None)."""
        if self.reference is None:
            return 0
        pos = [i for i, item in enumerate(items) if item == self.reference]
        if not pos:
            raise ValueError(f"reference item {self.reference!r} does not occur in the table.")
        return pos[0]

    def _build_items(self, table, y, w, o, group_codes, group_labels=None) -> _Problem:
        a, b, items = table.item_codes
        pos = w[w > 0]
        row_stats = (int(w.shape[0]), float(pos.min(initial=np.inf)), float(w.max()))
        return self._items_problem(items, a, b, o, group_codes, group_labels, (w, w * y, w * y * y),
                                   _row_entropy(y, w), row_stats, rows=(y, w))

    def _items_problem(self, items, a, b, o, group_codes, group_labels, sums, loglik_saturated, row_stats,
                       rows=None) -> _Problem:
        """The item-level problem from rows (``rows=(y, w)``) or from cells (``rows=None``).

        ``sums`` are the per-input (W, WY, WY2): ``(w, w y, w y^2)`` of rows, or the sums of cells
        (:class:`prefstat.distributed.ItemCells`); inputs of identical (left, right, order[, group])
        are added into one cell. ``group_labels[code]`` is the label of a group code (kept in
        ``cell_stats_`` so that :meth:`update` can merge new rows of the same clusters).
        """
        k = items.size
        ref = self._reference_index(items)
        # Aggregate rows into cells of identical (left, right, order[, group]).
        key = a.astype(np.int64) * k + b
        if o is not None:
            key = key * 3 + (o.astype(np.int64) + 1)
        if group_codes is not None:
            key = key * (group_codes.max() + 1) + group_codes
        cell_key, row_cell = unique_keys(key)
        m = cell_key.size
        W = np.bincount(row_cell, sums[0], m)
        WY = np.bincount(row_cell, sums[1], m)
        WY2 = np.bincount(row_cell, sums[2], m)
        extra = None if rows is None else self._cell_stats(row_cell, rows[0], rows[1], m)
        first = np.zeros(m, np.int64)
        first[row_cell[::-1]] = np.arange(row_cell.size)[::-1]
        ca, cb = a[first], b[first]
        co = o[first] if o is not None else None
        cg = group_codes[first] if group_codes is not None else None
        pending = (partial(check_beat_graph, ca, cb, WY, W - WY, items),) if self.alpha == 0 else ()

        penalised = self.alpha > 0
        cols, vals = item_design(ca, cb, co, k, ref, penalised, np)
        T = item_transform(k, ref, penalised, co is not None, centre=self.reference is None)
        reparam = partial(item_reparametrize, k=k, ref=ref, penalised=penalised, has_order=co is not None,
                          centre=self.reference is None)
        free_items = k if penalised else k - 1
        p_free = T.shape[1]
        penalty = np.r_[np.full(free_items, float(self.alpha)), np.zeros(p_free - free_items)]
        names = list(items) + (["order_effect"] if co is not None else [])

        mp = padded_size(m)
        design = SparseRowsDesign(cols=to_device(pad_rows(cols, mp)), vals=to_device(pad_rows(vals, mp)), p=p_free)
        atoms = None
        if self.cov_type == "bootstrap":
            akey, arow = np.unique(np.column_stack([row_cell, rows[0]]), axis=0, return_inverse=True)
            atoms = (akey[:, 0].astype(np.int64), akey[:, 1], np.bincount(arow.ravel(), rows[1], akey.shape[0]))
        self.items_ = items
        self._cells = (items, ca, cb, co, None if cg is None else np.asarray(group_labels, dtype=object)[cg],
                       W, WY, WY2, loglik_saturated, row_stats)
        return _Problem(design=design, W=pad_rows(W, mp), WY=pad_rows(WY, mp), WY2=pad_rows(WY2, mp), penalty=penalty,
                        T=T, names=names, n_cells=m, reparam=reparam,
                        group=None if cg is None else pad_rows(cg, mp),
                        n_groups=0 if cg is None else int(group_codes.max() + 1), atoms=atoms,
                        loglik_saturated=loglik_saturated, extra=None if extra is None else pad_rows(extra, mp),
                        pending=pending)

    def _build_features(self, table, y, w, o, group_codes) -> _Problem:
        n, d = table.features.shape
        mp = padded_size(n)
        design, names = feature_design(table.features, o, mp, table.feature_names)
        p = design.p
        penalty = np.r_[np.full(d, float(self.alpha)), np.zeros(p - d)]
        atoms = (np.arange(n), y, w) if self.cov_type == "bootstrap" else None
        extra = self._cell_stats(np.arange(n), y, w, n)
        self.n_features_in_ = d
        return _Problem(design=design, W=pad_rows(w, mp), WY=pad_rows(w * y, mp), WY2=pad_rows(w * y * y, mp),
                        penalty=penalty, T=np.eye(p), names=names, n_cells=n, reparam=lambda cov: cov,
                        group=None if group_codes is None else pad_rows(group_codes, mp),
                        n_groups=0 if group_codes is None else int(group_codes.max() + 1), atoms=atoms,
                        loglik_saturated=_row_entropy(y, w), extra=None if extra is None else pad_rows(extra, mp))

    def _cell_stats(self, row_cell, y, w, m):
        """Hook: extra per-cell sums (m, j) a subclass's likelihood needs (``_Problem.extra``); None here."""
        return None

    # ------------------------------------------------------------------- fit
    @x64
    def fit(self, X, y=None, sample_weight=None, groups=None, order=None):
        """Fit by maximum likelihood.

        ``X`` is a :class:`~prefstat.ComparisonTable`, an (n, 2) array of item
        labels, or an (n, d) array / sparse matrix of feature differences.
        ``y``: 1 left preferred, 0 right, 0.5 tie. ``sample_weight``:
        frequency weights. ``groups``: cluster ids for ``cov_type="cluster"``
        (with any other cov_type they are not used, and a UserWarning says so).
        ``order``: +1/-1/0 order indicator (see ``order_effect``).
        """
        if is_partitioned(X):
            return self._fit_partitioned(X, y, sample_weight, groups, order)
        return self._fit_problem(self._prepare(X, y, sample_weight, groups, order))

    def _fit_problem(self, prob, beta0=None):
        """Solve, check and store one built problem (``beta0``: warm start in the free parametrisation)."""
        with single_thread_blas(prob.design.p):  # see prefstat.runtime: spinning BLAS threads on a busy machine
            return self._solve_and_store(prob, beta0)

    def _solve_and_store(self, prob, beta0):
        p = prob.design.p
        # Compiled programs are shared across tables: rows are padded to buckets (padded_size), and
        # so are the parameters of item-level / sparse designs (zero columns, unit penalty: the
        # padded coordinates stay 0 and every reported number is that of the unpadded problem).
        design, penalty = pad_columns(prob.design, prob.penalty, padded_columns(p))
        padded = dataclasses.replace(prob, design=design, penalty=penalty)
        W, WY = to_device(prob.W), to_device(prob.WY)
        self._opts = self._solver_options(prob.design)
        start = np.zeros(design.p)
        if beta0 is not None:
            start[:p] = np.asarray(beta0)
        res_pad, eta = _fit_and_predictor(design, W, WY, to_device(penalty), to_device(start), **self._opts)
        prob.run_pending()  # on the host while the device fits (JAX dispatches asynchronously)
        eta = np.asarray(eta)
        # sliced on the host: an eager slice of a device array would compile once per p again
        res = res_pad._replace(x=np.asarray(res_pad.x)[:p], grad=np.asarray(res_pad.grad)[:p],
                               hess=np.asarray(res_pad.hess)[:p, :p])
        self._check_solution(prob, res, eta)
        # Dispatched only now: dispatched right after the fit (before its result was read), the meat's
        # program made a 1M x 64 robust fit take 1.0 s instead of 0.8 s (measured; cause not established).
        meat = None
        if self.cov_type == "robust":
            meat = np.asarray(logistic_meat(design, W, WY, to_device(prob.WY2), res_pad.x))[:p, :p]
        group_scores = None
        if prob.group is not None:
            group_scores = np.asarray(logistic_group_scores(design, W, WY, res_pad.x, to_device(prob.group),
                                                            prob.n_groups))[:, :p]
        draws = None
        if self.cov_type == "bootstrap":
            draws = self._bootstrap(padded, res_pad.x)[:, :p] @ prob.T.T
        return self._store(prob, res, meat, group_scores, draws)

    # Number of reported parameters after the coefficients and the order effect (e.g. a tie parameter).
    _n_aux = 0

    def _prepare(self, X, y, sample_weight, groups, order) -> _Problem:
        """Validate the input and build the fitting problem (first step of ``fit``)."""
        self._check_params()
        table = self._table(X, y, sample_weight, groups, order)
        for attr in ("items_", "n_features_in_", "_rows"):
            self.__dict__.pop(attr, None)
        self._reset_input_names(X)
        prob = self._build(table)
        self.kind_ = table.kind
        if table.kind == "features":  # what update refits on (prefstat.models.bt_update)
            self._rows = kept_rows(table, X, order_effect=self.order_effect, cluster=self.cov_type == "cluster")
        return prob

    def _store(self, prob, res, meat, group_scores, draws):
        """Covariance and fitted attributes from the solver result (last step of ``fit``)."""
        beta = np.asarray(res.x)
        nobs = float(np.sum(prob.W))
        inference = Inference(bread=np.asarray(res.hess), T=prob.T, n_obs=nobs, meat=meat, reparam=prob.reparam,
                              group_scores=group_scores, draws=draws)
        cov_all = inference.cov(self.cov_type)
        if np.any(np.diag(cov_all) < 0) or (np.all(np.isfinite(np.asarray(res.hess)))
                                            and not np.all(np.isfinite(cov_all))):
            # Item abilities are identified once the win graph is connected, so the information is not
            # checked before this point; an order effect confounded with the abilities (every pair
            # shown in one orientation) still makes it singular, which shows here.
            check_identifiable(np.asarray(res.hess), self._free_names(prob))
        if not np.all(np.isfinite(cov_all)):
            raise ValueError("the covariance is not finite: the weights are too large (or too extreme) for "
                             "float64; rescale sample_weight.")
        self._report(prob.names, prob.T @ beta, cov_all, draws, nobs)
        loglik = -float(res.value) + 0.5 * float(np.sum(prob.penalty * beta**2))
        self.loglik_ = loglik
        self.deviance_ = 2.0 * (prob.loglik_saturated - loglik)
        self.nobs_ = nobs
        self.n_iter_ = int(res.n_iter)
        self.converged_ = bool(res.converged)
        self.classes_ = np.array([0, 1])
        self._keep_cells(prob, beta)
        return self

    # ------------------------------------------ partitioned data, exact updates (prefstat.distributed)
    def _keep_cells(self, prob, beta) -> None:
        """Store what :meth:`update` needs: the hyperparameters, the free solution, and the item-level cell
        sums (``cell_stats_``) or the feature-level rows (``rows_``; :mod:`.bt_update`)."""
        cells = self.__dict__.pop("_cells", None)
        rows = self.__dict__.pop("_rows", None)
        for attr in ("cell_stats_", "rows_", "solution_", "_fit_params"):
            self.__dict__.pop(attr, None)
        if prob.extra is not None:  # a subclass likelihood with its own per-cell sums: no update
            return
        self._fit_params = {k: v for k, v in self.get_params().items() if k in UPDATE_PARAMS}
        if self.kind_ == "features":
            if rows is not None:
                self.rows_ = rows
                self.solution_ = dict(zip(self._free_names(prob), np.asarray(beta, np.float64)))
            return
        if cells is None:
            return
        items, ca, cb, co, cg, W, WY, WY2, entropy, row_stats = cells
        frame = {"left": items[ca], "right": items[cb]}
        if co is not None:
            frame["order"] = co
        if cg is not None:
            frame["group"] = cg
        frame.update(W=W, WY=WY, WY2=WY2)
        self.cell_stats_ = ItemCells(pd.DataFrame(frame), float(entropy), *row_stats)
        self.solution_ = dict(zip(self._free_names(prob), np.asarray(beta, np.float64)))

    def _fit_partitioned(self, X, y, sample_weight, groups, order):
        """``fit`` on a :class:`prefstat.distributed.PartitionedTable` or Dask DataFrame (exact map-reduce)."""
        passed = [n for n, v in (("y", y), ("sample_weight", sample_weight), ("groups", groups), ("order", order))
                  if v is not None]
        if passed:
            raise ValueError(f"a partitioned table carries its own columns; do not pass {', '.join(passed)} with it "
                             "(name the roles with prefstat.distributed.PartitionedTable).")
        self._check_params()
        if self.cov_type == "bootstrap":
            raise ValueError("cov_type='bootstrap' is not available on partitioned data (each replicate would be "
                             "a pass over every partition); use 'model', 'robust' or 'cluster'.")
        if type(self)._cell_stats is not BradleyTerry._cell_stats:
            raise ValueError(f"{type(self).__name__} cannot be fitted on partitioned data; fit BradleyTerry, or "
                             "read the table into memory.")
        table = as_partitioned(X)
        if table.roles["group"] is not None and self.cov_type != "cluster":
            warn_caller(f"the table's group column is not used with cov_type={self.cov_type!r}: only "
                        "cov_type='cluster' uses groups (cluster-robust standard errors). Pass cov_type='cluster', "
                        "or drop the group role.")
        for attr in ("items_", "n_features_in_", "feature_names_in_", "cell_stats_", "solution_", "rows_"):
            self.__dict__.pop(attr, None)
        log = TransferLog()
        if table.kind == "items":
            cells = item_cells(table, order=self.order_effect, group=self.cov_type == "cluster", log=log)
            self.kind_ = "items"
            self._fit_cells(cells)
        else:
            self._fit_partitioned_features(table, log)
        self.distributed_ = log.as_dict()
        return self

    def _fit_cells(self, cells, beta0=None):
        """Fit on item-level cell sums (:class:`prefstat.distributed.ItemCells`), e.g. merged ones."""
        f = cells.frame
        left, right = f["left"].to_numpy(object), f["right"].to_numpy(object)
        a, b, items = factorize_items(left, right)
        o = f["order"].to_numpy(np.float64) if "order" in f else None
        codes = labels = None
        if "group" in f:
            codes, labels = live_group_codes(f["group"].to_numpy(object), f["W"].to_numpy(np.float64))
        sums = tuple(f[c].to_numpy(np.float64) for c in ("W", "WY", "WY2"))
        prob = self._items_problem(items, a, b, o, codes, labels, sums, cells.entropy,
                                   (cells.n_rows, cells.w_min, cells.w_max))
        x0 = None if beta0 is None else np.array([beta0.get(n, 0.0) for n in self._free_names(prob)])
        return self._fit_problem(prob, x0)

    def _fit_partitioned_features(self, table, log, beta0=None):
        out = fit_features(table, order_effect=self.order_effect, alpha=self.alpha, cov_type=self.cov_type,
                           tol=self.tol, max_iter=self.max_iter, log=log, beta0=beta0)
        self.kind_ = "features"
        if not out.converged or out.max_abs_eta > SUSPICIOUS_ETA:
            if np.all(np.isfinite(out.hess)):
                check_identifiable(out.hess, out.names)
            raise ValueError(
                f"the {self._model_name} fit on the partitioned table did not reach a finite MLE (converged="
                f"{out.converged}, largest |linear predictor| {out.max_abs_eta:.3g}): the outcomes are probably "
                "separated along some feature combination. The exact separation check needs the rows in memory: "
                "fit a sample in memory to locate it, or fit with alpha > 0.")
        check_identifiable(out.hess, out.names)
        p = len(out.names)
        d = len(table.features)
        penalty = np.r_[np.full(d, float(self.alpha)), np.zeros(p - d)]
        prob = _Problem(design=None, W=np.array([out.total_weight]), WY=None, WY2=None, penalty=penalty, T=np.eye(p),
                        names=out.names, n_cells=0, reparam=lambda cov: cov, loglik_saturated=out.entropy)
        res = OptimResult(x=out.x, value=out.value, grad=out.grad, hess=out.hess, n_iter=out.n_iter,
                          converged=out.converged)
        self.n_features_in_ = d
        self._opts = dict(solver="newton", gtol=1e-12 if self.tol is None else self.tol,
                          max_iter=100 if self.max_iter is None else self.max_iter)
        self._store(prob, res, out.meat, out.group_scores, None)
        # the rows stay on disk (or in the Dask DataFrame): the table is what update appends to
        self.rows_ = table
        self.solution_ = dict(zip(out.names, np.asarray(out.x, np.float64)))
        return self

    @x64
    def update(self, X, y=None, sample_weight=None, groups=None, order=None):
        """Merge new comparisons into a fitted model and refit: exactly the fit on all rows.

        Item level: the cell sums are additive (:mod:`prefstat.distributed.cells`): the new rows'
        cells are added to ``cell_stats_``. Feature level: there is no sufficient statistic of fixed
        size, so the model keeps its rows (``rows_``: the validated rows fitted in memory, or the
        :class:`~prefstat.distributed.PartitionedTable` of a partitioned fit) and the new rows are
        appended to them (:mod:`prefstat.models.bt_update`). Either way the model is refitted from
        its previous solution (warm start), which gives the fit on the old and new rows together
        (to rounding). ``X`` is anything ``fit`` accepts; a model fitted on partitioned
        feature-level data takes partitioned new rows of the same roles. The hyperparameters must
        be those of the fit.

        There is no ``partial_fit``: scikit-learn's contract for it (a first call on an unfitted
        estimator fits any batch, and memory stays bounded by the batch, as in out-of-core
        learners) does not hold here: a small first batch can have no finite MLE (an item that
        never lost), and a feature-level model keeps every row it has seen.
        """
        check_is_fitted(self, "coef_")
        if self.cov_type == "bootstrap":
            raise ValueError("update is not available with cov_type='bootstrap' (the bootstrap resamples rows, "
                             "which the cell sums do not keep); use 'model', 'robust' or 'cluster'.")
        check_update_params(getattr(self, "_fit_params", None), self.get_params())
        self._check_params()
        if self.kind_ == "features":
            return self._update_features(X, y, sample_weight, groups, order)
        cells = getattr(self, "cell_stats_", None)
        if cells is None:
            raise ValueError("update needs an item-level BradleyTerry fit with its cell statistics (cell_stats_); "
                             f"{type(self).__name__} keeps none: refit on all rows.")
        keys = ["left", "right"] + (["order"] if self.order_effect else []) + (
            ["group"] if self.cov_type == "cluster" else [])
        if cells.keys != keys:
            raise ValueError(f"the model's cells are keyed by {cells.keys} but order_effect={self.order_effect} and "
                             f"cov_type={self.cov_type!r} need {keys}: update with the hyperparameters of the fit.")
        if is_partitioned(X):
            if any(v is not None for v in (y, sample_weight, groups, order)):
                raise ValueError("a partitioned table carries its own columns; do not pass y, sample_weight, "
                                 "groups or order with it.")
            log = TransferLog()
            new = item_cells(as_partitioned(X), order=self.order_effect, group=self.cov_type == "cluster", log=log)
            self.distributed_ = log.as_dict()
        else:
            self._check_input_names(X)
            table = self._table(X, y, sample_weight, groups, order)
            if table.kind != "items":
                raise ValueError("update of an item-level model needs item-level rows (an (n, 2) array of labels).")
            if self.cov_type == "cluster" and table.group is None:
                raise ValueError("cov_type='cluster' needs groups: pass groups= to update.")
            new = cells_from_rows(table.left, table.right, table.outcome, table.weight,
                                  order=self._order_column(table),
                                  group=table.group if self.cov_type == "cluster" else None)
        merged = cells.merge(new)
        merged.check_weights()
        return self._fit_cells(merged, beta0=getattr(self, "solution_", None))

    def _update_features(self, X, y, sample_weight, groups, order):
        """:meth:`update` of a feature-level model: append the new rows to ``rows_`` and refit warm."""
        rows = getattr(self, "rows_", None)
        if rows is None:
            raise ValueError("update of a feature-level model needs its fitted rows (rows_): feature-level models "
                             "keep no sufficient statistics of fixed size, and this one's rows are gone (deleted, or "
                             f"{type(self).__name__} keeps none): refit on all rows.")
        names = list(self.solution_)
        beta0 = np.array([self.solution_[n] for n in names])
        if isinstance(rows, PartitionedTable):
            passed = [n for n, v in (("y", y), ("sample_weight", sample_weight), ("groups", groups),
                                     ("order", order)) if v is not None]
            if passed:
                raise ValueError(f"a partitioned table carries its own columns; do not pass {', '.join(passed)} "
                                 "with it.")
            table = rows.append(X)
            log = TransferLog()
            self._fit_partitioned_features(table, log, beta0=beta0)
            self.distributed_ = log.as_dict()
            return self
        if is_partitioned(X):
            raise ValueError("this model was fitted on rows in memory; update it with rows in memory (or refit on "
                             "the partitioned table of all rows).")
        self._check_input_names(X)
        merged = merge_feature_rows(rows, self._table(X, y, sample_weight, groups, order),
                                    order_effect=self.order_effect, cluster=self.cov_type == "cluster")
        prob = self._build(merged)
        self._rows = merged  # a fresh table: kept as is
        x0 = np.array([self.solution_.get(n, 0.0) for n in self._free_names(prob)])
        return self._fit_problem(prob, x0)

    def _report(self, names, estimate, cov, draws=None, n_obs=None) -> None:
        """Store ``results_`` and the public attributes derived from it.

        ``names``/``estimate``/``cov`` cover every reported parameter: the coefficients, then the order
        effect (with ``order_effect=True``), then ``_n_aux`` auxiliary parameters (e.g. Davidson's tie
        parameter). Subclasses with their own fit (DebiasedBradleyTerry) report through this too.
        """
        n_coef = len(names) - (1 if self.order_effect else 0) - self._n_aux
        self.results_ = EstimationResults(names=list(names), estimate=estimate, cov=cov, cov_type=self.cov_type,
                                          draws=draws, n_obs=n_obs)
        est_all, cov_all = self.results_.estimate, self.results_.cov
        self.param_names_ = list(names[:n_coef])
        self.coef_ = est_all[:n_coef]
        self.cov_ = cov_all[:n_coef, :n_coef]
        self.stderr_ = np.sqrt(np.diag(self.cov_))
        if self.order_effect:
            self.order_effect_ = float(est_all[n_coef])
            self.order_effect_stderr_ = float(np.sqrt(cov_all[n_coef, n_coef]))
        else:
            self.order_effect_ = None
            self.order_effect_stderr_ = None

    def _free_names(self, prob) -> list:
        # Names of the fitted (free) parameters: reported names of the columns T selects.
        return [prob.names[i] for i in np.argmax(np.abs(prob.T), axis=0)]

    def _check_solution(self, prob, res, eta):
        """Raise if the MLE does not exist, is not identified, or was not reached."""
        converged = bool(res.converged)
        live = prob.W[: eta.shape[0]] > 0
        if not converged or np.max(np.abs(eta[live]), initial=0.0) > SUSPICIOUS_ETA:
            self._raise_if_separated(prob)
        # Item abilities are identified once the win graph is connected (checked before the fit);
        # feature columns and the order effect can still be collinear.
        if self.kind_ == "features" or not converged:
            info = np.asarray(res.hess)
            if not np.all(np.isfinite(info)):
                info = np.asarray(prob.design.gram(0.25 * to_device(prob.W))) + np.diag(prob.penalty)
            check_identifiable(info, self._free_names(prob))
        if not converged:
            raise ValueError(
                f"{self._opts['solver']} did not converge in max_iter={self._opts['max_iter']} iterations "
                f"(max |gradient| = {float(np.max(np.abs(res.grad))):.3g}); increase max_iter or rescale features."
            )

    _model_name = "Bradley-Terry"  # in error messages

    def _separation(self, prob):
        """Hook: a direction of the free parameters along which the likelihood never decreases, or None."""
        wins, losses = prob.WY[: prob.n_cells], (prob.W - prob.WY)[: prob.n_cells]
        X = prob.design.to_scipy()[: prob.n_cells]
        return find_separation(X, wins, losses)

    def _raise_if_separated(self, prob):
        direction = self._separation(prob)
        if direction is not None:
            names = self._free_names(prob)
            involved = [names[j] for j in np.flatnonzero(np.abs(direction) > 1e-6)][:8]
            raise ValueError(
                f"the {self._model_name} MLE does not exist: the outcomes are perfectly separated along a "
                f"combination of {involved} (the likelihood keeps increasing as those parameters run off "
                "to infinity). Add data, drop the separating features/items, or fit with an L2 penalty "
                "(alpha > 0; standard errors are then those of the penalised fit)."
            )

    def _bootstrap(self, prob, beta_hat) -> np.ndarray:
        cell, y, w = prob.atoms
        total = float(np.sum(w))
        if total > 2.0**62:
            raise ValueError(f"the bootstrap resamples round(sum of weights) = {total:.3g} comparisons, more than "
                             "a multinomial draw can hold; rescale sample_weight or use cov_type='robust'.")
        draws, ok = multinomial_bootstrap(prob.design, prob.atoms, prob.penalty, beta_hat, prob.W.shape[0],
                                          self.n_bootstrap, np.random.default_rng(self.random_state), self._opts)
        if not ok.any():
            raise ValueError("no bootstrap replicate has a finite MLE (every resample is separated); "
                             "use cov_type='model' or 'robust', or fit with alpha > 0.")
        if not ok.all():
            warnings.warn(
                f"{int((~ok).sum())} of {ok.size} bootstrap replicates have no finite MLE (an item never "
                "won or never lost in the resample) and are excluded from the bootstrap covariance; "
                "with many such replicates the bootstrap is unreliable here.",
                RuntimeWarning, stacklevel=3)
        self.n_bootstrap_failed_ = int((~ok).sum())
        return draws[ok]

    # ------------------------------------------------------------- inference
    def conf_int(self, level: float = 0.95, method: str = "wald") -> np.ndarray:
        """(k, 2) interval for ``coef_``: Wald with the fitted covariance, or bootstrap percentile."""
        check_is_fitted(self, "results_")
        return self.results_.interval(level, method)[: len(self.coef_)]

    def _labels(self) -> list:
        # Reported parameter labels as fitted (item labels keep their type; results_ holds str names).
        return list(self.param_names_) + list(self.results_.names[len(self.param_names_):])

    def summary(self, level: float = 0.95, method: str = "wald") -> pd.DataFrame:
        """Coefficient table (one row per ability / coefficient, plus the order effect)."""
        check_is_fitted(self, "results_")
        table = self.results_.summary(level, method)
        table.index = pd.Index(self._labels(), name="parameter")
        return table

    def t_test(self, L, value=0.0, level: float = 0.95):
        """Wald z test and interval for each linear combination ``L theta`` of the reported parameters.

        ``L``: a string such as ``"A - B"`` or ``"A - B, C"``, a ``{name: coefficient}`` dict (or a
        list of them), or a (q, k) matrix over ``results_.names`` (coefficients, then
        ``order_effect``). Returns :class:`~prefstat.inference.ContrastResults` (``summary_frame()``).
        """
        check_is_fitted(self, "results_")
        return self.results_.t_test(L, value=value, level=level)

    def wald_test(self, L, value=0.0):
        """Joint Wald (chi-square) test of ``L theta = value``; ``L`` as in :meth:`t_test`."""
        check_is_fitted(self, "results_")
        return self.results_.wald_test(L, value=value)

    def pairwise(self, names=None, level: float = 0.95) -> pd.DataFrame:
        """Every difference ``theta_i - theta_j`` among the coefficients (default) or the given ``names``."""
        check_is_fitted(self, "results_")
        if names is None:
            names = [str(n) for n in self.param_names_]
        return self.results_.pairwise(names=names, level=level)

    # ------------------------------------------------------------ prediction
    def decision_function(self, X, order=None) -> np.ndarray:
        """Linear predictor eta (log-odds that the left option is preferred)."""
        check_is_fitted(self, "coef_")
        self._check_input_names(X)
        return self._eta(X, order)

    def _eta(self, X, order) -> np.ndarray:
        if self.kind_ == "items":
            X = np.asarray(X.to_numpy() if isinstance(X, pd.DataFrame) else X, dtype=object)
            if X.ndim != 2 or X.shape[1] != 2:
                raise ValueError(f"X must be an (n, 2) array of item labels; got shape {X.shape}.")
            a, b, _ = factorize_items(X[:, 0], X[:, 1], items=self.items_)
            unknown = np.concatenate([X[:, 0][a < 0], X[:, 1][b < 0]])
            if unknown.size:
                raise ValueError(
                    f"unknown items at predict time: {sorted(set(map(str, unknown)))[:8]}; the model was fitted "
                    f"on {len(self.items_)} items and has no ability for these."
                )
            eta = self.coef_[a] - self.coef_[b]
            n = X.shape[0]
        else:
            table = ComparisonTable.from_features(X, np.zeros(_n_rows(X)))
            if table.features.shape[1] != self.n_features_in_:
                raise ValueError(f"X has {table.features.shape[1]} features but the model was fitted on "
                                 f"{self.n_features_in_}.")
            eta = np.asarray(table.features @ self.coef_).ravel()
            n = eta.shape[0]
        if self.order_effect:
            o = np.ones(n) if order is None else np.broadcast_to(np.asarray(order, np.float64), (n,))
            eta = eta + self.order_effect_ * o
        return eta

    def predict_proba(self, X, order=None) -> np.ndarray:
        """(n, 2) array: P(right preferred), P(left preferred) (columns follow ``classes_ = [0, 1]``).

        With an order effect, ``order`` (+1/-1/0) defaults to +1 (left holds the advantage),
        the convention used when fitting without an order column.
        """
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X, order)))
        return np.column_stack([1.0 - p, p])

    def predict(self, X, order=None) -> np.ndarray:
        """1 where the left option is more likely preferred, else 0."""
        return (self.decision_function(X, order) > 0).astype(int)

    def score(self, X, y=None, sample_weight=None, order=None) -> float:
        """Mean log-likelihood per comparison (weighted), ties as half wins.

        The default scorer of ``GridSearchCV`` / ``cross_val_score``; unlike ``scoring="accuracy"``
        it takes ties (y = 0.5) and soft labels (see the class docstring, Scoring).
        """
        check_is_fitted(self, "coef_")
        if isinstance(X, ComparisonTable):
            table = X
            X = np.column_stack([table.left, table.right]) if table.kind == "items" else table.features
            y, sample_weight = table.outcome, table.weight
            order = table.order if order is None else order
        else:
            if y is None:
                raise ValueError("y (the outcome column) is required to score an array X.")
            self._check_input_names(X)
        y = np.asarray(y, np.float64)
        w = np.ones_like(y) if sample_weight is None else np.asarray(sample_weight, np.float64)
        eta = self._eta(X, order)
        return float(np.sum(w * self._row_loglik(y, eta)) / np.sum(w))

    def _row_loglik(self, y, eta):
        """Per-row log-likelihood of outcomes ``y`` at linear predictors ``eta`` (hook for :meth:`score`)."""
        return y * eta - np.logaddexp(0.0, eta)


def live_group_codes(group, weight) -> tuple[np.ndarray, np.ndarray]:
    """(code per row, label per code) of the clusters, counted over rows that carry weight.

    A cluster of zero-weight rows is no cluster at all and must not enter the small-sample factor
    G / (G - 1); such rows get code 0 (they add nothing to any sum).
    """
    live = weight > 0
    codes = np.zeros(weight.shape[0], np.int64)
    codes[live], labels = pd.factorize(group[live])
    return codes, np.asarray(labels, dtype=object)


def _n_rows(X) -> int:
    return X.shape[0] if hasattr(X, "shape") else len(X)
