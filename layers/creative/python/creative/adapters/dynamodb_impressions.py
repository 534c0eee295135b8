"""Impressions in DynamoDB, and the racing state (counters, learner statistics) each one moves."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from creative.adapters.aws_errors import cancellation_reasons, translated_errors
from creative.adapters.dynamodb_items import to_item
from creative.adapters.dynamodb_racing_state import DynamoRacingState, state_update
from creative.adapters.dynamodb_table import DYNAMODB, DynamoTable
from creative.clock import parse_iso, utc_now
from creative.errors import NotFound, TransientError
from creative.impressions import FeedbackOutcome, Impression, reportable
from creative.racing.state import StateWrite, event_writes, serve_writes

_NOTHING = StateWrite({}, [])  # impressions logged before the learner carried no deltas

# The by_day index (infra.constructs.storage): day_bucket = "<YYYY-MM-DD>#<shard>", sorted by created_at. A
# window of 14 days is 15 x DAY_SHARDS Queries, each a created_at range. Only the current day's buckets take
# writes: DAY_SHARDS index partitions share them (about 1,000 writes/s each). The count may grow (the reader
# queries every shard below it, old buckets included) but never shrink.
DAY_INDEX = "by_day"
DAY_SHARDS = 4
_DAY = timedelta(days=1)


def day_bucket(impression_id: str, created_at: str) -> str:
    """The index partition of an impression: its creation day (UTC), and a shard fixed by its id."""
    shard = int.from_bytes(hashlib.sha256(impression_id.encode()).digest()[:4], "big") % DAY_SHARDS
    return f"{created_at[:10]}#{shard}"


def days_between(start: datetime, end: datetime) -> list[str]:
    """Every day ("YYYY-MM-DD", UTC) from start's to end's, both included."""
    day, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    days = []
    while day <= last:
        days.append(day.isoformat())
        day += _DAY
    return days


class DynamoImpressionLog:
    # A transaction that meets another one in flight on the same shard item is cancelled with
    # TransactionConflict; a short jittered retry resolves almost all of them.
    CONFLICT_RETRIES = 3

    def __init__(self, client: Any, impressions_table: str, state: DynamoRacingState, *, sleep=time.sleep):
        self._client = client
        self._impressions = DynamoTable(client, impressions_table)
        self._state = state
        self._sleep = sleep

    def _state_update(self, impression: Impression, write: StateWrite, totals: dict) -> dict[str, Any]:
        """The UpdateItem of the impression's creative shard (or its line's elements shard): the learner's
        write and the totals."""
        deltas = impression.learner
        shard = deltas.shard if deltas else 0
        state_id = (deltas.state_id if deltas else None) or impression.creative_id
        return state_update(self._state.name, state_id, shard, impression.business_line, write, totals)

    def record(self, impression: Impression) -> None:
        """Counts the impression and logs it in one transaction, idempotent under a lost answer.

        Two single-item writes (the count, then the log) cost half as much, but a count whose answer is lost
        past the client's 1 s read timeout is retried by the SDK and counted twice: `make reliability` holding
        back 18 of 30 answers counted 48 impressions for 30 logged. One transaction, with a request token
        named after the impression, applies both writes exactly once: DynamoDB answers a retry with the same
        token as the first success, and a retry that finds the impression already logged (where the token is
        not honoured, or after its 10 minutes) is that first success too, since impression ids are random.
        """
        write = serve_writes(impression.learner) if impression.learner else _NOTHING
        document = impression.model_dump(mode="json")
        document["day_bucket"] = day_bucket(impression.impression_id, impression.created_at)
        count = {"Update": self._state_update(impression, write, {"impressions": 1})}
        log = {
            "Put": {
                "TableName": self._impressions.name,
                "Item": to_item(document),
                "ConditionExpression": "attribute_not_exists(impression_id)",
            }
        }
        token = hashlib.sha256(impression.impression_id.encode()).hexdigest()[:36]
        for attempt in range(self.CONFLICT_RETRIES + 1):
            try:
                with translated_errors(DYNAMODB):
                    self._client.transact_write_items(TransactItems=[count, log], ClientRequestToken=token)
                return
            except ClientError as exc:
                reasons = cancellation_reasons(exc)
                if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                    return  # logged (and so counted) by an earlier attempt of this same call
            if attempt < self.CONFLICT_RETRIES:  # a concurrent transaction on the shard: back off, retry
                self._back_off(attempt)
        raise TransientError("the impression could not be recorded because of concurrent updates; retry")

    def record_event(
        self,
        impression_id: str,
        event: str,
        at: str,
        now_epoch: int,
        value: float | None = None,
        client_id: str | None = None,
    ) -> FeedbackOutcome:
        for attempt in range(self.CONFLICT_RETRIES + 1):
            impression = self._read(impression_id)
            if impression is None or not reportable(impression, client_id, now_epoch):
                raise NotFound(f"impression '{impression_id}' does not exist or has expired")
            if (impression.clicked_at if event == "click" else impression.converted_at) is not None:
                return FeedbackOutcome(impression, counted=False)
            first_reason = self._try_event(impression, event, at, now_epoch, value)
            if first_reason is None:
                fields = (
                    {"clicked_at": at}
                    if event == "click"
                    else {"converted_at": at, "conversion_value": value}
                )
                return FeedbackOutcome(impression.model_copy(update=fields), counted=True)
            # The mark failing its condition means a concurrent report won (or the impression just
            # expired): the next read tells which. A conflict with another transaction: back off, retry.
            if first_reason != "ConditionalCheckFailed" and attempt < self.CONFLICT_RETRIES:
                self._back_off(attempt)
        raise TransientError(f"the {event} could not be recorded because of concurrent updates; retry")

    def _try_event(
        self, impression: Impression, event: str, at: str, now_epoch: int, value: float | None
    ) -> str | None:
        """Marks the impression and counts the event, atomically; None on success, else the cancellation
        reason of the mark."""
        field = "clicked_at" if event == "click" else "converted_at"
        expression = f"SET {field} = :at" + (", conversion_value = :value" if event == "conversion" else "")
        values: dict[str, Any] = {":at": at, ":now": now_epoch}
        if event == "conversion":
            values[":value"] = value
        mark = {
            "TableName": self._impressions.name,
            "Key": to_item({"impression_id": impression.impression_id}),
            "UpdateExpression": expression,
            "ConditionExpression": f"attribute_exists(impression_id) AND attribute_not_exists({field})"
            " AND expires_at > :now",
            "ExpressionAttributeValues": to_item(values),
        }
        totals = {"clicks": 1} if event == "click" else {"conversions": 1, "value": value or 0.0}
        write = event_writes(impression.learner, event) if impression.learner else _NOTHING
        count = self._state_update(impression, write, totals)
        try:
            with translated_errors(DYNAMODB):
                self._client.transact_write_items(TransactItems=[{"Update": mark}, {"Update": count}])
        except ClientError as exc:
            return (cancellation_reasons(exc) or ["None"])[0]
        return None

    def _back_off(self, attempt: int) -> None:
        """Jittered and growing, so transactions that met on a shard item do not meet again."""
        self._sleep(random.uniform(0.01, 0.05) * (attempt + 1))

    def since(
        self, start: str, end: str | None = None, *, business_line: str | None = None
    ) -> Iterator[Impression]:
        """One Query per day and shard of the by_day index, each for the window's created_at range, from
        start's day to end's (or to an hour past now: a clock a little ahead on another function); never a
        Scan of the table. Given a line, DynamoDB filters out the other lines' impressions: they still cost
        read capacity, but are neither sent nor parsed here."""
        last = parse_iso(end) if end else utc_now() + timedelta(hours=1)
        condition = "day_bucket = :bucket AND created_at >= :start"
        values: dict[str, Any] = {":start": start}
        if end:
            condition = "day_bucket = :bucket AND created_at BETWEEN :start AND :end"
            values[":end"] = end
        line_filter: dict[str, Any] = {}
        if business_line is not None:
            values[":line"] = business_line
            line_filter = {"FilterExpression": "business_line = :line"}
        for day in days_between(parse_iso(start), last):
            for shard in range(DAY_SHARDS):
                documents = self._impressions.all(
                    "query",
                    IndexName=DAY_INDEX,
                    KeyConditionExpression=condition,
                    ExpressionAttributeValues=to_item({**values, ":bucket": f"{day}#{shard}"}),
                    **line_filter,
                )
                for document in documents:
                    if end is None or document["created_at"] < end:  # BETWEEN includes `end`
                        yield Impression.model_validate(document)

    def _read(self, impression_id: str) -> Impression | None:
        document = self._impressions.get({"impression_id": impression_id}, consistent=True)
        return Impression.model_validate(document) if document else None
