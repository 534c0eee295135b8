"""Security properties of the buckets, tables and queues in the synthesized template."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template
from stack_build import model_staging

from infra import constants
from infra.catalog import FUNCTIONS, UPLOAD_PREFIX, QueueTrigger
from infra.constructs.storage import TABLE_DESIGNS

from .conftest import Resources, as_list, of_type, ref_of


def _bucket_policy_statements(resources: Resources, bucket_id: str) -> list[dict]:
    policies = [
        policy
        for policy in of_type(resources, "AWS::S3::BucketPolicy").values()
        if policy["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    assert len(policies) == 1, f"{bucket_id} should have exactly one bucket policy"
    return policies[0]["Properties"]["PolicyDocument"]["Statement"]


def test_every_bucket_is_private_and_encrypted(resources: Resources) -> None:
    # Given every bucket of the stack
    buckets = of_type(resources, "AWS::S3::Bucket")
    assert buckets
    for bucket_id, bucket in buckets.items():
        properties = bucket["Properties"]
        # Then all four public access blocks are on
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, bucket_id
        # And objects are encrypted at rest
        rules = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert [rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] for rule in rules] == ["AES256"], (
            bucket_id
        )
        # And ACLs are disabled
        assert properties["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}], (
            bucket_id
        )
        # And deleting the stack keeps the data
        assert bucket["DeletionPolicy"] == "Retain", bucket_id


def test_every_bucket_denies_requests_without_tls(resources: Resources) -> None:
    for bucket_id in of_type(resources, "AWS::S3::Bucket"):
        # Given the bucket's policy
        statements = _bucket_policy_statements(resources, bucket_id)
        # Then it denies every action to everyone when the request is not over TLS
        assert any(
            statement["Effect"] == "Deny"
            and statement["Action"] == "s3:*"
            and statement["Principal"] == {"AWS": "*"}
            and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for statement in statements
        ), bucket_id


def test_data_buckets_are_versioned_abort_stale_uploads_and_log_access(
    resources: Resources, outputs: dict
) -> None:
    # Given the uploads and assets buckets (named by the stack outputs)
    access_log_bucket_ids = set()
    for output_name in ("UploadsBucketName", "AssetsBucketName"):
        bucket_id = ref_of(outputs[output_name])
        properties = resources[bucket_id]["Properties"]
        # Then versioning is on
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}, bucket_id
        # And incomplete multipart uploads are aborted after a day
        assert {"DaysAfterInitiation": 1} in [
            rule.get("AbortIncompleteMultipartUpload")
            for rule in properties["LifecycleConfiguration"]["Rules"]
        ], bucket_id
        # And server access logs go to another bucket of the stack
        destination = properties["LoggingConfiguration"]["DestinationBucketName"]["Ref"]
        assert destination != bucket_id and resources[destination]["Type"] == "AWS::S3::Bucket"
        access_log_bucket_ids.add(destination)
    assert len(access_log_bucket_ids) == 1


def test_uploads_reach_the_queue_through_eventbridge_without_custom_resources(
    resources: Resources, outputs: dict, template: Template
) -> None:
    # Given the uploads bucket and the upload events queue
    bucket_id = ref_of(outputs["UploadsBucketName"])
    queue_id = ref_of(outputs["UploadEventsQueueUrl"])
    # Then the bucket itself publishes its events to EventBridge
    assert resources[bucket_id]["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    # And one rule sends objects created under uploads/ in that bucket to the queue
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {
                    "bucket": {"name": [{"Ref": bucket_id}]},
                    "object": {"key": [{"prefix": UPLOAD_PREFIX}]},
                },
            },
            "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}})],
        },
    )


def test_the_only_custom_resource_deploys_the_model_artifacts(resources: Resources) -> None:
    # Given every custom resource in the template
    custom = {
        logical_id: resource
        for logical_id, resource in resources.items()
        if resource["Type"].startswith("Custom::")
        or resource["Type"] == "AWS::CloudFormation::CustomResource"
    }
    # Then there is none but CDK's BucketDeployments: the console's files, and the models (after `make models`)
    assert {resource["Type"] for resource in custom.values()} <= {"Custom::CDKBucketDeployment"}
    assert len(custom) == 1 + (1 if model_staging.manifest_path().is_file() else 0)
    # And no construct that hides one (LogRetention, auto-delete objects, bucket notifications) crept in
    assert not [
        logical_id
        for logical_id in resources
        if any(
            marker in logical_id for marker in ("LogRetention", "AutoDeleteObjects", "BucketNotifications")
        )
    ]


def test_every_table_is_on_demand_recoverable_encrypted_and_retained(resources: Resources) -> None:
    tables = of_type(resources, "AWS::DynamoDB::Table")
    assert len(tables) == len(TABLE_DESIGNS)
    for table_id, table in tables.items():
        properties = table["Properties"]
        assert properties["BillingMode"] == "PAY_PER_REQUEST", table_id
        assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, (
            table_id
        )
        assert properties["SSESpecification"] == {"SSEEnabled": True}, table_id
        assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain", table_id


def test_tables_have_the_keys_indexes_and_ttl_the_domain_relies_on(template: Template) -> None:
    # Then materials are keyed by id, listed by "<line>#<status>" and created_at, and found by content hash
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "material_id", "KeyType": "HASH"}],
            "GlobalSecondaryIndexes": Match.array_with(
                [
                    Match.object_like(
                        {
                            "IndexName": "by_business_line_status",
                            "KeySchema": [
                                {"AttributeName": "line_status", "KeyType": "HASH"},
                                {"AttributeName": "created_at", "KeyType": "RANGE"},
                            ],
                        }
                    ),
                    Match.object_like(
                        {
                            "IndexName": "by_content_hash",
                            "KeySchema": [{"AttributeName": "content_hash", "KeyType": "HASH"}],
                        }
                    ),
                ]
            ),
        },
    )
    # And creatives are listed per business line
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "creative_id", "KeyType": "HASH"}],
            "GlobalSecondaryIndexes": [
                Match.object_like(
                    {
                        "IndexName": "by_business_line",
                        "KeySchema": [
                            {"AttributeName": "business_line", "KeyType": "HASH"},
                            {"AttributeName": "creative_id", "KeyType": "RANGE"},
                        ],
                    }
                )
            ],
        },
    )
    # And impressions and idempotency records expire by TTL
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "impression_id", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
        },
    )
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
        },
    )


def test_upload_queue_dead_letters_after_five_receives(resources: Resources, outputs: dict) -> None:
    # Given the upload events queue and its dead-letter queue
    queue = resources[ref_of(outputs["UploadEventsQueueUrl"])]["Properties"]
    dead_letter_id = ref_of(outputs["UploadEventsDlqUrl"])
    # Then a message received five times without success moves to the DLQ
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dead_letter_id, "Arn"]},
        "maxReceiveCount": constants.MAX_RECEIVE_COUNT,
    }
    assert constants.MAX_RECEIVE_COUNT == 5
    # And the DLQ keeps it for 14 days
    assert resources[dead_letter_id]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_upload_queue_outlasts_six_consumer_timeouts(resources: Resources, outputs: dict) -> None:
    # Given the consumers the catalog declares for the upload events queue
    consumer_timeouts = [
        spec.timeout_s
        for spec in FUNCTIONS
        for trigger in spec.triggers
        if isinstance(trigger, QueueTrigger) and trigger.queue == "upload_events_queue"
    ]
    # Then the queue hides a received message for at least 6x the slowest one's timeout
    visibility = resources[ref_of(outputs["UploadEventsQueueUrl"])]["Properties"]["VisibilityTimeout"]
    assert visibility >= 6 * max(consumer_timeouts)


def test_every_queue_is_encrypted_and_tls_only(resources: Resources) -> None:
    queue_policies = of_type(resources, "AWS::SQS::QueuePolicy").values()
    for queue_id, queue in of_type(resources, "AWS::SQS::Queue").items():
        # Then messages are encrypted at rest
        assert queue["Properties"]["SqsManagedSseEnabled"] is True, queue_id
        # And a policy denies every request that is not over TLS
        statements = [
            statement
            for policy in queue_policies
            if {"Ref": queue_id} in as_list(policy["Properties"]["Queues"])
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]
        assert any(
            statement["Effect"] == "Deny"
            and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for statement in statements
        ), queue_id


def test_only_the_upload_rule_may_send_to_the_upload_queue(resources: Resources, outputs: dict) -> None:
    # Given the upload queue's policy and the rule that routes S3 events to it
    queue_id = ref_of(outputs["UploadEventsQueueUrl"])
    (policy,) = [
        r["Properties"]["PolicyDocument"]
        for r in of_type(resources, "AWS::SQS::QueuePolicy").values()
        if r["Properties"]["Queues"] == [{"Ref": queue_id}]
    ]
    (rule_id,) = [
        logical_id
        for logical_id, rule in of_type(resources, "AWS::Events::Rule").items()
        if rule["Properties"].get("EventPattern", {}).get("source") == ["aws.s3"]
    ]
    allows = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    # Then EventBridge may send to it, only on behalf of that rule (without this, uploads vanish on AWS)
    assert len(allows) == 1
    assert allows[0]["Principal"] == {"Service": "events.amazonaws.com"}
    assert "sqs:SendMessage" in allows[0]["Action"]
    assert allows[0]["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}}
    # And undeliverable events go to the dead-letter queue
    (target,) = resources[rule_id]["Properties"]["Targets"]
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [ref_of(outputs["UploadEventsDlqUrl"]), "Arn"]}


def test_model_registry_keys_pointer_and_runs_by_model_and_is_protected(
    resources: Resources, outputs: dict
) -> None:
    # Given the model registry table (the active model's pointer and every retraining run's report)
    table = resources[ref_of(outputs["ModelRegistryTableName"])]
    properties = table["Properties"]
    # Then each model's records share a partition, one record ("active", "run#<started_at>") each
    assert properties["KeySchema"] == [
        {"AttributeName": "model_name", "KeyType": "HASH"},
        {"AttributeName": "record", "KeyType": "RANGE"},
    ]
    assert sorted(properties["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == [
        {"AttributeName": "model_name", "AttributeType": "S"},
        {"AttributeName": "record", "AttributeType": "S"},
    ]
    # And losing the pointer is recoverable, the records are encrypted and outlive the stack
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert table["DeletionPolicy"] == "Retain"
    # And nothing expires a pointer or a report behind the registry's back
    assert "TimeToLiveSpecification" not in properties
