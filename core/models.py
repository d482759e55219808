"""Domain models (pydantic v2): portfolios, runs and their API shapes, camelCase on the wire.

These classes are the one source of the API's request and response shapes: handlers
validate with them and ``api.openapi`` derives the OpenAPI document from them.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from core.analysis import Analysis, UnknownAnalysisError, analysis, analysis_of_request
from core.analysis import analyses as registered_analyses
from core.text_safety import TYPED_TEXT_UNSAFE_CLASS

__all__ = [
    "DEFAULT_LOOKBACK_DAYS",
    "MAX_ASSETS",
    "MAX_GROUPS",
    "MAX_ID_LENGTH",
    "MAX_RUN_ASSETS",
    "MAX_RUN_OBSERVATIONS",
    "MAX_VIEWS",
    "MAX_WINDOW_DAYS",
    "PLAIN_TEXT_PATTERN",
    "RESOURCE_ID_PATTERN",
    "TICKER_PATTERN",
    "AnalysisSpec",
    "ApiModel",
    "DailyReturn",
    "DataWindow",
    "ErrorBody",
    "ErrorEnvelope",
    "Estimator",
    "FiniteFloat",
    "Frequency",
    "GroupConstraint",
    "PathValue",
    "Portfolio",
    "PortfolioConstraints",
    "PortfolioCreate",
    "PortfolioFields",
    "PortfolioPage",
    "PortfolioResource",
    "PortfolioUpdate",
    "PortfolioViews",
    "ReportLink",
    "ReportLinks",
    "RequestedRun",
    "ResourceId",
    "ResultModel",
    "ReturnsRequest",
    "Run",
    "RunError",
    "RunPage",
    "RunRequestsAccepted",
    "RunStatus",
    "Ticker",
    "ViewStatement",
    "Weight",
    "WeightRange",
    "default_analyses",
    "run_limit_violations",
    "run_of",
    "unrunnable_analyses",
]

TICKER_PATTERN = r"^[A-Z][A-Z0-9]{0,9}(?:[.\-][A-Z0-9]{1,4})?$"
MAX_ASSETS = 2000
MAX_RUN_ASSETS = 500
MAX_RUN_OBSERVATIONS = 10_000
DEFAULT_LOOKBACK_DAYS = 1095  # a lake run's window: three years of calendar days
WEIGHT_TOLERANCE = 1e-6
_TICKER = re.compile(TICKER_PATTERN)
# Text a person typed: no control characters (NUL, ESC …, C1) and no bidi overrides or
# isolates, which reorder what a reader sees ("Trojan Source"); tab and newlines are fine.
# The OpenAPI pattern is the same class (ECMA and Python regexes both read \uXXXX).
PLAIN_TEXT_PATTERN = f"^[^{TYPED_TEXT_UNSAFE_CLASS}]*$"
_UNSAFE_CHAR = re.compile(f"[{TYPED_TEXT_UNSAFE_CLASS}]")


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


def _analysis_names(schema: dict[str, Any]) -> None:
    # The choices are the registry's (``analyses`` registers them on import).
    schema["enum"] = [a.name for a in registered_analyses() if a.keeps_fresh]


class AnalysisSpec(ApiModel):
    """One analysis a portfolio keeps fresh: recomputed when its data changes and nightly."""

    type: str = Field(
        description="An analysis a portfolio can keep fresh (the enum lists them).",
        json_schema_extra=_analysis_names,
    )
    lookback_days: int | None = Field(
        default=None,
        ge=30,
        le=3650,
        description="Window of returns: this many days back from the lake's last date. "
        "Default: 1095, or for analyses of the whole history (backtest) null, all the lake "
        "holds.",
    )
    parameters: dict[str, Any] = Field(
        default_factory=dict,
        description="The run request's own parameters (e.g. linkage, nPoints, nPaths, seed).",
    )

    @field_validator("type")
    @classmethod
    def _registered(cls, value: str) -> str:
        names = [a.name for a in registered_analyses() if a.keeps_fresh]
        if value not in names:
            raise ValueError(f"type must be one of {', '.join(names)}, not {value!r}")
        return value

    @model_validator(mode="after")
    def _parameters_fit(self) -> AnalysisSpec:
        # The window is the analysis's own lookbackDays back from the lake's last date.
        forbidden = {"portfolioId", "returns", "start", "end", "asOf", "lookbackDays"} & set(
            self.parameters
        )
        if forbidden:
            raise ValueError(f"parameters may not set {', '.join(sorted(forbidden))}")
        request = analysis(self.type).request
        request.model_validate({**self.parameters, "portfolioId": "p-validate"})
        if self.lookback_days is None and not getattr(request, "WHOLE_HISTORY", False):
            self.lookback_days = DEFAULT_LOOKBACK_DAYS
        return self


def default_analyses() -> list[AnalysisSpec]:
    """What a portfolio keeps fresh unless told otherwise: every analysis declaring
    ``default_parameters``, with them."""
    return [
        AnalysisSpec(type=a.name, parameters=dict(a.default_parameters))
        for a in registered_analyses()
        if a.keeps_fresh and a.default_parameters is not None
    ]


# ------------------------------------------------------------------ constraints and views
# A side of a range left out is open; an optional field left out is not written back.
def _unset(value: Any) -> bool:
    return value is None


def _empty(value: Any) -> bool:
    return not value


MAX_GROUPS = 50
MAX_VIEWS = 50
# Bounds are on the inner type, so an optional field's JSON schema carries them too.
WeightBound = Annotated[float, Field(ge=-1.0, le=1.0), AfterValidator(_finite)]
GroupBound = Annotated[float, Field(ge=-10.0, le=10.0), AfterValidator(_finite)]
TurnoverLimit = Annotated[float, Field(ge=0.0, le=2.0), AfterValidator(_finite)]
CostBps = Annotated[float, Field(ge=0.0, le=1000.0), AfterValidator(_finite)]


def _unique(values: list[str], what: str) -> list[str]:
    repeated = sorted(v for v, n in Counter(values).items() if n > 1)
    if repeated:
        raise ValueError(f"{what} must not repeat: {', '.join(repeated[:20])}")
    return values


def _ordered(low: float | None, high: float | None) -> None:
    if low is not None and high is not None and low > high:
        raise ValueError(f"min {low:g} exceeds max {high:g}")


class WeightRange(ApiModel):
    """One asset's own bounds, overriding ``minWeight``/``maxWeight`` on the side given."""

    min: WeightBound | None = Field(default=None, exclude_if=_unset, description="Lower bound.")
    max: WeightBound | None = Field(default=None, exclude_if=_unset, description="Upper bound.")

    @model_validator(mode="after")
    def _a_range(self) -> WeightRange:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        _ordered(self.min, self.max)
        return self


class GroupConstraint(ApiModel):
    """``min <= Σ weights of assets <= max`` (a sector, a region, a theme)."""

    name: PlainText = Field(min_length=1, max_length=100)
    assets: list[Ticker] = Field(
        min_length=1, max_length=MAX_ASSETS, description="The group's tickers (unique)."
    )
    min: GroupBound | None = Field(
        default=None, exclude_if=_unset, description="Lower bound of the sum."
    )
    max: GroupBound | None = Field(
        default=None, exclude_if=_unset, description="Upper bound of the sum."
    )

    @field_validator("assets")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        return _unique(value, "assets")

    @model_validator(mode="after")
    def _a_limit(self) -> GroupConstraint:
        if self.min is None and self.max is None:
            raise ValueError(f"group {self.name!r}: give min, max or both")
        _ordered(self.min, self.max)
        return self


CostsBps = Annotated[
    Annotated[CostBps, Tag("all")] | Annotated[dict[Ticker, CostBps], Tag("per-ticker")],
    Discriminator(lambda value: "per-ticker" if isinstance(value, dict) else "all"),
]


class PortfolioConstraints(ApiModel):
    """The mandate the portfolio's optimisations keep to (every weight vector sums to 1)."""

    min_weight: FiniteFloat = Field(
        default=0.0, ge=-1.0, le=1.0, description="Every asset's lower bound (negative: short)."
    )
    max_weight: FiniteFloat = Field(
        default=1.0, ge=0.0, le=1.0, description="Every asset's upper bound."
    )
    assets: dict[Ticker, WeightRange] = Field(
        default_factory=dict,
        max_length=MAX_ASSETS,
        description="Per-ticker bounds overriding minWeight/maxWeight (tickers the "
        "portfolio holds).",
    )
    groups: list[GroupConstraint] = Field(
        default_factory=list,
        max_length=MAX_GROUPS,
        description="Limits on the summed weight of groups of assets (unique names).",
    )
    turnover: TurnoverLimit | None = Field(
        default=None,
        exclude_if=_unset,
        description="At most this Σ|w − current| away from the portfolio's own weights.",
    )
    costs_bps: CostsBps | None = Field(
        default=None,
        exclude_if=_unset,
        description="Trading costs in basis points of the amount traded: one rate for every "
        "asset, or a rate per ticker (unlisted tickers cost 0); optimisations maximise returns "
        "net of them.",
        examples=[10, {"AAPL": 5, "XOM": 12}],
    )

    @field_validator("groups")
    @classmethod
    def _distinct_names(cls, value: list[GroupConstraint]) -> list[GroupConstraint]:
        _unique([g.name for g in value], "group names")
        return value

    @model_validator(mode="after")
    def _bounds_meet(self) -> PortfolioConstraints:
        if self.min_weight > self.max_weight:
            raise ValueError(f"minWeight {self.min_weight:g} exceeds maxWeight {self.max_weight:g}")
        for ticker, bounds in self.assets.items():
            low = self.min_weight if bounds.min is None else bounds.min
            high = self.max_weight if bounds.max is None else bounds.max
            if low > high:
                raise ValueError(
                    f"assets.{ticker}: lower bound {low:g} "
                    f"({'min' if bounds.min is not None else 'minWeight'}) exceeds upper bound "
                    f"{high:g} ({'max' if bounds.max is not None else 'maxWeight'})"
                )
        return self

    def tickers(self) -> list[tuple[str, str]]:
        """(where, ticker) of every ticker the constraints name, ``where`` a wire path."""
        named = [(f"assets.{t}", t) for t in self.assets]
        for index, group in enumerate(self.groups):
            named += [(f"groups[{index}].assets", t) for t in group.assets]
        if isinstance(self.costs_bps, dict):
            named += [(f"costsBps.{t}", t) for t in self.costs_bps]
        return named


class ViewStatement(ApiModel):
    """One view: absolute (``asset``) or relative (``long`` leg minus ``short`` leg, equal
    weights within a leg, as PyPortfolioOpt's relative views)."""

    asset: Ticker | None = Field(
        default=None, exclude_if=_unset, description="Absolute view: this asset's return."
    )
    long: list[Ticker] = Field(
        default_factory=list,
        max_length=MAX_ASSETS,
        exclude_if=_empty,
        description="Relative view: the leg that outperforms (equal weights).",
    )
    short: list[Ticker] = Field(
        default_factory=list,
        max_length=MAX_ASSETS,
        exclude_if=_empty,
        description="Relative view: the leg it outperforms (equal weights).",
    )
    expected_return: FiniteFloat = Field(
        alias="return",
        ge=-1.0,
        le=1.0,
        description="Annualised: the asset's return, or the long leg's over the short leg's.",
    )
    confidence: Weight | None = Field(
        default=None,
        exclude_if=_unset,
        description="Idzorek's confidence in the view, 0 to 1 (give all views one, or none).",
    )

    @field_validator("long", "short")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        return _unique(value, "a leg's tickers")

    @model_validator(mode="after")
    def _one_kind(self) -> ViewStatement:
        legs = self.long or self.short
        if self.asset is not None:
            if legs:
                raise ValueError("give asset (an absolute view) or long and short, not both")
            return self
        if not legs:
            raise ValueError("give asset (an absolute view) or long and short (a relative view)")
        for leg in ("long", "short"):
            if not getattr(self, leg):
                raise ValueError(f"a relative view needs both legs: {leg} is empty")
        both = sorted(set(self.long) & set(self.short))
        if both:
            raise ValueError(f"{', '.join(both[:20])} in both long and short")
        return self

    def tickers(self) -> list[str]:
        """Every ticker the view names."""
        return ([self.asset] if self.asset is not None else []) + self.long + self.short


class PortfolioViews(ApiModel):
    """Views on returns blended with a prior (Black-Litterman) by the portfolio's
    optimisations."""

    items: list[ViewStatement] = Field(min_length=1, max_length=MAX_VIEWS)
    prior: Literal["implied", "historical"] = Field(
        default="implied",
        description="implied: the returns that make the portfolio's own weights optimal "
        "(π = δ Σ w); historical: the sample mean.",
    )
    risk_aversion: FiniteFloat = Field(
        default=2.5, gt=0.0, le=100.0, description="δ of the implied prior."
    )
    tau: FiniteFloat = Field(
        default=0.05, gt=0.0, le=1.0, description="The prior's uncertainty scale τ."
    )

    @model_validator(mode="after")
    def _confidences(self) -> PortfolioViews:
        given = [view.confidence is not None for view in self.items]
        if any(given) and not all(given):
            missing = [str(i) for i, has in enumerate(given) if not has]
            raise ValueError(
                "confidence: give every view one (Idzorek) or none (He-Litterman); "
                f"items[{', '.join(missing[:20])}] have none"
            )
        return self


def _held(named: list[tuple[str, str]], assets: dict[str, float], field: str) -> None:
    strangers = [f"{field}.{where}: {ticker}" for where, ticker in named if ticker not in assets]
    if strangers:
        raise ValueError(
            "names tickers the portfolio does not hold (add them to assets, weight 0 is "
            f"fine): {'; '.join(strangers[:20])}"
        )


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
        "changes and nightly (default: every analysis that declares default parameters).",
    )
    constraints: PortfolioConstraints | None = Field(
        default=None,
        exclude_if=_unset,
        description="The mandate its optimisations keep to (a portfolio of at most "
        f"{MAX_RUN_ASSETS} assets); one that no weights can meet is refused (422, naming the "
        "constraints in conflict).",
    )
    views: PortfolioViews | None = Field(
        default=None,
        exclude_if=_unset,
        description="Views on returns its optimisations blend with a prior (Black-Litterman).",
    )

    @field_validator("assets")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_weights(value)

    @field_validator("constraints")
    @classmethod
    def _constrains_holdings(
        cls, value: PortfolioConstraints | None, info: ValidationInfo
    ) -> PortfolioConstraints | None:
        if value is not None and "assets" in info.data:
            held = info.data["assets"]
            if len(held) > MAX_RUN_ASSETS:
                # They shape runs, which hold at most MAX_RUN_ASSETS; and the feasibility
                # check (a linear programme) stays within the CRUD function's memory.
                raise ValueError(
                    f"a portfolio with constraints holds at most {MAX_RUN_ASSETS} assets (a "
                    f"run's limit), not {len(held)}"
                )
            _held(value.tickers(), held, "constraints")
        return value

    @field_validator("views")
    @classmethod
    def _views_of_holdings(
        cls, value: PortfolioViews | None, info: ValidationInfo
    ) -> PortfolioViews | None:
        if value is not None and "assets" in info.data:
            named = [
                (f"items[{i}]", ticker)
                for i, view in enumerate(value.items)
                for ticker in view.tickers()
            ]
            _held(named, info.data["assets"], "views")
        return value


class PortfolioCreate(ApiModel):
    """``POST /portfolios``: ``{"portfolio": {name, description, assets, analyses?,
    constraints?, views?}}``."""

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
    constraints: PortfolioConstraints | None = None
    views: PortfolioViews | None = None
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
            constraints=self.constraints,
            views=self.views,
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
class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


Estimator = Literal["sample", "ledoit-wolf", "ewma"]
# Market data: the periods of a prices or returns query.
Frequency = Literal["daily", "weekly", "monthly"]


class ReturnsRequest(ApiModel):
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
    # True for analyses of the whole history (backtest): without start or lookbackDays the
    # window starts at the first day the lake holds, not lookbackDays back.
    WHOLE_HISTORY: ClassVar[bool] = False

    estimator: Estimator = "ledoit-wolf"
    halflife: float | None = Field(default=None, gt=0, le=10_000, description="EWMA half-life.")
    periods_per_year: int = Field(default=252, ge=1, le=366)

    @model_validator(mode="after")
    def _one_source(self) -> ReturnsRequest:
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
    def _window_fits(self) -> ReturnsRequest:
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
class ResultModel(ApiModel):
    """A run result on the wire: typed (one model per analysis), camelCase."""


class RunError(ApiModel):
    code: str
    message: str


class Run(ApiModel):
    """A persisted run: the seed's Optimization Result and Simulation Result in one shape."""

    id: str
    portfolio_id: str | None
    type: str = Field(description="The analysis run (its route's run type).")
    parameters: dict[str, Any]
    status: RunStatus
    result: Any = Field(
        default=None,
        description="Present once succeeded; its shape follows ``type`` (the analysis's "
        "result model).",
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
        # The result's model follows the run's type (no guessing among look-alikes); a run
        # of an analysis no longer registered keeps its result as stored.
        if isinstance(data, dict) and isinstance(data.get("result"), dict):
            try:
                model = analysis(str(data.get("type"))).result
            except UnknownAnalysisError:
                return data
            data = {**data, "result": model.model_validate(data["result"])}
        return data

    def with_result(self, result: BaseModel | dict[str, Any] | None) -> Run:
        """This run holding ``result`` (its analysis's result model, or its camelCase dict)."""
        typed = (
            result
            if result is None or isinstance(result, BaseModel)
            else analysis(self.type).result.model_validate(result)
        )
        return self.model_copy(update={"result": typed})


def run_of(entry: Analysis | None = None) -> type[Run]:
    """``Run`` typed for the OpenAPI document: its ``type`` and ``result`` those of ``entry``
    (``<Operation>Run``), or, with ``None``, of any registered analysis (``GET /runs/{id}``)."""
    entries = (entry,) if entry is not None else registered_analyses()
    if not entries:
        return Run  # nothing registered (a function that runs no analysis): untyped
    key = tuple(e.name for e in entries) + (("",) if entry is None else ())
    if key not in _RUN_MODELS:
        union: Any = entries[0].result
        for other in entries[1:]:
            union = union | other.result
        fields: dict[str, Any] = {
            "result": (
                union | None,
                Field(default=None, description="Present once succeeded; its shape follows type."),
            )
        }
        if entry is not None:
            fields["type"] = (Literal[entry.name], Field(description="The analysis run."))
        name = f"{entry.endpoint.operation}Run" if entry is not None else "Run"
        _RUN_MODELS[key] = create_model(name, __base__=Run, **fields)
    return _RUN_MODELS[key]


_RUN_MODELS: dict[tuple[str, ...], type[Run]] = {}


class RunPage(ApiModel):
    items: list[Run]
    next_token: str | None = None


class RequestedRun(ApiModel):
    """A run requested on a portfolio's behalf; poll ``location``."""

    id: str
    type: str
    status: RunStatus
    location: str = Field(description="GET this for the run's status and result.")


class RunRequestsAccepted(ApiModel):
    """``POST /portfolios/{id}/runs``: one run per analysis of the portfolio, queued."""

    portfolio_id: str
    runs: list[RequestedRun]


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
    kind = None if request is None else analysis_of_request(request)
    if kind is not None and kind.limits is not None:
        found += kind.limits(request, assets)
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
    for index, spec in enumerate(fields.analyses):
        request = analysis(spec.type).request.model_validate(
            {**spec.parameters, "portfolioId": "p-validate"}
        )
        for message, limit in run_limit_violations(assets, 0, request):
            problems.append(f"analyses[{index}] ({spec.type}): {message} ({limit})")
    return problems


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
