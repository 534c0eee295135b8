"""Every queue in the stack is encrypted and refuses requests without TLS; dead-letter queues keep their
messages as long as SQS allows, so an operator has time to look."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import constants
from infra.catalog import FUNCTIONS, QueueTrigger, Resource


def private_queue(scope: Construct, construct_id: str, **properties: Any) -> sqs.Queue:
    return sqs.Queue(
        scope, construct_id, encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True, **properties
    )


def dead_letter_queue(scope: Construct) -> sqs.Queue:
    return private_queue(scope, "DeadLetterQueue", retention_period=constants.DEAD_LETTER_RETENTION)


def consumed_queue(scope: Construct, construct_id: str, resource: Resource) -> tuple[sqs.Queue, sqs.Queue]:
    """A queue for a catalog consumer, with its dead-letter queue (after MAX_RECEIVE_COUNT receives)."""
    dead_letters = dead_letter_queue(scope)
    queue = private_queue(
        scope,
        construct_id,
        visibility_timeout=visibility_timeout_for_consumers_of(resource),
        dead_letter_queue=sqs.DeadLetterQueue(
            queue=dead_letters, max_receive_count=constants.MAX_RECEIVE_COUNT
        ),
    )
    return queue, dead_letters


def visibility_timeout_for_consumers_of(queue: Resource) -> Duration:
    """6x the slowest consumer's timeout plus its batching window, read from the catalog."""
    consumer_windows = [
        constants.VISIBILITY_TIMEOUT_PER_CONSUMER_TIMEOUT * spec.timeout_s + trigger.max_batching_window_s
        for spec in FUNCTIONS
        for trigger in spec.triggers
        if isinstance(trigger, QueueTrigger) and trigger.queue == queue
    ]
    if not consumer_windows:
        raise ValueError(f"the catalog declares no consumer of {queue}")
    return Duration.seconds(max(consumer_windows))


def subscribe(function: lambda_.IFunction, queue: sqs.IQueue, trigger: QueueTrigger) -> None:
    """Feed the queue to `function` in batches; it reports failed records so only those retry."""
    function.add_event_source(
        event_sources.SqsEventSource(
            queue,
            batch_size=trigger.batch_size,
            max_batching_window=Duration.seconds(trigger.max_batching_window_s),
            report_batch_item_failures=True,
            max_concurrency=trigger.max_concurrency,
        )
    )
