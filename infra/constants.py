"""Tunables of the CDK stack: retention periods, limits and names that more than one construct reads."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_logs as logs

from infra.catalog import STACK_NAME

# Lambda
POWERTOOLS_METRICS_NAMESPACE = STACK_NAME
LOG_LEVEL = "INFO"
FUNCTION_LOG_RETENTION = logs.RetentionDays.ONE_MONTH
# Metadata key on every AWS::Lambda::Function: the catalog name the local runtime maps it back to.
FUNCTION_METADATA_KEY = "creative:function"
# Metadata key on every AWS::Lambda::LayerVersion: "creative" (domain package) or "deps" (third-party).
LAYER_METADATA_KEY = "creative:layer"
# Kept out of code assets so that a local test run (bytecode, caches) does not change the asset hash.
ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", ".pytest_cache", ".ruff_cache"]

# S3
ABORT_INCOMPLETE_UPLOADS_AFTER = Duration.days(1)
NONCURRENT_VERSIONS_EXPIRE_AFTER = Duration.days(30)
ACCESS_LOGS_EXPIRE_AFTER = Duration.days(90)
MINIMUM_TLS_VERSION = 1.2

# SQS. AWS advises a source queue visibility timeout of at least 6x the consumer's timeout plus its
# batching window, so a message is not redelivered while a throttled, retried invocation still holds it.
VISIBILITY_TIMEOUT_PER_CONSUMER_TIMEOUT = 6
MAX_RECEIVE_COUNT = 3
DEAD_LETTER_RETENTION = Duration.days(14)

# Scheduled invocations (EventBridge -> Lambda, asynchronous).
SCHEDULE_RETRY_ATTEMPTS = 2
SCHEDULE_MAX_EVENT_AGE = Duration.hours(1)

# REST API
API_STAGE_NAME = "prod"
API_LOG_RETENTION = logs.RetentionDays.ONE_MONTH
# Stage-wide ceiling for every caller together.
API_STAGE_RATE_LIMIT = 1000
API_STAGE_BURST_LIMIT = 2000
# Per API key ceiling of the racing usage plan.
API_KEY_RATE_LIMIT = 500
API_KEY_BURST_LIMIT = 1000

# Monitoring
ALARM_PERIOD = Duration.minutes(5)

# What "read" and "write" in a catalog Access mean, per kind of resource. Object actions are granted on
# `<bucket>/<prefix>*` only; table actions on the table and, for reads, each of its indexes by name.
BUCKET_READ_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion")
BUCKET_LIST_ACTIONS = ("s3:ListBucket",)
BUCKET_WRITE_ACTIONS = ("s3:PutObject",)
TABLE_READ_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:ConditionCheckItem",
)
TABLE_WRITE_ACTIONS = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
)
