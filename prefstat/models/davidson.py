r"""Bradley-Terry with Davidson's (1970) tie model, item-level and feature-level.

Model (Davidson 1970, JASA 65:317-328): row i compares a left and a right
option with linear predictor :math:`\eta_i` exactly as in
:class:`~prefstat.BradleyTerry` (:math:`\theta_{a_i} - \theta_{b_i} + \gamma o_i`
for items, :math:`\beta^\top z_i + \gamma o_i` for features). With
:math:`\pi_L = e^{\eta/2}`, :math:`\pi_R = e^{-\eta/2}` and the tie parameter
:math:`\nu = e^\tau > 0`,

.. math::  P(\text{left}) = \pi_L / D, \quad P(\text{tie}) = \nu \sqrt{\pi_L \pi_R} / D = \nu / D,
           \quad P(\text{right}) = \pi_R / D, \qquad D = \pi_L + \pi_R + \nu .

Outcomes are ``y = 1`` (left preferred), ``0`` (right) and ``1/2`` (tie); with
frequency weights :math:`w_i` the log-likelihood is

.. math::  \ell(\beta, \tau) = \sum_i w_i \big[ 1\{y_i=1\} \eta_i/2 - 1\{y_i=0\} \eta_i/2
           + 1\{y_i=1/2\} \tau - \log(e^{\eta_i/2} + e^{-\eta_i/2} + e^\tau) \big],

jointly concave in :math:`(\beta, \tau)`; it is maximised by the shared damped
Newton solver with the analytic gradient and Hessian. :math:`\tau = \log\nu`
is the free (unconstrained) parameter; :math:`\nu` is reported as
``tie_param_`` with the delta-method standard error
:math:`\mathrm{se}(\hat\nu) = \hat\nu\, \mathrm{se}(\hat\tau)`. Between equally
matched options the tie probability is :math:`\nu / (2 + \nu)`.

Difference from the default: :class:`~prefstat.BradleyTerry` counts a tie as
half a win for each side (a quasi-likelihood). That is consistent for the
abilities only when :math:`E[y] = \sigma(\eta)`; under Davidson ties
:math:`E[y] = (e^{\eta/2} + \nu/2) / D \ne \sigma(\eta)`, and the half-win fit
converges to abilities shrunk towards zero. The Davidson fit is the MLE when
ties follow Davidson's model, and estimates :math:`\nu` too. It needs at least
one tie and one non-tie (otherwise :math:`\hat\nu` is 0 or infinite, on the
boundary) and accepts no soft labels (outcomes other than 0, 1/2, 1).
"""
from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

from .._x64 import x64
from ..data import describe_rows
from ..existence import find_separation
from ..optim import newton
from .bradley_terry import BradleyTerry

__all__ = ["DavidsonBradleyTerry", "davidson_objective", "davidson_fit_core"]

_TIE_NAME = "log_tie"


def _blocks(design, d_ee, d_et, d_tt):
    """[[X^T diag(d_ee) X, X^T d_et], [., sum d_tt]]: a (p+1, p+1) matrix over (beta, tau)."""
    top = jnp.concatenate([design.gram(d_ee), design.rmatvec(d_et)[:, None]], axis=1)
    bottom = jnp.concatenate([design.rmatvec(d_et), jnp.sum(d_tt)[None]])
    return jnp.concatenate([top, bottom[None, :]], axis=0)


def _probs(design, x):
    """Half linear predictor and (P(left), P(tie), P(right)) per cell at x = (beta, tau)."""
    h = 0.5 * design.matvec(x[:-1])
    log_d = jnp.logaddexp(jnp.logaddexp(h, -h), x[-1])
    return h, jnp.exp(h - log_d), jnp.exp(x[-1] - log_d), jnp.exp(-h - log_d), log_d


def _scores(pl, pt, pr):
    """Per-outcome scores (d eta-part, d tau) of one comparison: rows left win, tie, right win."""
    half_diff = 0.5 * (pl - pr)
    s_eta = jnp.stack([0.5 - half_diff, -half_diff, -0.5 - half_diff])
    s_tau = jnp.stack([-pt, 1.0 - pt, -pt])
    return s_eta, s_tau


def davidson_objective(design, counts, penalty):
    """Negative log-likelihood (+ L2 penalty) and its derivatives; ``counts`` (m, 3) = weight of left wins, ties, right wins."""
    L, T, R = counts[:, 0], counts[:, 1], counts[:, 2]
    W = L + T + R

    def value(x):
        h, *_, log_d = _probs(design, x)
        return -jnp.sum((L - R) * h + T * x[-1] - W * log_d) + 0.5 * jnp.sum(penalty * x**2)

    def value_grad_hess(x):
        h, pl, pt, pr, log_d = _probs(design, x)
        f = -jnp.sum((L - R) * h + T * x[-1] - W * log_d) + 0.5 * jnp.sum(penalty * x**2)
        s_eta = 0.5 * (L - R) - 0.5 * W * (pl - pr)
        g = -jnp.concatenate([design.rmatvec(s_eta), jnp.sum(T - W * pt)[None]]) + penalty * x
        H = _blocks(design, 0.25 * W * ((pl + pr) - (pl - pr) ** 2), -0.5 * W * (pl - pr) * pt,
                    W * pt * (1.0 - pt)) + jnp.diag(penalty)
        return f, g, H

    return value, value_grad_hess


@partial(jax.jit, static_argnames=("max_iter",))
def davidson_fit_core(design, counts, penalty, x0, gtol=1e-12, max_iter=100):
    """Davidson-BT MLE by damped Newton over x = (beta, tau); pure, jit- and vmap-able."""
    value, vgh = davidson_objective(design, counts, penalty)
    return newton(value, vgh, x0, gscale=jnp.sum(counts), gtol=gtol, max_iter=max_iter)


@jax.jit
def _robust_meat(design, counts, x):
    # sum over rows of w psi psi^T: within a cell the score depends only on the outcome.
    _, pl, pt, pr, _ = _probs(design, x)
    s_eta, s_tau = _scores(pl, pt, pr)
    c = counts.T
    return _blocks(design, jnp.sum(c * s_eta**2, 0), jnp.sum(c * s_eta * s_tau, 0), jnp.sum(c * s_tau**2, 0))


@partial(jax.jit, static_argnames=("n_groups",))
def _group_scores(design, counts, x, group, n_groups):
    _, pl, pt, pr, _ = _probs(design, x)
    s_eta, s_tau = _scores(pl, pt, pr)
    c = counts.T
    S_beta = design.group_sums(jnp.sum(c * s_eta, 0), group, n_groups)
    S_tau = jax.ops.segment_sum(jnp.sum(c * s_tau, 0), group, n_groups)
    return jnp.concatenate([S_beta, S_tau[:, None]], axis=1)


class DavidsonBradleyTerry(BradleyTerry):
    r"""Bradley-Terry MLE with Davidson's (1970) tie model (ties are a third outcome, not half wins).

    Model, likelihood and how it differs from the default half-win
    :class:`~prefstat.BradleyTerry`: see the module docstring. Parameters are
    those of :class:`~prefstat.BradleyTerry` (reference, order_effect, alpha,
    design, tol, max_iter), except:

    cov_type : {"model", "robust", "cluster"}, default "model"
        Inverse information, Huber-White sandwich (per-row scores of the
        weighted log-likelihood), or cluster-robust by ``groups`` with the same
        small-sample factor as :class:`~prefstat.BradleyTerry`. The bootstrap
        is not supported for this model.
    solver : {"auto", "newton"}
        Always damped Newton.

    ``alpha`` penalises the abilities / coefficients only, not the order
    effect or ``tau``.

    Attributes
    ----------
    As :class:`~prefstat.BradleyTerry` (``coef_``, ``stderr_``, ``cov_``,
    ``order_effect_``, ...), plus ``tie_param_`` (nu), ``tie_param_stderr_``
    (delta method, ``nu * se(tau)``), ``log_tie_param_`` (tau = log nu) and
    ``log_tie_param_stderr_``. ``summary()`` lists tau as ``"log_tie"``
    (Wald intervals for tau; ``exp`` of them is an interval for nu).
    ``classes_ = [0, 0.5, 1]``; :meth:`predict_proba` returns three columns.
    """

    _n_aux = 1
    _model_name = "Davidson-Bradley-Terry"
    _solvers = ("auto", "newton")

    def __init__(self, reference=None, order_effect=False, cov_type="model", alpha=0.0, design="auto",
                 solver="auto", tol=None, max_iter=None):
        super().__init__(reference=reference, order_effect=order_effect, cov_type=cov_type, alpha=alpha,
                         design=design, solver=solver, tol=tol, max_iter=max_iter)

    def _solver_options(self, design) -> dict:
        return dict(gtol=1e-12 if self.tol is None else self.tol, max_iter=100 if self.max_iter is None else self.max_iter,
                    solver="newton")

    # --------------------------------------------------------------- problem
    def _cell_stats(self, row_cell, y, w, m):
        return np.column_stack([np.bincount(row_cell, w * (y == v), m) for v in (1.0, 0.5, 0.0)])

    def _build(self, table):
        if self.cov_type == "bootstrap":
            raise ValueError("cov_type='bootstrap' is not supported for the Davidson model; use 'model', 'robust' "
                             "or 'cluster'.")
        y = table.outcome
        soft = ~np.isin(y, (0.0, 0.5, 1.0))
        if soft.any():
            raise ValueError(
                f"column 'y' must be 1 (left preferred), 0 (right) or 0.5 (tie) for the Davidson tie model; "
                f"{describe_rows(soft)} hold soft labels (e.g. {float(y[soft][0])!r}). Use the default half-win model "
                "(BradleyTerry) for soft labels."
            )
        prob = super()._build(table)
        left, ties, right = prob.extra.sum(axis=0)
        if ties <= 0:
            raise ValueError(
                "no ties (y = 0.5) with positive weight: the Davidson tie parameter's MLE is nu = 0, on the "
                "boundary (tau = log nu -> -infinity), so it has no finite estimate or standard error. Use the "
                "default half-win model (BradleyTerry), which is the ordinary BT fit without ties."
            )
        if left + right <= 0:
            raise ValueError(
                "every comparison is a tie: the Davidson tie parameter's MLE is nu = +infinity (on the boundary) "
                "and the abilities are not estimable. Use the default half-win model (BradleyTerry)."
            )
        # Append tau = log nu to the free and the reported parameters (after the order effect).
        r, f = prob.T.shape
        T = np.zeros((r + 1, f + 1))
        T[:r, :f], T[r, f] = prob.T, 1.0

        def reparam(cov, inner=prob.reparam, T_inner=prob.T):
            out = np.zeros((r + 1, r + 1))
            out[:r, :r] = inner(cov[:f, :f])
            out[:r, r] = out[r, :r] = T_inner @ cov[:f, f]
            out[r, r] = cov[f, f]
            return out

        return dataclasses.replace(prob, T=T, reparam=reparam, names=prob.names + [_TIE_NAME],
                                   penalty=np.r_[prob.penalty, 0.0], loglik_saturated=0.0)

    # ------------------------------------------------------------------- fit
    @x64
    def fit(self, X, y=None, sample_weight=None, groups=None, order=None):
        """Fit by maximum likelihood (arguments as :meth:`BradleyTerry.fit`; ``y`` in {0, 0.5, 1})."""
        prob = self._prepare(X, y, sample_weight, groups, order)
        counts, penalty = jnp.asarray(prob.extra), jnp.asarray(prob.penalty)
        self._opts = self._solver_options(prob.design)
        opts = {k: v for k, v in self._opts.items() if k != "solver"}
        tie_share = prob.extra[:, 1].sum() / prob.extra.sum()
        x0 = jnp.zeros(prob.design.p + 1).at[-1].set(np.log(2.0 * tie_share / (1.0 - tie_share)))
        res = davidson_fit_core(prob.design, counts, penalty, x0, **opts)
        prob.run_pending()  # on the host while the device fits
        eta = np.asarray(prob.design.matvec(res.x[:-1]))
        self._check_solution(prob, res, eta)
        meat = np.asarray(_robust_meat(prob.design, counts, res.x)) if self.cov_type == "robust" else None
        group_scores = None
        if prob.group is not None:
            group_scores = np.asarray(_group_scores(prob.design, counts, res.x, jnp.asarray(prob.group),
                                                    prob.n_groups))
        self._store(prob, res, meat, group_scores, None)
        tau, se_tau = float(self.results_.estimate[-1]), float(self.results_.stderr[-1])
        self.log_tie_param_, self.log_tie_param_stderr_ = tau, se_tau
        self.tie_param_ = float(np.exp(tau))
        self.tie_param_stderr_ = self.tie_param_ * se_tau  # delta method: d nu / d tau = nu
        self.classes_ = np.array([0.0, 0.5, 1.0])
        return self

    def _separation(self, prob):
        """A direction (b, t) of (beta, tau) along which the likelihood never decreases, or None.

        Along s (b, t), s -> infinity, a cell's log-likelihood per outcome has slope (its numerator's
        slope minus that of log D, max(x b / 2, -x b / 2, t)) left win: x b / 2 - max(...); tie:
        t - max(...); right win: -x b / 2 - max(...). These are never positive, so no slope may be
        negative: left win: x b >= 0 and x b - 2 t >= 0; tie: x b + 2 t >= 0 and x b - 2 t <= 0;
        right win: x b <= 0 and x b + 2 t <= 0. Each inequality is a one-sided row of
        :func:`find_separation` on the augmented design [x, 0 or +-2]; a direction with some slope
        strictly positive means there is no finite MLE, and :meth:`BradleyTerry._raise_if_separated`
        raises. This includes wins, ties and losses perfectly ordered by eta (tau -> +infinity).
        """
        m = prob.n_cells
        X = prob.design.to_scipy()[:m]
        present = prob.extra[:m] > 0
        rows, signs = [], []
        for j, pairs in enumerate((((0.0, 1), (-2.0, 1)), ((2.0, 1), (-2.0, -1)), ((0.0, -1), (2.0, -1)))):
            for t_coef, sign in pairs:
                sel = present[:, j]
                rows.append(sp.hstack([X[sel], sp.csr_matrix(np.full((int(sel.sum()), 1), t_coef))]))
                signs.append(np.full(int(sel.sum()), sign))
        s = np.concatenate(signs)
        return find_separation(sp.vstack(rows).tocsr(), (s > 0).astype(float), (s < 0).astype(float))

    # ------------------------------------------------------------ prediction
    def predict_proba(self, X, order=None) -> np.ndarray:
        """(n, 3) array with columns [P(right preferred), P(tie), P(left preferred)] (``classes_ = [0, 0.5, 1]``).

        Unlike :meth:`BradleyTerry.predict_proba` (two columns, ties as half wins) the tie is its own
        column. ``order`` as in :meth:`BradleyTerry.predict_proba`.
        """
        h = 0.5 * self.decision_function(X, order)
        log_p = np.column_stack([-h, np.full_like(h, self.log_tie_param_), h])
        return np.exp(log_p - np.logaddexp.reduce(log_p, axis=1, keepdims=True))

    def predict(self, X, order=None) -> np.ndarray:
        """Most probable outcome: 1 (left), 0.5 (tie) or 0 (right)."""
        return self.classes_[np.argmax(self.predict_proba(X, order), axis=1)]

    def _row_loglik(self, y, eta):
        y = np.asarray(y, np.float64)
        if not np.all(np.isin(y, (0.0, 0.5, 1.0))):
            raise ValueError("column 'y' must be 1, 0 or 0.5 (tie) to score the Davidson model.")
        h = 0.5 * eta
        log_d = np.logaddexp(np.logaddexp(h, -h), self.log_tie_param_)
        return np.where(y == 1.0, h, np.where(y == 0.0, -h, self.log_tie_param_)) - log_d
