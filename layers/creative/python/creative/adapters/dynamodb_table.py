"""One DynamoDB table: the reads and conditional writes every repository is made of, errors translated."""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from creative.adapters.aws_errors import error_code, is_condition_failure, translated_errors
from creative.adapters.dynamodb_items import decode_token, encode_token, from_item, to_item
from creative.errors import InvalidRequest, TransientError

DYNAMODB = "DynamoDB"
BATCH_LIMIT = 25  # BatchWriteItem's maximum
BATCH_GET_LIMIT = 100  # BatchGetItem's maximum
UNPROCESSED_RETRIES = 5


class DynamoTable:
    def __init__(self, client: Any, name: str):
        self.client = client
        self.name = name

    def get(self, key: dict[str, Any], *, consistent: bool = False) -> dict[str, Any] | None:
        with translated_errors(DYNAMODB):
            response = self.client.get_item(TableName=self.name, Key=to_item(key), ConsistentRead=consistent)
        return from_item(response["Item"]) if "Item" in response else None

    def put_if_absent(self, document: dict[str, Any], key_name: str) -> bool:
        """Writes the document unless an item with its key exists; False when one did."""
        return self.put(document, condition="attribute_not_exists(#k)", names={"#k": key_name}, values=None)

    def put(
        self,
        document: dict[str, Any],
        *,
        condition: str | None = None,
        names: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> bool:
        """A (conditional) put; False when the condition failed."""
        kwargs: dict[str, Any] = {"TableName": self.name, "Item": to_item(document)}
        if condition:
            kwargs["ConditionExpression"] = condition
        if names:
            kwargs["ExpressionAttributeNames"] = names
        if values:
            kwargs["ExpressionAttributeValues"] = to_item(values)
        try:
            with translated_errors(DYNAMODB):
                self.client.put_item(**kwargs)
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def batch_write(self, requests: list[dict], *, sleep: Callable[[float], None] = time.sleep) -> None:
        """Put and delete requests in batches of 25, unprocessed ones retried with backoff; raises
        TransientError when DynamoDB keeps leaving some (the caller's event is retried)."""
        for start in range(0, len(requests), BATCH_LIMIT):
            pending = {self.name: requests[start : start + BATCH_LIMIT]}
            for attempt in range(UNPROCESSED_RETRIES + 1):
                with translated_errors(DYNAMODB):
                    response = self.client.batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if not pending:
                    break
                sleep(random.uniform(0.05, 0.1) * 2**attempt)
            else:
                raise TransientError(f"DynamoDB left writes to {self.name} unprocessed; retry")

    def batch_get(
        self, keys: list[dict[str, Any]], *, sleep: Callable[[float], None] = time.sleep
    ) -> list[dict[str, Any]]:
        """The items of these keys (those that exist), 100 keys a call, unprocessed keys retried with
        backoff; raises TransientError when DynamoDB keeps leaving some."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), BATCH_GET_LIMIT):
            pending = {self.name: {"Keys": [to_item(k) for k in keys[start : start + BATCH_GET_LIMIT]]}}
            for attempt in range(UNPROCESSED_RETRIES + 1):
                with translated_errors(DYNAMODB):
                    response = self.client.batch_get_item(RequestItems=pending)
                found += [from_item(item) for item in response.get("Responses", {}).get(self.name, [])]
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
                sleep(random.uniform(0.05, 0.1) * 2**attempt)
            else:
                raise TransientError(f"DynamoDB left reads of {self.name} unprocessed; retry")
        return found

    def update(self, key: dict[str, Any], **kwargs: Any) -> dict[str, Any] | None:
        """An UpdateItem with the caller's expressions (values as a plain document); the new item when
        asked for with ReturnValues="ALL_NEW", None when its condition failed."""
        if "ExpressionAttributeValues" in kwargs:
            kwargs["ExpressionAttributeValues"] = to_item(kwargs["ExpressionAttributeValues"])
        try:
            with translated_errors(DYNAMODB):
                response = self.client.update_item(TableName=self.name, Key=to_item(key), **kwargs)
        except ClientError as exc:
            if is_condition_failure(exc):
                return None
            raise
        return from_item(response.get("Attributes", {}))

    def page(
        self, operation: str, limit: int, next_token: str | None, **kwargs: Any
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a query or scan, and the token of the next one (bound to these arguments)."""
        scope = hashlib.sha256(
            json.dumps([operation, kwargs], sort_keys=True, default=str).encode()
        ).hexdigest()[:16]
        start = decode_token(next_token, scope)
        if start:
            kwargs["ExclusiveStartKey"] = to_item(start)
        try:
            with translated_errors(DYNAMODB):
                response = getattr(self.client, operation)(TableName=self.name, Limit=limit, **kwargs)
        except ClientError as exc:
            # A start key that does not fit the index (a tampered token) is the caller's mistake.
            if start and error_code(exc) == "ValidationException":
                raise InvalidRequest("next_token does not fit this query", code="invalid_token") from exc
            raise
        last = from_item(response["LastEvaluatedKey"]) if "LastEvaluatedKey" in response else None
        return [from_item(i) for i in response.get("Items", [])], encode_token(last, scope)

    def all(self, operation: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every item a query or scan returns, page after page."""
        with translated_errors(DYNAMODB):
            for page in self.client.get_paginator(operation).paginate(TableName=self.name, **kwargs):
                yield from (from_item(i) for i in page.get("Items", []))
