"""Recompute requests: what a portfolio's analyses ask of the run worker, and their ids.

Shared by the fan-out (market data changed, the nightly schedule) and the Portfolios CRUD
function (a portfolio created or updated, ``POST /portfolios/{id}/runs``), which ships
without numpy: this module imports only the stdlib and core.

A request carries no dates derived from its trigger's time. The run's data window ends at
the last date the lake holds for the portfolio's tickers (or at an explicit ``asOf``) and
reaches the analysis's ``lookbackDays`` back from there, so every trigger of unchanged data
reads the same window and computes the same result.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import date
from typing import Any

from core.models import AnalysisSpec

__all__ = ["recompute_identity", "recompute_requests", "recompute_run_id"]


def recompute_run_id(tenant: str, portfolio_id: str, analysis: AnalysisSpec, version: str) -> str:
    """Deterministic id of a recompute: same tenant, portfolio, analysis and data → same run.

    Parameters
    ----------
    tenant, portfolio_id
        Whose portfolio.
    analysis
        The analysis recomputed (its type, lookback and parameters all enter the id).
    version
        What the run is a recompute *of*: the returns' ``dataVersion`` for market-data
        triggers, ``nightly-YYYY-MM-DD`` for the schedule, or any other string naming the
        state recomputed (e.g. the portfolio's version for a create or update).

    Returns
    -------
    str
        ``r-`` followed by 16 hex digits of a SHA-256 over the four, canonically encoded.
    """
    canonical = json.dumps(
        [tenant, portfolio_id, analysis.model_dump(mode="json", by_alias=True), version],
        sort_keys=True,
        separators=(",", ":"),
    )
    return "r-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def recompute_identity(version: str, as_of: date | None = None) -> str:
    """What a recompute's run ids are derived from: the version, and a pinned ``asOf`` (a
    pinned asOf is another window of the same data: another run)."""
    return version if as_of is None else f"{version}|asOf={as_of.isoformat()}"


def recompute_requests(
    tenant: str,
    portfolio_id: str,
    analyses: Iterable[AnalysisSpec],
    *,
    version: str,
    trigger: str,
    as_of: date | None = None,
) -> list[dict[str, Any]]:
    """The ``RunRequested`` details that recompute a portfolio's analyses.

    Parameters
    ----------
    tenant, portfolio_id
        Whose portfolio.
    analyses
        Its analyses; one request each, in the order given.
    version
        The data (or portfolio) version recomputed; with the rest it makes each run id, so a
        repeated trigger of the same version requests the same runs (see
        :func:`recompute_run_id`; a pinned ``as_of`` enters the id too).
    trigger
        Why (``market-data``, ``nightly``, ``portfolio``, ``on-demand`` …); recorded on the run.
    as_of
        Pin the window's end to the last date the lake holds on or before this day. Leave
        it ``None`` (the default) for "the last date the lake holds": never pass a date
        derived from the trigger's time, or runs of unchanged data would disagree.

    Returns
    -------
    list of dict
        ``{tenant, portfolioId, runId, analysis, dataVersion, trigger[, asOf]}`` per
        analysis, ready to publish as ``RunRequested`` details.
    """
    identity = recompute_identity(version, as_of)
    requests: list[dict[str, Any]] = []
    for analysis in analyses:
        request: dict[str, Any] = {
            "tenant": tenant,
            "portfolioId": portfolio_id,
            "runId": recompute_run_id(tenant, portfolio_id, analysis, identity),
            "analysis": analysis.model_dump(mode="json", by_alias=True),
            "dataVersion": version,
            "trigger": trigger,
        }
        if as_of is not None:
            request["asOf"] = as_of.isoformat()
        requests.append(request)
    return requests
