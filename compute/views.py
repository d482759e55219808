r"""Black-Litterman posterior returns and covariance (He-Litterman form), as PyPortfolioOpt.

Given a prior :math:`\pi` (N), a covariance :math:`\Sigma` (N×N), K views :math:`P\mu = Q`
(:math:`P` K×N picking matrix, :math:`Q` length K) with uncertainty :math:`\Omega` (K×K) and the
prior's scale :math:`\tau`, the posterior is

.. math::

    A &= P\,\tau\Sigma\,P^\top + \Omega \\
    \mu_{BL} &= \pi + \tau\Sigma P^\top A^{-1} (Q - P\pi) \\
    \Sigma_{BL} &= \Sigma + M, \qquad M = \tau\Sigma - \tau\Sigma P^\top A^{-1} P\,\tau\Sigma

(He & Litterman 1999; :math:`M` is the covariance of the posterior mean, so
:math:`\Sigma_{BL} \succeq \Sigma`). This form never inverts :math:`\Omega`, so certain views
(:math:`\Omega_{kk} = 0`) are allowed; :math:`\mu_{BL}` then satisfies them exactly. When
:math:`\Omega` is invertible it equals the "precision" form
:math:`\mu_{BL} = ((\tau\Sigma)^{-1} + P^\top\Omega^{-1}P)^{-1}((\tau\Sigma)^{-1}\pi +
P^\top\Omega^{-1}Q)`. :math:`A` is factorised once by Cholesky, :math:`A = LL^\top`; with
:math:`Z = L^{-1}P\tau\Sigma` (K×N) and :math:`y = L^{-1}(Q - P\pi)`,
:math:`\mu_{BL} = \pi + Z^\top y` and :math:`\Sigma_{BL} = (1 + \tau)\Sigma - Z^\top Z`
(exactly symmetric). No matrix is inverted explicitly.

The prior (as PyPortfolioOpt's ``BlackLittermanModel``):

* ``pi`` given: used as is;
* ``market_weights`` given: the market-implied prior :math:`\pi = \delta\Sigma w`
  (:func:`implied_returns`, weights normalised to sum 1, no risk-free rate: PyPortfolioOpt's
  ``pi="market"`` with its default ``risk_free_rate=0``);
* neither: a zero prior (PyPortfolioOpt warns "Running Black-Litterman with no prior." and uses
  zeros; here it is silent and documented).

The view uncertainty :math:`\Omega`:

* ``None`` or ``"default"``: :math:`\Omega = \tau\,\mathrm{diag}(P\Sigma P^\top)` (He & Litterman
  1999: each view as uncertain as the prior of its portfolio);
* ``"idzorek"`` with ``view_confidences`` :math:`c_k \in [0, 1]`: Idzorek's method in the closed
  form of Walters (2014, eqs. 41 and 44),
  :math:`\Omega_{kk} = \tau\,\alpha_k\,P_k\Sigma P_k^\top`, :math:`\alpha_k = (1 - c_k)/c_k`;
  confidence 1 gives :math:`\Omega_{kk} = 0` (a certain view, met exactly); confidence 0 gives
  :math:`\Omega_{kk} = 10^6` **in absolute units**, PyPortfolioOpt's stand-in for an infinite
  uncertainty (the posterior is then the prior up to :math:`\sim\tau\sigma^2 / 10^6`, a
  negligible pull only while variances are far below :math:`10^6`);
* a K×K symmetric positive semi-definite matrix, or a length-K vector of non-negative numbers
  (its diagonal).

Views: ``Q`` is required (length K, or a scalar for one view); ``P`` is K×N, a length-N vector
for one view, or ``None`` when ``Q`` has N entries (then :math:`P = I`, a view on every asset,
as in PyPortfolioOpt). K = 0 (an empty ``Q`` and a 0×N or empty ``P``) is allowed and answers
the prior with :math:`\Sigma_{BL} = (1 + \tau)\Sigma`, as PyPortfolioOpt does for those
inputs; ``Q=None`` is an error, as in PyPortfolioOpt, which has no view-less default.

Where this is stricter than PyPortfolioOpt (it raises a typed error where PyPortfolioOpt
accepts the input): :math:`\Sigma` must be positive definite; a row of ``P`` that is all zeros
(a view on no asset); NaN anywhere; ``view_confidences`` of the wrong length or given with an
``omega`` other than ``"idzorek"`` (PyPortfolioOpt ignores or mis-indexes them); an
indefinite :math:`\Omega`; and a singular :math:`A` (certain views on linearly dependent
portfolios), where PyPortfolioOpt falls back to a least-squares solution. ``tau`` must lie in
(0, 1] and ``risk_aversion`` be positive, as in PyPortfolioOpt. Everywhere else the results
equal PyPortfolioOpt 1.6's ``bl_returns()`` and ``bl_cov()`` to rounding (tested to 1e-10).

References
----------
G. He, R. Litterman, "The intuition behind Black-Litterman model portfolios", Goldman Sachs
Investment Management Research (1999). T. Idzorek, "A step-by-step guide to the
Black-Litterman model: incorporating user-specified confidence levels", Zephyr Associates
(2005). J. Walters, "The Black-Litterman model in detail" (2014), SSRN 1314585.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from compute._validation import (
    as_float_array,
    check_covariance,
    cholesky_or_raise,
    positive_number,
    require_finite,
    vector_of_length,
)
from compute.exceptions import InvalidInputError, NotPositiveDefiniteError

__all__ = ["BlackLittermanResult", "OmegaMethod", "black_litterman", "implied_returns"]

FloatArray = NDArray[np.float64]
OmegaMethod = Literal["default", "idzorek"]

# PyPortfolioOpt's Idzorek view variance for a confidence of exactly 0 (absolute units).
IDZOREK_ZERO_CONFIDENCE_OMEGA = 1e6
# A Cholesky pivot of A this small relative to its diagonal entry means the view is (to working
# precision) a certain combination of the other views.
_SINGULAR_PIVOT_RATIO = 1e-12
# Symmetry of omega, relative to its largest entry; PSD: eigenvalues above -this x the largest.
_SYMMETRY_TOLERANCE = 1e-8
_PSD_TOLERANCE = 1e-10


@dataclass(frozen=True)
class BlackLittermanResult:
    """Outcome of :func:`black_litterman`.

    Attributes
    ----------
    mu
        Posterior expected returns :math:`\\mu_{BL}`, length N (PyPortfolioOpt's
        ``bl_returns()``).
    cov
        Posterior covariance :math:`\\Sigma_{BL} = \\Sigma + M`, N×N, symmetric positive definite
        (PyPortfolioOpt's ``bl_cov()``).
    prior
        The prior returns :math:`\\pi`, length N.
    omega
        The view uncertainty :math:`\\Omega`, K×K.
    P, Q
        The views: K×N picking matrix and length-K view returns (``P`` is the identity when it
        was omitted).
    tau
        The prior's scale :math:`\\tau`.
    """

    mu: FloatArray
    cov: FloatArray
    prior: FloatArray
    omega: FloatArray
    P: FloatArray
    Q: FloatArray
    tau: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation (lists and floats)."""
        return {
            "mu": self.mu.tolist(),
            "cov": self.cov.tolist(),
            "prior": self.prior.tolist(),
            "omega": self.omega.tolist(),
            "P": self.P.tolist(),
            "Q": self.Q.tolist(),
            "tau": self.tau,
        }


def implied_returns(
    cov: Any, market_weights: Any, risk_aversion: float = 1.0, risk_free_rate: float = 0.0
) -> FloatArray:
    r"""Market-implied (equilibrium) returns :math:`\pi = \delta\Sigma w + r_f`.

    PyPortfolioOpt's ``market_implied_prior_returns`` with weights in place of market caps: the
    weights are normalised to sum to 1 (so capitalisations work too).

    Parameters
    ----------
    cov
        N×N covariance :math:`\Sigma` (symmetric, N >= 2).
    market_weights
        Length-N market weights :math:`w`; their sum must be positive.
    risk_aversion
        :math:`\delta > 0`.
    risk_free_rate
        Added to every entry (in the units of ``cov``'s period).

    Raises
    ------
    InvalidInputError
        Bad shapes, non-finite values, a weight sum <= 0, :math:`\delta \le 0`.
    """
    covariance = check_covariance(cov)
    delta = positive_number(risk_aversion, "risk_aversion")
    rate = float(risk_free_rate)
    if not np.isfinite(rate):
        raise InvalidInputError(f"risk_free_rate must be finite, got {risk_free_rate!r}")
    return _implied(covariance, market_weights, delta) + rate


def black_litterman(
    cov: Any,
    *,
    pi: Any = None,
    market_weights: Any = None,
    risk_aversion: float = 1.0,
    P: Any = None,
    Q: Any = None,
    omega: Any = None,
    view_confidences: Any = None,
    tau: float = 0.05,
) -> BlackLittermanResult:
    r"""Black-Litterman posterior returns and covariance (see the module docstring).

    Parameters
    ----------
    cov
        N×N positive definite covariance :math:`\Sigma`, N >= 2.
    pi
        Length-N prior returns :math:`\pi`. At most one of ``pi`` and ``market_weights``;
        neither means a zero prior.
    market_weights
        Length-N market weights (sum > 0, normalised): :math:`\pi = \delta\Sigma w`.
    risk_aversion
        :math:`\delta > 0`, used only with ``market_weights``.
    P
        K×N picking matrix; a length-N vector is one view; ``None`` means the identity when
        ``Q`` has N entries.
    Q
        Length-K view returns (a scalar is one view). Required; an empty ``Q`` with a 0×N ``P``
        means no views.
    omega
        ``None``/``"default"`` (:math:`\tau\,\mathrm{diag}(P\Sigma P^\top)`), ``"idzorek"``
        (needs ``view_confidences``), a K×K symmetric PSD matrix or a length-K vector (its
        diagonal, >= 0).
    view_confidences
        Length-K confidences in [0, 1], only with ``omega="idzorek"``.
    tau
        :math:`0 < \tau \le 1`, the uncertainty of the prior relative to :math:`\Sigma`.

    Returns
    -------
    BlackLittermanResult
        ``mu``, ``cov`` (PyPortfolioOpt's ``bl_returns()``, ``bl_cov()``), ``prior``,
        ``omega``, ``P``, ``Q``, ``tau``.

    Raises
    ------
    InvalidInputError
        Bad shapes, NaN/inf, ``Q`` missing, an all-zero row of ``P``, both ``pi`` and
        ``market_weights``, confidences outside [0, 1] or without ``omega="idzorek"``, an
        unknown ``omega``, :math:`\tau \notin (0, 1]`, :math:`\delta \le 0`, a singular
        :math:`P\tau\Sigma P^\top + \Omega` (certain views on dependent portfolios).
    NotPositiveDefiniteError
        :math:`\Sigma` not positive definite, or :math:`\Omega` not positive semi-definite.
    """
    scale = positive_number(tau, "tau")
    if scale > 1.0:
        raise InvalidInputError(f"tau must be in (0, 1] (as in PyPortfolioOpt), got {tau!r}")
    delta = positive_number(risk_aversion, "risk_aversion")
    if pi is not None and market_weights is not None:
        raise InvalidInputError("give either pi or market_weights, not both")
    covariance = check_covariance(cov)
    n_assets = covariance.shape[0]
    cholesky_or_raise(covariance)

    if pi is not None:
        # Copies, so the result does not share memory with the caller's arrays.
        prior = vector_of_length(pi, "pi", n_assets).copy()
    elif market_weights is not None:
        prior = _implied(covariance, market_weights, delta)
    else:
        prior = np.zeros(n_assets)

    views, picking = _views(Q, P, n_assets)
    n_views = views.shape[0]
    # P τΣ, K×N; τ applied to the thin product rather than to Σ.
    tau_sigma_p = scale * (picking @ covariance)
    view_variances = np.einsum("kn,kn->k", tau_sigma_p, picking)  # τ diag(PΣPᵀ)
    uncertainty = _omega(omega, view_confidences, view_variances, n_views)

    if n_views == 0:
        return BlackLittermanResult(
            mu=prior.copy(),
            cov=(1.0 + scale) * covariance,
            prior=prior,
            omega=uncertainty,
            P=picking,
            Q=views,
            tau=scale,
        )

    import scipy.linalg

    system = tau_sigma_p @ picking.T + uncertainty
    system = 0.5 * (system + system.T)
    factor = _view_cholesky(system)
    z = scipy.linalg.solve_triangular(factor, tau_sigma_p, lower=True, check_finite=False)
    y = scipy.linalg.solve_triangular(
        factor, views - picking @ prior, lower=True, check_finite=False
    )
    mu: FloatArray = prior + z.T @ y
    posterior_cov: FloatArray = (1.0 + scale) * covariance - z.T @ z
    posterior_cov = 0.5 * (posterior_cov + posterior_cov.T)
    return BlackLittermanResult(
        mu=mu,
        cov=posterior_cov,
        prior=prior,
        omega=uncertainty,
        P=picking,
        Q=views,
        tau=scale,
    )


def _implied(covariance: FloatArray, market_weights: Any, delta: float) -> FloatArray:
    """:math:`\\delta\\Sigma w` with ``w`` normalised to sum 1 (``covariance`` already checked)."""
    weights = vector_of_length(market_weights, "market_weights", covariance.shape[0])
    total = float(np.sum(weights))
    if not total > 0.0:
        raise InvalidInputError(f"market_weights must have a positive sum, got {total!r}")
    implied: FloatArray = delta * (covariance @ (weights / total))
    return implied


def _ndim(value: Any) -> int:
    """Dimensions of an array-like, or -1 when numpy cannot read it (ragged lists)."""
    try:
        return int(np.ndim(value))
    except (TypeError, ValueError):
        return -1


def _views(Q: Any, P: Any, n_assets: int) -> tuple[FloatArray, FloatArray]:
    """Validated ``(Q, P)``: length K and K×N, with the 1-D and ``P=None`` shorthands."""
    if Q is None:
        raise InvalidInputError(
            "Q (the view returns) is required, as in PyPortfolioOpt; for no views pass an empty "
            "Q with a 0×N P"
        )
    views = np.atleast_1d(as_float_array(Q, "Q", 0 if _ndim(Q) == 0 else 1)).copy()
    require_finite(views, "Q")
    n_views = views.shape[0]
    if P is None:
        if n_views != n_assets:
            raise InvalidInputError(
                f"P is required unless Q has a view on every asset ({n_assets}), got {n_views}"
            )
        return views, np.eye(n_assets)
    picking = as_float_array(P, "P", 1 if _ndim(P) == 1 else 2).copy()
    if n_views == 0 and picking.size == 0:
        # No views; an empty P also arrives as [] (JSON cannot spell a 0×N matrix).
        return views, np.zeros((0, n_assets))
    if picking.ndim == 1:
        picking = picking.reshape(1, -1)
    if picking.shape != (n_views, n_assets):
        raise InvalidInputError(
            f"P must be K×N = {n_views}×{n_assets} (K = len(Q)), got shape {picking.shape}"
        )
    require_finite(picking, "P")
    empty_rows = np.flatnonzero(~np.any(picking != 0.0, axis=1))
    if empty_rows.size:
        raise InvalidInputError(
            f"rows {[int(k) for k in empty_rows]} of P are all zero (a view on no asset)"
        )
    return views, picking


def _omega(
    omega: Any, view_confidences: Any, view_variances: FloatArray, n_views: int
) -> FloatArray:
    """The K×K view uncertainty; ``view_variances`` is :math:`\\tau\\,diag(P\\Sigma P^\\top)`."""
    if isinstance(omega, str) or omega is None:
        method = "default" if omega is None else omega
        if method not in ("default", "idzorek"):
            raise InvalidInputError(
                f"omega must be 'default', 'idzorek', a K×K matrix or a length-K vector, "
                f"got {omega!r}"
            )
        if method == "default":
            if view_confidences is not None:
                raise InvalidInputError("view_confidences are used only with omega='idzorek'")
            return np.diag(view_variances)
        if view_confidences is None:
            raise InvalidInputError("omega='idzorek' needs view_confidences (length K, in [0, 1])")
        confidences = vector_of_length(view_confidences, "view_confidences", n_views)
        if np.any((confidences < 0.0) | (confidences > 1.0)):
            raise InvalidInputError(f"view_confidences must lie in [0, 1], got {confidences}")
        # Walters (2014) eqs. (41), (44); PyPortfolioOpt's 1e6 for a confidence of 0.
        unknown = confidences == 0.0
        with np.errstate(over="ignore"):
            alpha = (1.0 - confidences) / np.where(unknown, 1.0, confidences)
            variances = np.where(unknown, IDZOREK_ZERO_CONFIDENCE_OMEGA, alpha * view_variances)
        if not np.all(np.isfinite(variances)):
            # PyPortfolioOpt answers NaN here.
            raise InvalidInputError(
                "a view confidence is so close to 0 that its Idzorek variance overflows; use 0"
            )
        return np.diag(variances)
    if view_confidences is not None:
        raise InvalidInputError("view_confidences are used only with omega='idzorek'")
    given = as_float_array(omega, "omega", 1 if _ndim(omega) == 1 else 2)
    require_finite(given, "omega")
    if given.ndim == 1:
        if given.shape[0] != n_views:
            raise InvalidInputError(f"omega must have length K = {n_views}, got {given.shape[0]}")
        if np.any(given < 0.0):
            raise NotPositiveDefiniteError("omega has a negative view variance")
        return np.diag(given)
    if given.shape != (n_views, n_views):
        raise InvalidInputError(f"omega must be K×K = {n_views}×{n_views}, got {given.shape}")
    largest = float(np.max(np.abs(given))) if given.size else 0.0
    if np.max(np.abs(given - given.T), initial=0.0) > _SYMMETRY_TOLERANCE * max(largest, 1e-300):
        raise InvalidInputError("omega is not symmetric")
    symmetric: FloatArray = 0.5 * (given + given.T)
    if n_views:
        eigenvalues = np.linalg.eigvalsh(symmetric)
        spread = max(float(np.max(np.abs(eigenvalues))), 1e-300)
        if float(eigenvalues[0]) < -_PSD_TOLERANCE * spread:
            raise NotPositiveDefiniteError(
                f"omega is not positive semi-definite (smallest eigenvalue "
                f"{float(eigenvalues[0]):.3g})"
            )
    return symmetric


def _view_cholesky(system: FloatArray) -> FloatArray:
    """Lower Cholesky factor of :math:`A = P\\tau\\Sigma P^\\top + \\Omega` or a typed error."""
    import scipy.linalg

    message = (
        "P τΣ Pᵀ + Ω is singular: certain views (zero Ω) on linearly dependent portfolios "
        "(PyPortfolioOpt falls back to least squares here); drop the redundant views or give "
        "them a positive uncertainty"
    )
    try:
        factor: FloatArray = scipy.linalg.cholesky(system, lower=True, check_finite=False)
    except np.linalg.LinAlgError as exc:
        raise InvalidInputError(message) from exc
    if np.any(np.diag(factor) ** 2 <= _SINGULAR_PIVOT_RATIO * np.diag(system)):
        raise InvalidInputError(message)
    return factor
