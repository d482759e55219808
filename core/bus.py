"""The platform event bus: who publishes what (sources, detail types) and a typed publisher."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from core.aws import client as aws_client
from core.exceptions import StratigosError

__all__ = ["DetailType", "EventBus", "EventPublishError", "Source"]

_BATCH = 10  # PutEvents takes at most 10 entries


class Source(StrEnum):
    """``source`` of the events Stratigos publishes (template rules match on these)."""

    INGEST = "stratigos.ingest"
    API = "stratigos.api"
    COMPUTE = "stratigos.compute"


class DetailType(StrEnum):
    """``detail-type`` of the platform's events, in data-flow order."""

    PRICES_CURATED = "PricesCurated"
    MARKET_DATA_UPDATED = "MarketDataUpdated"
    RUN_REQUESTED = "RunRequested"
    RUN_COMPLETED = "RunCompleted"


class EventPublishError(StratigosError):
    """EventBridge refused an entry (PutEvents reports failures per entry, not by raising)."""


class EventBus:
    """Publishes platform events to one EventBridge bus.

    Parameters
    ----------
    bus_name : str
        Name of the custom bus (``Settings.event_bus``).
    client : botocore client, optional
        An ``events`` client; the default points wherever ``AWS_ENDPOINT_URL`` says.
    """

    def __init__(self, bus_name: str, client: Any | None = None) -> None:
        self.bus_name = bus_name
        self._client = client or aws_client("events")

    def put_many(
        self,
        source: Source,
        detail_type: DetailType,
        details: Sequence[Mapping[str, Any]],
    ) -> list[str]:
        """Publish many events, 10 per PutEvents call (its limit); raise on any refusal.

        Entries refused by EventBridge (throttling, internal errors) are retried once; a
        refusal that persists raises, and the caller's retry republishes the batch, which
        the consumers' idempotency makes harmless.
        """
        ids: list[str] = []
        for start in range(0, len(details), _BATCH):
            entries = [
                self._entry(source, detail_type, detail)
                for detail in details[start : start + _BATCH]
            ]
            for attempt in range(2):
                answer = self._client.put_events(Entries=entries)
                results = answer["Entries"]
                failed = [e for e, r in zip(entries, results, strict=True) if "EventId" not in r]
                ids += [str(r["EventId"]) for r in results if "EventId" in r]
                if not failed:
                    break
                if attempt == 1:
                    codes = sorted({str(r.get("ErrorCode")) for r in results if "EventId" not in r})
                    raise EventPublishError(
                        f"EventBridge refused {len(failed)} {detail_type} event(s)", codes
                    )
                entries = failed
        return ids

    def _entry(
        self, source: Source, detail_type: DetailType, detail: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {
            "EventBusName": self.bus_name,
            "Source": str(source),
            "DetailType": str(detail_type),
            "Detail": json.dumps(detail, separators=(",", ":"), allow_nan=False, default=str),
        }

    def put(
        self,
        source: Source,
        detail_type: DetailType,
        detail: Mapping[str, Any],
        resources: Sequence[str] = (),
    ) -> str:
        """Publish one event and return its EventBridge id; raise when it was not accepted."""
        entry = {
            "EventBusName": self.bus_name,
            "Source": str(source),
            "DetailType": str(detail_type),
            "Detail": json.dumps(detail, separators=(",", ":"), allow_nan=False, default=str),
            "Resources": list(resources),
        }
        answer = self._client.put_events(Entries=[entry])
        result = answer["Entries"][0]
        if answer.get("FailedEntryCount", 0) or "EventId" not in result:
            raise EventPublishError(
                f"EventBridge refused {detail_type}: {result.get('ErrorCode', 'unknown')}",
                [str(result.get("ErrorMessage", ""))],
            )
        return str(result["EventId"])
