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
# Metadata key on every AWS::Lambda::LayerVersion: its name, "creative" (domain package), "deps" (third-party,
# on every function) or an extra layer a catalog entry lists (e.g. "training").
LAYER_METADATA_KEY = "creative:layer"
# Kept out of code assets so that a local test run (bytecode, caches) does not change the asset hash.
ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", ".pytest_cache", ".ruff_cache"]
# Built layers keep their bytecode: the build compiled it for the runtime (stack_build.bytecode).
BUILT_LAYER_EXCLUDES = [".pytest_cache", ".ruff_cache"]

# S3
ABORT_INCOMPLETE_UPLOADS_AFTER = Duration.days(1)
NONCURRENT_VERSIONS_EXPIRE_AFTER = Duration.days(30)
ACCESS_LOGS_EXPIRE_AFTER = Duration.days(90)
MINIMUM_TLS_VERSION = 1.2

# SQS. AWS advises a source queue visibility timeout of at least 6x the consumer's timeout plus its
# batching window, so a message is not redelivered while a throttled, retried invocation still holds it.
VISIBILITY_TIMEOUT_PER_CONSUMER_TIMEOUT = 6
# AWS advises at least 5 for queues behind a Lambda event source mapping: throttled receives count too.
MAX_RECEIVE_COUNT = 5
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

# Catalog Access actions that apply to the bucket itself (the rest apply to `<bucket>/<prefix>*`), and the
# table actions that also apply to its indexes.
BUCKET_LEVEL_ACTIONS = ("s3:ListBucket",)
INDEX_ACTIONS = ("dynamodb:Query", "dynamodb:Scan")
