"""Handlers in-process against moto, with tables created from the synthesized template's own definitions."""

import json
import os
import sys

import boto3
import pytest
from creative import wiring
from local_runtime import moto_gaps
from moto import mock_aws
from stack_build.synth import synthesize

from infra.catalog import EVENT_ROUTES
from infra.constructs.storage import TABLE_DESIGNS

REGION = "us-east-1"
UPLOADS_BUCKET = "test-uploads"
ASSETS_BUCKET = "test-assets"
MATERIAL_EVENTS_BUS = "test-material-events"
# Construct id of each table -> the environment variable the functions read its name from.
TABLE_ENV = {design.construct_id: design.resource.upper() for design in TABLE_DESIGNS}
_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")


@pytest.fixture(scope="session")
def template() -> dict:
    return json.loads(synthesize().read_text())


def _tables(template: dict) -> dict[str, dict]:
    """Env var → the table's CloudFormation properties, for every table in the template."""
    tables = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::DynamoDB::Table":
            env = next(v for k, v in TABLE_ENV.items() if k in logical_id)
            tables[env] = resource["Properties"]
    return tables


@pytest.fixture
def aws(template, monkeypatch):
    """A moto account holding the stack's tables (as the template defines them) and an uploads bucket.

    moto behaves as AWS does where this system would notice (local_runtime.moto_gaps), as in the runtime."""
    moto_gaps.apply()
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "POWERTOOLS_METRICS_NAMESPACE": "CreativeEngineTest",
        "POWERTOOLS_SERVICE_NAME": "creative-engine",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        for env, properties in _tables(template).items():
            name = env.lower().replace("_", "-")
            dynamodb.create_table(
                TableName=name, **{k: properties[k] for k in _TABLE_KEYS if k in properties}
            )
            monkeypatch.setenv(env, name)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=UPLOADS_BUCKET)
        s3.put_bucket_versioning(Bucket=UPLOADS_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        monkeypatch.setenv("UPLOADS_BUCKET", UPLOADS_BUCKET)
        s3.create_bucket(Bucket=ASSETS_BUCKET)
        monkeypatch.setenv("ASSETS_BUCKET", ASSETS_BUCKET)
        sqs, tagging_queue = _material_events(monkeypatch)
        _clear_wiring()
        yield {"s3": s3, "dynamodb": dynamodb, "sqs": sqs, "tagging_queue": tagging_queue}
        _clear_wiring()


def _material_events(monkeypatch) -> tuple:
    """The stack's bus and its route to the tagging queue, as the catalog declares them."""
    (route,) = EVENT_ROUTES
    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    events.create_event_bus(Name=MATERIAL_EVENTS_BUS)
    queue_url = sqs.create_queue(QueueName="test-tagging")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="to-tagging",
        EventBusName=MATERIAL_EVENTS_BUS,
        EventPattern=json.dumps({"source": [route.source], "detail-type": list(route.detail_types)}),
    )
    events.put_targets(
        Rule="to-tagging", EventBusName=MATERIAL_EVENTS_BUS, Targets=[{"Id": "q", "Arn": queue_arn}]
    )
    monkeypatch.setenv("MATERIAL_EVENTS_BUS", MATERIAL_EVENTS_BUS)
    return sqs, queue_url


def _clear_wiring():
    """Each test is a fresh cold start."""
    for value in vars(wiring).values():
        if (
            callable(getattr(value, "cache_clear", None))
            and getattr(value, "__module__", "") == wiring.__name__
        ):
            value.cache_clear()
    admission_handler = sys.modules.get("handler_admission")
    if admission_handler is not None:
        admission_handler.admit_once.cache_clear()


def table_items(dynamodb, env: str) -> list[dict]:
    from creative.adapters.dynamodb_items import from_item

    return [from_item(i) for i in dynamodb.scan(TableName=os.environ[env])["Items"]]
