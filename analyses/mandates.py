"""A portfolio's constraints and views as the numerics take them (``compute.mandates``,
``compute.views``), and the check that its mandate admits some weights.

The portfolio's ``constraints`` (``core.models.PortfolioConstraints``) become the keyword
arguments every optimiser of ``compute`` takes (:func:`mandate_keywords`) or a resolved
``compute.mandates.Mandate`` (:func:`mandate_of`); its ``views``
(``core.models.PortfolioViews``) become Black-Litterman's ``P``, ``Q`` and confidences
(:func:`views_matrices`) and the posterior returns and covariance an optimiser then uses
(:func:`posterior_estimates`).

A run's columns (``tickers``) are usually the portfolio's own tickers (sorted, for lake runs);
with inline returns they are the request's. Constraints naming a ticker outside the columns
leave it out: its bounds and costs are dropped and a group keeps its members among the columns
(a group with none is dropped). A view naming a ticker outside the columns cannot be applied
and fails the run (422).

This module imports pydantic and core only: numpy and ``compute`` are imported inside the
functions, so the portfolio CRUD function (which calls :func:`mandate_problems` on a portfolio
with constraints) loads no numerics for a portfolio without them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from core.exceptions import UnprocessableError
from core.models import PortfolioConstraints, PortfolioFields, PortfolioViews

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from compute.mandates import Mandate

    FloatArray = NDArray[np.float64]

__all__ = [
    "BASIS_POINT",
    "mandate_keywords",
    "mandate_of",
    "mandate_problems",
    "posterior",
    "posterior_estimates",
    "views_matrices",
]

BASIS_POINT = 1e-4  # costsBps are basis points of the amount traded; compute takes fractions


def _current_weights(tickers: Sequence[str], current: Mapping[str, float] | None) -> FloatArray:
    import numpy as np

    held = current or {}
    return np.asarray([float(held.get(t, 0.0)) for t in tickers], dtype=np.float64)


def mandate_keywords(
    constraints: PortfolioConstraints | None,
    tickers: Sequence[str],
    current: Mapping[str, float] | None,
) -> dict[str, Any]:
    """The keyword arguments ``compute``'s optimisers (and ``resolve_mandate``) take.

    Parameters
    ----------
    constraints
        The portfolio's constraints; ``None`` gives ``{}`` (compute's own default: long only,
        ``bounds=(0, 1)``).
    tickers
        The run's columns, in order: every array below follows it.
    current
        The portfolio's weights by ticker (tickers it does not hold, and all of them when
        ``None``, are 0): the ``w0`` of the turnover limit and of the costs.

    Returns
    -------
    dict
        ``bounds=(lower, upper)`` (length-N arrays, always given with constraints);
        ``groups={name: (indices, min, max)}`` (indices into ``tickers``, ascending; ``None``
        for an open side) when there are groups; ``turnover=(w0, limit)`` when a turnover
        limit is set; ``costs=(w0, rates)`` (fractions: 10 bp is 0.001) when costs are set.
    """
    if constraints is None:
        return {}
    import numpy as np

    column = {ticker: j for j, ticker in enumerate(tickers)}
    lower = np.full(len(tickers), constraints.min_weight, dtype=np.float64)
    upper = np.full(len(tickers), constraints.max_weight, dtype=np.float64)
    for ticker, own in constraints.assets.items():
        if ticker in column:
            if own.min is not None:
                lower[column[ticker]] = own.min
            if own.max is not None:
                upper[column[ticker]] = own.max
    keywords: dict[str, Any] = {"bounds": (lower, upper)}
    groups = {}
    for group in constraints.groups:
        members = sorted(column[t] for t in group.assets if t in column)
        if members:
            groups[group.name] = (members, group.min, group.max)
    if groups:
        keywords["groups"] = groups
    held = _current_weights(tickers, current)
    if constraints.turnover is not None:
        keywords["turnover"] = (held, constraints.turnover)
    if constraints.costs_bps is not None:
        if isinstance(constraints.costs_bps, dict):
            bps = constraints.costs_bps
            rates = np.asarray([bps.get(t, 0.0) for t in tickers], dtype=np.float64)
        else:
            rates = np.full(len(tickers), constraints.costs_bps, dtype=np.float64)
        keywords["costs"] = (held, rates * BASIS_POINT)
    return keywords


def mandate_of(
    constraints: PortfolioConstraints | None,
    tickers: Sequence[str],
    current: Mapping[str, float] | None,
) -> Mandate:
    """The resolved mandate (``compute.mandates.resolve_mandate``), its errors naming tickers.

    Raises ``compute.exceptions.InfeasibleError`` when the per-asset bounds alone admit no
    fully invested portfolio (as ``resolve_mandate``).
    """
    from compute.mandates import resolve_mandate

    keywords = mandate_keywords(constraints, tickers, current)
    return resolve_mandate(len(tickers), **keywords, asset_names=list(tickers))


_BOUNDS = "per-asset bounds"
_BOUNDS_FIELDS = (
    "per-asset bounds (constraints.minWeight, constraints.maxWeight, constraints.assets)"
)


def _wire_names(conflicts: Sequence[str], mandate: Mandate) -> list[str]:
    """compute's names of the constraints in conflict, with the fields that set them."""
    groups = {limit.describe(): index for index, limit in enumerate(mandate.groups)}
    named = []
    for conflict in conflicts:
        if conflict in groups:
            named.append(f"constraints.groups[{groups[conflict]}]: {conflict}")
        elif conflict == _BOUNDS:
            named.append(_BOUNDS_FIELDS)
        elif conflict.startswith("turnover"):
            named.append(f"constraints.turnover: {conflict} from the portfolio's own weights")
        else:
            named.append(conflict)
    return named


def mandate_problems(fields: PortfolioFields) -> list[str]:
    """Why no weights meet the portfolio's constraints: the constraints in conflict, each
    with the field that sets it (an irreducible set: dropping any one of them leaves a
    feasible mandate). Empty when some weights meet them, or there are no constraints.

    The portfolio's own tickers are the columns and its weights the current ones (turnover).
    Numerics (numpy, HiGHS) are loaded only for a portfolio with constraints.
    """
    if fields.constraints is None:
        return []
    from compute.exceptions import InfeasibleError, InvalidInputError
    from compute.mandates import MandateInfeasibleError, check_feasible

    tickers = list(fields.assets)
    try:
        mandate = mandate_of(fields.constraints, tickers, fields.assets)
        check_feasible(mandate)
    except MandateInfeasibleError as error:
        return _wire_names(error.conflicts, mandate)
    except InfeasibleError as error:  # the per-asset bounds alone (resolve_mandate)
        return ["budget (weights sum to 1)", f"{_BOUNDS_FIELDS}: {error}"]
    except InvalidInputError as error:  # model validation should have refused it first
        return [f"constraints: {error}"]
    return []


def views_matrices(
    views: PortfolioViews, tickers: Sequence[str]
) -> tuple[FloatArray, FloatArray, FloatArray | None]:
    """Black-Litterman's views over the run's columns.

    Returns
    -------
    tuple
        ``P`` (K × N: an absolute view puts 1 on its asset; a relative one
        +1/len(long) on each long ticker and −1/len(short) on each short one), ``Q``
        (length K, annualised) and the confidences (length K), or ``None`` when no view has
        one (He-Litterman's default uncertainty).

    Raises
    ------
    UnprocessableError
        A view names a ticker that is not among ``tickers``.
    """
    import numpy as np

    column = {ticker: j for j, ticker in enumerate(tickers)}
    missing = sorted({t for view in views.items for t in view.tickers() if t not in column})
    if missing:
        raise UnprocessableError(
            f"The portfolio's views name tickers this run has no returns for: "
            f"{', '.join(missing[:20])}.",
            ["views: every ticker a view names must be among the run's returns"],
        )
    picks = np.zeros((len(views.items), len(tickers)), dtype=np.float64)
    for k, view in enumerate(views.items):
        if view.asset is not None:
            picks[k, column[view.asset]] = 1.0
            continue
        for ticker in view.long:
            picks[k, column[ticker]] = 1.0 / len(view.long)
        for ticker in view.short:
            picks[k, column[ticker]] = -1.0 / len(view.short)
    returns = np.asarray([view.expected_return for view in views.items], dtype=np.float64)
    confidences = [view.confidence for view in views.items]
    if any(c is None for c in confidences):
        return picks, returns, None
    return picks, returns, np.asarray(confidences, dtype=np.float64)


def posterior_estimates(
    views: PortfolioViews,
    tickers: Sequence[str],
    mu: Any,
    cov: Any,
    current: Mapping[str, float] | None,
) -> tuple[FloatArray, FloatArray]:
    """The Black-Litterman posterior ``(mu, cov)`` of the views (see :func:`posterior`)."""
    result = posterior(views, tickers, mu, cov, current)
    return result.mu, result.cov


def posterior(
    views: PortfolioViews,
    tickers: Sequence[str],
    mu: Any,
    cov: Any,
    current: Mapping[str, float] | None,
) -> Any:
    """The Black-Litterman result of the views (``compute.views.BlackLittermanResult``: the
    posterior ``mu`` and ``cov``, and the ``prior`` they blend with).

    Parameters
    ----------
    mu, cov
        The run's estimates over ``tickers``, annualised like the views' returns.
    current
        The portfolio's weights by ticker: the implied prior's market weights
        (``π = δ Σ w``, ``w`` normalised over ``tickers``).

    The prior is ``views.prior``: ``implied`` (reverse optimisation of the portfolio's own
    weights, risk aversion ``views.riskAversion``) or ``historical`` (``mu``). The view
    uncertainty is Idzorek's when the views give confidences, He-Litterman's otherwise.

    Raises
    ------
    UnprocessableError
        A view names a ticker outside ``tickers``, or the implied prior has no weights (the
        portfolio holds none of ``tickers``).
    """
    from compute.views import black_litterman

    picks, returns, confidences = views_matrices(views, tickers)
    prior: dict[str, Any]
    if views.prior == "historical":
        prior = {"pi": mu}
    else:
        weights = _current_weights(tickers, current)
        if not weights.sum() > 0.0:
            raise UnprocessableError(
                "The implied prior needs the portfolio's weights, and it holds none of this "
                "run's tickers.",
                ['views.prior: use "historical", or run on the portfolio\'s own tickers'],
            )
        prior = {"market_weights": weights / weights.sum()}
    result = black_litterman(
        cov,
        **prior,
        risk_aversion=views.risk_aversion,
        P=picks,
        Q=returns,
        omega="idzorek" if confidences is not None else None,
        view_confidences=confidences,
        tau=views.tau,
    )
    return result
