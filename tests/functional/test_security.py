"""Presigned report links through the local stack: short-lived SigV4, one object, one tenant.

tests/functional/test_reports.py checks what the reports contain; this file checks the links
themselves, for both report routes and both tenants. What the local stack cannot show: moto
does not verify a presigned URL's signature or expiry for an existing object (a URL edited
to name another key still reads there), so that half rests on S3's SigV4; moto does refuse
an unsigned read of a private object, which is checked here.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from stack_client import api_fetch, price_csv

pytestmark = pytest.mark.functional

TENANTS = {"dev-key": "demo", "other-key": "acme"}


@pytest.fixture(scope="module")
def reports(local_stack: Any) -> dict[str, dict[str, str]]:
    """Per tenant: a portfolio whose analysis ran on landed prices, and its run (rendered)."""
    api = local_stack.api_url
    stem = uuid.uuid4().hex[:4].upper()
    made: dict[str, dict[str, str]] = {}
    for key, tenant in TENANTS.items():
        tickers = [f"S{stem}{tenant[0].upper()}{c}" for c in "AB"]
        status, _, body = api_fetch(
            f"{api}/portfolios",
            "POST",
            {
                "portfolio": {
                    "name": f"security {tenant}",
                    "assets": dict.fromkeys(tickers, 0.5),
                    "analyses": [{"type": "risk-parity", "lookbackDays": 60}],
                }
            },
            key=key,
        )
        assert status == 201, body
        made[tenant] = {"key": key, "portfolio": json.loads(body)["id"]}
        # Its analysis was requested at once, before any data: that run fails.
        local_stack.wait_idle()
        local_stack.client("s3").put_object(
            Bucket=local_stack.bucket,
            Key=f"raw/prices/security-{stem}-{tenant}.csv",
            Body=price_csv(tickers, 40, spread=4, stride=5, modulus=13, shift=0, decimals=2),
        )
    local_stack.wait_idle()
    for tenant, entry in made.items():
        status, _, body = api_fetch(f"{api}/portfolios/{entry['portfolio']}/runs", key=entry["key"])
        runs = json.loads(body)["items"]
        assert len(runs) == 2, (tenant, runs)
        by_trigger = {r["parameters"]["trigger"]: r["status"] for r in runs}
        assert by_trigger == {"portfolio": "failed", "market-data": "succeeded"}, (tenant, runs)
        entry["run"] = next(r["id"] for r in runs if r["status"] == "succeeded")
    return made


def _links(local_stack: Any, path: str, key: str) -> dict[str, Any]:
    status, _, body = api_fetch(f"{local_stack.api_url}{path}", key=key)
    assert status == 200, body
    links: dict[str, Any] = json.loads(body)
    return links


def _report_paths(entry: dict[str, str]) -> list[tuple[str, str, str]]:
    """(route, report kind, id) of a tenant's two reports."""
    return [
        (f"/runs/{entry['run']}/report", "runs", entry["run"]),
        (f"/portfolios/{entry['portfolio']}/report", "portfolios", entry["portfolio"]),
    ]


def test_every_link_is_sigv4_at_most_15_minutes_and_one_object_of_the_callers_tenant(
    local_stack: Any, reports: dict[str, dict[str, str]]
) -> None:
    s3 = local_stack.client("s3")
    for tenant, entry in reports.items():
        for route, kind, identifier in _report_paths(entry):
            answer = _links(local_stack, route, entry["key"])
            assert answer["expiresIn"] <= 900
            links = [answer["html"], *answer["images"]]
            assert len(links) >= 2, answer  # the page and at least one chart
            prefix = f"reports/{tenant}/{kind}/{identifier}/"
            manifest = json.loads(
                s3.get_object(Bucket=local_stack.bucket, Key=prefix + "manifest.json")[
                    "Body"
                ].read()
            )
            for link in links:
                url = urlsplit(link["url"])
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256", link  # SigV4, not SigV2
                assert 0 < int(query["X-Amz-Expires"]) <= 900, link
                assert query["X-Amz-SignedHeaders"] == "host"
                assert query["X-Amz-Credential"].endswith("/s3/aws4_request")
                assert re.fullmatch(r"[0-9a-f]{64}", query["X-Amz-Signature"])
                # Exactly one object: the bucket, the tenant's report prefix, one file name.
                path = unquote(url.path)
                assert path == f"/{local_stack.bucket}/{prefix}{link['name']}", path
                assert "*" not in path
                assert "/" not in link["name"]
                assert link["name"] in {"report.html", *manifest["files"]}
                assert s3.head_object(Bucket=local_stack.bucket, Key=prefix + link["name"])


def test_another_tenants_key_gets_no_link_only_404(
    local_stack: Any, reports: dict[str, dict[str, str]]
) -> None:
    for tenant, entry in reports.items():
        for other_key, other_tenant in TENANTS.items():
            if other_tenant == tenant:
                continue
            for route, _, _ in _report_paths(entry):
                status, _, body = api_fetch(f"{local_stack.api_url}{route}", key=other_key)
                assert status == 404, (tenant, other_tenant, route, body)
                error = json.loads(body)["error"]
                assert error["code"] == "NOT_FOUND"
                assert "X-Amz" not in body.decode()


def test_the_data_bucket_refuses_an_unsigned_read_of_a_report(
    local_stack: Any, reports: dict[str, dict[str, str]]
) -> None:
    entry = reports["demo"]
    link = _links(local_stack, f"/runs/{entry['run']}/report", entry["key"])["html"]["url"]
    assert api_fetch(link, key="").status == 200  # the signed link reads the object
    url = urlsplit(link)
    status = api_fetch(f"{url.scheme}://{url.netloc}{url.path}", key="").status
    assert status == 403  # the same object, unsigned: refused (private bucket, no ACLs)


def test_a_key_the_gateway_accepts_but_no_tenant_owns_reaches_nothing(
    local_stack: Any, reports: dict[str, dict[str, str]]
) -> None:
    # An API key created and added to the usage plan but never mapped in the keys table.
    local_stack.api.keys["unmapped-key"] = "nobody"
    try:
        entry = reports["demo"]
        for path in (
            "/portfolios",
            f"/portfolios/{entry['portfolio']}",
            f"/runs/{entry['run']}",
            f"/runs/{entry['run']}/report",
            "/market-data/prices?tickers=A&start=2024-01-02&end=2024-01-05",
        ):
            status, _, body = api_fetch(f"{local_stack.api_url}{path}", key="unmapped-key")
            assert status == 403, (path, body)
            assert json.loads(body)["error"]["code"] == "FORBIDDEN"
    finally:
        del local_stack.api.keys["unmapped-key"]
