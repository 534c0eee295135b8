"""The upload events pipeline: object created under uploads/ -> EventBridge -> SQS (with a DLQ) -> consumers.

S3 publishes to EventBridge through a property of the bucket itself, set on the L1 resource. The L2 ways
(`event_bridge_enabled=True`, `add_event_notification`) deploy a Custom::S3BucketNotifications resource,
and this stack has no custom resources (the local runtime cannot run them).
"""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.catalog import UPLOAD_PREFIX, Resource
from infra.constructs.queues import consumed_queue


class UploadEvents(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, uploads_bucket: s3.Bucket) -> None:
        super().__init__(scope, construct_id)
        self.queue, self.dead_letter_queue = consumed_queue(self, "Queue", "upload_events_queue")
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


def _publish_object_events_to_eventbridge(bucket: s3.Bucket) -> None:
    cfn_bucket = bucket.node.default_child
    assert isinstance(cfn_bucket, s3.CfnBucket)
    cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
        event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
    )
