"""The upload events pipeline: object created under uploads/ -> EventBridge -> SQS (with a DLQ) -> consumers.

S3 publishes to EventBridge through a property of the bucket itself, set on the L1 resource. The L2 ways
(`event_bridge_enabled=True`, `add_event_notification`) deploy a Custom::S3BucketNotifications resource,
and this stack has no custom resources (the local runtime cannot run them).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import constants
from infra.catalog import FUNCTIONS, UPLOAD_PREFIX, QueueTrigger, Resource
from infra.constructs.queues import dead_letter_queue, private_queue


class UploadEvents(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, uploads_bucket: s3.Bucket) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = dead_letter_queue(self)
        self.queue = private_queue(
            self,
            "Queue",
            visibility_timeout=_visibility_timeout_for_consumers_of("upload_events_queue"),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=constants.MAX_RECEIVE_COUNT
            ),
        )
        self.queues: dict[Resource, sqs.Queue] = {"upload_events_queue": self.queue}

        _publish_object_events_to_eventbridge(uploads_bucket)
        events.Rule(
            self,
            "UploadCreatedRule",
            description=f"Objects created under {UPLOAD_PREFIX} in the uploads bucket, to the upload queue.",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [uploads_bucket.bucket_name]},
                    "object": {"key": events.Match.prefix(UPLOAD_PREFIX)},
                },
            ),
            # If EventBridge cannot deliver (e.g. the queue policy breaks), the event lands in the DLQ
            # instead of vanishing after EventBridge's retries.
            targets=[
                targets.SqsQueue(self.queue, dead_letter_queue=self.dead_letter_queue, retry_attempts=185)
            ],
        )

    def subscribe(self, function: lambda_.IFunction, trigger: QueueTrigger) -> None:
        """Feed the queue to `function` in batches; it reports failed records so only those retry."""
        function.add_event_source(
            event_sources.SqsEventSource(
                self.queues[trigger.queue],
                batch_size=trigger.batch_size,
                max_batching_window=Duration.seconds(trigger.max_batching_window_s),
                report_batch_item_failures=True,
            )
        )


def _publish_object_events_to_eventbridge(bucket: s3.Bucket) -> None:
    cfn_bucket = bucket.node.default_child
    assert isinstance(cfn_bucket, s3.CfnBucket)
    cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
        event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
    )


def _visibility_timeout_for_consumers_of(queue: Resource) -> Duration:
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
