"""The tiny stack served by LocalRuntime, used the way a client and a developer would use it."""

from __future__ import annotations

import json

import pytest
import requests

from tests.local import tiny_stack
from tests.polling import wait_until


@pytest.fixture(scope="module")
def local(tiny_runtime):
    return tiny_runtime


def operator_headers(local) -> dict[str, str]:
    return {"Authorization": f"Bearer {local.operator_key}"}


def test_api_key_routes_need_the_stacks_key(local):
    # Given the key the stack's usage plan grants
    # When the API-key route is called with it, without it, and with a wrong one
    ok = requests.post(
        local.api_url + "items", headers={"x-api-key": local.api_key}, json={"a": 1}, timeout=10
    )
    missing = requests.post(local.api_url + "items", json={"a": 1}, timeout=10)
    wrong = requests.post(local.api_url + "items", headers={"x-api-key": "nope"}, json={"a": 1}, timeout=10)
    # Then only the key opens it, and the handler sees which key called
    assert ok.status_code == 201
    assert ok.json()["identity"]["apiKey"] == local.api_key
    assert ok.headers["X-Handler"] == "api"
    assert (missing.status_code, missing.json()) == (403, {"message": "Forbidden"})
    assert wrong.status_code == 403


def test_path_parameters_and_resource_template_reach_the_handler(local):
    response = requests.get(local.api_url + "items/it%2042", headers={"x-api-key": local.api_key}, timeout=10)
    body = response.json()
    assert body["resource"] == "/items/{item_id}"
    assert body["pathParameters"] == {"item_id": "it 42"}


def test_iam_routes_need_the_operator_key(local):
    # When the AWS_IAM route is called without credentials, with a wrong token, and as the operator
    anonymous = requests.get(local.api_url + "admin?page=1", timeout=10)
    wrong = requests.get(local.api_url + "admin?page=1", headers={"Authorization": "Bearer x"}, timeout=10)
    operator = requests.get(local.api_url + "admin?page=1", headers=operator_headers(local), timeout=10)
    # Then only the operator gets through, and the handler sees an IAM caller
    assert (anonymous.status_code, anonymous.json()) == (403, {"message": "Missing Authentication Token"})
    assert wrong.status_code == 403
    assert operator.status_code == 200
    assert operator.json()["identity"]["userArn"].endswith(":user/local-operator")


def test_the_request_validator_requires_declared_parameters(local):
    response = requests.get(local.api_url + "admin", headers=operator_headers(local), timeout=10)
    assert (response.status_code, response.json()) == (
        400,
        {"message": "Missing required request parameters: [page]"},
    )


def test_unknown_routes_answer_like_api_gateway(local):
    # Given a path, a method and a stage the API does not have
    no_path = requests.get(local.api_url + "nothing", timeout=10)
    no_method = requests.delete(local.api_url + "items", timeout=10)
    no_stage = requests.get(local.api_url.replace("/prod/", "/dev/") + "items", timeout=10)
    # Then each is refused with API Gateway's message
    assert (no_path.status_code, no_path.json()) == (404, {"message": "Missing Authentication Token"})
    assert (no_method.status_code, no_method.json()) == (405, {"message": "Missing Authentication Token"})
    assert no_stage.status_code == 404


def test_public_root_mock_preflight_and_multi_value_headers(local):
    root = requests.get(local.api_url, timeout=10)
    preflight = requests.options(local.api_url + "items", timeout=10)
    assert root.status_code == 200 and root.json()["resource"] == "/"
    assert root.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Methods"] == "POST,OPTIONS"


def test_handler_failures_are_502(local):
    # Given a handler that raises, and one that returns a malformed result
    raised = requests.get(local.api_url + "?fail=raise", timeout=10)
    malformed = requests.get(local.api_url + "?fail=malformed", timeout=10)
    # Then API Gateway's 502 comes back
    assert (raised.status_code, raised.json()) == (502, {"message": "Internal server error"})
    assert malformed.status_code == 502


def test_an_upload_reaches_the_consumer_through_eventbridge_and_sqs(local):
    # Given an object uploaded under uploads/
    s3, dynamodb = local.client("s3"), local.client("dynamodb")
    bucket = local.outputs["UploadsBucketName"]
    put = s3.put_object(Bucket=bucket, Key="uploads/a/ok.txt", Body=b"x")
    # When the queue is drained
    local.drain_queues(timeout=30)
    # Then the consumer handled the S3 event, with the version the upload created
    table = local.functions["consumer"].environment["TABLE_NAME"]
    bodies = [json.loads(i["body"]["S"]) for i in dynamodb.scan(TableName=table)["Items"]]
    (event,) = [b for b in bodies if b["detail"]["object"]["key"] == "uploads/a/ok.txt"]
    assert event["detail"]["object"]["version-id"] == put["VersionId"]


def test_a_failing_upload_ends_in_the_dead_letter_queue(local):
    # Given an upload whose event the consumer reports as failed (its key says "fail")
    s3, sqs = local.client("s3"), local.client("sqs")
    s3.put_object(Bucket=local.outputs["UploadsBucketName"], Key="uploads/a/fail.txt", Body=b"x")
    dlq_url = local.stack.physical_id("DeadLetterQueue")

    # When it has been retried maxReceiveCount (2) times
    def dead_lettered() -> int:
        attributes = sqs.get_queue_attributes(
            QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

    wait_until(lambda: dead_lettered() == 1)
    # Then it is in the DLQ and the source queue is drained
    local.drain_queues(timeout=30)
    (message,) = sqs.receive_message(QueueUrl=dlq_url)["Messages"]
    assert json.loads(message["Body"])["detail"]["object"]["key"] == "uploads/a/fail.txt"


def test_fire_schedule_sends_a_scheduled_event_with_the_resolved_environment(local):
    # When the schedule is fired on demand
    result = local.fire_schedule("scheduled")
    # Then the target got EventBridge's scheduled event naming the rule
    event = result["event"]
    assert (event["detail-type"], event["source"]) == ("Scheduled Event", "aws.events")
    assert event["resources"] == [
        f"arn:aws:events:us-east-1:123456789012:rule/{local.stack.physical_id('ScheduleRule')}"
    ]
    # And its environment points at moto and names the deployed resources
    env = result["env"]
    assert env["AWS_ENDPOINT_URL"] == local.endpoint_url
    assert env["TABLE_NAME"] == local.stack.physical_id("Table")
    assert env["JOINED"] == f"{env['TABLE_NAME']}/us-east-1/x"
    assert env["QUEUE_ARN"].endswith(":" + local.stack.physical_id("UploadQueue").rsplit("/", 1)[1])
    assert (
        result["arn"]
        == f"arn:aws:lambda:us-east-1:123456789012:function:{local.stack.physical_id('ScheduledFunction')}"
    )


def test_functions_keep_their_own_layer_state(local):
    # Given the api function called twice (the consumer, sharing the layer, ran in other tests)
    first = requests.get(local.api_url, timeout=10).json()["layer_calls"]
    second = requests.get(local.api_url, timeout=10).json()["layer_calls"]
    # Then the api's count moves only with its own calls
    assert second == first + 1
    assert requests.get(local.api_url, timeout=10).json()["helper"] == "api"


def test_admin_route_fires_schedules_for_the_operator(local):
    fired = requests.post(
        local.admin_url + "schedules/scheduled", headers=operator_headers(local), timeout=30
    )
    anonymous = requests.post(local.admin_url + "schedules/scheduled", timeout=30)
    unknown = requests.post(local.admin_url + "schedules/api", headers=operator_headers(local), timeout=30)
    assert fired.status_code == 200 and fired.json()["result"]["event"]["detail-type"] == "Scheduled Event"
    assert anonymous.status_code == 403
    assert unknown.status_code == 404


def test_outputs_and_status_describe_the_local_stack(local):
    assert local.outputs["ApiUrl"].endswith("/prod/")
    status = local.status()
    assert set(status["functions"]) == set(tiny_stack.FUNCTION_NAMES)
    assert status["schedules"] == {"scheduled": "rate(5 minutes)"}
    assert list(status["queues"]) == ["consumer"]
