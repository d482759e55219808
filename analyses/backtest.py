"""Walk-forward backtests: what strategies would have done over the lake's history.

Each strategy's weights are refitted on a trailing train window and held over the next test
window (:func:`compute.backtest.walk_forward`, skfolio's ``WalkForward`` folds; or, with a
calendar rebalance, :func:`compute.backtest.walk_forward_at` at the first trading day of each
month or quarter), with positions drifting with the assets between rebalances and
transaction costs charged on each rebalance's turnover. The daily net returns are scored by
:func:`compute.performance.metrics` (QuantStats' definitions) against a benchmark: a ticker's
returns, or the portfolio's own weights held the same way.

``{"portfolioId": "…"}`` alone backtests the portfolio's own weights against equal weight,
inverse volatility, risk parity, HRP and minimum variance over all the lake holds for its
tickers, rebalancing monthly on a 252-day train window, 10 bp costs, weights drifting.

A portfolio with ``constraints`` (a mandate) backtests its min-variance, max-sharpe and
target-volatility strategies under it: refitted at each rebalance within the mandate's bounds
and group limits, at most its ``turnover`` away from the weights held just before the
rebalance (after the first, which buys in from cash), net of its ``costsBps`` (which are then
also what every rebalance is charged, unless the request gives ``costsBps``). A strategy's own
``maxWeight`` or ``turnover`` replaces the mandate's; ``mandate: false`` leaves it out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import Field, field_validator, model_validator

from analyses._common import MIN_OBSERVATIONS, Weights
from compute.choices import (
    BACKTEST_MANDATE_OPTIONS,
    BACKTEST_STRATEGY_OPTIONS,
    BacktestStrategy,
    LinkageMethod,
    RebalanceCalendar,
)
from core.analysis import (
    AS_OF,
    CREATED_AT,
    PORTFOLIO_ID,
    RUN_ID,
    TENANT,
    Analysis,
    Column,
    DemoRun,
    Endpoint,
    ReportSection,
    ResultTable,
    Rows,
)
from core.exceptions import UnprocessableError
from core.models import (
    ApiModel,
    FiniteFloat,
    PlainText,
    ResultModel,
    ReturnsRequest,
    Ticker,
    Weight,
)

__all__ = [
    "ANALYSIS",
    "BACKTEST_METRICS",
    "BACKTEST_RETURNS",
    "BACKTEST_WEIGHTS",
    "BENCHMARK",
    "PORTFOLIO",
    "BacktestMetrics",
    "BacktestRequest",
    "BacktestRunResult",
    "StrategyRun",
    "StrategySpec",
]

PORTFOLIO: Final = "portfolio"  # the portfolio's own weights, held (a strategy; a benchmark)
BENCHMARK: Final = "benchmark"  # the benchmark's rows in the result tables
MAX_STRATEGIES: Final = 12
# The strategies backtested when the request names none (plus the portfolio's own weights).
DEFAULT_STRATEGIES: Final[tuple[BacktestStrategy, ...]] = (
    "equal-weight",
    "inverse-volatility",
    "risk-parity",
    "hrp",
    "min-variance",
)
ROLLING_WINDOW: Final = 126  # days of the tearsheet's rolling Sharpe ratio and volatility
# The work a run may ask (``_units``): about 200 s of the slowest strategies (target
# volatility, max Sharpe) on the run worker, whose timeout is 300 s.
MAX_BACKTEST_UNITS: Final = 10**12
ASSUMED_HISTORY_DAYS: Final = 2520  # the size estimate of a whole-history request
# The request's strategy fields, by the compute.backtest option each sets (maxWeight: the
# upper bound); which strategy takes which derives from compute's own table.
_OPTION_OF_FIELD: Final = {
    "weights": "weights",
    "target": "target",
    "max_weight": "bounds",
    "budgets": "budgets",
    "linkage": "linkage",
    "turnover": "turnover",
    "mandate": "groups",  # whether the portfolio's mandate applies: the strategies it fits
}
_OPTIONS: Final = tuple(_OPTION_OF_FIELD)
_OPTIONS_OF: Final[dict[str, frozenset[str]]] = {
    strategy: frozenset(f for f, o in _OPTION_OF_FIELD.items() if o in options)
    for strategy, options in BACKTEST_STRATEGY_OPTIONS.items()
}
# The strategies refitted under the portfolio's mandate (those taking compute's mandate).
MANDATED: Final = frozenset(
    strategy
    for strategy, options in BACKTEST_STRATEGY_OPTIONS.items()
    if set(BACKTEST_MANDATE_OPTIONS) <= set(options)
)


class StrategySpec(ApiModel):
    """One strategy of a backtest, with its options."""

    type: BacktestStrategy
    label: PlainText | None = Field(
        default=None,
        min_length=1,
        max_length=40,
        description="Its name in the results (default: the type; `portfolio` for fixed "
        "without weights). Unique within the request.",
    )
    weights: dict[Ticker, Weight] | None = Field(
        default=None,
        description="fixed: the weights held (summing to 1); default the portfolio's own.",
    )
    target: FiniteFloat | None = Field(
        default=None,
        gt=0,
        le=5,
        description="target-volatility: the annualised volatility cap (0.10 = 10 %).",
    )
    max_weight: FiniteFloat | None = Field(
        default=None,
        gt=0,
        le=1,
        description="min-variance, max-sharpe, target-volatility: the largest weight of one asset.",
    )
    budgets: dict[Ticker, Annotated[float, Field(gt=0, le=1e6)]] | None = Field(
        default=None, description="risk-parity: risk budgets per ticker (normalised)."
    )
    linkage: LinkageMethod | None = Field(default=None, description="hrp: the linkage.")
    turnover: FiniteFloat | None = Field(
        default=None,
        ge=0,
        le=2,
        description="min-variance, max-sharpe, target-volatility: the most Σ|w − w before| a "
        "rebalance may trade (after the first, bought from cash); replaces the portfolio "
        "mandate's turnover.",
    )
    mandate: bool | None = Field(
        default=None,
        description="min-variance, max-sharpe, target-volatility: whether the portfolio's "
        "constraints (bounds, groups, turnover, costs) apply (default true when it has "
        "them); the strategy's own maxWeight and turnover replace the mandate's.",
    )

    @model_validator(mode="after")
    def _options_fit(self) -> StrategySpec:
        allowed = _OPTIONS_OF.get(self.type, frozenset())
        given = {name for name in _OPTIONS if getattr(self, name) is not None}
        wrong = sorted(given - allowed)
        if wrong:
            which = ", ".join(sorted(allowed)) or "none"
            raise ValueError(f"{self.type} takes no {', '.join(wrong)} (its options: {which})")
        if self.type == "target-volatility" and self.target is None:
            raise ValueError("target-volatility needs target (the annualised volatility cap)")
        if self.weights is not None and abs(sum(self.weights.values()) - 1.0) > 1e-6:
            raise ValueError(f"fixed weights must sum to 1, not {sum(self.weights.values()):g}")
        return self

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        return PORTFOLIO if self.type == "fixed" and self.weights is None else self.type


class BacktestRequest(ReturnsRequest):
    """A walk-forward backtest of strategies over a portfolio's history (or inline returns)."""

    WHOLE_HISTORY: ClassVar[bool] = True

    start: date | None = Field(
        default=None,
        description="Window start (lake runs; default: the first day the lake holds for the "
        "tickers, or end − lookbackDays when lookbackDays is given).",
    )
    strategies: list[BacktestStrategy | StrategySpec] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_STRATEGIES,
        description="Strategies compared side by side: names, or objects with options. "
        "Default: the portfolio's own weights held, equal-weight, inverse-volatility, "
        "risk-parity, hrp and min-variance.",
    )
    train_days: int = Field(
        default=252, ge=MIN_OBSERVATIONS, le=2520, description="Rows of each train window."
    )
    expand_train: bool = Field(
        default=False, description="Train on every row before the test window, not trainDays."
    )
    rebalance: RebalanceCalendar | Annotated[int, Field(ge=1, le=2520)] = Field(
        default="monthly",
        description="monthly or quarterly (the first trading day of each; lake runs), or every "
        "N trading days (skfolio's WalkForward with testSize N).",
    )
    costs_bps: (
        Annotated[float, Field(ge=0, le=1000)]
        | dict[Ticker, Annotated[float, Field(ge=0, le=1000)]]
    ) = Field(
        default=10.0,
        description="Transaction costs in basis points of the traded value, charged on each "
        "rebalance: one figure, or one per ticker (every ticker of the run). Default 10, or "
        "the portfolio mandate's costsBps when it has them.",
    )
    weight_drift: bool = Field(
        default=True,
        description="Positions drift with the assets between rebalances (buy and hold); "
        "false: the weights are restored every day (at no cost).",
    )
    benchmark: Ticker | Literal["portfolio"] | None = Field(
        default=PORTFOLIO,
        description="A ticker whose returns the lake holds, or `portfolio` (its own weights "
        "held as the strategies are), or null. Default portfolio (none without one).",
    )
    risk_free_rate: FiniteFloat = Field(
        default=0.0, ge=-0.5, le=1.0, description="Annual risk-free rate of the metrics."
    )

    @field_validator("strategies")
    @classmethod
    def _unique_names(
        cls, value: list[BacktestStrategy | StrategySpec] | None
    ) -> list[BacktestStrategy | StrategySpec] | None:
        if value is None:
            return value
        names = [_spec(s).name for s in value]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(
                f"strategy names repeat: {', '.join(repeated)}; give each a distinct label"
            )
        if BENCHMARK in names:
            raise ValueError(f"{BENCHMARK!r} names the benchmark; label the strategy otherwise")
        return value

    @model_validator(mode="after")
    def _calendar_needs_dates(self) -> BacktestRequest:
        if isinstance(self.rebalance, str) and self.returns is not None:
            raise ValueError(
                f"rebalance {self.rebalance} needs dated returns (a portfolio's lake data); "
                "inline returns rebalance every N rows (rebalance: N)"
            )
        return self


def _spec(strategy: BacktestStrategy | StrategySpec) -> StrategySpec:
    return strategy if isinstance(strategy, StrategySpec) else StrategySpec(type=strategy)


class BacktestMetrics(ResultModel):
    """Performance of daily net returns, as QuantStats defines each (compute.performance)."""

    cagr: float
    volatility: float
    sharpe: float
    sortino: float
    max_drawdown: float
    calmar: float
    value_at_risk: float
    conditional_value_at_risk: float
    skew: float
    kurtosis: float
    best: float
    worst: float
    win_rate: float
    beta: float | None = Field(default=None, exclude_if=lambda value: value is None)
    alpha: float | None = Field(default=None, exclude_if=lambda value: value is None)
    tracking_error: float | None = Field(default=None, exclude_if=lambda value: value is None)
    information_ratio: float | None = Field(default=None, exclude_if=lambda value: value is None)
    correlation: float | None = Field(default=None, exclude_if=lambda value: value is None)


class StrategyRun(ResultModel):
    """One strategy's backtest: its metrics, trading and last target weights."""

    name: str
    type: str
    metrics: BacktestMetrics
    total_return: float = Field(description="Compounded net return over the test days.")
    turnover: float = Field(description="Σ over rebalances of Σ|w − w before| (× NAV).")
    costs: float = Field(description="Σ over rebalances of the costs charged (× NAV).")
    final_weights: Weights = Field(description="The last rebalance's target weights.")
    fallback_rebalances: int = Field(
        default=0,
        description="Rebalances where the strategy's own problem had no solution (max-sharpe: "
        "no portfolio above the risk-free rate; target-volatility: none under the target) "
        "and the minimum-variance portfolio was held.",
    )
    stretched_rebalances: int = Field(
        default=0,
        description="Rebalances that turned over more than the mandate's turnover limit: drift "
        "had carried the weights outside its bounds or groups by more than the limit could "
        "bring back, so they traded the least that restores them.",
    )


class BacktestRunResult(ResultModel):
    """``backtest``: strategies' out-of-sample daily returns, weights and metrics."""

    tickers: list[str]
    strategies: list[StrategyRun]
    benchmark: str | None = Field(description="A ticker, `portfolio`, or null.")
    benchmark_metrics: BacktestMetrics | None = None
    train_days: int
    rebalance: str = Field(description="monthly, quarterly, or every N days.")
    periods_per_year: int
    folds: int
    start: date | None = Field(description="The first test day (lake runs).")
    end: date | None = Field(description="The last test day (lake runs).")
    days: int = Field(description="Test days: the length of each returns series.")
    dates: list[date] | None = Field(
        default=None, description="The test days (lake runs; inline runs count rows)."
    )
    returns: dict[str, list[float]] = Field(
        default_factory=dict,
        description="Daily net returns per strategy, and `benchmark`'s (left out of the run's "
        "summary when large; GET /runs/{id} answers them).",
    )
    rebalance_rows: list[int] = Field(
        default_factory=list, description="Index of `dates`/`returns` of each rebalance."
    )
    weights: dict[str, list[list[float]]] = Field(
        default_factory=dict, description="Per strategy: rebalances × tickers target weights."
    )
    turnover: dict[str, list[float]] = Field(
        default_factory=dict, description="Per strategy: the turnover of each rebalance."
    )
    costs: dict[str, list[float]] = Field(
        default_factory=dict, description="Per strategy: the cost charged at each rebalance."
    )
    result_url: str | None = Field(
        default=None,
        description="When the whole result is too large to inline (over 5 MB): a presigned "
        "link, valid 15 minutes, to it as JSON.",
        exclude_if=lambda value: value is None,
    )


_RUN: Final = (RUN_ID, TENANT, PORTFOLIO_ID, AS_OF, CREATED_AT)
BACKTEST_RETURNS = ResultTable(
    "backtest_returns",
    "Run results: each backtested strategy's (and the benchmark's) daily net return, equity "
    "(growth of 1) and drawdown.",
    (
        *_RUN,
        Column("strategy", "string"),
        Column("date", "date", nullable=True),  # null: inline returns (day counts rows)
        Column("day", "bigint"),
        Column("return", "double"),
        Column("equity", "double"),
        Column("drawdown", "double"),
    ),
)
BACKTEST_WEIGHTS = ResultTable(
    "backtest_weights",
    "Run results: each backtested strategy's target weights at each rebalance (long form).",
    (
        *_RUN,
        Column("strategy", "string"),
        Column("rebalance_date", "date", nullable=True),
        Column("rebalance_day", "bigint"),
        Column("asset", "string"),
        Column("weight", "double"),
        Column("turnover", "double"),
        Column("cost", "double"),
    ),
)
BACKTEST_METRICS = ResultTable(
    "backtest_metrics",
    "Run results: each backtested strategy's (and the benchmark's) performance metrics, "
    "one row per metric (QuantStats' definitions, snake_case names).",
    (
        *_RUN,
        Column("strategy", "string"),
        Column("metric", "string"),
        Column("value", "double"),
    ),
)


# ------------------------------------------------------------------ the computation
def _fixed_weights(spec: StrategySpec, tickers: list[str], own: Weights | None) -> list[float]:
    given = spec.weights if spec.weights is not None else own
    if given is None:
        raise UnprocessableError(
            f"Strategy {spec.name}: fixed needs weights, or a portfolio whose weights it holds.",
            ["give weights, or a portfolioId"],
        )
    unknown = sorted(set(given) - set(tickers))
    if unknown:
        raise UnprocessableError(
            f"Strategy {spec.name}: weights name tickers the run has no returns for: "
            f"{', '.join(unknown[:10])}.",
            [f"the run's tickers: {', '.join(tickers[:20])}"],
        )
    return [float(given.get(t, 0.0)) for t in tickers]


def _options(
    spec: StrategySpec,
    request: BacktestRequest,
    tickers: list[str],
    own: Weights | None,
    mandate: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The keyword options ``compute.backtest`` takes for ``spec`` (``mandate``: the
    portfolio's, as :func:`_mandate` gives it; the spec's own options replace its parts)."""
    options: dict[str, Any] = {}
    if mandate and spec.type in MANDATED and spec.mandate is not False:
        options.update(mandate)
    if spec.type in {"min-variance", "max-sharpe", "risk-parity", "target-volatility"}:
        options["estimator"] = request.estimator
        options["periods_per_year"] = request.periods_per_year
        if request.estimator == "ewma":
            options["halflife"] = request.halflife
    if spec.type == "max-sharpe":
        options["risk_free_rate"] = request.risk_free_rate
    if spec.type in {"max-sharpe", "target-volatility"}:
        # A fold with no tangency portfolio (every mean below the risk-free rate) or none
        # under the target holds the minimum-variance portfolio, counted in the result.
        options["on_infeasible"] = "min-variance"
    if spec.max_weight is not None:
        options["bounds"] = (0.0, spec.max_weight)
    if spec.turnover is not None:
        options["turnover"] = spec.turnover
    if spec.type == "target-volatility":
        options["target"] = spec.target
    if spec.type == "hrp" and spec.linkage is not None:
        options["linkage"] = spec.linkage
    if spec.type == "risk-parity" and spec.budgets is not None:
        missing = sorted(set(tickers) - set(spec.budgets))
        if missing or set(spec.budgets) - set(tickers):
            raise UnprocessableError(
                f"Strategy {spec.name}: budgets must name every ticker of the run once.",
                [f"missing: {', '.join(missing[:20])}" if missing else "unknown tickers"],
            )
        options["budgets"] = [spec.budgets[t] for t in tickers]
    if spec.type == "fixed":
        options["weights"] = _fixed_weights(spec, tickers, own)
    return options


def _strategies_of(request: BacktestRequest, own: Weights | None) -> list[StrategySpec]:
    """The request's strategies, or the default ones (the portfolio's weights first)."""
    if request.strategies is not None:
        return [_spec(s) for s in request.strategies]
    held = [StrategySpec(type="fixed")] if own else []
    return held + [StrategySpec(type=s) for s in DEFAULT_STRATEGIES]


def _mandate(constraints: Any, tickers: list[str], own: Weights | None) -> dict[str, Any]:
    """The portfolio's mandate as ``compute.backtest`` options: ``bounds``, ``groups`` and,
    when it has them, the ``turnover`` limit and the ``costs`` rates (``{}``: no mandate)."""
    if constraints is None:
        return {}
    from analyses.mandates import mandate_keywords

    keywords = mandate_keywords(constraints, tickers, own)
    options: dict[str, Any] = {}
    if "bounds" in keywords:
        options["bounds"] = keywords["bounds"]
    if keywords.get("groups"):
        options["groups"] = keywords["groups"]
    if "turnover" in keywords:  # (current, limit): the backtest trades from w before instead
        options["turnover"] = float(keywords["turnover"][1])
    if "costs" in keywords:  # (current, rates)
        options["costs"] = keywords["costs"][1]
    return options


def _costs(
    request: BacktestRequest, tickers: list[str], mandate: Mapping[str, Any] | None = None
) -> Any:
    if mandate and "costs" in mandate and "costs_bps" not in request.model_fields_set:
        return mandate["costs"]  # the mandate's rates, when the request gives none
    if not isinstance(request.costs_bps, dict):
        return request.costs_bps / 1e4
    missing = sorted(set(tickers) - set(request.costs_bps))
    if missing:
        raise UnprocessableError(
            "costsBps per ticker must name every ticker of the run.",
            [f"missing: {', '.join(missing[:20])}"],
        )
    return [request.costs_bps[t] / 1e4 for t in tickers]


def _too_short(request: BacktestRequest, rows: int) -> UnprocessableError:
    test = request.rebalance if isinstance(request.rebalance, int) else 1
    return UnprocessableError(
        f"Too few days to backtest: {rows} days of returns; a train window of "
        f"{request.train_days} days and at least one test window of {test} need "
        f"{request.train_days + test}.",
        ["lower trainDays, rebalance more often, or widen the window (start, lookbackDays)"],
    )


def _walk(
    request: BacktestRequest,
    returns: Any,
    *,
    dates: list[date] | None,
    strategy: BacktestStrategy,
    costs: Any,
    options: dict[str, Any],
) -> Any:
    import numpy as np

    from compute.backtest import calendar_rebalance_rows, walk_forward, walk_forward_at

    common: dict[str, Any] = {
        "train_size": request.train_days,
        "expand_train": request.expand_train,
        "weight_drift": request.weight_drift,
        "transaction_costs": costs,
    }
    if isinstance(request.rebalance, int):
        if returns.shape[0] < request.train_days + request.rebalance:
            raise _too_short(request, returns.shape[0])
        return walk_forward(returns, strategy, test_size=request.rebalance, **common, **options)
    assert dates is not None  # the request model refuses calendar rebalancing inline
    rows = calendar_rebalance_rows(
        np.array(dates, dtype="datetime64[D]"), request.rebalance, request.train_days
    )
    if rows.size == 0:
        raise _too_short(request, returns.shape[0])
    return walk_forward_at(returns, strategy, rebalance_rows=rows, **common, **options)


def _metrics(returns: Any, benchmark: Any, request: BacktestRequest) -> BacktestMetrics:
    from compute.performance import metrics

    values = metrics(
        returns,
        benchmark=benchmark,
        risk_free_rate=request.risk_free_rate,
        periods_per_year=request.periods_per_year,
    )
    return BacktestMetrics.model_validate(values)


def compute(request: BacktestRequest, inputs: Any, weights: Weights | None) -> BacktestRunResult:
    """Walk each strategy forward over the run's returns; score each against the benchmark."""
    import numpy as np

    from compute.exceptions import ComputeError

    tickers: list[str] = inputs.tickers
    specs = _strategies_of(request, weights)
    mandate = _mandate(getattr(inputs, "constraints", None), tickers, weights)
    costs = _costs(request, tickers, mandate)
    runs: dict[str, Any] = {}
    for spec in specs:
        options = _options(spec, request, tickers, weights, mandate)
        try:
            runs[spec.name] = _walk(
                request,
                inputs.returns,
                dates=inputs.dates,
                strategy=spec.type,
                costs=costs,
                options=options,
            )
        except ComputeError as error:
            raise UnprocessableError(
                f"Strategy {spec.name} could not be backtested: {error}",
                [f"strategy: {spec.name}"],
            ) from None
    first = next(iter(runs.values()))
    test_rows = np.asarray(first.rows)
    bench_name = request.benchmark
    bench: Any = None
    if bench_name == PORTFOLIO:
        if weights is None:
            if "benchmark" in request.model_fields_set:
                raise UnprocessableError(
                    "benchmark portfolio needs a portfolioId (its weights are held).",
                    ["give portfolioId, a benchmark ticker, or benchmark null"],
                )
            bench_name = None
        else:
            # The "portfolio" strategy, when it holds the portfolio's own weights, is the
            # benchmark already; otherwise those weights are walked once more.
            own = any(
                s.name == PORTFOLIO and s.type == "fixed" and s.weights is None for s in specs
            )
            held = runs[PORTFOLIO] if own else None
            if held is None:
                held = _walk(
                    request,
                    inputs.returns,
                    dates=inputs.dates,
                    strategy="fixed",
                    costs=costs,
                    options={
                        "weights": _fixed_weights(StrategySpec(type="fixed"), tickers, weights)
                    },
                )
            bench = np.asarray(held.returns)
    elif bench_name is not None:
        bench = np.asarray(inputs.extra[bench_name])[test_rows]
    dates = inputs.dates
    test_dates = [dates[i] for i in test_rows] if dates is not None else None
    strategies = []
    for spec in specs:
        run = runs[spec.name]
        net = np.asarray(run.returns)
        strategies.append(
            StrategyRun(
                name=spec.name,
                type=spec.type,
                metrics=_metrics(net, bench, request),
                total_return=float(np.prod(1.0 + net) - 1.0),
                turnover=float(np.sum(run.turnover)),
                costs=float(np.sum(run.costs)),
                final_weights={t: float(w) for t, w in zip(tickers, run.weights[-1], strict=True)},
                fallback_rebalances=int(run.fallback_folds.size),
                stretched_rebalances=int(run.stretched_folds.size),
            )
        )
    series = {name: np.asarray(run.returns).tolist() for name, run in runs.items()}
    if bench is not None:
        series[BENCHMARK] = np.asarray(bench, float).tolist()
    return BacktestRunResult(
        tickers=tickers,
        strategies=strategies,
        benchmark=bench_name,
        benchmark_metrics=None if bench is None else _metrics(bench, None, request),
        train_days=request.train_days,
        rebalance=str(request.rebalance),
        periods_per_year=request.periods_per_year,
        folds=len(first.rebalance_rows),
        start=test_dates[0] if test_dates else None,
        end=test_dates[-1] if test_dates else None,
        days=len(test_rows),
        dates=test_dates,
        returns=series,
        rebalance_rows=[int(r) for r in first.rebalance_rows],
        weights={name: np.asarray(run.weights).tolist() for name, run in runs.items()},
        turnover={name: np.asarray(run.turnover).tolist() for name, run in runs.items()},
        costs={name: np.asarray(run.costs).tolist() for name, run in runs.items()},
    )


# ------------------------------------------------------------------ the tables
def rows(result: BacktestRunResult) -> Rows:
    """Long-form rows of the three tables (equity and drawdown derived from the returns)."""
    import numpy as np

    from compute.performance import drawdown

    days = result.days
    dates = result.dates
    names: list[str] = []
    returns: list[Any] = []
    for name, values in result.returns.items():
        names.append(name)
        returns.append(np.asarray(values, float))
    r = np.concatenate(returns) if returns else np.empty(0)
    equity = np.concatenate([np.cumprod(1.0 + x) for x in returns]) if returns else r
    under = np.concatenate([drawdown(x) for x in returns]) if returns else r
    day = np.tile(np.arange(days, dtype=np.int64), len(names))
    series_rows = {
        "strategy": np.repeat(names, days).tolist(),
        "date": (list(dates) if dates else [None] * days) * len(names),
        "day": day,
        "return": r,
        "equity": equity,
        "drawdown": under,
    }
    n = len(result.tickers)
    weight_cols: dict[str, list[Any]] = {
        k: [] for k in ("strategy", "rebalance_date", "rebalance_day", "asset")
    }
    weight_values: list[Any] = []
    turnover: list[Any] = []
    cost: list[Any] = []
    at = result.rebalance_rows
    for name, matrix in result.weights.items():
        folds = len(matrix)
        weight_cols["strategy"] += [name] * (folds * n)
        weight_cols["rebalance_date"] += [
            dates[at[k]] if dates else None for k in range(folds) for _ in range(n)
        ]
        weight_cols["rebalance_day"] += [at[k] for k in range(folds) for _ in range(n)]
        weight_cols["asset"] += result.tickers * folds
        weight_values.append(np.asarray(matrix, float).reshape(-1))
        turnover.append(np.repeat(np.asarray(result.turnover[name], float), n))
        cost.append(np.repeat(np.asarray(result.costs[name], float), n))
    metric_rows: dict[str, list[Any]] = {"strategy": [], "metric": [], "value": []}
    scored = [(s.name, s.metrics) for s in result.strategies]
    if result.benchmark_metrics is not None:
        scored.append((BENCHMARK, result.benchmark_metrics))
    for name, metrics in scored:
        for metric, value in metrics.model_dump(exclude_none=True).items():
            metric_rows["strategy"].append(name)
            metric_rows["metric"].append(metric)
            metric_rows["value"].append(float(value))
    empty = np.empty(0)
    return {
        BACKTEST_RETURNS.name: series_rows,
        BACKTEST_WEIGHTS.name: {
            **weight_cols,
            "weight": np.concatenate(weight_values) if weight_values else empty,
            "turnover": np.concatenate(turnover) if turnover else empty,
            "cost": np.concatenate(cost) if cost else empty,
        },
        BACKTEST_METRICS.name: metric_rows,
    }


# ------------------------------------------------------------------ the report (tearsheet)
_METRIC_ROWS: Final = (
    ("cagr", "CAGR", "pct"),
    ("volatility", "Volatility (ann.)", "pct"),
    ("sharpe", "Sharpe ratio", "num"),
    ("sortino", "Sortino ratio", "num"),
    ("maxDrawdown", "Max drawdown", "pct"),
    ("calmar", "Calmar ratio", "num"),
    ("valueAtRisk", "Daily VaR 95%", "pct"),
    ("conditionalValueAtRisk", "Daily CVaR 95%", "pct"),
    ("skew", "Skew", "num"),
    ("kurtosis", "Kurtosis (excess)", "num"),
    ("best", "Best day", "pct"),
    ("worst", "Worst day", "pct"),
    ("winRate", "Win rate", "pct"),
    ("beta", "Beta", "num"),
    ("alpha", "Alpha (ann.)", "pct"),
    ("trackingError", "Tracking error (ann.)", "pct"),
    ("informationRatio", "Information ratio (daily)", "num"),
    ("correlation", "Correlation", "num"),
)


def _iso(dates: Sequence[Any] | None, count: int) -> list[str]:
    if dates:
        return [str(d) for d in dates]
    # Inline returns have no dates: the charts count trading days from an arbitrary origin.
    import numpy as np

    origin = np.datetime64("2000-01-03")
    return [str(d) for d in np.busday_offset(origin, np.arange(count), roll="forward")]


def report(view: Any, result: Mapping[str, Any], own: Weights | None, tickers: list[str]) -> None:
    """The tearsheet: equity curves, drawdowns, monthly returns, rolling Sharpe and
    volatility, weights over time, turnover and costs, and the metrics side by side."""
    import numpy as np

    from compute.performance import drawdown, period_returns, rolling_sharpe, rolling_volatility
    from reports import charts
    from reports.page import Chart, Table, num, pct

    strategies = result.get("strategies") or []
    series = {k: np.asarray(v, float) for k, v in (result.get("returns") or {}).items()}
    days = int(result.get("days") or 0)
    bench = result.get("benchmark")
    names = [s["name"] for s in strategies]
    ppy = int(result.get("periodsPerYear") or 252)
    dates = _iso(result.get("dates"), days)
    dated = bool(result.get("dates"))
    if days and not dated:
        view.notice = (
            "Inline returns carry no dates: the charts count the test days from an arbitrary "
            f"{dates[0]}."
        )
    labels = {n: n for n in names}
    if BENCHMARK in series:
        labels[BENCHMARK] = f"benchmark ({bench})"
    shown = [n for n in [*names, BENCHMARK] if n in series and len(series[n]) == days]
    # The portfolio as its own benchmark is one series: the equity chart dashes it, the
    # other charts show it once.
    twice = bench == PORTFOLIO and PORTFOLIO in names
    once = [n for n in shown if not (twice and n == BENCHMARK)]
    equity = {labels[n]: np.cumprod(1.0 + series[n]).tolist() for n in shown}
    bench_label = labels.get(BENCHMARK) if BENCHMARK in series else None
    first = names[0] if names else None
    if days and shown:
        view.charts.append(
            Chart(
                "equity.png",
                "Equity curves",
                "Growth of 1 for each strategy, net of costs, on a log scale"
                + (f"; the benchmark ({bench}) dashed." if bench_label else "."),
                lambda: charts.equity_curves_chart(
                    dates, equity, "Equity (growth of 1, log scale)", benchmark=bench_label
                ),
            )
        )
        under = {labels[n]: drawdown(series[n]).tolist() for n in once}
        view.charts.append(
            Chart(
                "underwater.png",
                "Drawdowns",
                "Each strategy's fall from its running peak (underwater chart).",
                lambda: charts.underwater_chart(dates, under, "Drawdown"),
            )
        )
    if first is not None and result.get("dates") and first in series:
        months, monthly = period_returns(
            series[first], np.array(result["dates"], dtype="datetime64[D]"), "monthly"
        )
        month_labels = [str(m) for m in months]
        values = monthly.tolist()
        view.charts.append(
            Chart(
                "monthly-returns.png",
                "Monthly returns",
                f"Compounded monthly net returns of {first}, with each year's in the last column.",
                lambda: charts.monthly_returns_heatmap(
                    month_labels, values, f"Monthly returns — {first}"
                ),
            )
        )
    if days > ROLLING_WINDOW:
        # The rolling series start at the first full window: the days before are gaps.
        gap: list[float | None] = [None] * (ROLLING_WINDOW - 1)
        rolling = {
            labels[n]: gap
            + rolling_sharpe(series[n], ROLLING_WINDOW, periods_per_year=ppy).tolist()
            for n in shown
        }
        vol = {
            labels[n]: gap
            + rolling_volatility(series[n], ROLLING_WINDOW, periods_per_year=ppy).tolist()
            for n in once
        }
        view.charts.append(
            Chart(
                "rolling-sharpe.png",
                "Rolling Sharpe ratio",
                f"Annualised Sharpe ratio over the trailing {ROLLING_WINDOW} days.",
                lambda: charts.rolling_chart(
                    dates, rolling, f"Rolling Sharpe ratio ({ROLLING_WINDOW} days)", reference=0.0
                ),
            )
        )
        view.charts.append(
            Chart(
                "rolling-volatility.png",
                "Rolling volatility",
                f"Annualised volatility over the trailing {ROLLING_WINDOW} days.",
                lambda: charts.rolling_chart(
                    dates, vol, f"Rolling volatility ({ROLLING_WINDOW} days)", percent=True
                ),
            )
        )
    weights = result.get("weights") or {}
    at = [int(r) for r in result.get("rebalanceRows") or []]
    names_of = list(result.get("tickers") or tickers)
    for s in strategies:
        matrix = weights.get(s["name"])
        if not matrix or s.get("type") in {"fixed", "equal-weight"} or len(at) != len(matrix):
            continue
        by_asset = {t: [float(row[j]) for row in matrix] for j, t in enumerate(names_of)}
        when = [dates[r] for r in at]
        name = s["name"]
        view.charts.append(
            Chart(
                f"weights-{_slug(name)}.png",
                f"Weights over time — {name}",
                f"The target weights {name} set at each of its {len(at)} rebalances.",
                _weights_area(when, by_asset, f"Target weights — {name}"),
            )
        )
    turnover = [float(s.get("turnover", 0.0)) for s in strategies]
    costs = [float(s.get("costs", 0.0)) for s in strategies]
    if strategies:
        view.charts.append(
            Chart(
                "turnover.png",
                "Turnover and costs",
                "Total turnover (Σ|Δw| over the rebalances, × NAV) and the costs it was "
                "charged, per strategy.",
                lambda: charts.turnover_costs_chart(names, turnover, costs, "Turnover and costs"),
            )
        )
    columns = [(s["name"], s.get("metrics") or {}) for s in strategies]
    if result.get("benchmarkMetrics"):
        columns.append((labels.get(BENCHMARK, BENCHMARK), result["benchmarkMetrics"]))
    table_rows = []
    for key, label, kind in _METRIC_ROWS:
        if not any(key in m for _, m in columns):
            continue
        show = pct if kind == "pct" else num
        table_rows.append([label, *[show(m.get(key)) if key in m else "–" for _, m in columns]])
    fallbacks = [
        f"{s['name']} ({s['fallbackRebalances']})"
        for s in strategies
        if s.get("fallbackRebalances")
    ]
    stretched = [
        f"{s['name']} ({s['stretchedRebalances']})"
        for s in strategies
        if s.get("stretchedRebalances")
    ]
    total = ["Total return", *[pct(s.get("totalReturn")) for s in strategies]]
    trade = ["Turnover", *[num(s.get("turnover")) for s in strategies]]
    paid = ["Costs", *[pct(s.get("costs")) for s in strategies]]
    if len(columns) > len(strategies):
        total.append("–")
        trade.append("–")
        paid.append("–")
    view.tables.append(
        Table(
            "Metrics",
            ["", *[name for name, _ in columns]],
            [total, *table_rows, trade, paid],
            "Daily net returns over the test days, QuantStats' definitions: VaR and CVaR are "
            "one-day, normal (parametric) at 95 %; beta to correlation are against the "
            "benchmark, the information ratio per day as QuantStats gives it."
            + (
                " Rebalances that held the minimum-variance portfolio because the strategy's "
                f"own problem had no solution: {', '.join(fallbacks)}."
                if fallbacks
                else ""
            )
            + (
                " Rebalances that traded more than the turnover limit to bring drifted "
                f"weights back inside the mandate: {', '.join(stretched)}."
                if stretched
                else ""
            ),
        )
    )
    if first is not None and first in series:
        view.tables.append(_drawdown_table(first, series[first], dates, dated))
    view.tables.append(
        Table(
            "Backtest",
            ["", ""],
            [
                ["Test days", f"{days:,}" + (f" ({dates[0]} to {dates[-1]})" if dated else "")],
                ["Rebalances", str(result.get("folds", "–"))],
                ["Rebalance", _rebalance_text(result.get("rebalance"))],
                ["Train window", f"{result.get('trainDays', '–')} days"],
                ["Benchmark", str(bench) if bench else "none"],
            ],
        )
    )
    if first is not None:
        headline = strategies[0].get("metrics") or {}
        view.summary = {
            "CAGR": pct(headline.get("cagr")),
            "Sharpe ratio": num(headline.get("sharpe")),
            "Max drawdown": pct(headline.get("maxDrawdown")),
        }


def _drawdown_table(name: str, returns: Any, dates: list[str], dated: bool) -> Any:
    """The five deepest drawdowns of ``name``: start, trough, recovery, depth, length."""
    from compute.performance import drawdown_periods
    from reports.page import Table, pct

    def day(row: int | None) -> str:
        return "not yet" if row is None else (dates[row] if dated else f"day {row}")

    rows = [
        [day(p.start), day(p.trough), day(p.recovery), pct(p.depth), f"{p.length:,}"]
        for p in drawdown_periods(returns)[:5]
    ]
    return Table(
        f"Worst drawdowns — {name}",
        ["Start", "Trough", "Recovered", "Depth", "Days under water"],
        rows or [["–", "–", "–", "0.00%", "0"]],
        "Start: the first day under water; recovered: the first day back at the peak.",
    )


def _weights_area(
    dates: list[str], weights: dict[str, list[float]], title: str
) -> Callable[[], bytes]:
    """The drawing of one strategy's weights chart (bound now: charts are drawn later)."""
    from reports import charts

    return lambda: charts.weights_area_chart(dates, weights, title)


def _rebalance_text(value: Any) -> str:
    text = str(value or "–")
    return f"every {text} days" if text.isdigit() else text


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "strategy"


# ------------------------------------------------------------------ size, demo
def _days(request: BacktestRequest) -> int:
    """The rows a request will read, as far as the request tells (ten years when it reads the
    whole history, which only the lake knows)."""
    if request.returns is not None:
        return len(next(iter(request.returns.values())))
    if request.start is not None and request.end is not None:
        return (request.end - request.start).days * 252 // 365
    if request.lookback_days is not None:
        return request.lookback_days * 252 // 365
    return ASSUMED_HISTORY_DAYS


def _units(request: BacktestRequest, assets: int) -> int:
    """Arithmetic of the backtest, roughly: strategies × rebalances × (train × N² + N³) (a
    covariance estimate and a factorisation per fold)."""
    days = _days(request)
    train = days if request.expand_train else request.train_days
    if isinstance(request.rebalance, int):
        folds = (days - request.train_days) // request.rebalance
    else:
        folds = (days - request.train_days) * (12 if request.rebalance == "monthly" else 4) // 252
    count = len(request.strategies) if request.strategies else len(DEFAULT_STRATEGIES) + 1
    n = max(assets, 20)
    return count * max(folds, 1) * (train * n * n + n**3)


def _work(request: BacktestRequest, assets: int) -> int:
    """Cells of work (``analyses.runner.SYNC_CELL_BUDGET``): the slowest strategies do about
    5·10⁹ units a second here, the budget's cells 10⁸, so a cell is 200 units (ten years of
    100 assets and six strategies, about 10⁷ cells, answer synchronously)."""
    return _units(request, assets) // 200


def _limits(request: BacktestRequest, assets: int) -> list[tuple[str, str]]:
    units = _units(request, assets)
    if units <= MAX_BACKTEST_UNITS:
        return []
    return [
        (
            f"Backtest too large: strategies × rebalances × (trainDays × assets² + assets³) ≈ "
            f"{units:.2g} > {MAX_BACKTEST_UNITS:.0e} (a few minutes of the run worker). "
            "Rebalance less often, or backtest fewer strategies or assets at once.",
            "limit: backtest work",
        )
    ]


def _demo_summary(result: Mapping[str, Any]) -> str:
    parts = []
    for s in (result.get("strategies") or [])[:6]:
        m = s.get("metrics") or {}
        parts.append(f"{s['name']} {m.get('cagr', 0):+.1%}/yr Sharpe {m.get('sharpe', 0):.2f}")
    return "; ".join(parts)


ANALYSIS = Analysis(
    name="backtest",
    label="Backtest",
    request=BacktestRequest,
    result=BacktestRunResult,
    endpoint=Endpoint(
        path="/backtests",
        operation="Backtest",
        function="SimulationFunction",
        summary="Walk-forward backtest of strategies, with costs, drift and a benchmark",
        example={
            # Twelve days, six to train on, rebalanced every three: two folds, in a curl line.
            "returns": {
                "AAPL": [
                    0.01,
                    0.02,
                    -0.004,
                    0.003,
                    -0.012,
                    0.008,
                    0.004,
                    -0.006,
                    0.011,
                    0.002,
                    -0.003,
                    0.007,
                ],
                "MSFT": [
                    0.02,
                    0.01,
                    0.003,
                    -0.008,
                    0.005,
                    -0.002,
                    0.009,
                    0.001,
                    -0.004,
                    0.006,
                    0.004,
                    -0.005,
                ],
            },
            "strategies": ["equal-weight", "inverse-volatility"],
            "trainDays": 6,
            "rebalance": 3,
            "costsBps": 5,
        },
    ),
    compute=compute,
    tables=(BACKTEST_RETURNS, BACKTEST_WEIGHTS, BACKTEST_METRICS),
    rows=rows,
    report=ReportSection(report, key_chart="equity.png"),
    work=_work,
    limits=_limits,
    bulky=("dates", "returns", "weights", "turnover", "costs"),
    linked="result_url",
    demo=DemoRun({}, summary=_demo_summary),
    extra_tickers=lambda request: (
        [request.benchmark] if request.benchmark not in {None, PORTFOLIO} else []
    ),
)
