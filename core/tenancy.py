"""Which tenant a request belongs to: API Gateway's API key id, mapped in the keys table.

In the cloud API Gateway has already checked the key and puts its id in
``requestContext.identity.apiKeyId``; locally the local API does the same. A key id with no
mapping is refused, so an API key created but never assigned reaches nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from core.aws import client as aws_client
from core.exceptions import ForbiddenError

__all__ = ["TenantResolver"]

_CACHE_SECONDS = 300.0


class TenantResolver:
    """Maps API key ids to tenant ids through the API keys table (cached per warm container).

    Parameters
    ----------
    table_name : str
        The ``ApiKeysTable`` name (``Settings.api_keys_table``).
    client : botocore client, optional
        A ``dynamodb`` client.
    """

    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table_name = table_name
        self._client = client or aws_client("dynamodb")
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def tenant_for_key_id(self, api_key_id: str) -> str:
        """The tenant owning ``api_key_id``; ForbiddenError when unknown."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(api_key_id)
        if hit and now - hit[1] < _CACHE_SECONDS:
            return hit[0]
        item = self._client.get_item(
            TableName=self.table_name,
            Key={"apiKeyId": {"S": api_key_id}},
            ConsistentRead=True,
        ).get("Item")
        if not item or "tenantId" not in item:
            raise ForbiddenError("This API key is not assigned to a tenant.")
        tenant = str(item["tenantId"]["S"])
        with self._lock:
            self._cache[api_key_id] = (tenant, now)
        return tenant

    def tenant_for_request(self, request_context: Mapping[str, Any]) -> str:
        """The tenant of an API Gateway REST proxy request."""
        identity = request_context.get("identity") or {}
        key_id = identity.get("apiKeyId")
        if not key_id:
            raise ForbiddenError("Missing or invalid API key (x-api-key).")
        return self.tenant_for_key_id(str(key_id))
