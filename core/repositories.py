"""DynamoDB repositories: portfolios (with the ticker index kept in step) and runs.

Every key starts with the tenant, and the tenant always comes from the caller's API key,
never from a request field or a pagination token: another tenant's items are simply not
reachable, and answer 404. Updates and deletes are guarded by the item's version.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from core.aws import client as aws_client
from core.aws import resource as aws_resource
from core.exceptions import ConflictError, NotFoundError, StaleVersionError, ValidationError
from core.models import Portfolio, PortfolioFields, Run, RunStatus

__all__ = [
    "PortfolioRepository",
    "RunRepository",
    "decode_page_token",
    "encode_page_token",
    "new_id",
]

_RECONCILE_ROUNDS = 5  # index repairs while a portfolio keeps changing under its writer
_UNCONDITIONAL_ROUNDS = 20  # re-reads of an unconditional write racing other writers


def new_id(prefix: str) -> str:
    """A random, unguessable id such as ``p-3f9a0c1d2e4b5a69``."""
    return f"{prefix}-{secrets.token_hex(8)}"


def _now() -> datetime:
    """Now, to the millisecond (what the ISO timestamps on the wire carry)."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _tenant_tag(tenant: str, position: dict[str, str]) -> str:
    text = tenant + "\x00" + json.dumps(position, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_page_token(tenant: str, position: dict[str, str]) -> str:
    """An opaque token for the next page, bound to the tenant it was issued to.

    It carries only a position inside the caller's own partition; the tenant of a query
    always comes from the API key, so even a hand-made token cannot reach other data.
    """
    body = {"p": position, "t": _tenant_tag(tenant, position)}
    return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode()


def decode_page_token(tenant: str, token: str, fields: Iterable[str]) -> dict[str, str]:
    """The position inside ``token``; ValidationError when it is not one we issued."""
    invalid = ValidationError("Invalid nextToken.", ["pass back the nextToken of a previous page"])
    if len(token) > 2048:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(token.encode())
        if base64.urlsafe_b64encode(raw).decode() != token:
            raise invalid  # only the exact spelling we issued
        body = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid from None
    if not isinstance(body, dict) or not isinstance(body.get("p"), dict):
        raise invalid
    position = body["p"]
    wanted = set(fields)
    if set(position) != wanted or not all(isinstance(v, str) for v in position.values()):
        raise invalid
    if body.get("t") != _tenant_tag(tenant, position):
        raise invalid
    return {str(k): str(v) for k, v in position.items()}


_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def _attributes(values: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute values (``{"S": ...}``) of plain ones, by boto3's serializer.

    Numbers must be ``int`` or ``Decimal`` (the serializer refuses floats): weights are
    stored as JSON text, so the only number here is a version.
    """
    return {name: _SERIALIZER.serialize(value) for name, value in values.items()}


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    """The plain values of a DynamoDB item, by boto3's deserializer (numbers as Decimal)."""
    return {name: _DESERIALIZER.deserialize(value) for name, value in item.items()}


def _conditional_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class PortfolioRepository:
    """Portfolios of each tenant, and the ticker → portfolio index fan-out reads.

    Parameters
    ----------
    table : str
        The portfolios table (``tenantId``, ``portfolioId``).
    index_table : str
        The ticker index table (``ticker``, ``tenantPortfolio``).
    client : botocore DynamoDB client, optional
    resource : boto3 DynamoDB service resource, optional
        For the ticker index's batch writes (``Table.batch_writer``); made on first use.
    """

    def __init__(
        self,
        table: str,
        index_table: str,
        client: Any | None = None,
        resource: Any | None = None,
    ) -> None:
        self.table = table
        self.index_table = index_table
        self._db = client or aws_client("dynamodb")
        self._resource = resource

    # ---------------------------------------------------------------- mapping
    @staticmethod
    def _to_item(tenant: str, portfolio: Portfolio) -> dict[str, Any]:
        # Constraints and views (when given) as JSON text too, by their wire names.
        optional = {
            name: value.model_dump_json(by_alias=True)
            for name, value in (("constraints", portfolio.constraints), ("views", portfolio.views))
            if value is not None
        }
        return _attributes(
            {
                "tenantId": tenant,
                "portfolioId": portfolio.id,
                "name": portfolio.name,
                "description": portfolio.description,
                # Weights as JSON text: exact floats, no Decimal round trips.
                "assets": json.dumps(portfolio.assets, separators=(",", ":")),
                "analyses": json.dumps(
                    [a.model_dump(mode="json", by_alias=True) for a in portfolio.analyses],
                    separators=(",", ":"),
                ),
                **optional,
                "version": portfolio.version,
                "createdAt": _iso(portfolio.created_at),
                "updatedAt": _iso(portfolio.updated_at),
            }
        )

    @staticmethod
    def _from_item(item: dict[str, Any]) -> Portfolio:
        values = _plain(item)
        optional = {
            name: json.loads(values[name])
            for name in ("analyses", "constraints", "views")
            if name in values
        }
        return Portfolio(
            id=values["portfolioId"],
            name=values["name"],
            description=values["description"],
            assets=json.loads(values["assets"]),
            **optional,
            version=int(values["version"]),
            created_at=datetime.fromisoformat(values["createdAt"]),
            updated_at=datetime.fromisoformat(values["updatedAt"]),
        )

    # ---------------------------------------------------------------- ticker index
    def _index(self, tenant: str, portfolio_id: str, add: set[str], remove: set[str]) -> None:
        key = f"{tenant}#{portfolio_id}"
        if self._resource is None:
            self._resource = aws_resource("dynamodb")
        # boto3's batch writer: BatchWriteItem 25 at a time, unprocessed items sent again.
        with self._resource.Table(self.index_table).batch_writer() as batch:
            for ticker in sorted(add):
                batch.put_item(Item={"ticker": ticker, "tenantPortfolio": key})
            for ticker in sorted(remove):
                batch.delete_item(Key={"ticker": ticker, "tenantPortfolio": key})

    def _reconcile_index(
        self,
        tenant: str,
        portfolio_id: str,
        written: int | None,
        add: set[str],
        remove: set[str],
    ) -> None:
        """Write a change's ticker-index entries so the index ends matching the portfolio.

        Index entries are written after the conditional put, so two updates (v1→v2, v2→v3)
        may write theirs in the wrong order and leave the index naming tickers the portfolio
        no longer holds, or missing one it does (fan-out would skip it). So a writer first
        writes its own change (``add``/``remove``) when the stored version is still the one
        it ``written`` (None: deleted), and then re-reads: while the version has moved under
        it, it writes the whole state it read and removes whatever else it touched. A late
        writer thus always repairs after itself, and the newest state wins.
        """
        touched = add | remove
        for round_no in range(_RECONCILE_ROUNDS):
            seen = self._stored_assets(tenant, portfolio_id)
            assets, version = seen if seen else (set(), None)
            if round_no == 0 and version == written:
                self._index(tenant, portfolio_id, add, remove)
            else:
                self._index(tenant, portfolio_id, assets, touched - assets)
            touched |= assets
            again = self._stored_assets(tenant, portfolio_id)
            if (again[1] if again else None) == version:
                return

    def _stored_assets(self, tenant: str, portfolio_id: str) -> tuple[set[str], int] | None:
        try:
            portfolio = self.get(tenant, portfolio_id)
        except NotFoundError:
            return None
        return set(portfolio.assets), portfolio.version

    def holders(self, ticker: str) -> list[tuple[str, str]]:
        """(tenant, portfolio id) of every portfolio holding ``ticker`` (a Query, no scan)."""
        out: list[tuple[str, str]] = []
        paginator = self._db.get_paginator("query")
        for page in paginator.paginate(
            TableName=self.index_table,
            KeyConditionExpression="ticker = :t",
            ExpressionAttributeValues=_attributes({":t": ticker}),
        ):
            for item in page.get("Items", []):
                tenant, _, portfolio = str(_plain(item)["tenantPortfolio"]).partition("#")
                out.append((tenant, portfolio))
        return out

    def all_keys(self) -> list[tuple[str, str]]:
        """(tenant, portfolio id) of every portfolio (the nightly recompute's scan)."""
        out: list[tuple[str, str]] = []
        for page in self._db.get_paginator("scan").paginate(
            TableName=self.table, ProjectionExpression="tenantId, portfolioId"
        ):
            keys = [_plain(i) for i in page.get("Items", [])]
            out += [(str(k["tenantId"]), str(k["portfolioId"])) for k in keys]
        return out

    # ---------------------------------------------------------------- CRUD
    def create(self, tenant: str, data: PortfolioFields) -> Portfolio:
        now = _now()
        portfolio = Portfolio(
            id=new_id("p"),
            name=data.name,
            description=data.description,
            assets=dict(data.assets),
            analyses=list(data.analyses),
            constraints=data.constraints,
            views=data.views,
            version=1,
            created_at=now,
            updated_at=now,
        )
        self._db.put_item(
            TableName=self.table,
            Item=self._to_item(tenant, portfolio),
            ConditionExpression="attribute_not_exists(portfolioId)",
        )
        self._reconcile_index(tenant, portfolio.id, 1, set(portfolio.assets), set())
        return portfolio

    def get(self, tenant: str, portfolio_id: str) -> Portfolio:
        item = self._db.get_item(
            TableName=self.table,
            Key=_attributes({"tenantId": tenant, "portfolioId": portfolio_id}),
            ConsistentRead=True,
        ).get("Item")
        if not item:
            raise NotFoundError(f"No portfolio {portfolio_id}.")
        return self._from_item(item)

    def get_many(
        self, keys: list[tuple[str, str]]
    ) -> tuple[dict[tuple[str, str], Portfolio], dict[tuple[str, str], str]]:
        """Read many portfolios with BatchGetItem (100 per call).

        Returns the portfolios found and, separately, the ones whose item could not be
        parsed (with the reason): one bad item never hides the others.
        """
        found: dict[tuple[str, str], Portfolio] = {}
        broken: dict[tuple[str, str], str] = {}
        for start in range(0, len(keys), 100):
            pending: dict[str, Any] = {
                self.table: {
                    "Keys": [
                        _attributes({"tenantId": t, "portfolioId": p})
                        for t, p in keys[start : start + 100]
                    ],
                    "ConsistentRead": True,
                }
            }
            for _ in range(8):
                answer = self._db.batch_get_item(RequestItems=pending)
                for item in answer.get("Responses", {}).get(self.table, []):
                    ids = _plain({k: item[k] for k in ("tenantId", "portfolioId")})
                    key = (str(ids["tenantId"]), str(ids["portfolioId"]))
                    try:
                        found[key] = self._from_item(item)
                    except Exception as error:
                        broken[key] = f"{type(error).__name__}: {error}"[:300]
                pending = answer.get("UnprocessedKeys") or {}
                if not pending:
                    break
        return found, broken

    def list(
        self, tenant: str, limit: int = 50, token: str | None = None
    ) -> tuple[list[Portfolio], str | None]:
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "tenantId = :t",
            "ExpressionAttributeValues": _attributes({":t": tenant}),
            "Limit": limit,
        }
        if token:
            position = decode_page_token(tenant, token, ["portfolioId"])
            request["ExclusiveStartKey"] = _attributes(
                {"tenantId": tenant, "portfolioId": position["portfolioId"]}
            )
        answer = self._db.query(**request)
        items = [self._from_item(i) for i in answer.get("Items", [])]
        last = answer.get("LastEvaluatedKey")
        next_token = (
            encode_page_token(tenant, {"portfolioId": str(_plain(last)["portfolioId"])})
            if last
            else None
        )
        return items, next_token

    def update(
        self,
        tenant: str,
        portfolio_id: str,
        data: PortfolioFields,
        expected_version: int | None = None,
    ) -> Portfolio:
        """Replace a portfolio; the result has the next version.

        With ``expected_version`` the write happens only if that is still the stored version
        (:class:`StaleVersionError` otherwise). Without it the write is unconditional yet
        atomic: it is conditioned on the version it read, and re-read on a race, so a
        concurrent writer is never half-overwritten and the ticker index ends right.
        """
        for _ in range(_UNCONDITIONAL_ROUNDS):
            current = self.get(tenant, portfolio_id)
            if expected_version is not None and current.version != expected_version:
                raise self._stale(portfolio_id, expected_version, current.version)
            updated = current.model_copy(
                update={
                    "name": data.name,
                    "description": data.description,
                    "assets": dict(data.assets),
                    "analyses": list(data.analyses),
                    "constraints": data.constraints,
                    "views": data.views,
                    "version": current.version + 1,
                    "updated_at": _now(),
                }
            )
            try:
                self._db.put_item(
                    TableName=self.table,
                    Item=self._to_item(tenant, updated),
                    ConditionExpression="attribute_exists(portfolioId) AND version = :v",
                    ExpressionAttributeValues=_attributes({":v": current.version}),
                )
            except ClientError as error:
                if not _conditional_failed(error):
                    raise
                latest = self.get(tenant, portfolio_id)  # 404 when deleted meanwhile
                if expected_version is not None:
                    raise self._stale(portfolio_id, expected_version, latest.version) from None
                continue  # unconditional: apply the replacement to the newer version
            before, after = set(current.assets), set(updated.assets)
            self._reconcile_index(
                tenant, portfolio_id, updated.version, after - before, before - after
            )
            return updated
        raise ConflictError(
            f"Portfolio {portfolio_id} kept changing while it was being written.",
            ["retry the request"],
        )

    def delete(self, tenant: str, portfolio_id: str, expected_version: int | None = None) -> None:
        """Delete a portfolio (guarded by ``expected_version`` when given; atomic either way)."""
        current = self.get(tenant, portfolio_id)
        condition: dict[str, Any] = {"ConditionExpression": "attribute_exists(portfolioId)"}
        if expected_version is not None:
            condition = {
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": _attributes({":v": expected_version}),
            }
        try:
            answer = self._db.delete_item(
                TableName=self.table,
                Key=_attributes({"tenantId": tenant, "portfolioId": portfolio_id}),
                ReturnValues="ALL_OLD",
                **condition,
            )
        except ClientError as error:
            if not _conditional_failed(error):
                raise
            latest = self.get(tenant, portfolio_id)  # 404 when deleted meanwhile
            raise self._stale(portfolio_id, expected_version or 0, latest.version) from None
        # The tickers of the item actually deleted (an unconditional delete may have removed
        # a newer version than the one read above).
        old = answer.get("Attributes")
        held = set(self._from_item(old).assets) if old else set(current.assets)
        self._reconcile_index(tenant, portfolio_id, None, set(), held)

    @staticmethod
    def _stale(portfolio_id: str, given: int, current: int) -> StaleVersionError:
        return StaleVersionError(
            f"Portfolio {portfolio_id} has changed since version {given}.",
            current,
            [f"current version is {current}; read it again and retry"],
        )


class RunRepository:
    """Runs of each tenant; listed per portfolio through the ``byPortfolio`` index."""

    def __init__(self, table: str, client: Any | None = None) -> None:
        self.table = table
        self._db = client or aws_client("dynamodb")

    @staticmethod
    def _to_item(tenant: str, run: Run) -> dict[str, Any]:
        values: dict[str, Any] = {
            "tenantId": tenant,
            "runId": run.id,
            "type": str(run.type),
            "status": str(run.status),
            "document": run.model_dump_json(by_alias=True),
            "createdAt": _iso(run.created_at),
        }
        if run.portfolio_id:
            values["tenantPortfolio"] = f"{tenant}#{run.portfolio_id}"
        if run.result_key:
            values["resultKey"] = run.result_key
        return _attributes(values)

    @staticmethod
    def _from_item(item: dict[str, Any]) -> Run:
        values = _plain(item)
        run = Run.model_validate_json(values["document"])
        if "resultKey" in values:
            run = run.model_copy(update={"result_key": values["resultKey"]})
        return run

    def create(self, tenant: str, run: Run) -> bool:
        """Store a new run; False when a run with this id already exists (idempotent ids)."""
        try:
            self._db.put_item(
                TableName=self.table,
                Item=self._to_item(tenant, run),
                ConditionExpression="attribute_not_exists(runId)",
            )
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def save(self, tenant: str, run: Run, expected: RunStatus) -> None:
        """Replace a run whose stored status is still ``expected`` (no lost transitions)."""
        try:
            self._db.put_item(
                TableName=self.table,
                Item=self._to_item(tenant, run),
                ConditionExpression="#s = :expected",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=_attributes({":expected": str(expected)}),
            )
        except ClientError as error:
            if _conditional_failed(error):
                raise ConflictError(f"Run {run.id} is no longer {expected}.") from None
            raise

    def get(self, tenant: str, run_id: str) -> Run:
        item = self._db.get_item(
            TableName=self.table,
            Key=_attributes({"tenantId": tenant, "runId": run_id}),
            ConsistentRead=True,
        ).get("Item")
        if not item:
            raise NotFoundError(f"No run {run_id}.")
        return self._from_item(item)

    def list_for_portfolio(
        self, tenant: str, portfolio_id: str, limit: int = 50, token: str | None = None
    ) -> tuple[list[Run], str | None]:
        """Newest first."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": "byPortfolio",
            "KeyConditionExpression": "tenantPortfolio = :k",
            "ExpressionAttributeValues": _attributes({":k": f"{tenant}#{portfolio_id}"}),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if token:
            position = decode_page_token(tenant, token, ["runId", "createdAt"])
            request["ExclusiveStartKey"] = _attributes(
                {
                    "tenantId": tenant,
                    "runId": position["runId"],
                    "tenantPortfolio": f"{tenant}#{portfolio_id}",
                    "createdAt": position["createdAt"],
                }
            )
        answer = self._db.query(**request)
        items = [self._from_item(i) for i in answer.get("Items", [])]
        last = answer.get("LastEvaluatedKey")
        last_key = _plain(last) if last else None
        next_token = (
            encode_page_token(
                tenant, {"runId": str(last_key["runId"]), "createdAt": str(last_key["createdAt"])}
            )
            if last_key
            else None
        )
        return items, next_token
