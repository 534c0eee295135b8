"""Every queue in the stack is encrypted and refuses requests without TLS; dead-letter queues keep their
messages as long as SQS allows, so an operator has time to look."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import constants


def private_queue(scope: Construct, construct_id: str, **properties: Any) -> sqs.Queue:
    return sqs.Queue(
        scope, construct_id, encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True, **properties
    )


def dead_letter_queue(scope: Construct) -> sqs.Queue:
    return private_queue(scope, "DeadLetterQueue", retention_period=constants.DEAD_LETTER_RETENTION)
