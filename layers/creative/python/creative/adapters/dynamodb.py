"""DynamoDB adapters: the only place that knows table layouts, key names and conditional writes."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from creative.creatives import Creative, CreativeStatus
from creative.errors import Conflict, InvalidRequest, NotFound, TransientError
from creative.impressions import ClickOutcome, Impression
from creative.materials import Material, MaterialStatus
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


def to_item(document: dict[str, Any]) -> dict[str, Any]:
    """A JSON-like document as a DynamoDB item; None values are left out.

    Written here rather than taken from boto3.dynamodb.types: importing boto3 costs ~0.3 s of every cold
    start (it pulls in s3transfer), and JSON-shaped documents need only these few types.
    """
    return {k: _attribute(v) for k, v in document.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _value(v) for k, v in item.items()}


def _attribute(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):  # before int: a bool is an int
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | Decimal):
        return {"N": str(value)}
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"DynamoDB numbers must be finite, got {value}")
        return {"N": str(Decimal(repr(value)))}
    if isinstance(value, dict):
        return {"M": {k: _attribute(v) for k, v in value.items() if v is not None}}
    if isinstance(value, list | tuple):
        return {"L": [_attribute(v) for v in value]}
    if value is None:
        return {"NULL": True}
    raise TypeError(f"cannot store a {type(value).__name__} in DynamoDB")


def _value(attribute: dict[str, Any]) -> Any:
    ((kind, raw),) = attribute.items()
    if kind in ("S", "BOOL"):
        return raw
    if kind == "N":
        number = Decimal(raw)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "M":
        return {k: _value(v) for k, v in raw.items()}
    if kind == "L":
        return [_value(v) for v in raw]
    if kind == "NULL":
        return None
    raise TypeError(f"unexpected DynamoDB type {kind}")


def encode_token(last_key: dict[str, Any] | None, scope: str) -> str | None:
    """A page token: where the last page stopped, bound to the query that produced it."""
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps({"scope": scope, "key": last_key}).encode()).decode()


def decode_token(token: str | None, scope: str) -> dict[str, Any] | None:
    """The start key of the next page; tokens from another query (or forged ones) are a 400, not a 500."""
    if not token:
        return None
    try:
        document = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        document = None
    if (
        not isinstance(document, dict)
        or document.get("scope") != scope
        or not isinstance(document.get("key"), dict)
    ):
        raise InvalidRequest("next_token was not issued for this query", code="invalid_token")
    return document["key"]


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
        scope = hashlib.sha256(
            json.dumps([operation, kwargs], sort_keys=True, default=str).encode()
        ).hexdigest()[:16]
        start = decode_token(next_token, scope)
        if start:
            kwargs["ExclusiveStartKey"] = to_item(start)
        try:
            with translated_errors():
                response = getattr(self._client, operation)(TableName=self._name, Limit=limit, **kwargs)
        except ClientError as exc:
            # A start key that does not fit the index (a tampered token) is the caller's mistake.
            if start and exc.response.get("Error", {}).get("Code") == "ValidationException":
                raise InvalidRequest("next_token does not fit this query", code="invalid_token") from exc
            raise
        last = from_item(response["LastEvaluatedKey"]) if "LastEvaluatedKey" in response else None
        return [from_item(i) for i in response.get("Items", [])], encode_token(last, scope)

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

    def claim_content(self, business_line: str, content_hash: str, material_id: str) -> str:
        claim = {
            "material_id": f"{_CONTENT_CLAIM_PREFIX}{business_line}#{content_hash}",
            "owner": material_id,
        }
        if self._put_if_absent(claim, "material_id"):
            return material_id
        existing = self._get({"material_id": claim["material_id"]}, consistent=True)
        return existing["owner"] if existing else material_id

    def list(
        self,
        *,
        business_line: str | None,
        status: MaterialStatus | None,
        limit: int,
        next_token: str | None,
        content_hash: str | None = None,
    ) -> Page[Material]:
        if content_hash:
            items, token = self._page(
                "query",
                limit,
                next_token,
                IndexName=MATERIALS_BY_CONTENT_HASH,
                KeyConditionExpression="content_hash = :h",
                ExpressionAttributeValues=to_item({":h": content_hash}),
            )
        elif business_line and status:
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
            items, token = self._scan_page(business_line, status, limit, next_token)
        return Page(items=[self._material(i) for i in items], next_token=token)

    def _scan_page(
        self, business_line: str | None, status: MaterialStatus | None, limit: int, next_token: str | None
    ) -> tuple[list[dict], str | None]:
        """Partial filters scan the business-line index (claims are not in it). `Limit` counts items read,
        not items kept, so a page can hold fewer than `limit` items and still carry a token."""
        filters, values = [], {}
        if business_line:
            filters.append("business_line = :bl")
            values[":bl"] = business_line
        if status:
            filters.append("#st = :st")
            values[":st"] = status.value
        kwargs: dict[str, Any] = {"IndexName": MATERIALS_BY_LINE_STATUS}
        if filters:
            kwargs["FilterExpression"] = " AND ".join(filters)
            kwargs["ExpressionAttributeValues"] = to_item(values)
        if status:
            kwargs["ExpressionAttributeNames"] = {"#st": "status"}
        return self._page("scan", limit, next_token, **kwargs)

    def admitted(self, business_line: str) -> list[Material]:
        documents = self._all(
            "query",
            IndexName=MATERIALS_BY_LINE_STATUS,
            KeyConditionExpression="line_status = :ls",
            ExpressionAttributeValues=to_item({":ls": f"{business_line}#{MaterialStatus.ADMITTED.value}"}),
        )
        return [self._material(d) for d in documents]

    def business_lines(self) -> list[str]:
        documents = self._all("scan", IndexName=MATERIALS_BY_LINE_STATUS, ProjectionExpression="line_status")
        suffix = "#" + MaterialStatus.ADMITTED.value
        return sorted(
            {d["line_status"][: -len(suffix)] for d in documents if d["line_status"].endswith(suffix)}
        )


_ARM_IMPRESSIONS, _ARM_CLICKS, _ARM_EXPECTED = "n:", "c:", "e:"
_ARM_FIELDS = {_ARM_IMPRESSIONS: "arm_impressions", _ARM_CLICKS: "arm_clicks", _ARM_EXPECTED: "arm_expected"}


def _creative(document: dict[str, Any]) -> Creative:
    """Arm counters are top-level attributes ("n:<arm>", "c:<arm>", "e:<arm>") so that ADD can create them;
    one pass over the item gathers them into the creative's three counter maps."""
    counters: dict[str, dict[str, float]] = {field: {} for field in _ARM_FIELDS.values()}
    for name, value in document.items():
        field = _ARM_FIELDS.get(name[:2])
        if field is not None:
            counters[field][name[2:]] = float(value)
    return Creative.model_validate({**document, **counters})


class DynamoCreativeRepository(_Table):
    def for_business_line(self, business_line: str) -> list[Creative]:
        documents = self._all(
            "query",
            IndexName=CREATIVES_BY_LINE,
            KeyConditionExpression="business_line = :bl",
            ExpressionAttributeValues=to_item({":bl": business_line}),
        )
        return [_creative(d) for d in documents]

    def put_new(self, creatives: Sequence[Creative]) -> int:
        return sum(
            self._put_if_absent(
                c.model_dump(mode="json", exclude={"arm_impressions", "arm_clicks", "arm_expected"}),
                "creative_id",
            )
            for c in creatives
        )

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
        return _creative(from_item(response["Attributes"]))

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
        return Page(items=[_creative(i) for i in items], next_token=token)


class DynamoImpressionLog:
    """Impressions, and the arm counters on the creatives they move."""

    # A transaction that meets another one in flight on the same creative is cancelled with
    # TransactionConflict; a short jittered retry resolves almost all of them.
    CONFLICT_RETRIES = 3

    def __init__(self, client: Any, impressions_table: str, creatives_table: str, *, sleep=time.sleep):
        self._client = client
        self._impressions = impressions_table
        self._creatives = creatives_table
        self._sleep = sleep

    def _count_on_arm(self, impression: Impression, counter: str, arm_prefix: str) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self._creatives,
            "Key": to_item({"creative_id": impression.creative_id}),
            "UpdateExpression": f"ADD {counter} :one",
            "ConditionExpression": "attribute_exists(creative_id)",
            "ExpressionAttributeValues": to_item({":one": 1}),
        }
        if impression.arm_key:
            update["UpdateExpression"] += ", #arm :weight"
            names = {"#arm": arm_prefix + impression.arm_key}
            values = {":one": 1, ":weight": impression.arm_weight}
            if arm_prefix == _ARM_IMPRESSIONS:  # an impression also adds the clicks the model expected
                update["UpdateExpression"] += ", #expected :expected"
                names["#expected"] = _ARM_EXPECTED + impression.arm_key
                values[":expected"] = impression.expected_weight
            update["ExpressionAttributeNames"] = names
            update["ExpressionAttributeValues"] = to_item(values)
        return update

    def record(self, impression: Impression) -> None:
        """Counts the impression on its arm, then logs it: two single-item writes, not a transaction.

        Select is the hottest path; a transaction would double its write cost (and moto copies whole
        tables per transaction). Counting first means a failure between the writes leaves the arm one
        impression pessimistic, never a logged impression that was not served.
        """
        try:
            with translated_errors():
                self._client.update_item(**self._count_on_arm(impression, "impressions", _ARM_IMPRESSIONS))
        except ClientError as exc:
            if _is_condition_failure(exc):
                raise Conflict(
                    "the creative was removed while it was being served", code="creative_gone"
                ) from exc
            raise
        with translated_errors():
            self._client.put_item(
                TableName=self._impressions,
                Item=to_item(impression.model_dump(mode="json")),
                ConditionExpression="attribute_not_exists(impression_id)",
            )

    def record_click(self, impression_id: str, clicked_at: str, now_epoch: int) -> ClickOutcome:
        for attempt in range(self.CONFLICT_RETRIES + 1):
            impression = self._read(impression_id)
            if impression is None or impression.expires_at <= now_epoch:
                raise NotFound(f"impression '{impression_id}' does not exist or has expired")
            if impression.clicked_at is not None:
                return ClickOutcome(impression, counted=False)
            reasons = self._try_click(impression, clicked_at, now_epoch)
            if reasons is None:
                return ClickOutcome(impression.model_copy(update={"clicked_at": clicked_at}), counted=True)
            if reasons[1] == "ConditionalCheckFailed":
                raise NotFound(f"impression '{impression_id}' refers to a creative that no longer exists")
            # Item 0 failing its condition means a concurrent click won (or the impression just
            # expired): the next read tells which. A conflict with another transaction: back off, retry.
            if reasons[0] != "ConditionalCheckFailed" and attempt < self.CONFLICT_RETRIES:
                self._sleep(random.uniform(0.01, 0.05) * (attempt + 1))
        raise TransientError("the click could not be recorded because of concurrent updates; retry")

    def _try_click(self, impression: Impression, clicked_at: str, now_epoch: int) -> list[str] | None:
        """Marks the impression clicked and counts the click, atomically; None on success, else the
        cancellation reason of each of the two items."""
        mark = {
            "TableName": self._impressions,
            "Key": to_item({"impression_id": impression.impression_id}),
            "UpdateExpression": "SET clicked_at = :at",
            "ConditionExpression": "attribute_exists(impression_id) AND attribute_not_exists(clicked_at)"
            " AND expires_at > :now",
            "ExpressionAttributeValues": to_item({":at": clicked_at, ":now": now_epoch}),
        }
        try:
            with translated_errors():
                self._client.transact_write_items(
                    TransactItems=[
                        {"Update": mark},
                        {"Update": self._count_on_arm(impression, "clicks", _ARM_CLICKS)},
                    ]
                )
        except ClientError as exc:
            if not _cancelled(exc):
                raise
            reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
            return (reasons + ["None", "None"])[:2]
        return None

    def since(self, start: str) -> Iterator[Impression]:
        # A scan: retraining runs hourly over a TTL-bounded table, and needs every row of the window.
        documents = _scan_all(
            self._client,
            TableName=self._impressions,
            FilterExpression="created_at >= :start",
            ExpressionAttributeValues=to_item({":start": start}),
        )
        return (Impression.model_validate(d) for d in documents)

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


def _scan_all(client: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    while True:
        with translated_errors():
            response = client.scan(**kwargs)
        yield from (from_item(i) for i in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
