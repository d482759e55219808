"""The minimum-CDaR portfolio: the least average of the deepest drawdowns.

:func:`compute.tail_risk.min_cdar` solves Chekhlov, Uryasev & Zabarankin's linear programme
over the run's daily returns, in time order: the weights whose drawdown path has the least
conditional drawdown at risk (CDaR at ``beta``: the mean of the worst ``1 − beta`` of the daily
drawdowns), within the request's bounds and the portfolio's mandate (``constraints``).

Drawdowns here are those CDaR is defined and optimised on: of the cumulative **uncompounded**
returns ``C_t = Σ_{s≤t} r_s'w`` from a peak that includes the start (``D_t = max_{s≤t} C_s −
C_t``), as Riskfolio-Lib's ``rm="CDaR"``; they are close to the compounded drawdowns of a
backtest for small daily returns, and deeper than them in a long fall. ``cdar``, ``dar`` and
``maxDrawdown`` are positive fractions of the starting value; the ``drawdowns`` series are
``−D_t`` (≤ 0), the underwater chart's. Equal weight (and the portfolio's own weights, for a
portfolio run) are measured on the same days for comparison, without trading costs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from pydantic import Field

from analyses._common import Weights, by_ticker
from analyses._tail_risk import (
    CDAR_SOLVES,
    TailRiskRequest,
    check_observations,
    compute_errors,
    current_weights,
    level,
    limits_of,
    mandate_keywords_of,
    mandate_lines,
    work_of,
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
from core.models import ResultModel

__all__ = [
    "ANALYSIS",
    "CDAR_WEIGHTS",
    "DrawdownProfile",
    "MinCdarRequest",
    "MinCdarResult",
]

OPTIMISED, EQUAL, OWN = "min CDaR", "equal weight", "portfolio"


class MinCdarRequest(TailRiskRequest):
    """The window, the confidence level and per-asset bounds."""


class DrawdownProfile(ResultModel):
    """One portfolio's drawdowns over the run's days (uncompounded, see the module)."""

    name: str = Field(description="`min CDaR`, `equal weight` or `portfolio`.")
    cdar: float = Field(description="Mean of the worst 1 − beta of the daily drawdowns.")
    dar: float = Field(description="Drawdown at risk: the boundary of that tail.")
    max_drawdown: float = Field(description="The deepest drawdown.")
    average_drawdown: float = Field(description="Mean drawdown over every day.")
    underwater_share: float = Field(description="Share of the days below the running peak.")
    longest_underwater_days: int = Field(description="Longest run of days below the peak.")
    expected_return: float = Field(description="Annualised: periodsPerYear × mean daily return.")


class MinCdarResult(ResultModel):
    """``min-cdar``: the minimum-CDaR weights, and their drawdowns beside equal weight's (and
    the portfolio's own)."""

    weights: Weights
    beta: float
    cdar: float = Field(description="The minimised CDaR (a positive fraction of value).")
    dar: float = Field(description="Drawdown at risk at beta.")
    max_drawdown: float = Field(description="The optimised portfolio's deepest drawdown.")
    expected_return: float = Field(
        description="Annualised: periodsPerYear × mean daily return, less costs."
    )
    turnover: float | None = Field(
        default=None,
        description="Σ|w − the portfolio's own weights| (portfolio runs).",
        exclude_if=lambda value: value is None,
    )
    costs: float | None = Field(
        default=None,
        description="The one-off cost of trading to the weights (the mandate's costsBps), "
        "charged to the path's first day.",
        exclude_if=lambda value: value is None,
    )
    profiles: list[DrawdownProfile] = Field(
        description="min CDaR, equal weight, and the portfolio (portfolio runs), in that order."
    )
    periods_per_year: int
    observations: int
    mandate: list[str] = Field(description="The constraints the weights keep to.")
    dates: list[date] | None = Field(
        default=None, description="The days of the drawdown series (lake runs)."
    )
    drawdowns: dict[str, list[float]] = Field(
        default_factory=dict,
        description="Per profile name: −D_t for each day (≤ 0; left out of the run's summary "
        "when large: GET /runs/{id} answers them).",
    )


CDAR_WEIGHTS = ResultTable(
    "cdar_weights",
    "Run results: minimum-CDaR weights, one row per asset, with the run's CDaR, DaR, maximum "
    "drawdown and expected return (repeated on each row).",
    (
        RUN_ID,
        TENANT,
        PORTFOLIO_ID,
        AS_OF,
        CREATED_AT,
        Column("asset", "string"),
        Column("weight", "double"),
        Column("beta", "double"),
        Column("cdar", "double"),
        Column("dar", "double"),
        Column("max_drawdown", "double"),
        Column("expected_return", "double"),
    ),
)


def _path(daily: Any, cost: float = 0.0) -> Any:
    """Uncompounded drawdowns ``D_t`` (≥ 0) of a portfolio's daily returns, the cost paid on
    the first day (compute.tail_risk's definition)."""
    import numpy as np

    cumulative = np.cumsum(daily) - cost
    peak = np.maximum(np.maximum.accumulate(cumulative), 0.0)
    return peak - cumulative


def _longest_run(under: Any) -> int:
    """The longest run of consecutive true entries."""
    import numpy as np

    if not under.any():
        return 0
    edges = np.diff(np.concatenate([[0], under.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int((ends - starts).max())


def _profile(
    name: str, w: Any, returns: Any, *, beta: float, ppy: int, cost: float = 0.0
) -> tuple[DrawdownProfile, Any]:
    import numpy as np

    from compute.tail_risk import cdar

    daily = returns @ w
    depth = _path(daily, cost)
    size = (1.0 - beta) * depth.size
    k = min(max(int(np.ceil(size - 1e-9 * size)), 1), depth.size)
    profile = DrawdownProfile(
        name=name,
        cdar=cdar(w, returns, beta, cost=cost),
        dar=float(np.sort(depth)[::-1][k - 1]),
        max_drawdown=float(depth.max()),
        average_drawdown=float(depth.mean()),
        underwater_share=float((depth > 0).mean()),
        longest_underwater_days=_longest_run(depth > 0),
        expected_return=float(daily.mean()) * ppy - cost,
    )
    return profile, depth


def compute(request: MinCdarRequest, inputs: Any, weights: Weights | None) -> MinCdarResult:
    """The minimum-CDaR weights under the request's bounds and the portfolio's mandate, and
    the drawdowns of those, of equal weight and of the portfolio's own weights."""
    import numpy as np

    from compute.tail_risk import min_cdar

    returns = inputs.returns
    check_observations(returns)
    tickers: list[str] = inputs.tickers
    keywords = mandate_keywords_of(request, inputs, weights)
    with compute_errors("Minimum CDaR"):
        best = min_cdar(returns, beta=request.beta, **keywords)
    ppy = request.periods_per_year
    held = current_weights(tickers, weights)
    current = None if held is None else np.asarray(held)
    n = len(tickers)
    optimised, depth = _profile(
        OPTIMISED, best.weights, returns, beta=request.beta, ppy=ppy, cost=best.cost
    )
    # The LP's objective and level are the exact optimum; the profile's are re-evaluated.
    optimised = optimised.model_copy(update={"cdar": best.risk, "dar": best.value_at_risk})
    profiles = [optimised]
    series = {OPTIMISED: depth}
    others = [(EQUAL, np.full(n, 1.0 / n))] + ([(OWN, current)] if current is not None else [])
    for name, w in others:
        profile, path = _profile(name, w, returns, beta=request.beta, ppy=ppy)
        profiles.append(profile)
        series[name] = path
    has_costs = "costs" in keywords
    return MinCdarResult(
        weights=by_ticker(tickers, best.weights),
        beta=request.beta,
        cdar=best.risk,
        dar=best.value_at_risk,
        max_drawdown=optimised.max_drawdown,
        expected_return=best.expected_return * ppy - best.cost,
        turnover=None if current is None else float(np.abs(best.weights - current).sum()),
        costs=best.cost if has_costs else None,
        profiles=profiles,
        periods_per_year=ppy,
        observations=int(returns.shape[0]),
        mandate=mandate_lines(keywords, tickers),
        dates=inputs.dates,
        drawdowns={name: (0.0 - path).tolist() for name, path in series.items()},
    )


def rows(result: MinCdarResult) -> Rows:
    """One row per asset, the run's measures repeated on each."""
    assets = list(result.weights)
    count = len(assets)
    return {
        CDAR_WEIGHTS.name: {
            "asset": assets,
            "weight": [float(result.weights[a]) for a in assets],
            "beta": [result.beta] * count,
            "cdar": [result.cdar] * count,
            "dar": [result.dar] * count,
            "max_drawdown": [result.max_drawdown] * count,
            "expected_return": [result.expected_return] * count,
        }
    }


def _days(dates: list[Any] | None, count: int) -> list[str]:
    """ISO days of the series; inline returns (no dates) count weekdays from 2000-01-03."""
    if dates:
        return [str(d) for d in dates]
    import numpy as np

    origin = np.datetime64("2000-01-03")
    return [str(d) for d in np.busday_offset(origin, np.arange(count), roll="forward")]


def report(view: Any, result: Mapping[str, Any], own: Weights | None, tickers: list[str]) -> None:
    """The underwater chart of the optimised portfolio beside equal weight (and the
    portfolio's own weights) with each one's CDaR, the weights, the drawdown measures."""
    from reports import charts
    from reports.page import Chart, Table, pct, weights_table

    beta = float(result.get("beta") or 0.95)
    profiles = result.get("profiles") or []
    series = {k: v for k, v in (result.get("drawdowns") or {}).items() if v}
    labels = {OPTIMISED: "Min CDaR", EQUAL: "Equal weight", OWN: "Portfolio"}
    if series:
        count = len(next(iter(series.values())))
        days = _days(result.get("dates"), count)
        if not result.get("dates"):
            view.notice = (
                "Inline returns carry no dates: the chart counts the days from an arbitrary "
                f"{days[0]}."
            )
        shown = {labels.get(k, k): v for k, v in series.items() if len(v) == count}
        levels = {labels.get(p["name"], p["name"]): float(p["cdar"]) for p in profiles}
        view.charts.append(
            Chart(
                "underwater.png",
                "Drawdowns",
                "Each portfolio's fall from its running peak (cumulative uncompounded returns, "
                f"as CDaR measures it), its CDaR at {level(beta)} dashed: the mean of its worst "
                f"{level(1 - beta)} of days' drawdowns.",
                lambda: charts.cdar_underwater_chart(
                    days, shown, levels, f"Drawdowns (CDaR {level(beta)} dashed)"
                ),
            )
        )
    weights = result.get("weights") or {}
    if weights:
        view.charts.append(
            Chart(
                "weights.png",
                "Minimum-CDaR weights",
                "Weights of the minimum-CDaR portfolio"
                + (" beside the portfolio's own weights." if own else "."),
                lambda: charts.weights_chart(weights, "Minimum-CDaR weights", own),
            )
        )
    view.tables.append(
        Table(
            "Drawdowns",
            [
                "",
                f"CDaR {level(beta)}",
                f"DaR {level(beta)}",
                "Max drawdown",
                "Average drawdown",
                "Days under water",
                "Longest (days)",
                "Expected return (ann.)",
            ],
            [
                [
                    labels.get(p["name"], p["name"]),
                    pct(p.get("cdar")),
                    pct(p.get("dar")),
                    pct(p.get("maxDrawdown")),
                    pct(p.get("averageDrawdown")),
                    pct(p.get("underwaterShare"), 0),
                    f"{int(p.get('longestUnderwaterDays', 0)):,}",
                    pct(p.get("expectedReturn")),
                ]
                for p in profiles
            ],
            "Drawdowns of cumulative uncompounded returns from a peak that includes the start, "
            "as fractions of the starting value; equal weight and the portfolio without trading "
            "costs.",
        )
    )
    if weights:
        view.tables.append(
            weights_table([("Min CDaR", weights)] + ([("Portfolio", own)] if own else []))
        )
    lines = result.get("mandate") or []
    if lines:
        view.tables.append(Table("Mandate", ["Constraint"], [[line] for line in lines]))
    view.summary = {
        f"CDaR {level(beta)}": pct(result.get("cdar")),
        "Max drawdown": pct(result.get("maxDrawdown")),
        "Expected return": pct(result.get("expectedReturn")),
    }


def _demo_summary(result: Mapping[str, Any]) -> str:
    profiles = {p["name"]: p for p in result.get("profiles") or []}
    equal = profiles.get(EQUAL, {})
    return (
        f"CDaR {level(result.get('beta', 0.95))} {result.get('cdar', 0):.1%}, max drawdown "
        f"{result.get('maxDrawdown', 0):.1%} (equal weight {equal.get('cdar', 0):.1%}, "
        f"{equal.get('maxDrawdown', 0):.1%})"
    )


ANALYSIS = Analysis(
    name="min-cdar",
    label="Minimum CDaR",
    request=MinCdarRequest,
    result=MinCdarResult,
    endpoint=Endpoint(
        path="/optimization/min-cdar",
        operation="MinCdar",
        function="OptimizationFunction",
        summary="Minimum conditional drawdown at risk (exact LP), under the portfolio's mandate",
        example={"beta": 0.95, "maxWeight": 0.6},
    ),
    compute=compute,
    tables=(CDAR_WEIGHTS,),
    rows=rows,
    report=ReportSection(report, key_chart="underwater.png"),
    work=work_of(lambda request: CDAR_SOLVES),
    limits=limits_of("Minimum CDaR", lambda request: CDAR_SOLVES),
    bulky=("dates", "drawdowns"),
    demo=DemoRun(
        {},
        column="min CDaR",
        weights=lambda result: result.get("weights") or {},
        summary=_demo_summary,
    ),
)
