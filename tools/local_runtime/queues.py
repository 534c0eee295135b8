"""Lambda's SQS event source mapping, played locally: one poller thread per mapping in the template.

As on AWS: receive up to BatchSize messages, waiting up to MaximumBatchingWindowInSeconds to fill the
batch; invoke the function once per batch; delete what succeeded. On an exception (or a timeout)
nothing is deleted; with ReportBatchItemFailures only the reported messages stay. What stays becomes
visible again after the queue's visibility timeout, and moto's redrive moves a message to the
dead-letter queue on the receive after its maxReceiveCount-th (as SQS does).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from local_runtime.functions import FunctionError, LocalFunction

log = logging.getLogger(__name__)

MAX_MESSAGES_PER_RECEIVE = 10  # an SQS limit
LONG_POLL_S = 1  # short enough for stop() to be prompt


@dataclass(frozen=True)
class QueueSource:
    url: str
    arn: str
    region: str
    visibility_timeout_s: int


def build_sqs_event(messages: list[dict[str, Any]], source: QueueSource) -> dict[str, Any]:
    """The event Lambda's SQS poller hands a function for one batch of ReceiveMessage results."""
    return {"Records": [_record(message, source) for message in messages]}


def _record(message: dict[str, Any], source: QueueSource) -> dict[str, Any]:
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": source.arn,
        "awsRegion": source.region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    # ReceiveMessage says StringValue/BinaryValue; the Lambda event says stringValue/binaryValue.
    attribute: dict[str, Any] = {
        "stringListValues": value.get("StringListValues", []),
        "binaryListValues": value.get("BinaryListValues", []),
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = value["BinaryValue"]
    return attribute


def failed_message_ids(result: Any, batch_ids: list[str], reports_batch_item_failures: bool) -> list[str]:
    """Which messages of a batch the function's result says to keep.

    Without ReportBatchItemFailures the result is ignored. With it, an empty or missing list means all
    succeeded, and a response Lambda cannot understand fails the whole batch, as the Lambda docs say.
    """
    if not reports_batch_item_failures or result is None:
        return []
    if not isinstance(result, dict):
        return list(batch_ids)
    failures = result.get("batchItemFailures")
    if failures is None:
        return []
    if not isinstance(failures, list):
        return list(batch_ids)
    ids = [f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures]
    if any(not i or i not in batch_ids for i in ids):
        return list(batch_ids)
    return [i for i in batch_ids if i in set(ids)]


class QueuePoller:
    """Feeds one queue to one function until stopped."""

    def __init__(
        self,
        function: LocalFunction,
        source: QueueSource,
        sqs: Any,
        *,
        batch_size: int,
        batching_window_s: int,
        reports_batch_item_failures: bool,
    ) -> None:
        self.function = function
        self.source = source
        self._sqs = sqs
        self._batch_size = batch_size
        self._window_s = batching_window_s
        self._reports_failures = reports_batch_item_failures
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sqs-poller-{function.name}", daemon=True)
        self._state = threading.Lock()
        self._in_flight = 0  # messages received and not yet deleted or left for retry
        self._awaiting_retry: dict[str, float] = {}  # message id -> when it becomes visible again
        self.batches = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=LONG_POLL_S + 30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                batch = self._receive_batch()
                if batch:
                    self._deliver(batch)
            except Exception:  # keep polling, as Lambda's pollers do, whatever one batch did
                log.exception("poller for %s failed; polling on", self.function.name)
                self._stop.wait(1)

    def _receive_batch(self) -> list[dict[str, Any]]:
        batch = self._receive(self._batch_size, LONG_POLL_S)
        if not batch:
            return []
        window_ends = time.monotonic() + self._window_s
        while len(batch) < self._batch_size and not self._stop.is_set():
            remaining = window_ends - time.monotonic()
            if remaining <= 0:
                break
            batch += self._receive(self._batch_size - len(batch), min(LONG_POLL_S, max(int(remaining), 0)))
            if remaining < 1:
                break
        return batch

    def _receive(self, wanted: int, wait_s: int) -> list[dict[str, Any]]:
        # A message on its way back from ReceiveMessage is already invisible in the queue, so is_idle
        # sees it (as NotVisible beyond the known retries) before it is counted here.
        messages = self._sqs.receive_message(
            QueueUrl=self.source.url,
            MaxNumberOfMessages=min(wanted, MAX_MESSAGES_PER_RECEIVE),
            WaitTimeSeconds=wait_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        with self._state:
            self._in_flight += len(messages)
            # A retry that has come back is in flight now, not awaited: leaving its id would let is_idle
            # excuse one more hidden message than it should.
            for message in messages:
                self._awaiting_retry.pop(message["MessageId"], None)
        return messages

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        self.batches += 1
        batch_ids = [m["MessageId"] for m in batch]
        try:
            result = self.function.invoke(build_sqs_event(batch, self.source))
            failed = set(failed_message_ids(result, batch_ids, self._reports_failures))
        except FunctionError:
            failed = set(batch_ids)
        self._delete([m for m in batch if m["MessageId"] not in failed])
        with self._state:
            visible_again = time.monotonic() + self.source.visibility_timeout_s
            self._awaiting_retry.update({message_id: visible_again for message_id in failed})
            for message_id in set(batch_ids) - failed:
                self._awaiting_retry.pop(message_id, None)
            self._in_flight -= len(batch)
        if failed:
            log.warning(
                "%s: %d of %d messages failed; retried after %ss",
                self.function.name,
                len(failed),
                len(batch),
                self.source.visibility_timeout_s,
            )

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), MAX_MESSAGES_PER_RECEIVE):
            chunk = messages[start : start + MAX_MESSAGES_PER_RECEIVE]
            self._sqs.delete_message_batch(
                QueueUrl=self.source.url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )

    def is_idle(self) -> bool:
        """Nothing visible to receive, nothing being handled, and every hidden message is a known retry."""
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.source.url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        with self._state:
            now = time.monotonic()
            self._awaiting_retry = {i: t for i, t in self._awaiting_retry.items() if t > now}
            in_flight, retries = self._in_flight, len(self._awaiting_retry)
        return (
            in_flight == 0
            and int(attributes["ApproximateNumberOfMessages"]) == 0
            and int(attributes["ApproximateNumberOfMessagesDelayed"]) == 0
            and int(attributes["ApproximateNumberOfMessagesNotVisible"]) <= retries
        )
