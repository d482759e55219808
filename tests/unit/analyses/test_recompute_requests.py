"""Recompute requests carry no date from their trigger: every trigger reads the same window."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from analyses import handlers
from core.models import AnalysisSpec
from core.recompute import recompute_requests, recompute_run_id

ANALYSES = [
    AnalysisSpec(type="risk-parity", lookback_days=120),
    AnalysisSpec(type="hrp", parameters={"linkage": "ward"}),
]


def _old_run_id(tenant: str, portfolio_id: str, analysis: AnalysisSpec, version: str) -> str:
    """The id compute.handlers (now analyses.handlers) gave recomputes before the move to core
    (must not change)."""
    canonical = json.dumps(
        [tenant, portfolio_id, analysis.model_dump(mode="json", by_alias=True), version],
        sort_keys=True,
        separators=(",", ":"),
    )
    return "r-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def test_recompute_requests_name_the_run_but_no_date() -> None:
    requests = recompute_requests(
        "demo", "p-1", ANALYSES, version="nightly-2026-11-27", trigger="nightly"
    )
    assert requests == [
        {
            "tenant": "demo",
            "portfolioId": "p-1",
            "runId": _old_run_id("demo", "p-1", analysis, "nightly-2026-11-27"),
            "analysis": analysis.model_dump(mode="json", by_alias=True),
            "dataVersion": "nightly-2026-11-27",
            "trigger": "nightly",
        }
        for analysis in ANALYSES
    ]
    assert handlers.recompute_run_id is recompute_run_id  # still importable from the handlers


def test_a_pinned_as_of_travels_and_is_another_run() -> None:
    plain = recompute_requests("demo", "p-1", ANALYSES[:1], version="v1", trigger="portfolio")
    pinned = recompute_requests(
        "demo", "p-1", ANALYSES[:1], version="v1", trigger="portfolio", as_of=date(2024, 6, 30)
    )
    assert pinned[0]["asOf"] == "2024-06-30"
    assert pinned[0]["dataVersion"] == "v1"
    assert pinned[0]["runId"] != plain[0]["runId"]
    assert pinned == recompute_requests(
        "demo", "p-1", ANALYSES[:1], version="v1", trigger="portfolio", as_of=date(2024, 6, 30)
    )


def test_the_run_request_is_the_analysis_over_its_lookback_whatever_the_trigger() -> None:
    made = []
    for version, trigger in (("digest-1", "market-data"), ("nightly-2026-11-27", "nightly")):
        (detail,) = recompute_requests(
            "demo", "p-1", ANALYSES[:1], version=version, trigger=trigger
        )
        analysis, request = handlers._recompute_request(detail)
        assert analysis == ANALYSES[0]
        made.append(request)
    market, nightly = made
    assert market == nightly
    assert (nightly.start, nightly.end, nightly.as_of) == (None, None, None)
    assert nightly.lookback_days == 120
    assert nightly.portfolio_id == "p-1"
    (pinned,) = recompute_requests(
        "demo", "p-1", ANALYSES[1:], version="v", trigger="t", as_of=date(2024, 6, 30)
    )
    _, request = handlers._recompute_request(pinned)
    assert (request.as_of, request.lookback_days, request.linkage) == (
        date(2024, 6, 30),
        1095,
        "ward",
    )


# ------------------------------------------------------------------ the fan-out
@dataclass
class _Portfolio:
    analyses: list[AnalysisSpec]


@dataclass
class _Portfolios:
    held: dict[tuple[str, str], _Portfolio]

    def holders(self, ticker: str) -> set[tuple[str, str]]:
        return set(self.held)

    def all_keys(self) -> list[tuple[str, str]]:
        return list(self.held)

    def get_many(
        self, keys: list[tuple[str, str]]
    ) -> tuple[dict[tuple[str, str], _Portfolio], dict[tuple[str, str], str]]:
        return {k: self.held[k] for k in keys}, {}


@dataclass
class _Bus:
    published: list[dict[str, Any]] = field(default_factory=list)

    def put_many(self, source: Any, detail_type: Any, details: list[dict[str, Any]]) -> None:
        self.published += details


@dataclass
class _Context:
    function_name: str = "FanOutFunction"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:FanOut"
    aws_request_id: str = "req-1"


def _event(detail_type: str, detail: dict[str, Any], time: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "e-1",
        "detail-type": detail_type,
        "source": "stratigos.ingest" if detail_type == "MarketDataUpdated" else "aws.events",
        "account": "000000000000",
        "time": time,
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def test_fan_out_publishes_no_date_from_the_trigger(monkeypatch: pytest.MonkeyPatch) -> None:
    bus = _Bus()
    portfolios = _Portfolios({("demo", "p-1"): _Portfolio(ANALYSES)})
    config = SimpleNamespace(event_bus="b", portfolios_table="p", ticker_index_table="t")
    monkeypatch.setattr(handlers, "settings", lambda: config)
    monkeypatch.setattr(handlers, "PortfolioRepository", lambda *a, **k: portfolios)
    monkeypatch.setattr(handlers, "EventBus", lambda *a, **k: bus)
    market = _event(
        "MarketDataUpdated",
        {
            "tickers": ["A"],
            "firstDate": "2024-12-02",
            "lastDate": "2024-12-31",
            "dataVersion": "digest-1",
        },
        "2025-01-01T06:00:00Z",
    )
    nightly = _event("Scheduled Event", {}, "2026-11-27T03:00:00Z")
    context = cast(LambdaContext, _Context())
    assert handlers.fan_out(market, context)["dataVersion"] == "digest-1"
    assert handlers.fan_out(nightly, context)["dataVersion"] == "nightly-2026-11-27"
    assert len(bus.published) == 4
    assert not [r for r in bus.published if "asOf" in r]
    assert bus.published == [
        *recompute_requests("demo", "p-1", ANALYSES, version="digest-1", trigger="market-data"),
        *recompute_requests(
            "demo", "p-1", ANALYSES, version="nightly-2026-11-27", trigger="nightly"
        ),
    ]
