r"""Walk-forward backtests: refit a strategy on a rolling (or expanding) train window, hold its
weights over the following test window, and chain the test windows into one return series.

Folds
-----
:func:`walk_forward` uses exactly the folds of skfolio's
``WalkForward(test_size, train_size, expand_train=...)`` (``purged_size=0``,
``reduce_test=False``). Fold :math:`k = 0, 1, \dots` has

* test rows :math:`[k\,s + m,\ k\,s + m + s)` with :math:`m` = ``train_size`` and :math:`s` =
  ``test_size``; a last, partial test window is dropped, so there are
  :math:`\lfloor (T - m) / s \rfloor` folds;
* train rows :math:`[k\,s,\ k\,s + m)`, or :math:`[0,\ k\,s + m)` when ``expand_train``.

:func:`walk_forward_at` rebalances on given rows instead (for instance the first trading day of
each month, :func:`calendar_rebalance_rows`): fold :math:`k`'s test window is
:math:`[r_k, r_{k+1})`, the last one running to the end of the data, and its train window the
``train_size`` rows before :math:`r_k` (from row 0 when expanding). Both share one engine.

Returns within a test window
----------------------------
With target weights :math:`w` (fitted on the train window only) and asset returns :math:`r_t`:

* ``weight_drift=False``: constant weights, :math:`g_t = w^\top r_t` (rebalanced to :math:`w`
  every day, skfolio's default convention).
* ``weight_drift=True``: buy and hold from the rebalance: positions start at :math:`w` and grow
  with their assets, :math:`V_t = \sum_i w_i \prod_{u \le t}(1 + r_{u,i}) + (1 - \sum_i w_i)`
  (any weight not invested is cash earning zero), and :math:`g_t = V_t / V_{t-1} - 1` with
  :math:`V_{\text{start}} = 1`. The weights at the end of the window are
  :math:`w^{\text{end}}_i = w_i \prod_t (1 + r_{t,i}) / V_{\text{end}}`.

For a cost-free run both equal skfolio's
``cross_val_predict(..., portfolio_params={"weight_drift": ...})`` returns (tested to 1e-12
against stored skfolio output).

Transaction costs
-----------------
Costs are charged **once per rebalance**, on the first day of each test window:

.. math:: \text{net}_t = g_t - \sum_i c_i\,|w_i - w^{\text{before}}_i|
          \quad\text{(first day of the window only)},

where :math:`w^{\text{before}}` are the weights held just before the rebalance: the previous
fold's target weights without drift, its drifted end-of-window weights with drift, and
``previous_weights`` for the first fold (``None`` meaning all cash, so the first fold pays for
buying in). ``turnover`` per fold is :math:`\sum_i |w_i - w^{\text{before}}_i|` (in [0, 2] for
long-only fully invested weights). The cost is subtracted from the day's return (the usual
first-order convention; paying it out of the portfolio exactly would give
:math:`(1 - C)(1 + g) - 1`, which differs by :math:`C g`). skfolio instead subtracts
:math:`\sum_i c_i |w_i - w^{\text{prev}}_i|` from *every* observation of the test window;
with costs the two differ by design.

Strategies
----------
``strategy`` is one of :data:`compute.choices.BACKTEST_STRATEGIES` or a callable
``train_returns (T_train × N, read-only) -> weights (N)``. Options, by keyword (anything else,
or an option the strategy does not use, is an :class:`InvalidInputError` naming the
strategy's options):

============================  =================================================================
``"equal-weight"``            :math:`1/N`; no options.
``"inverse-volatility"``      :math:`w_i \propto 1/\sigma_i` of the covariance estimate.
``"min-variance"``            :func:`compute.frontier.min_variance`; ``bounds`` and the mandate.
``"max-sharpe"``              :func:`compute.frontier.max_sharpe` with the annualised mean;
                              ``bounds``, the mandate, ``risk_free_rate`` (annual, default 0).
``"risk-parity"``             :func:`compute.risk_parity.risk_budget`; ``budgets``.
``"hrp"``                     :func:`compute.hrp.hrp_weights` (its own sample covariance);
                              ``linkage`` (default ``"single"``).
``"target-volatility"``       :func:`compute.frontier.efficient_risk` (the highest-return
                              portfolio whose annualised volatility is at most ``target``,
                              required); ``bounds`` and the mandate.
``"fixed"``                   the given ``weights`` (required) every fold.
============================  =================================================================

Mandates
--------
min-variance, max-sharpe and target-volatility also take the linear mandate of
:mod:`compute.mandates`, refitted under it at every rebalance:

* ``groups`` (name → ``(asset_indices, lower, upper)``, a side ``None`` for no limit) and
  ``inequalities`` (``(A, b)``: :math:`A w \le b`), passed to the optimiser as they are;
* ``turnover``, a limit: each rebalance's :math:`\sum_i |w_i - w^{\text{before}}_i| \le`
  ``turnover``, with :math:`w^{\text{before}}` the weights held just before it, as the costs
  above define them (drifted with ``weight_drift``). The first rebalance trades from
  ``previous_weights`` when given; without them it buys in from cash and the limit does not
  apply to it (a fully invested portfolio bought from cash always turns over 1);
* ``costs``, rates (a scalar or one per asset, 0.001 = 10 bp): the optimiser maximises the
  expected return net of :math:`\sum_i c_i |w_i - w^{\text{before}}_i|` (against cash on a
  first rebalance without ``previous_weights``). These rates only steer the optimiser; what a
  rebalance is charged is ``transaction_costs``.

When drift has carried the held weights outside the bounds, groups or inequalities by more
than the turnover limit can bring back, the rebalance trades the least that restores them
(:func:`compute.mandates.min_turnover`, a linear programme) instead of failing the backtest,
and the fold is listed in ``BacktestResult.stretched_folds``: a manager would trade back into
compliance, not stop. A mandate whose bounds, groups and inequalities admit no portfolio at all
raises :class:`~compute.mandates.MandateInfeasibleError` naming the conflicting constraints;
``on_infeasible`` never hides it (the minimum-variance portfolio would be under the same
mandate).

``on_infeasible`` (max-sharpe, target-volatility): ``"raise"`` (the default) raises on a fold
whose problem has no solution (no portfolio's expected return above the risk-free rate; a
target below the fold's minimum volatility); ``"min-variance"`` holds the minimum-variance
portfolio there instead (under the same bounds and mandate), the nearest to what was asked,
and lists the fold in ``BacktestResult.fallback_folds``.

Every strategy that estimates a covariance takes ``estimator`` (``"sample"``, the default and
skfolio's, ``"ledoit-wolf"`` or ``"ewma"``, which needs ``halflife`` in rows) and
``periods_per_year`` (252). Expected returns (max-sharpe, target-volatility) are the
annualised arithmetic means of the train window. Risk parity starts each fold's Newton
iteration from the previous fold's weights (same answer to its 1e-12 tolerance, fewer
iterations). Weights of ``"fixed"`` and of a callable are used as given: they need not sum to
one (the rest, :math:`1 - \sum_i w_i`, is cash earning zero) and may be negative.

Errors
------
Returns must be finite (a backtest cannot drop a day, so NaN is an error: fill or drop missing
rows first) and at least -1. A strategy that fails on a fold (a singular covariance, an
infeasible target, ...) raises its :class:`~compute.exceptions.ComputeError` with the fold and
its rows prefixed to the message. A drifting portfolio whose value reaches zero or below (only
possible with short or leveraged weights, or a total loss) has undefined weights afterwards
and raises :class:`InvalidInputError`, as skfolio does; so does a net return below -1 (a loss
of more than the portfolio's value, from leverage or costs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from compute._validation import (
    as_float_array,
    finite_number,
    positive_int,
    positive_number,
    vector_of_length,
)
from compute.choices import (
    BACKTEST_STRATEGIES,
    BACKTEST_STRATEGY_OPTIONS,
    COVARIANCE_ESTIMATORS,
    LINKAGE_METHODS,
    ON_INFEASIBLE,
    REBALANCE_CALENDARS,
    BacktestStrategy,
    RebalanceCalendar,
)
from compute.estimators import (
    ewma_covariance,
    ledoit_wolf_covariance,
    mean_returns,
    sample_covariance,
)
from compute.exceptions import ComputeError, InfeasibleError, InvalidInputError
from compute.frontier import efficient_risk, max_sharpe, min_variance
from compute.mandates import (
    MandateInfeasibleError,
    check_feasible,
    min_turnover,
    resolve_mandate,
)
from compute.risk_parity import risk_budget

__all__ = ["BacktestResult", "calendar_rebalance_rows", "walk_forward", "walk_forward_at"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
WeightFunction = Callable[[FloatArray], Any]
_Fit = Callable[[FloatArray], FloatArray]
# A named strategy's fit: (train returns, weights held before the rebalance or ``None`` on a
# first rebalance bought from cash) -> target weights.
_StrategyFit = Callable[[FloatArray, FloatArray | None], FloatArray]
_Keywords = Callable[[FloatArray | None], dict[str, Any]]

# The fewest train rows: a covariance needs two.
_MIN_TRAIN_SIZE = 2
# A stretched turnover limit exceeds the least turnover that restores the mandate by this
# (relative and absolute), so the rebalance's problem keeps a feasible point under rounding.
_STRETCH_SLACK = 1e-9
# The keyword options each named strategy accepts (a choice set: compute.choices).
STRATEGY_OPTIONS = BACKTEST_STRATEGY_OPTIONS


@dataclass(frozen=True)
class BacktestResult:
    """Outcome of :func:`walk_forward` / :func:`walk_forward_at`.

    Attributes
    ----------
    returns
        Net daily returns, one per test row (the test windows are contiguous).
    gross_returns
        The same before transaction costs.
    equity
        :math:`\\prod_{u \\le t}(1 + \\text{net}_u)`: the value after each test row of 1 invested
        at the start of the first test window.
    weights
        Folds × N target weights (fitted on each train window).
    rebalance_rows
        Per fold, the index into ``returns`` where its test window starts (0 for the first).
    rows
        Per entry of ``returns``, its row in the input ``returns``.
    turnover
        Per fold, :math:`\\sum_i |w_i - w^{\\text{before}}_i|`.
    costs
        Per fold, :math:`\\sum_i c_i |w_i - w^{\\text{before}}_i|`, charged on the fold's first
        test day.
    fallback_folds
        The folds whose own problem was infeasible and that held the minimum-variance
        portfolio instead (``on_infeasible="min-variance"``); empty otherwise.
    stretched_folds
        The folds whose rebalance turned over more than the ``turnover`` limit because drift
        had carried the held weights outside the bounds, groups or inequalities by more than
        the limit could bring back: they traded the least that restores them
        (:func:`compute.mandates.min_turnover`). Empty otherwise.
    """

    returns: FloatArray
    gross_returns: FloatArray
    equity: FloatArray
    weights: FloatArray
    rebalance_rows: IntArray
    rows: IntArray
    turnover: FloatArray
    costs: FloatArray
    fallback_folds: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    stretched_folds: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe representation (lists, floats and ints)."""
        return {
            "returns": self.returns.tolist(),
            "gross_returns": self.gross_returns.tolist(),
            "equity": self.equity.tolist(),
            "weights": self.weights.tolist(),
            "rebalance_rows": [int(i) for i in self.rebalance_rows],
            "rows": [int(i) for i in self.rows],
            "turnover": self.turnover.tolist(),
            "costs": self.costs.tolist(),
            "fallback_folds": [int(k) for k in self.fallback_folds],
            "stretched_folds": [int(k) for k in self.stretched_folds],
        }


def walk_forward(
    returns: Any,
    strategy: BacktestStrategy | WeightFunction,
    *,
    train_size: int,
    test_size: int,
    expand_train: bool = False,
    weight_drift: bool = False,
    transaction_costs: Any = 0.0,
    previous_weights: Any = None,
    **options: Any,
) -> BacktestResult:
    """Walk-forward backtest on skfolio's ``WalkForward`` folds (see the module docstring).

    Parameters
    ----------
    returns
        T×N simple returns (rows = periods), finite and >= -1.
    strategy
        A name from :data:`compute.choices.BACKTEST_STRATEGIES` or a callable
        ``train_returns -> weights``.
    train_size
        Rows per train window (>= 2); the first train window when ``expand_train``.
    test_size
        Rows per test window (>= 1): the rebalancing period (21 for monthly on daily data).
    expand_train
        Train on every row before the test window instead of the last ``train_size``.
    weight_drift
        Buy and hold within each test window instead of constant weights.
    transaction_costs
        Proportional cost per unit traded, a scalar or length N (0.001 = 10 bp), >= 0;
        charged once per rebalance.
    previous_weights
        Weights held before the first rebalance (length N); ``None`` = all cash.
    **options
        The strategy's options (module docstring).

    Raises
    ------
    InvalidInputError
        Bad shapes or values, too few rows for one fold (``train_size + test_size``), an
        unknown or unused option; a non-positive value of a drifting portfolio.
    ComputeError
        A strategy's failure on a fold (the message names the fold).
    """
    matrix = _checked_returns(returns)
    n_rows = matrix.shape[0]
    train = positive_int(train_size, "train_size", minimum=_MIN_TRAIN_SIZE)
    test = positive_int(test_size, "test_size")
    n_folds = (n_rows - train) // test
    if n_folds < 1:
        raise InvalidInputError(
            f"one fold needs train_size + test_size = {train + test} rows; returns has {n_rows}"
        )
    test_starts = train + test * np.arange(n_folds, dtype=np.int64)
    return _run(
        matrix,
        strategy,
        test_starts=test_starts,
        test_ends=test_starts + test,
        train_size=train,
        expand_train=expand_train,
        weight_drift=weight_drift,
        transaction_costs=transaction_costs,
        previous_weights=previous_weights,
        options=options,
    )


def walk_forward_at(
    returns: Any,
    strategy: BacktestStrategy | WeightFunction,
    *,
    rebalance_rows: Any,
    train_size: int,
    expand_train: bool = False,
    weight_drift: bool = False,
    transaction_costs: Any = 0.0,
    previous_weights: Any = None,
    **options: Any,
) -> BacktestResult:
    """Walk-forward backtest rebalancing on given rows (calendar rebalancing).

    Fold :math:`k` trains on the ``train_size`` rows before ``rebalance_rows[k]`` (every row
    before it when ``expand_train``) and holds its weights over rows
    ``[rebalance_rows[k], rebalance_rows[k + 1])``, the last fold up to the end of the data.
    Everything else is as in :func:`walk_forward`.

    Parameters
    ----------
    rebalance_rows
        Strictly increasing integer rows of ``returns``, each >= ``train_size`` and < T; for
        example from :func:`calendar_rebalance_rows`.

    Raises
    ------
    InvalidInputError
        As :func:`walk_forward`, and for empty, unordered or out-of-range ``rebalance_rows``.
    """
    matrix = _checked_returns(returns)
    n_rows = matrix.shape[0]
    train = positive_int(train_size, "train_size", minimum=_MIN_TRAIN_SIZE)
    starts = _checked_rows(rebalance_rows)
    if starts[0] < train:
        raise InvalidInputError(
            f"rebalance_rows[0] = {starts[0]} leaves fewer than train_size = {train} rows before it"
        )
    if starts[-1] >= n_rows:
        raise InvalidInputError(
            f"rebalance_rows[-1] = {starts[-1]} is past the last row ({n_rows - 1})"
        )
    ends = np.append(starts[1:], np.int64(n_rows))
    return _run(
        matrix,
        strategy,
        test_starts=starts,
        test_ends=ends,
        train_size=train,
        expand_train=expand_train,
        weight_drift=weight_drift,
        transaction_costs=transaction_costs,
        previous_weights=previous_weights,
        options=options,
    )


def calendar_rebalance_rows(dates: Any, frequency: RebalanceCalendar, train_size: int) -> IntArray:
    """The first row of each calendar month or quarter with >= ``train_size`` rows before it.

    Parameters
    ----------
    dates
        Strictly increasing dates of the rows (anything ``numpy.datetime64`` accepts).
    frequency
        ``"monthly"`` or ``"quarterly"`` (calendar quarters: January, April, July, October).
    train_size
        The train window length (>= 2); earlier period starts are skipped.

    Returns
    -------
    numpy.ndarray
        int64 rows for :func:`walk_forward_at`'s ``rebalance_rows``; empty when no period
        starts late enough (row 0 never counts: nothing precedes it).

    Raises
    ------
    InvalidInputError
        Not 1-D, not dates, NaT, not strictly increasing, an unknown frequency.
    """
    if frequency not in REBALANCE_CALENDARS:
        raise InvalidInputError(
            f"frequency must be one of {REBALANCE_CALENDARS}, got {frequency!r}"
        )
    train = positive_int(train_size, "train_size", minimum=_MIN_TRAIN_SIZE)
    try:
        stamps = np.asarray(dates, dtype="datetime64[ns]")
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"dates must be dates: {exc}") from exc
    if stamps.ndim != 1:
        raise InvalidInputError(f"dates must be 1-dimensional, got shape {stamps.shape}")
    if np.any(np.isnat(stamps)):
        raise InvalidInputError("dates contains NaT")
    if stamps.size > 1 and not np.all(stamps[1:] > stamps[:-1]):
        raise InvalidInputError("dates must be strictly increasing")
    months = stamps.astype("datetime64[M]").astype(np.int64)
    # Months count from January 1970, so floor division by 3 groups calendar quarters.
    periods = months if frequency == "monthly" else np.floor_divide(months, 3)
    firsts = np.flatnonzero(periods[1:] != periods[:-1]).astype(np.int64) + 1
    rows: IntArray = firsts[firsts >= train]
    return rows


# ----- the fold engine -------------------------------------------------------------------------


def _run(
    matrix: FloatArray,
    strategy: BacktestStrategy | WeightFunction,
    *,
    test_starts: IntArray,
    test_ends: IntArray,
    train_size: int,
    expand_train: bool,
    weight_drift: bool,
    transaction_costs: Any,
    previous_weights: Any,
    options: dict[str, Any],
) -> BacktestResult:
    """Fit, hold and charge every fold; test windows are contiguous and in order."""
    n_assets = matrix.shape[1]
    fit, fallback = _strategy(strategy, n_assets, options)
    fell_back: list[int] = []
    stretched: list[int] = []
    limit = options.get("turnover")
    costs = _checked_costs(transaction_costs, n_assets)
    before = (
        np.zeros(n_assets)
        if previous_weights is None
        else vector_of_length(previous_weights, "previous_weights", n_assets)
    )
    first, last = int(test_starts[0]), int(test_ends[-1])
    n_folds = test_starts.size
    gross = np.empty(last - first)
    weights = np.empty((n_folds, n_assets))
    turnover = np.empty(n_folds)
    fold_costs = np.empty(n_folds)
    for k in range(n_folds):
        start, stop = int(test_starts[k]), int(test_ends[k])
        train_start = 0 if expand_train else start - train_size
        label = f"fold {k} (train rows {train_start}-{start - 1}, test rows {start}-{stop - 1})"
        train = matrix[train_start:start]
        train.flags.writeable = False
        # What the rebalance trades from; None: the first one, bought from cash.
        held = None if k == 0 and previous_weights is None else before
        try:
            try:
                raw = fit(train, held)
            except MandateInfeasibleError:
                raise
            except InfeasibleError:
                if fallback is None:
                    raise
                raw = fallback(train, held)
                fell_back.append(k)
            target = _checked_weights(raw, n_assets)
        except ComputeError as exc:
            exc.args = (f"{label}: {exc.args[0] if exc.args else exc}", *exc.args[1:])
            raise
        trade = np.abs(target - before)
        turnover[k] = trade.sum()
        if held is not None and limit is not None and turnover[k] > limit + _STRETCH_SLACK:
            stretched.append(k)
        fold_costs[k] = costs @ trade
        block = matrix[start:stop]
        window = gross[start - first : stop - first]
        if weight_drift:
            before = _drift(block, target, window, label, start)
        else:
            np.dot(block, target, out=window)
            before = target
        weights[k] = target
    net = gross.copy()
    rebalance_rows = (test_starts - first).astype(np.int64)
    net[rebalance_rows] -= fold_costs
    ruined = np.flatnonzero(net < -1.0)
    if ruined.size:
        row = int(ruined[0])
        raise InvalidInputError(
            f"the net return at row {first + row} is {net[row]:.6g} < -1: the portfolio loses "
            "more than its value (leverage, short positions or transaction costs); the equity "
            "would turn negative"
        )
    equity = np.cumprod(1.0 + net, dtype=np.float64)
    return BacktestResult(
        returns=net,
        gross_returns=gross,
        equity=equity,
        weights=weights,
        rebalance_rows=rebalance_rows,
        rows=np.arange(first, last, dtype=np.int64),
        turnover=turnover,
        costs=fold_costs,
        fallback_folds=np.array(fell_back, dtype=np.int64),
        stretched_folds=np.array(stretched, dtype=np.int64),
    )


def _drift(
    block: FloatArray, target: FloatArray, out: FloatArray, label: str, first_row: int
) -> FloatArray:
    """Buy-and-hold returns of ``target`` over ``block`` into ``out``; the end weights.

    The same operations as skfolio's ``Portfolio(weight_drift=True)``: positions
    ``cumprod(1 + r) * w``, wealth = their sum plus the cash ``1 - sum(w)``.
    """
    positions = np.cumprod(1.0 + block, axis=0) * target
    wealth = positions.sum(axis=1) + (1.0 - target.sum())
    broke = np.flatnonzero(wealth <= 0.0)
    if broke.size:
        row = int(broke[0])
        raise InvalidInputError(
            f"{label}: with weight_drift the portfolio's value falls to {wealth[row]:.6g} at "
            f"row {first_row + row}; drifted weights are undefined once it is <= 0"
        )
    out[0] = wealth[0] - 1.0
    np.subtract(wealth[1:] / wealth[:-1], 1.0, out=out[1:])
    end: FloatArray = positions[-1] / wealth[-1]
    return end


# ----- strategies ------------------------------------------------------------------------------


def _strategy(
    strategy: BacktestStrategy | WeightFunction, n_assets: int, options: dict[str, Any]
) -> tuple[_StrategyFit, _StrategyFit | None]:
    """The strategy's fit and its fallback on an infeasible fold (``None``: raise), after
    checking the options once."""
    if callable(strategy):
        if options:
            raise InvalidInputError(
                f"a callable strategy takes no options; got {sorted(options)} (bind them "
                "into the callable)"
            )
        function = strategy

        def call(train: FloatArray, _before: FloatArray | None) -> FloatArray:
            weights = as_float_array(function(train), "the strategy's weights", 1)
            return weights.copy()

        return call, None
    if not isinstance(strategy, str) or strategy not in BACKTEST_STRATEGIES:
        raise InvalidInputError(
            f"strategy must be one of {BACKTEST_STRATEGIES} or a callable, got {strategy!r}"
        )
    allowed = STRATEGY_OPTIONS[strategy]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InvalidInputError(
            f"strategy {strategy!r} takes the options {list(allowed) or 'none'}; got {unknown}"
        )
    if strategy == "equal-weight":
        equal = np.full(n_assets, 1.0 / n_assets)
        return (lambda _train, _before: equal), None
    if strategy == "fixed":
        if "weights" not in options:
            raise InvalidInputError("strategy 'fixed' needs weights=")
        fixed = vector_of_length(options["weights"], "weights", n_assets)
        return (lambda _train, _before: fixed), None
    if strategy == "hrp":
        linkage = options.get("linkage", "single")
        if linkage not in LINKAGE_METHODS:
            raise InvalidInputError(f"linkage must be one of {LINKAGE_METHODS}, got {linkage!r}")
        # Imported here: scipy.cluster is only paid for by HRP backtests.
        from compute.hrp import hrp_weights

        return (lambda train, _before: hrp_weights(train, linkage)), None
    covariance, periods = _estimator(options)
    if strategy == "inverse-volatility":
        return (lambda train, _before: _inverse_volatility(covariance(train))), None
    if strategy == "risk-parity":
        budgets = options.get("budgets")
        if budgets is not None:
            vector = vector_of_length(budgets, "budgets", n_assets)
            if np.any(vector <= 0.0):
                raise InvalidInputError("budgets must all be > 0")
        warm = _warm_risk_budget(covariance, budgets)
        return (lambda train, _before: warm(train)), None
    bounds = options.get("bounds", (0.0, 1.0))
    # Resolved once here so that bad bounds or a bad mandate fail before the first fold.
    mandate = _mandate(options, n_assets, bounds)
    fallback = _fallback(options, covariance, bounds, mandate)
    if strategy == "min-variance":
        return (
            lambda train, before: min_variance(covariance(train), bounds, **mandate(before))
        ), None
    if strategy == "max-sharpe":
        rate = finite_number(options.get("risk_free_rate", 0.0), "risk_free_rate")
        return (
            lambda train, before: max_sharpe(
                mean_returns(train, periods), covariance(train), rate, bounds, **mandate(before)
            )
        ), fallback
    # target-volatility
    if "target" not in options:
        raise InvalidInputError(
            "strategy 'target-volatility' needs target= (an annualised volatility cap)"
        )
    target = positive_number(options["target"], "target")
    return (
        lambda train, before: efficient_risk(
            mean_returns(train, periods), covariance(train), target, bounds, **mandate(before)
        )
    ), fallback


def _fallback(
    options: dict[str, Any], covariance: _Fit, bounds: Any, mandate: _Keywords
) -> _StrategyFit | None:
    """What a fold holds when max-sharpe's or target-volatility's own problem is infeasible:
    ``None`` (raise), or the minimum-variance portfolio under the same estimator, bounds and
    mandate.

    max-sharpe has no tangency portfolio when no portfolio's expected return exceeds the
    risk-free rate (a bear-market train window); a volatility target below a fold's minimum
    volatility leaves no portfolio under it. In both cases the least volatile portfolio is the
    nearest to what the strategy asks for.
    """
    choice = options.get("on_infeasible", "raise")
    if choice not in ON_INFEASIBLE:
        raise InvalidInputError(f"on_infeasible must be one of {ON_INFEASIBLE}, got {choice!r}")
    if choice == "raise":
        return None
    return lambda train, before: min_variance(covariance(train), bounds, **mandate(before))


def _mandate(options: dict[str, Any], n_assets: int, bounds: Any) -> _Keywords:
    """The optimiser's mandate keywords for a rebalance from given weights (module docstring,
    "Mandates"), after checking the mandate once: its parts, and that its fixed part (bounds,
    groups, inequalities) admits a fully invested portfolio."""
    groups = options.get("groups")
    inequalities = options.get("inequalities")
    limit = options.get("turnover")
    rates = options.get("costs")
    cash = np.zeros(n_assets)
    resolved = resolve_mandate(
        n_assets,
        bounds,
        groups=groups,
        inequalities=inequalities,
        turnover=None if limit is None else (cash, limit),
        costs=None if rates is None else (cash, rates),
    )
    fixed: dict[str, Any] = {}
    if groups is not None:
        fixed["groups"] = groups
    if inequalities is not None:
        fixed["inequalities"] = inequalities
    if fixed:
        check_feasible(resolve_mandate(n_assets, bounds, **fixed))
    cost_rates = resolved.cost_rates if rates is not None else None

    held_limits = resolve_mandate(n_assets, bounds, **fixed)

    def keywords(before: FloatArray | None) -> dict[str, Any]:
        chosen = dict(fixed)
        if limit is not None and before is not None:
            cap = float(limit)
            if held_limits.violations(before, 0.0):
                # Drift carried the held weights outside a limit: trade at least what brings
                # them back (the rebalance then turns over more than the limit; see
                # BacktestResult.stretched_folds).
                needed = min_turnover(replace(held_limits, current_weights=before))
                cap = max(cap, needed * (1.0 + _STRETCH_SLACK) + _STRETCH_SLACK)
            chosen["turnover"] = (before, cap)
        if cost_rates is not None:
            chosen["costs"] = (cash if before is None else before, cost_rates)
        return chosen

    return keywords


def _estimator(options: dict[str, Any]) -> tuple[_Fit, float]:
    """The covariance estimator the options choose, and periods_per_year."""
    name = options.get("estimator", "sample")
    if name not in COVARIANCE_ESTIMATORS:
        raise InvalidInputError(f"estimator must be one of {COVARIANCE_ESTIMATORS}, got {name!r}")
    periods = positive_number(options.get("periods_per_year", 252), "periods_per_year")
    halflife = options.get("halflife")
    if name == "ewma":
        if halflife is None:
            raise InvalidInputError("estimator 'ewma' needs halflife= (in rows)")
        life = positive_number(halflife, "halflife")
        return (lambda train: ewma_covariance(train, life, periods)), periods
    if halflife is not None:
        raise InvalidInputError(f"halflife only applies to estimator 'ewma', not {name!r}")
    if name == "ledoit-wolf":
        return (lambda train: ledoit_wolf_covariance(train, periods)), periods
    return (lambda train: sample_covariance(train, periods)), periods


def _warm_risk_budget(covariance: _Fit, budgets: Any) -> _Fit:
    """Risk budgeting that starts each fold's Newton iteration from the previous fold's
    weights: consecutive train windows overlap, so it converges in fewer iterations (the
    answer is the same to the solver's 1e-12 tolerance)."""
    previous: list[FloatArray] = []

    def fit(train: FloatArray) -> FloatArray:
        start = previous[0] if previous else None
        weights = risk_budget(covariance(train), budgets, initial_weights=start).weights
        previous[:] = [weights]
        return weights

    return fit


def _inverse_volatility(covariance: FloatArray) -> FloatArray:
    """:math:`w_i \\propto 1/\\sigma_i`, as skfolio's ``InverseVolatility``."""
    variances = np.diag(covariance)
    # A constant column has a rounding-level variance, not exactly 0: compare with the others.
    constant = variances <= 1e-20 * float(np.max(variances))
    if np.any(constant):
        flat = [int(i) for i in np.flatnonzero(constant)]
        raise InvalidInputError(
            f"assets {flat} have zero variance in the train window; inverse volatility is undefined"
        )
    inverse = 1.0 / np.sqrt(variances)
    weights: FloatArray = inverse / inverse.sum()
    return weights


# ----- checks ----------------------------------------------------------------------------------


def _checked_returns(returns: Any) -> FloatArray:
    matrix = as_float_array(returns, "returns", 2)
    if matrix.shape[1] < 1:
        raise InvalidInputError("returns has no assets (columns)")
    if not np.all(np.isfinite(matrix)):
        raise InvalidInputError(
            "returns contains NaN or infinite values; a backtest cannot skip a day (fill or "
            "drop the incomplete rows first)"
        )
    if np.any(matrix < -1.0):
        raise InvalidInputError("returns below -1 (a loss of more than 100%) are invalid")
    return matrix


def _checked_rows(rebalance_rows: Any) -> IntArray:
    rows = np.asarray(rebalance_rows)
    if rows.ndim != 1 or rows.size == 0:
        raise InvalidInputError(
            f"rebalance_rows must be a non-empty 1-D array, got shape {rows.shape}"
        )
    if not np.issubdtype(rows.dtype, np.integer):
        raise InvalidInputError(f"rebalance_rows must be integers, got dtype {rows.dtype}")
    starts = rows.astype(np.int64)
    if np.any(starts[1:] <= starts[:-1]):
        raise InvalidInputError("rebalance_rows must be strictly increasing")
    return starts


def _checked_costs(transaction_costs: Any, n_assets: int) -> FloatArray:
    if np.ndim(transaction_costs) == 0:
        try:
            costs = np.full(n_assets, float(transaction_costs))
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"transaction_costs must be a number: {exc}") from exc
    else:
        costs = vector_of_length(transaction_costs, "transaction_costs", n_assets)
    if not np.all(np.isfinite(costs)) or np.any(costs < 0.0):
        raise InvalidInputError("transaction_costs must be finite and >= 0")
    return costs


def _checked_weights(weights: FloatArray, n_assets: int) -> FloatArray:
    if weights.shape != (n_assets,):
        raise InvalidInputError(
            f"the strategy returned weights of shape {weights.shape}, expected ({n_assets},)"
        )
    if not np.all(np.isfinite(weights)):
        raise InvalidInputError("the strategy returned NaN or infinite weights")
    return weights
