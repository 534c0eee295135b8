"""Contracts: sample events are real-shaped, and the committed OpenAPI matches the code."""

import json
import subprocess
import sys

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventModel,
    EventBridgeModel,
    S3EventNotificationEventBridgeModel,
    SqsModel,
)
from creative.operator import CreativeStatusChange, TagChange
from creative.racing.schemas import FeedbackRequest, SelectRequest
from creative.tagging.events import EVENT_SOURCE, MATERIAL_ADMITTED, MaterialAdmitted
from creative.upload_forms import UploadRequest

from infra.catalog import FUNCTIONS, ApiRoute
from infra.paths import REPO_ROOT, TOOLS_DIR
from tests.conftest import EVENTS, load_event

API_BODIES = {
    "api_select.json": SelectRequest,
    "api_feedback.json": FeedbackRequest,
    "api_disable_creative.json": CreativeStatusChange,
    "api_change_tags.json": TagChange,
    "api_upload_form.json": UploadRequest,
}


def test_every_sample_event_is_covered_by_a_contract():
    names = {p.name for p in EVENTS.glob("*.json")}
    assert names == {n for n in names if n.startswith(("api_", "sqs_upload", "sqs_material", "schedule_"))}


@pytest.mark.parametrize("name", sorted(p.name for p in EVENTS.glob("api_*.json")))
def test_api_events_are_api_gateway_rest_proxy_events(name):
    event = APIGatewayProxyEventModel.model_validate(load_event(name))
    declared = {(t.method, t.path) for f in FUNCTIONS for t in f.triggers if isinstance(t, ApiRoute)}
    assert (event.httpMethod, event.resource) in declared
    if name in API_BODIES:
        API_BODIES[name].model_validate_json(event.body)


@pytest.mark.parametrize("name", sorted(p.name for p in EVENTS.glob("sqs_upload*.json")))
def test_sqs_events_carry_s3_object_created_events_from_eventbridge(name):
    batch = SqsModel.model_validate(load_event(name))
    for record in batch.Records:
        s3_event = S3EventNotificationEventBridgeModel.model_validate_json(record.body)
        assert s3_event.detail_type == "Object Created"
        assert s3_event.detail.object.key.startswith("uploads/")


@pytest.mark.parametrize("name", sorted(p.name for p in EVENTS.glob("sqs_material*.json")))
def test_sqs_events_carry_material_events_from_the_stacks_bus(name):
    batch = SqsModel.model_validate(load_event(name))
    for record in batch.Records:
        event = EventBridgeModel.model_validate_json(record.body)
        assert (event.source, event.detail_type) == (EVENT_SOURCE, MATERIAL_ADMITTED)
        MaterialAdmitted.model_validate(event.detail)


@pytest.mark.parametrize("name", sorted(p.name for p in EVENTS.glob("schedule_*.json")))
def test_schedule_events_are_eventbridge_scheduled_events(name):
    event = EventBridgeModel.model_validate(load_event(name))
    assert event.detail_type == "Scheduled Event" and event.source == "aws.events"


def test_committed_openapi_matches_the_code():
    result = subprocess.run(
        [sys.executable, str(TOOLS_DIR / "scripts" / "generate_openapi.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_openapi_documents_every_declared_route_with_its_auth():
    document = json.loads((REPO_ROOT / "docs" / "openapi.json").read_text())
    for spec in FUNCTIONS:
        for trigger in spec.triggers:
            if isinstance(trigger, ApiRoute):
                operation = document["paths"][trigger.path][trigger.method.lower()]
                expected = "api_key" if trigger.auth == "api_key" else "sigv4"
                assert operation["security"] == [{expected: []}]
                assert "400" in operation["responses"] and "422" not in operation["responses"]
