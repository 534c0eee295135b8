"""DynamoDB adapters: the only place that knows table layouts, key names and conditional writes."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from creative.creatives import Creative, CreativeStatus
from creative.errors import Conflict, InvalidRequest, NotFound, TransientError
from creative.impressions import Impression
from creative.materials import Material, MaterialKind, MaterialStatus
from creative.ports import Page

MATERIALS_BY_LINE_STATUS = "by_business_line_status"
MATERIALS_BY_CONTENT_HASH = "by_content_hash"
CREATIVES_BY_LINE = "by_business_line"
_CONTENT_CLAIM_PREFIX = "content#"

_TRANSIENT_CODES = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
}

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_item(document: dict[str, Any]) -> dict[str, Any]:
    """A JSON-like document as a DynamoDB item: floats become Decimals, None values are left out."""
    clean = _prune(json.loads(json.dumps(document), parse_float=Decimal))
    return {k: _serializer.serialize(v) for k, v in clean.items()}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return _plain({k: _deserializer.deserialize(v) for k, v in item.items()})


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _prune(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def encode_token(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key).encode()).decode()


def decode_token(token: str | None) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidRequest("next_token is not a token this API issued", code="invalid_token") from None
    if not isinstance(key, dict):
        raise InvalidRequest("next_token is not a token this API issued", code="invalid_token")
    return key


@contextmanager
def translated_errors() -> Iterator[None]:
    """Throttling and service faults become TransientError (retry); everything else propagates."""
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if (
            code in _TRANSIENT_CODES
            or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
        ):
            raise TransientError(f"DynamoDB is unavailable: {code}") from exc
        raise


def _is_condition_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class _Table:
    def __init__(self, client: Any, table_name: str):
        self._client = client
        self._name = table_name

    def _get(self, key: dict[str, str], consistent: bool = False) -> dict[str, Any] | None:
        with translated_errors():
            response = self._client.get_item(
                TableName=self._name, Key=to_item(key), ConsistentRead=consistent
            )
        return from_item(response["Item"]) if "Item" in response else None

    def _put_if_absent(self, document: dict[str, Any], key_name: str) -> bool:
        try:
            with translated_errors():
                self._client.put_item(
                    TableName=self._name,
                    Item=to_item(document),
                    ConditionExpression="attribute_not_exists(#k)",
                    ExpressionAttributeNames={"#k": key_name},
                )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise
        return True

    def _page(
        self, operation: str, limit: int, next_token: str | None, **kwargs: Any
    ) -> tuple[list[dict], str | None]:
        start = decode_token(next_token)
        if start:
            kwargs["ExclusiveStartKey"] = to_item(start)
        with translated_errors():
            response = getattr(self._client, operation)(TableName=self._name, Limit=limit, **kwargs)
        last = from_item(response["LastEvaluatedKey"]) if "LastEvaluatedKey" in response else None
        return [from_item(i) for i in response.get("Items", [])], encode_token(last)

    def _all(self, operation: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        with translated_errors():
            for page in self._client.get_paginator(operation).paginate(TableName=self._name, **kwargs):
                yield from (from_item(i) for i in page.get("Items", []))


class DynamoMaterialRepository(_Table):
    """Materials keyed by material_id, plus `content#<hash>` claim items that make duplicate checks atomic.

    Claim items carry no `line_status`, so they never appear in the business-line index or in listings.
    """

    @staticmethod
    def _document(material: Material) -> dict[str, Any]:
        document = material.model_dump(mode="json")
        document["line_status"] = f"{material.business_line}#{material.status.value}"
        return document

    @staticmethod
    def _material(document: dict[str, Any]) -> Material:
        document.pop("line_status", None)
        return Material.model_validate(document)

    def get(self, material_id: str) -> Material | None:
        if material_id.startswith(_CONTENT_CLAIM_PREFIX):
            return None
        document = self._get({"material_id": material_id})
        return self._material(document) if document else None

    def put_new(self, material: Material) -> bool:
        return self._put_if_absent(self._document(material), "material_id")

    def claim_content(self, content_hash: str, material_id: str) -> str:
        claim = {"material_id": _CONTENT_CLAIM_PREFIX + content_hash, "owner": material_id}
        if self._put_if_absent(claim, "material_id"):
            return material_id
        existing = self._get({"material_id": claim["material_id"]}, consistent=True)
        return existing["owner"] if existing else material_id

    def list(
        self, *, business_line: str | None, status: MaterialStatus | None, limit: int, next_token: str | None
    ) -> Page[Material]:
        if business_line and status:
            items, token = self._page(
                "query",
                limit,
                next_token,
                IndexName=MATERIALS_BY_LINE_STATUS,
                KeyConditionExpression="line_status = :ls",
                ExpressionAttributeValues=to_item({":ls": f"{business_line}#{status.value}"}),
                ScanIndexForward=False,
            )
        else:
            # Partial filters scan the index: fine for an operator's library, not for a hot path.
            filters, values = ["attribute_exists(line_status)"], {}
            if business_line:
                filters.append("business_line = :bl")
                values[":bl"] = business_line
            if status:
                filters.append("#st = :st")
                values[":st"] = status.value
            kwargs: dict[str, Any] = {"FilterExpression": " AND ".join(filters)}
            if values:
                kwargs["ExpressionAttributeValues"] = to_item(values)
            if status:
                kwargs["ExpressionAttributeNames"] = {"#st": "status"}
            items, token = self._page("scan", limit, next_token, **kwargs)
        return Page(items=[self._material(i) for i in items], next_token=token)

    def admitted(self, business_line: str, kind: MaterialKind) -> list[Material]:
        documents = self._all(
            "query",
            IndexName=MATERIALS_BY_LINE_STATUS,
            KeyConditionExpression="line_status = :ls",
            FilterExpression="kind = :kind",
            ExpressionAttributeValues=to_item(
                {":ls": f"{business_line}#{MaterialStatus.ADMITTED.value}", ":kind": kind.value}
            ),
        )
        return [self._material(d) for d in documents]

    def business_lines(self) -> list[str]:
        documents = self._all("scan", IndexName=MATERIALS_BY_LINE_STATUS, ProjectionExpression="line_status")
        suffix = "#" + MaterialStatus.ADMITTED.value
        return sorted(
            {d["line_status"][: -len(suffix)] for d in documents if d["line_status"].endswith(suffix)}
        )


class DynamoCreativeRepository(_Table):
    def get(self, creative_id: str) -> Creative | None:
        document = self._get({"creative_id": creative_id})
        return Creative.model_validate(document) if document else None

    def for_business_line(self, business_line: str) -> list[Creative]:
        documents = self._all(
            "query",
            IndexName=CREATIVES_BY_LINE,
            KeyConditionExpression="business_line = :bl",
            ExpressionAttributeValues=to_item({":bl": business_line}),
        )
        return [Creative.model_validate(d) for d in documents]

    def put_new(self, creatives: Sequence[Creative]) -> int:
        return sum(self._put_if_absent(c.model_dump(mode="json"), "creative_id") for c in creatives)

    def set_status(self, creative_id: str, status: CreativeStatus, updated_at: str) -> Creative | None:
        try:
            with translated_errors():
                response = self._client.update_item(
                    TableName=self._name,
                    Key=to_item({"creative_id": creative_id}),
                    UpdateExpression="SET #st = :st, updated_at = :now",
                    ConditionExpression="attribute_exists(creative_id)",
                    ExpressionAttributeNames={"#st": "status"},
                    ExpressionAttributeValues=to_item({":st": status.value, ":now": updated_at}),
                    ReturnValues="ALL_NEW",
                )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return None
            raise
        return Creative.model_validate(from_item(response["Attributes"]))

    def list(self, *, business_line: str | None, limit: int, next_token: str | None) -> Page[Creative]:
        if business_line:
            items, token = self._page(
                "query",
                limit,
                next_token,
                IndexName=CREATIVES_BY_LINE,
                KeyConditionExpression="business_line = :bl",
                ExpressionAttributeValues=to_item({":bl": business_line}),
            )
        else:
            items, token = self._page("scan", limit, next_token)
        return Page(items=[Creative.model_validate(i) for i in items], next_token=token)


class DynamoImpressionLog:
    """Impressions and the arm counters they move, written together in one transaction."""

    def __init__(self, client: Any, impressions_table: str, creatives_table: str):
        self._client = client
        self._impressions = impressions_table
        self._creatives = creatives_table

    def _count_on_arm(self, creative_id: str, counter: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._creatives,
                "Key": to_item({"creative_id": creative_id}),
                "UpdateExpression": f"ADD {counter} :one",
                "ConditionExpression": "attribute_exists(creative_id)",
                "ExpressionAttributeValues": to_item({":one": 1}),
            }
        }

    def record(self, impression: Impression) -> None:
        """Logs the impression, then counts it on the arm: two single-item writes, not a transaction.

        Select is the hottest path; a transaction would double its write cost (and moto copies whole tables
        per transaction). If the counter write fails after the log write, the arm undercounts one
        impression; the impression log, which retraining reads, stays complete.
        """
        try:
            with translated_errors():
                self._client.put_item(
                    TableName=self._impressions,
                    Item=to_item(impression.model_dump(mode="json")),
                    ConditionExpression="attribute_not_exists(impression_id)",
                )
                self._client.update_item(
                    **self._count_on_arm(impression.creative_id, "impressions")["Update"]
                )
        except ClientError as exc:
            if _is_condition_failure(exc):
                raise Conflict(
                    "the creative was removed while it was being served", code="creative_gone"
                ) from exc
            raise

    def record_click(self, impression_id: str, clicked_at: str) -> Impression:
        impression = self._read(impression_id)
        if impression is None:
            raise NotFound(f"impression '{impression_id}' does not exist")
        if impression.clicked_at is not None:
            raise Conflict("click already counted", details={"impression": impression})
        mark = {
            "Update": {
                "TableName": self._impressions,
                "Key": to_item({"impression_id": impression_id}),
                "UpdateExpression": "SET clicked_at = :at",
                "ConditionExpression": "attribute_exists(impression_id) AND attribute_not_exists(clicked_at)",
                "ExpressionAttributeValues": to_item({":at": clicked_at}),
            }
        }
        try:
            with translated_errors():
                self._client.transact_write_items(
                    TransactItems=[mark, self._count_on_arm(impression.creative_id, "clicks")]
                )
        except ClientError as exc:
            if not _cancelled(exc):
                raise
            # Lost a race with the same click, or the creative is gone: read again to tell which.
            current = self._read(impression_id)
            if current is not None and current.clicked_at is not None:
                raise Conflict("click already counted", details={"impression": current}) from exc
            raise NotFound(f"impression '{impression_id}' no longer refers to a live creative") from exc
        return impression.model_copy(update={"clicked_at": clicked_at})

    def _read(self, impression_id: str) -> Impression | None:
        with translated_errors():
            response = self._client.get_item(
                TableName=self._impressions,
                Key=to_item({"impression_id": impression_id}),
                ConsistentRead=True,
            )
        return Impression.model_validate(from_item(response["Item"])) if "Item" in response else None


def _cancelled(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "TransactionCanceledException"
