"""Scheduled invocations (e.g. creative composition): EventBridge rules with retries and a dead-letter queue."""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import constants
from infra.catalog import ScheduleTrigger
from infra.constructs.queues import dead_letter_queue


class Schedules(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # One queue for every failed scheduled invocation: EventBridge puts what it could not deliver here,
        # and scheduled functions use it as their Lambda DLQ for runs that failed after Lambda's retries.
        self.dead_letter_queue = dead_letter_queue(self)

    def add(self, construct_id: str, function: lambda_.IFunction, trigger: ScheduleTrigger) -> events.Rule:
        return events.Rule(
            self,
            construct_id,
            description=f"Runs {function.node.path} on {trigger.expression}.",
            schedule=events.Schedule.expression(trigger.expression),
            targets=[
                targets.LambdaFunction(
                    function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=constants.SCHEDULE_RETRY_ATTEMPTS,
                    max_event_age=constants.SCHEDULE_MAX_EVENT_AGE,
                )
            ],
        )
