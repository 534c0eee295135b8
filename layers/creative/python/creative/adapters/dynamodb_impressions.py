"""Impressions in DynamoDB, and the arm counters on the creatives they move."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from creative.adapters.aws_errors import error_code, is_condition_failure, translated_errors
from creative.adapters.dynamodb_creatives import ARM_CLICKS, ARM_EXPECTED, ARM_IMPRESSIONS
from creative.adapters.dynamodb_items import to_item
from creative.adapters.dynamodb_table import DYNAMODB, DynamoTable
from creative.errors import Conflict, NotFound, TransientError
from creative.impressions import ClickOutcome, Impression


class DynamoImpressionLog:
    # A transaction that meets another one in flight on the same creative is cancelled with
    # TransactionConflict; a short jittered retry resolves almost all of them.
    CONFLICT_RETRIES = 3

    def __init__(self, client: Any, impressions_table: str, creatives_table: str, *, sleep=time.sleep):
        self._client = client
        self._impressions = DynamoTable(client, impressions_table)
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
            if arm_prefix == ARM_IMPRESSIONS:  # an impression also adds the clicks the model expected
                update["UpdateExpression"] += ", #expected :expected"
                names["#expected"] = ARM_EXPECTED + impression.arm_key
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
            with translated_errors(DYNAMODB):
                self._client.update_item(**self._count_on_arm(impression, "impressions", ARM_IMPRESSIONS))
        except ClientError as exc:
            if is_condition_failure(exc):
                raise Conflict(
                    "the creative was removed while it was being served", code="creative_gone"
                ) from exc
            raise
        self._impressions.put(
            impression.model_dump(mode="json"), condition="attribute_not_exists(impression_id)"
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
            "TableName": self._impressions.name,
            "Key": to_item({"impression_id": impression.impression_id}),
            "UpdateExpression": "SET clicked_at = :at",
            "ConditionExpression": "attribute_exists(impression_id) AND attribute_not_exists(clicked_at)"
            " AND expires_at > :now",
            "ExpressionAttributeValues": to_item({":at": clicked_at, ":now": now_epoch}),
        }
        try:
            with translated_errors(DYNAMODB):
                self._client.transact_write_items(
                    TransactItems=[
                        {"Update": mark},
                        {"Update": self._count_on_arm(impression, "clicks", ARM_CLICKS)},
                    ]
                )
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
            return (reasons + ["None", "None"])[:2]
        return None

    def since(self, start: str) -> Iterator[Impression]:
        # A scan: retraining runs hourly over a TTL-bounded table, and needs every row of the window.
        documents = self._impressions.all(
            "scan",
            FilterExpression="created_at >= :start",
            ExpressionAttributeValues=to_item({":start": start}),
        )
        return (Impression.model_validate(d) for d in documents)

    def _read(self, impression_id: str) -> Impression | None:
        document = self._impressions.get({"impression_id": impression_id}, consistent=True)
        return Impression.model_validate(document) if document else None
