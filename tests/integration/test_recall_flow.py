"""Recall rules and phrase banks through the real handlers on moto: saved by the operator API, applied by
select, learned from by feedback."""

import json
import os

import pytest
from creative.adapters.dynamodb_creatives import DynamoCreativeRepository

from tests.conftest import line_route_event, load_event, load_handler
from tests.factories import creative


def call(function: str, ctx, event_name: str, body=None, **overrides) -> tuple[int, dict]:
    event = {**load_event(event_name), **overrides}
    if body is not None:
        event["body"] = json.dumps(body)
    response = load_handler(function).lambda_handler(event, ctx)
    return response["statusCode"], json.loads(response["body"])


def operator(ctx, method: str, route: str, line: str, body=None) -> tuple[int, dict]:
    event = line_route_event(method, route, line, body)
    response = load_handler("operator_api").lambda_handler(event, ctx)
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def line(aws, monkeypatch):
    monkeypatch.setenv("SELECT_CACHE_TTL_SECONDS", "0")
    repository = DynamoCreativeRepository(aws["dynamodb"], os.environ["CREATIVES_TABLE"])
    repository.put_new(
        [creative(i, line="food").model_copy(update={"image_key": f"served/food/{i}.png"}) for i in range(3)]
    )
    return aws


def test_phrases_and_pins_saved_by_operators_are_served_and_learned(line, lambda_context):
    bank = {
        "expected_version": 0,
        "phrases": [{"text": "Only {price} in {city}"}, {"text": "Shop now", "slot": "cta"}],
    }
    assert operator(lambda_context, "PUT", "/v1/phrase-banks/{business_line}", "food", bank)[0] == 200
    rules = {"expected_version": 0, "pins": [{"creative_id": "cr_2"}], "blocks": [{"creative_id": "cr_0"}]}
    assert operator(lambda_context, "PUT", "/v1/recall-rules/{business_line}", "food", rules)[0] == 200
    request = {
        "business_line": "food",
        "placement": "home_feed",
        "user": {"id": "u1", "features": {"segment": "a"}},
        "context": {"product": {"price": 3.5, "city": "Oslo"}},
    }
    status, served = call("select", lambda_context, "api_select.json", request)
    assert status == 200, served
    assert {p["slot"]: p["text"] for p in served["phrases"]} == {
        "phrase": "Only $3.50 in Oslo",
        "cta": "Shop now",
    }
    assert served["candidates"] == 2 and served["creative"]["creative_id"] != "cr_0"
    click = {"impression_id": served["impression_id"], "event": "click"}
    assert call("feedback", lambda_context, "api_feedback.json", click)[1]["counted"] is True
    status, labels = operator(lambda_context, "GET", "/v1/asset-labels/{business_line}", "food")
    phrases = [row for row in labels["items"] if row["slot"] in ("phrase", "cta")]
    assert status == 200 and {row["positives"] for row in phrases} == {1.0}
