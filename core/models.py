"""Domain models (pydantic v2): portfolios, runs and their API shapes, camelCase on the wire.

These classes are the one source of the API's request and response shapes: handlers
validate with them and ``api.openapi`` derives the OpenAPI document from them.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

__all__ = [
    "MAX_ASSETS",
    "MAX_ID_LENGTH",
    "MAX_RUN_ASSETS",
    "MAX_RUN_OBSERVATIONS",
    "MAX_SIMULATION_CELLS",
    "MAX_WINDOW_DAYS",
    "PLAIN_TEXT_PATTERN",
    "RESOURCE_ID_PATTERN",
    "RESULT_MODELS",
    "TICKER_PATTERN",
    "AnalysisSpec",
    "AnalyzeRequest",
    "AnalyzeResult",
    "ApiModel",
    "DataWindow",
    "EfficientFrontierRequest",
    "ErrorBody",
    "ErrorEnvelope",
    "FrontierResult",
    "HrpRequest",
    "HrpResult",
    "Portfolio",
    "PortfolioCreate",
    "PortfolioFields",
    "PortfolioPage",
    "PortfolioResource",
    "PortfolioUpdate",
    "ReportLink",
    "ReportLinks",
    "RequestedRun",
    "RiskParityRequest",
    "RiskParityResult",
    "Run",
    "RunError",
    "RunPage",
    "RunRequestsAccepted",
    "RunResult",
    "RunStatus",
    "RunType",
    "SimulateRequest",
    "SimulationRunResult",
    "SimulationStatistics",
    "default_analyses",
    "run_limit_violations",
    "unrunnable_analyses",
]

TICKER_PATTERN = r"^[A-Z][A-Z0-9]{0,9}(?:[.\-][A-Z0-9]{1,4})?$"
MAX_ASSETS = 2000
MAX_RUN_ASSETS = 500
MAX_RUN_OBSERVATIONS = 10_000
# paths × days × assets of one simulation: 100,000 paths × 252 days × 50 assets (the
# bench's case, ~13 s here) fits; more is refused with 422.
MAX_SIMULATION_CELLS = 1_500_000_000
WEIGHT_TOLERANCE = 1e-6
_TICKER = re.compile(TICKER_PATTERN)
# Text a person typed: no control characters (NUL, ESC …, C1) and no bidi overrides or
# isolates, which reorder what a reader sees ("Trojan Source"); tab and newlines are fine.
# The OpenAPI pattern is the same class (ECMA and Python regexes both read \uXXXX).
_UNSAFE_CHARS = r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069"
PLAIN_TEXT_PATTERN = f"^[^{_UNSAFE_CHARS}]*$"
_UNSAFE_CHAR = re.compile(f"[{_UNSAFE_CHARS}]")


def _plain_text(value: str) -> str:
    bad = _UNSAFE_CHAR.search(value)
    if bad is not None:
        raise ValueError(
            f"must not contain control or bidi-override characters (U+{ord(bad.group()):04X})"
        )
    return value


PlainText = Annotated[
    str, AfterValidator(_plain_text), Field(json_schema_extra={"pattern": PLAIN_TEXT_PATTERN})
]


class ApiModel(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are an error."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        str_strip_whitespace=False,
        # Build validators on first use, not at import: a CRUD cold start then pays only
        # for the models it touches, not for every run request model (bench/coldstart.py).
        defer_build=True,
    )


def _check_ticker(value: str) -> str:
    if not _TICKER.fullmatch(value):
        raise ValueError(f"{value!r} is not an exchange symbol (upper case, e.g. AAPL, BRK.B)")
    return value


Ticker = Annotated[str, StringConstraints(pattern=TICKER_PATTERN), AfterValidator(_check_ticker)]
# Every resource id, in a body or a path (core.rest.path_id): ours are p-/r- + 16 hex.
MAX_ID_LENGTH = 64
RESOURCE_ID_PATTERN = rf"^[A-Za-z0-9_-]{{1,{MAX_ID_LENGTH}}}$"
ResourceId = Annotated[str, StringConstraints(pattern=RESOURCE_ID_PATTERN)]


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


FiniteFloat = Annotated[float, AfterValidator(_finite)]
# Daily simple returns cannot fall below -100 %; above +10,000 % is a data error.
DailyReturn = Annotated[float, Field(ge=-1.0, le=100.0), AfterValidator(_finite)]
# Portfolio values in given paths: finite and far from float overflow.
PathValue = Annotated[float, Field(ge=-1e12, le=1e12), AfterValidator(_finite)]
Weight = Annotated[float, Field(ge=0.0, le=1.0), AfterValidator(_finite)]


# ------------------------------------------------------------------ errors
class ErrorBody(ApiModel):
    code: str = Field(description="Stable machine-readable code, e.g. VALIDATION_ERROR.")
    message: str
    details: list[str] = Field(default_factory=list)


class ErrorEnvelope(ApiModel):
    """Every error answer: ``{"error": {"code", "message", "details"}}``."""

    error: ErrorBody


# ------------------------------------------------------------------ portfolios
def _check_weights(assets: dict[str, float]) -> dict[str, float]:
    if not 1 <= len(assets) <= MAX_ASSETS:
        raise ValueError(f"a portfolio holds 1 to {MAX_ASSETS} assets, not {len(assets)}")
    for ticker, weight in assets.items():
        _check_ticker(ticker)
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"weight of {ticker} must be finite and >= 0, not {weight}")
    total = math.fsum(assets.values())
    if abs(total - 1.0) > WEIGHT_TOLERANCE:
        raise ValueError(f"asset weights must sum to 1.0 (within 1e-6), not {total:.9g}")
    return assets


class AnalysisSpec(ApiModel):
    """One analysis a portfolio keeps fresh: recomputed when its data changes and nightly."""

    type: Literal["risk-parity", "hrp", "efficient-frontier", "simulate"]
    lookback_days: int = Field(
        default=1095, ge=30, le=3650, description="Window of returns: this many days back."
    )
    parameters: dict[str, Any] = Field(
        default_factory=dict,
        description="The run request's own parameters (e.g. linkage, nPoints, nPaths, seed).",
    )

    @model_validator(mode="after")
    def _parameters_fit(self) -> AnalysisSpec:
        # The window is the analysis's own lookbackDays back from the lake's last date.
        forbidden = {"portfolioId", "returns", "start", "end", "asOf", "lookbackDays"} & set(
            self.parameters
        )
        if forbidden:
            raise ValueError(f"parameters may not set {', '.join(sorted(forbidden))}")
        model = _ANALYSIS_MODELS[self.type]
        model.model_validate({**self.parameters, "portfolioId": "p-validate"})
        return self


def default_analyses() -> list[AnalysisSpec]:
    """What a portfolio keeps fresh unless told otherwise."""
    return [
        AnalysisSpec(type="risk-parity"),
        AnalysisSpec(type="hrp"),
        AnalysisSpec(type="efficient-frontier", parameters={"nPoints": 20}),
        AnalysisSpec(type="simulate", parameters={"nPaths": 5000, "seed": 7}),
    ]


class PortfolioFields(ApiModel):
    """The plan's ``portfolio`` object (section 4.2): what a client writes and reads back."""

    name: PlainText = Field(min_length=1, max_length=200)
    description: PlainText = Field(default="", max_length=2000)
    assets: dict[str, float] = Field(
        description="Ticker → weight; weights finite, >= 0, summing to 1 (within 1e-6).",
        examples=[{"AAPL": 0.25, "MSFT": 0.25, "GOOGL": 0.2, "AMZN": 0.2, "META": 0.1}],
        json_schema_extra={
            "minProperties": 1,
            "maxProperties": MAX_ASSETS,
            "propertyNames": {"pattern": TICKER_PATTERN},
            "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1},
        },
    )
    analyses: list[AnalysisSpec] = Field(
        default_factory=default_analyses,
        max_length=10,
        description="Analyses computed at once, then again when the portfolio's market data "
        "changes and nightly (default: risk-parity, hrp, efficient-frontier, simulate).",
    )

    @field_validator("assets")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_weights(value)


class PortfolioCreate(ApiModel):
    """``POST /portfolios``: ``{"portfolio": {name, description, assets, analyses?}}``."""

    portfolio: PortfolioFields


class PortfolioUpdate(ApiModel):
    """``PUT /portfolios/{id}``: the whole portfolio, optionally with the version it was read at.

    Concurrency by HTTP's convention: send ``If-Match`` with the ``ETag`` you read (412 when
    stale), or ``version`` here (409 when stale); with neither the write is unconditional
    (and still atomic).
    """

    portfolio: PortfolioFields
    version: int | None = Field(
        default=None, ge=1, description="The version you read; a stale one answers 409."
    )


class Portfolio(ApiModel):
    """A stored portfolio (flat: what the repository, fan-out and reports work with)."""

    id: str
    name: str
    description: str
    assets: dict[str, float]
    analyses: list[AnalysisSpec] = Field(default_factory=default_analyses)
    version: int
    created_at: datetime
    updated_at: datetime

    def fields(self) -> PortfolioFields:
        """The client-written part, as the plan spells it."""
        return PortfolioFields.model_construct(
            name=self.name,
            description=self.description,
            assets=dict(self.assets),
            analyses=list(self.analyses),
        )


class PortfolioResource(ApiModel):
    """A portfolio on the wire (plan 4.2): ``{"id", "portfolio": {…}, "version", "createdAt",
    "updatedAt"}``; its ``ETag`` header is the version."""

    id: str
    portfolio: PortfolioFields
    version: int = Field(description="Increases by one on every update; the ETag.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, stored: Portfolio) -> PortfolioResource:
        return cls(
            id=stored.id,
            portfolio=stored.fields(),
            version=stored.version,
            created_at=stored.created_at,
            updated_at=stored.updated_at,
        )


class PortfolioPage(ApiModel):
    items: list[PortfolioResource]
    next_token: str | None = Field(
        default=None, description="Opaque; pass as nextToken for the next page."
    )


# ------------------------------------------------------------------ runs
class RunType(StrEnum):
    RISK_PARITY = "risk-parity"
    HRP = "hrp"
    EFFICIENT_FRONTIER = "efficient-frontier"
    SIMULATE = "simulate"
    ANALYZE = "analyze"


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


Estimator = Literal["sample", "ledoit-wolf", "ewma"]


class _ReturnsInput(ApiModel):
    """A stored portfolio (its tickers; returns from the lake), inline returns, or both
    (inline returns, the run attached to that portfolio, as plan 13.4's example sends)."""

    portfolio_id: ResourceId | None = Field(
        default=None,
        description="A portfolio of yours: its tickers' returns come from the lake unless "
        "returns are given inline; the run is listed under the portfolio either way.",
    )
    returns: dict[Ticker, list[DailyReturn]] | None = Field(
        default=None,
        description="Inline daily simple returns per ticker (rows = days, equal lengths).",
        examples=[{"AAPL": [0.01, 0.02, -0.005], "MSFT": [0.02, 0.01, 0.003]}],
    )
    start: date | None = Field(
        default=None, description="Window start (lake runs; default: end − lookbackDays)."
    )
    end: date | None = Field(
        default=None,
        description="Window end (lake runs; default: the last date the lake holds for the "
        "tickers, on or before asOf). A window spans at most MAX_WINDOW_DAYS (14,610: 40 years).",
    )
    as_of: date | None = Field(
        default=None,
        description="Lake runs: the window ends at the last date the lake holds on or before "
        "this day; default: the last date it holds for the run's tickers. Not with end.",
    )
    lookback_days: int | None = Field(
        default=None,
        ge=30,
        le=3650,
        description="Lake runs: the window's length in calendar days back from its end; "
        "default 1095. Not with start.",
    )
    estimator: Estimator = "ledoit-wolf"
    halflife: float | None = Field(default=None, gt=0, le=10_000, description="EWMA half-life.")
    periods_per_year: int = Field(default=252, ge=1, le=366)

    @model_validator(mode="after")
    def _one_source(self) -> _ReturnsInput:
        if self.portfolio_id is None and self.returns is None:
            raise ValueError(
                "give portfolioId (returns from the lake), returns (inline), or both (inline "
                "returns, the run attached to that portfolio)"
            )
        if self.returns is not None:
            if len(self.returns) < 2:
                raise ValueError("returns need at least 2 tickers")
            lengths = {len(v) for v in self.returns.values()}
            if len(lengths) != 1:
                raise ValueError("every ticker's returns must have the same length")
            if lengths.pop() < 2:
                raise ValueError("returns need at least 2 observations")
            if self.start or self.end:
                raise ValueError("start/end select lake data; inline returns are used whole")
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        if self.estimator == "ewma" and self.halflife is None:
            raise ValueError("estimator ewma needs halflife")
        return self

    @model_validator(mode="after")
    def _window_fits(self) -> _ReturnsInput:
        """Each end of a lake window is set by at most one field: end or asOf, start or
        lookbackDays; inline returns have no window to set."""
        if self.returns is not None and (self.as_of or self.lookback_days):
            raise ValueError("asOf/lookbackDays apply to lake runs only, not to inline returns")
        if self.end and self.as_of:
            raise ValueError(
                "give end or asOf, not both: end is the window's last day, asOf the day the "
                "lake's last date is taken on or before"
            )
        if self.start and self.lookback_days:
            raise ValueError(
                "give start or lookbackDays, not both: each sets the window's first day"
            )
        if self.start and self.as_of and self.start > self.as_of:
            raise ValueError(f"start {self.start} is after asOf {self.as_of}")
        return self


class RiskParityRequest(_ReturnsInput):
    budgets: dict[Ticker, Annotated[float, Field(gt=0, le=1e6)]] | None = Field(
        default=None, description="Risk budgets per ticker (normalised); equal when omitted."
    )


class HrpRequest(_ReturnsInput):
    linkage: Literal["single", "complete", "average", "ward"] = "single"


class EfficientFrontierRequest(_ReturnsInput):
    n_points: int = Field(default=50, ge=2, le=500)
    risk_free_rate: FiniteFloat = Field(default=0.0, ge=-1, le=1)
    min_weight: FiniteFloat = Field(default=0.0, ge=-1, le=1)
    max_weight: FiniteFloat = Field(default=1.0, ge=0, le=1)

    @model_validator(mode="after")
    def _bounds(self) -> EfficientFrontierRequest:
        if self.min_weight > self.max_weight:
            raise ValueError("minWeight must not exceed maxWeight")
        return self


class SimulateRequest(_ReturnsInput):
    weights: dict[Ticker, Weight] | None = Field(
        default=None, description="Weights to simulate; the portfolio's (or equal) if omitted."
    )
    horizon_days: int = Field(default=252, ge=1, le=2520)
    n_paths: int = Field(default=10_000, ge=100, le=200_000)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    method: Literal["gbm", "bootstrap"] = "gbm"
    block_size: int = Field(default=20, ge=1, le=252)
    rebalance: Literal["none", "daily", "monthly", "quarterly", "annually"] = "none"
    initial_value: FiniteFloat = Field(default=1.0, gt=0, le=1e12)
    contribution: FiniteFloat = Field(default=0.0, ge=-1e12, le=1e12)
    keep_paths: bool = False


class AnalyzeRequest(ApiModel):
    """``POST /monte-carlo/analyze``: statistics of given value paths."""

    portfolio_id: ResourceId | None = None
    paths: list[Annotated[list[PathValue], Field(min_length=2, max_length=2521)]] = Field(
        min_length=1, max_length=20_000, description="Value paths, T+1 values each."
    )

    @field_validator("paths")
    @classmethod
    def _rectangular(cls, paths: list[list[float]]) -> list[list[float]]:
        lengths = {len(p) for p in paths}
        if len(lengths) != 1 or lengths.pop() < 2:
            raise ValueError("every path needs the same number (>= 2) of values")
        return paths


class DataWindow(ApiModel):
    """The data a run read: the window asked of the lake, and the days actually used."""

    source: Literal["inline", "lake"]
    tickers: list[str]
    observations: int
    start: date | None = Field(default=None, description="The first day used (lake runs).")
    end: date | None = Field(default=None, description="The last day used (lake runs).")
    as_of: date | None = Field(default=None, description="The asOf asked for, if any (lake runs).")
    lookback_days: int | None = Field(
        default=None, description="The lookback the window was cut with (lake runs, no start)."
    )
    requested_start: date | None = Field(
        default=None,
        description="The window asked of the lake starts here: the request's start, or "
        "requestedEnd − lookbackDays.",
    )
    requested_end: date | None = Field(
        default=None,
        description="The window asked of the lake ends here: the request's end, or the last "
        "date the lake held for the tickers (on or before asOf).",
    )
    objects: list[str] = Field(
        default_factory=list, description="Lake objects read, as key@version (or key@etag)."
    )
    data_version: str | None = Field(
        default=None, description="The data version that triggered the run (recomputes)."
    )


# ------------------------------------------------------------------ run results (plan 5.2, 5.3)
class _ResultModel(ApiModel):
    """A run result on the wire: typed, camelCase; no build deferral needed at read time."""


Weights = dict[str, float]


class Performance(_ResultModel):
    """Annualised expected return, volatility and Sharpe ratio of a set of weights."""

    expected_return: float
    volatility: float
    sharpe: float


class WeightedPerformance(Performance):
    weights: Weights


class RiskParityMetrics(Performance):
    iterations: int = Field(description="Newton iterations of the risk-budgeting solve.")
    max_budget_error: float = Field(description="Largest |risk share − budget| at the answer.")


class RiskParityResult(_ResultModel):
    """``risk-parity``: weights whose risk contributions match the budgets."""

    weights: Weights
    risk_contributions: Weights = Field(description="Each asset's share of portfolio risk.")
    metrics: RiskParityMetrics


class HrpResult(_ResultModel):
    """``hrp``: hierarchical risk parity weights, the quasi-diagonal order and the tree."""

    weights: Weights
    order: list[str] = Field(description="Tickers in the dendrogram's leaf order.")
    linkage_matrix: list[list[float]] = Field(description="SciPy linkage matrix, (N−1) × 4.")
    metrics: Performance


class FrontierPoint(WeightedPerformance):
    """One point of the efficient frontier."""


class FrontierMetrics(_ResultModel):
    points: int
    risk_free_rate: float


class FrontierResult(_ResultModel):
    """``efficient-frontier``: the frontier's points, its minimum-variance and maximum-Sharpe
    portfolios, and the portfolio's own weights on the same axes (portfolio runs)."""

    points: list[FrontierPoint]
    min_variance: WeightedPerformance
    max_sharpe: WeightedPerformance
    metrics: FrontierMetrics
    portfolio: WeightedPerformance | None = Field(
        default=None,
        description="The portfolio's own weights (portfolio runs only).",
        exclude_if=lambda value: value is None,
    )


class SimulationStatistics(_ResultModel):
    """Statistics of simulated (or given) value paths."""

    n_paths: int
    horizon_days: int
    method: str = Field(description="gbm, bootstrap, or given (analyze).")
    rebalance: str
    initial_value: float
    terminal_mean: float
    terminal_median: float
    terminal_percentiles: dict[str, float] = Field(description="Percentile → terminal value.")
    horizon_return_mean: float
    var95: float = Field(description="95 % value at risk of the horizon return (a loss, > 0).")
    cvar95: float
    var99: float
    cvar99: float
    prob_loss: float
    max_drawdown_mean: float
    max_drawdown_percentiles: dict[str, float]
    band_levels: list[float] = Field(description="Percentile levels of the fan chart's bands.")
    bands: list[list[float]] = Field(description="Level × day values of the bands.")
    bands_exact: bool
    seed_entropy: str | None = Field(description="Replays the simulation when given as seed.")


class SimulationRunResult(_ResultModel):
    """``simulate`` (plan 5.3): the simulated weights, the statistics, and the value paths
    as ``trajectories`` when ``keepPaths`` asked for them."""

    weights: Weights
    statistics: SimulationStatistics
    trajectories: list[list[float]] | None = Field(
        default=None,
        description="One list of T+1 portfolio values per path (only with keepPaths).",
        exclude_if=lambda value: value is None,
    )
    trajectories_url: str | None = Field(
        default=None,
        description="When the kept paths are too large to inline (over 5 MB): a presigned "
        "link, valid 15 minutes, to the whole result as JSON (its `trajectories`).",
        exclude_if=lambda value: value is None,
    )


class AnalyzeResult(_ResultModel):
    """``analyze``: statistics of the given paths."""

    statistics: SimulationStatistics


RESULT_MODELS: dict[str, type[_ResultModel]] = {
    "risk-parity": RiskParityResult,
    "hrp": HrpResult,
    "efficient-frontier": FrontierResult,
    "simulate": SimulationRunResult,
    "analyze": AnalyzeResult,
}
RunResult = RiskParityResult | HrpResult | FrontierResult | SimulationRunResult | AnalyzeResult


class RunError(ApiModel):
    code: str
    message: str


class Run(ApiModel):
    """A persisted run: the seed's Optimization Result and Simulation Result in one shape."""

    id: str
    portfolio_id: str | None
    type: RunType
    parameters: dict[str, Any]
    status: RunStatus
    result: RunResult | None = Field(
        default=None, description="Present once succeeded; its shape follows ``type``."
    )
    data_window: DataWindow | None = None
    error: RunError | None = None
    created_at: datetime
    finished_at: datetime | None = None
    # Where a result too large for the run item is kept (S3 key): internal, never on the wire.
    result_key: str | None = Field(default=None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _typed_result(cls, data: Any) -> Any:
        # The result's model follows the run's type (no guessing among look-alikes).
        if isinstance(data, dict) and isinstance(data.get("result"), dict):
            kind = data.get("type")
            model = RESULT_MODELS.get(str(kind.value if isinstance(kind, RunType) else kind))
            if model is not None:
                data = {**data, "result": model.model_validate(data["result"])}
        return data

    def with_result(self, result: dict[str, Any] | None) -> Run:
        """This run holding ``result`` (camelCase keys, as the runner produces it), typed."""
        typed = None if result is None else RESULT_MODELS[str(self.type)].model_validate(result)
        return self.model_copy(update={"result": typed})


class RunPage(ApiModel):
    items: list[Run]
    next_token: str | None = None


class RequestedRun(ApiModel):
    """A run requested on a portfolio's behalf; poll ``location``."""

    id: str
    type: RunType
    status: RunStatus
    location: str = Field(description="GET this for the run's status and result.")


class RunRequestsAccepted(ApiModel):
    """``POST /portfolios/{id}/runs``: one run per analysis of the portfolio, queued."""

    portfolio_id: str
    runs: list[RequestedRun]


MAX_KEPT_PATH_CELLS = 1_000_000  # paths × days a simulation may return as trajectories
MAX_WINDOW_DAYS = 14_610  # 40 years of calendar days: a run's data window, at most


def run_limit_violations(
    assets: int,
    observations: int,
    request: BaseModel | None = None,
    *,
    window_days: int = 0,
) -> list[tuple[str, str]]:
    """The documented run limits ``assets`` × ``observations`` (and the request) would break.

    Returns ``(message, "limit: …")`` pairs, empty when the run fits; the runner refuses the
    first with 422, and a portfolio whose analyses could never fit is refused at create.
    """
    found: list[tuple[str, str]] = []
    if window_days > MAX_WINDOW_DAYS:
        found.append(
            (
                f"The data window spans {window_days:,} days; a run reads at most "
                f"{MAX_WINDOW_DAYS:,} (40 years).",
                "limit: window days",
            )
        )
    if assets > MAX_RUN_ASSETS:
        found.append(
            (f"Too many assets for one run: {assets} > {MAX_RUN_ASSETS}.", "limit: assets")
        )
    if observations > MAX_RUN_OBSERVATIONS:
        found.append(
            (
                f"Too many observations for one run: {observations} > {MAX_RUN_OBSERVATIONS}.",
                "limit: observations",
            )
        )
    if isinstance(request, SimulateRequest):
        cells = request.n_paths * request.horizon_days * max(assets, 1)
        if cells > MAX_SIMULATION_CELLS:
            found.append(
                (
                    f"Simulation too large: paths × days × assets = {cells:,} > "
                    f"{MAX_SIMULATION_CELLS:,}.",
                    "limit: paths x days x assets",
                )
            )
        if request.keep_paths and request.n_paths * request.horizon_days > MAX_KEPT_PATH_CELLS:
            found.append(
                (
                    f"keepPaths is limited to paths × days ≤ {MAX_KEPT_PATH_CELLS:,}.",
                    "limit: kept path cells",
                )
            )
    return found


def unrunnable_analyses(fields: PortfolioFields) -> list[str]:
    """Why some of a portfolio's analyses could never run (empty when all can).

    Every analysis needs at least 2 assets and at most ``MAX_RUN_ASSETS``, and its own
    parameters within the run limits at the portfolio's size; a portfolio breaking these
    would be stored only to fail every night, so create and update refuse it (422).
    """
    if not fields.analyses:
        return []
    problems: list[str] = []
    assets = len(fields.assets)
    if assets < 2:
        problems.append(f"analyses need at least 2 assets; this portfolio holds {assets}")
    for index, analysis in enumerate(fields.analyses):
        request = _ANALYSIS_MODELS[analysis.type].model_validate(
            {**analysis.parameters, "portfolioId": "p-validate"}
        )
        for message, limit in run_limit_violations(assets, 0, request):
            problems.append(f"analyses[{index}] ({analysis.type}): {message} ({limit})")
    return problems


_ANALYSIS_MODELS: dict[str, type[_ReturnsInput]] = {
    "risk-parity": RiskParityRequest,
    "hrp": HrpRequest,
    "efficient-frontier": EfficientFrontierRequest,
    "simulate": SimulateRequest,
}


class ReportLink(ApiModel):
    name: str
    url: str = Field(description="Presigned GET URL; expires in at most 15 minutes.")
    content_type: str
    filename: str


class ReportLinks(ApiModel):
    """``GET /runs/{id}/report`` and ``GET /portfolios/{id}/report``."""

    run_id: str | None = None
    portfolio_id: str | None = None
    title: str
    rendered_at: str | None = None
    expires_in: int = Field(le=900)
    expires_at: str
    html: ReportLink
    images: list[ReportLink]
