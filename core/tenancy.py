"""Which tenant a request belongs to: API Gateway's API key id, mapped in the keys table.

In the cloud API Gateway has already checked the key and puts its id in
``requestContext.identity.apiKeyId``; locally the local API does the same. A key id with no
mapping is refused, so an API key created but never assigned reaches nothing.

The mapping is read through Powertools' parameters utility: a provider (a
``BaseProvider``) on the keys table (hash key ``apiKeyId``, value ``tenantId``), whose cache
keeps each answer for :data:`core.settings.TENANT_CACHE_SECONDS` in a warm container. A
refusal is never cached. The provider reads with the platform's cached DynamoDB client:
Powertools' ``DynamoDBProvider`` would make a boto3 resource, a second client on every
API function's cold start (~60 ms).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities.parameters import BaseProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from core.aws import client as aws_client
from core.exceptions import ForbiddenError
from core.settings import TENANT_CACHE_SECONDS

__all__ = ["TenantResolver", "tenant_resolver"]

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


class _KeyTenants(BaseProvider):
    """API key id → tenant id: one consistent GetItem on the keys table per cache miss.

    An item without ``tenantId``, or no item at all, raises KeyError (which Powertools wraps
    in GetParameterError and never caches).
    """

    def __init__(self, table_name: str, client: Any) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._table_name = table_name
        self._client = client

    def _get(self, name: str, **sdk_options: Any) -> str:
        item = self._client.get_item(
            TableName=self._table_name,
            Key={"apiKeyId": _SERIALIZER.serialize(name)},
            ConsistentRead=True,
            **sdk_options,
        )["Item"]
        return str(_DESERIALIZER.deserialize(item["tenantId"]))

    def _get_multiple(self, path: str, **sdk_options: Any) -> dict[str, str]:
        raise NotImplementedError("API keys are read one at a time")


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
        self._keys = _KeyTenants(table_name, client or aws_client("dynamodb"))

    def tenant_for_key_id(self, api_key_id: str) -> str:
        """The tenant owning ``api_key_id``; ForbiddenError when unknown."""
        try:
            tenant = self._keys.get(api_key_id, max_age=TENANT_CACHE_SECONDS)
        except GetParameterError as error:
            # Powertools wraps whatever the read raised: no item (or no tenantId on it) is a
            # KeyError, and anything else (throttling, timeouts) goes on as it was raised.
            cause = error.__context__
            if isinstance(cause, KeyError):
                raise ForbiddenError("This API key is not assigned to a tenant.") from None
            if isinstance(cause, Exception):
                raise cause from None
            raise
        if not isinstance(tenant, str):
            raise ForbiddenError("This API key is not assigned to a tenant.")
        return tenant

    def tenant_for_request(self, request_context: Mapping[str, Any]) -> str:
        """The tenant of an API Gateway REST proxy request."""
        identity = request_context.get("identity") or {}
        key_id = identity.get("apiKeyId")
        if not key_id:
            raise ForbiddenError("Missing or invalid API key (x-api-key).")
        return self.tenant_for_key_id(str(key_id))


@functools.lru_cache(maxsize=8)
def tenant_resolver(table_name: str) -> TenantResolver:
    """The process's resolver for ``table_name``, so its cache outlives one request."""
    return TenantResolver(table_name)
