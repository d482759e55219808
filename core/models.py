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
    "MAX_RUN_ASSETS",
    "MAX_RUN_OBSERVATIONS",
    "MAX_SIMULATION_CELLS",
    "PLAIN_TEXT_PATTERN",
    "TICKER_PATTERN",
    "AnalysisSpec",
    "AnalyzeRequest",
    "ApiModel",
    "DataWindow",
    "EfficientFrontierRequest",
    "ErrorBody",
    "ErrorEnvelope",
    "HrpRequest",
    "Portfolio",
    "PortfolioCreate",
    "PortfolioPage",
    "PortfolioUpdate",
    "ReportLink",
    "ReportLinks",
    "RiskParityRequest",
    "Run",
    "RunError",
    "RunPage",
    "RunStatus",
    "RunType",
    "SimulateRequest",
    "default_analyses",
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
ResourceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


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
        forbidden = {"portfolioId", "returns", "start", "end"} & set(self.parameters)
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


class PortfolioCreate(ApiModel):
    """``POST /portfolios``."""

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
        description="Analyses recomputed when the portfolio's market data changes and nightly.",
    )

    @field_validator("assets")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_weights(value)


class PortfolioUpdate(PortfolioCreate):
    """``PUT /portfolios/{id}``: the whole portfolio plus the version it was read at."""

    version: int = Field(ge=1, description="The version you read; a stale one answers 409.")


class Portfolio(ApiModel):
    id: str
    name: str
    description: str
    assets: dict[str, float]
    analyses: list[AnalysisSpec] = Field(default_factory=default_analyses)
    version: int
    created_at: datetime
    updated_at: datetime


class PortfolioPage(ApiModel):
    items: list[Portfolio]
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
    """Either a stored portfolio (its tickers; returns from the lake) or inline returns."""

    portfolio_id: ResourceId | None = None
    returns: dict[Ticker, list[DailyReturn]] | None = Field(
        default=None,
        description="Inline daily simple returns per ticker (rows = days, equal lengths).",
        examples=[{"AAPL": [0.01, 0.02, -0.005], "MSFT": [0.02, 0.01, 0.003]}],
    )
    start: date | None = Field(default=None, description="Window start (portfolioId runs).")
    end: date | None = Field(default=None, description="Window end (portfolioId runs).")
    estimator: Estimator = "ledoit-wolf"
    halflife: float | None = Field(default=None, gt=0, le=10_000, description="EWMA half-life.")
    periods_per_year: int = Field(default=252, ge=1, le=366)

    @model_validator(mode="after")
    def _one_source(self) -> _ReturnsInput:
        if (self.portfolio_id is None) == (self.returns is None):
            raise ValueError("give exactly one of portfolioId or returns")
        if self.returns is not None:
            if len(self.returns) < 2:
                raise ValueError("returns need at least 2 tickers")
            lengths = {len(v) for v in self.returns.values()}
            if len(lengths) != 1:
                raise ValueError("every ticker's returns must have the same length")
            if lengths.pop() < 2:
                raise ValueError("returns need at least 2 observations")
            if self.start or self.end:
                raise ValueError("start/end apply to portfolioId runs only")
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        if self.estimator == "ewma" and self.halflife is None:
            raise ValueError("estimator ewma needs halflife")
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
    """The data a run read."""

    source: Literal["inline", "lake"]
    tickers: list[str]
    observations: int
    start: date | None = None
    end: date | None = None
    objects: list[str] = Field(
        default_factory=list, description="Lake objects read, as key@version (or key@etag)."
    )
    data_version: str | None = Field(
        default=None, description="The data version that triggered the run (recomputes)."
    )


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
    result: dict[str, Any] | None = None
    data_window: DataWindow | None = None
    error: RunError | None = None
    created_at: datetime
    finished_at: datetime | None = None


class RunPage(ApiModel):
    items: list[Run]
    next_token: str | None = None


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
