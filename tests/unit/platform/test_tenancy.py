"""API key id → tenant: one cache (Powertools' parameters), refusals never cached, AWS errors
passed on as raised."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from core.exceptions import ForbiddenError
from core.tenancy import TenantResolver, tenant_resolver


class _KeysTable:
    """A stand-in DynamoDB client holding the keys table (``apiKeyId`` → ``tenantId``)."""

    def __init__(self, keys: dict[str, str]) -> None:
        self.keys = keys
        self.calls: list[dict[str, Any]] = []
        self.error: ClientError | None = None

    def get_item(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        if self.error is not None:
            raise self.error
        key_id = request["Key"]["apiKeyId"]["S"]
        if key_id not in self.keys:
            return {}
        return {"Item": {"apiKeyId": {"S": key_id}, "tenantId": {"S": self.keys[key_id]}}}


def test_a_mapped_key_is_read_once_then_served_from_the_cache() -> None:
    table = _KeysTable({"k1": "demo"})
    resolver = TenantResolver("keys", client=table)
    assert resolver.tenant_for_key_id("k1") == "demo"
    table.keys["k1"] = "moved"
    assert resolver.tenant_for_key_id("k1") == "demo"  # within TENANT_CACHE_SECONDS
    assert len(table.calls) == 1
    assert table.calls[0]["TableName"] == "keys"
    assert table.calls[0]["ConsistentRead"] is True


def test_an_unmapped_key_is_refused_and_not_remembered() -> None:
    table = _KeysTable({})
    resolver = TenantResolver("keys", client=table)
    with pytest.raises(ForbiddenError):
        resolver.tenant_for_key_id("k2")
    table.keys["k2"] = "acme"  # assigned meanwhile: the next request sees it
    assert resolver.tenant_for_key_id("k2") == "acme"


def test_an_aws_error_is_raised_as_it_came_not_as_a_refusal() -> None:
    table = _KeysTable({"k3": "demo"})
    table.error = ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
        "GetItem",
    )
    with pytest.raises(ClientError) as raised:
        TenantResolver("keys", client=table).tenant_for_key_id("k3")
    assert raised.value is table.error


def test_requests_without_a_key_are_refused_before_any_read() -> None:
    table = _KeysTable({"k4": "demo"})
    resolver = TenantResolver("keys", client=table)
    with pytest.raises(ForbiddenError, match="Missing"):
        resolver.tenant_for_request({"identity": {}})
    assert resolver.tenant_for_request({"identity": {"apiKeyId": "k4"}}) == "demo"
    assert len(table.calls) == 1


def test_one_resolver_per_table_for_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert tenant_resolver("a-keys-table") is tenant_resolver("a-keys-table")
    assert tenant_resolver("a-keys-table") is not tenant_resolver("b-keys-table")
