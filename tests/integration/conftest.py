"""Handlers in-process against moto, with tables created from the synthesized template's own definitions."""

import json
import os
import sys

import boto3
import pytest
from creative import wiring
from moto import mock_aws
from stack_build.synth import synthesize

REGION = "us-east-1"
UPLOADS_BUCKET = "test-uploads"
ASSETS_BUCKET = "test-assets"
TABLE_ENV = {
    "Materials": "MATERIALS_TABLE",
    "Creatives": "CREATIVES_TABLE",
    "Impressions": "IMPRESSIONS_TABLE",
    "ModelRegistry": "MODEL_REGISTRY_TABLE",
    "Idempotency": "IDEMPOTENCY_TABLE",
}
_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")


@pytest.fixture(scope="session")
def template() -> dict:
    return json.loads(synthesize().read_text())


def _tables(template: dict) -> dict[str, dict]:
    """Env var → the table's CloudFormation properties, for every table in the template."""
    tables = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::DynamoDB::Table":
            env = next(v for k, v in TABLE_ENV.items() if k + "Table" in logical_id)
            tables[env] = resource["Properties"]
    return tables


@pytest.fixture
def aws(template, monkeypatch):
    """A moto account holding the stack's tables (as the template defines them) and an uploads bucket."""
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
        s3.create_bucket(Bucket=ASSETS_BUCKET)
        monkeypatch.setenv("ASSETS_BUCKET", ASSETS_BUCKET)
        _clear_wiring()
        yield {"s3": s3, "dynamodb": dynamodb}
        _clear_wiring()


def _clear_wiring():
    """Each test is a fresh cold start."""
    for name in (
        "_session",
        "admission",
        "admission_idempotency",
        "retraining",
        "composition",
        "racing",
        "feedback",
        "operator",
    ):
        getattr(wiring, name).cache_clear()
    admission_handler = sys.modules.get("handler_admission")
    if admission_handler is not None:
        admission_handler.admit_once.cache_clear()


def table_items(dynamodb, env: str) -> list[dict]:
    from creative.adapters.dynamodb_items import from_item

    return [from_item(i) for i in dynamodb.scan(TableName=os.environ[env])["Items"]]
