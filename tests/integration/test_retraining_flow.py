"""Retraining on moto: impressions in DynamoDB -> challenger in S3 -> pointer flip -> select scores with it."""

import hashlib
import json
import os

import pytest
from creative.adapters.dynamodb_creatives import DynamoCreativeRepository
from creative.adapters.dynamodb_impressions import day_bucket
from creative.adapters.dynamodb_items import to_item

from tests.conftest import load_event, load_handler
from tests.factories import logged_world
from tests.integration.conftest import ASSETS_BUCKET, table_items


@pytest.fixture(scope="module")
def world():
    """Three days of traffic served by the racer in memory, with clicks that depend on the user."""
    return logged_world(informative=True)


def store(aws, world) -> None:
    creatives, log, _ = world
    DynamoCreativeRepository(aws["dynamodb"], os.environ["CREATIVES_TABLE"]).put_new(
        list(creatives.items.values())
    )
    for impression in log.items.values():
        # As select stores them: with the day bucket the retraining index is keyed on.
        item = impression.model_dump(mode="json")
        item["day_bucket"] = day_bucket(impression.impression_id, impression.created_at)
        aws["dynamodb"].put_item(TableName=os.environ["IMPRESSIONS_TABLE"], Item=to_item(item))


def test_the_scheduled_run_promotes_a_better_model_and_select_uses_it(aws, world, lambda_context):
    # Given three days of logged impressions and clicks in the tables
    store(aws, world)
    retrain = load_handler("retrain_ctr")
    event = load_event("schedule_retrain_ctr.json")
    # When the hourly schedule fires
    report = retrain.lambda_handler(event, lambda_context)
    # Then the challenger is promoted, its artifact is in the assets bucket under its recorded hash
    assert report["outcome"] == "promoted", report["reason"]
    registry = {i["record"]: i for i in table_items(aws["dynamodb"], "MODEL_REGISTRY_TABLE")}
    active = registry["active"]
    assert active["version"] == report["challenger_version"]
    artifact = aws["s3"].get_object(Bucket=ASSETS_BUCKET, Key=active["key"])["Body"].read()
    assert hashlib.sha256(artifact).hexdigest() == active["sha256"] and active["key"].startswith(
        "models/ctr/"
    )
    assert registry["run#2026-11-23T00:00:00.000000Z"]["outcome"] == "promoted"
    # When the same event is delivered again, nothing changes
    again = retrain.lambda_handler(event, lambda_context)
    assert again["outcome"] == "already_active"
    after = {i["record"]: i for i in table_items(aws["dynamodb"], "MODEL_REGISTRY_TABLE")}
    assert after["active"] == active and after["run#2026-11-23T00:00:00.000000Z"]["outcome"] == "promoted"
    # And select now scores candidates with the promoted model
    select = load_handler("select")
    response = select.lambda_handler(
        {
            **load_event("api_select.json"),
            "body": '{"business_line": "fashion", "placement": "feed", "user": {"id": "u1", "features": {"gender": "f"}}}',
        },
        lambda_context,
    )
    assert response["statusCode"] == 200, response["body"]
    body = json.loads(response["body"])
    assert body["model_version"] == report["challenger_version"] and 0 < body["predicted_ctr"] < 1


def test_without_traffic_the_run_refuses_and_select_keeps_the_constant_prior(aws, lambda_context):
    report = load_handler("retrain_ctr").lambda_handler(
        load_event("schedule_retrain_ctr.json"), lambda_context
    )
    assert report["outcome"] == "insufficient_data"
    records = {i["record"] for i in table_items(aws["dynamodb"], "MODEL_REGISTRY_TABLE")}
    assert "active" not in records and records == {"run#2026-11-23T00:00:00.000000Z"}
