"""The SQS poller against a moto server: partial batch failures, whole-batch retries and the redrive of
messages that keep failing to the dead-letter queue (moto moves them on the receive after maxReceiveCount)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from local_runtime.functions import LocalFunction, lambda_environment
from local_runtime.moto_server import MotoEndpoint
from local_runtime.queues import QueuePoller, QueueSource, failed_message_ids

from tests.local import tiny_stack
from tests.polling import wait_until

MAX_RECEIVE_COUNT = 2


class Queues:
    """A source queue (1 s visibility, redrive after 2 receives), its DLQ and a table for the consumer."""

    def __init__(self, aws: MotoEndpoint) -> None:
        self.sqs = aws.client("sqs")
        self.dlq_url = self.sqs.create_queue(QueueName="dlq")["QueueUrl"]
        dlq_arn = self.sqs.get_queue_attributes(QueueUrl=self.dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
        self.url = self.sqs.create_queue(
            QueueName="source", Attributes={"VisibilityTimeout": "1", "RedrivePolicy": json.dumps(redrive)}
        )["QueueUrl"]
        self.arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.dynamodb = aws.client("dynamodb")
        self.dynamodb.create_table(
            TableName="seen",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        )

    def send(self, *bodies: str) -> None:
        self.sqs.send_message_batch(
            QueueUrl=self.url, Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)]
        )

    def dead_letters(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

    def dead_letter_bodies(self) -> list[str]:
        messages = self.sqs.receive_message(QueueUrl=self.dlq_url, MaxNumberOfMessages=10)["Messages"]
        return sorted(m["Body"] for m in messages)

    def seen(self) -> dict[str, int]:
        """Body -> the highest receive count the consumer saw it with."""
        items = self.dynamodb.scan(TableName="seen")["Items"]
        return {i["body"]["S"]: int(i["receive_count"]["N"]) for i in items}


@pytest.fixture
def queues(aws: MotoEndpoint) -> Queues:
    return Queues(aws)


@pytest.fixture
def start_poller(aws: MotoEndpoint, queues: Queues) -> Iterator[Callable[..., QueuePoller]]:
    started: list[QueuePoller] = []

    def start(reports_batch_item_failures: bool = True) -> QueuePoller:
        code_dir = tiny_stack.code_dir_for("consumer")
        consumer = LocalFunction(
            name="consumer",
            physical_name="consumer-fn",
            arn="arn:aws:lambda:us-east-1:123456789012:function:consumer-fn",
            code_dir=code_dir,
            handler="handler.lambda_handler",
            memory_mb=128,
            timeout_s=10,
            environment=lambda_environment(
                function_variables={"TABLE_NAME": "seen"},
                physical_name="consumer-fn",
                memory_mb=128,
                code_dir=code_dir,
                handler="handler.lambda_handler",
                endpoint_url=aws.url,
                region=aws.region,
            ),
            layer_dirs=[tiny_stack.LAYER_DIR],
        )
        poller = QueuePoller(
            consumer,
            QueueSource(url=queues.url, arn=queues.arn, region=aws.region, visibility_timeout_s=1),
            aws.client("sqs"),
            batch_size=10,
            batching_window_s=0,
            reports_batch_item_failures=reports_batch_item_failures,
        )
        poller.start()
        started.append(poller)
        return poller

    yield start
    for poller in started:
        poller.stop()


def test_successes_are_deleted_and_reported_failures_redrive_to_the_dlq(queues, start_poller):
    # Given two good messages and one the consumer reports as a batch item failure
    queues.send("ok-1", "fail-1", "ok-2")
    # When the poller feeds them to the consumer until the failure is dead-lettered
    start_poller()
    wait_until(lambda: queues.dead_letters() == 1)
    # Then the good ones were handled once and deleted, the failure was tried maxReceiveCount times
    seen = queues.seen()
    assert seen["ok-1"] == 1 and seen["ok-2"] == 1
    assert seen["fail-1"] == MAX_RECEIVE_COUNT
    assert queues.dead_letter_bodies() == ["fail-1"]


def test_an_exception_retries_the_whole_batch(queues, start_poller):
    # Given a batch in which one message makes the consumer raise
    queues.send("ok-1", "boom-1")
    # When the poller feeds it until the messages are dead-lettered
    start_poller()
    wait_until(lambda: queues.dead_letters() == 2)
    # Then nothing of the batch was deleted: even the good message went to the DLQ
    assert queues.dead_letter_bodies() == ["boom-1", "ok-1"]


def test_without_report_batch_item_failures_the_result_is_ignored(queues, start_poller):
    # Given a mapping without ReportBatchItemFailures and a message the consumer "fails"
    queues.send("fail-1")
    # When the poller feeds it
    poller = start_poller(reports_batch_item_failures=False)
    wait_until(lambda: "fail-1" in queues.seen())
    wait_until(poller.is_idle)
    # Then Lambda would have deleted it: the reported failure means nothing without the setting
    assert queues.dead_letters() == 0 and queues.seen()["fail-1"] == 1


def test_idle_means_nothing_visible_nothing_in_hand(queues, start_poller):
    # Given a poller that handled one message
    poller = start_poller()
    queues.send("ok-1")
    wait_until(lambda: "ok-1" in queues.seen())
    # When the batch is finished, Then the poller is idle and nothing is left in the queue
    wait_until(poller.is_idle)
    attributes = queues.sqs.get_queue_attributes(QueueUrl=queues.url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_batch_item_failure_responses_follow_lambda_rules():
    ids = ["a", "b", "c"]
    # A list of failures keeps exactly those
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, ids, True) == ["b"]
    # None, an empty list or no key: all succeeded
    assert failed_message_ids(None, ids, True) == []
    assert failed_message_ids({"batchItemFailures": []}, ids, True) == []
    assert failed_message_ids({}, ids, True) == []
    # A response Lambda cannot read fails the whole batch
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, ids, True) == ids
    assert failed_message_ids({"batchItemFailures": [{}]}, ids, True) == ids
    assert failed_message_ids("nonsense", ids, True) == ids
    # Without ReportBatchItemFailures the response is ignored
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, ids, False) == []
