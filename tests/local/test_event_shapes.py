"""The events the local runtime builds have the shape AWS sends, checked against Powertools' models of
the real events (the models handlers parse with)."""

import base64
import json

from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventModel,
    EventBridgeModel,
    SqsModel,
)
from local_runtime.api_events import ApiIdentity, HttpRequest, build_proxy_event
from local_runtime.api_routes import RouteMatch
from local_runtime.queues import QueueSource, build_sqs_event
from local_runtime.schedules import rate_seconds, scheduled_event
from local_runtime.template import ApiRoute

ROUTE = ApiRoute(
    rest_api_logical_id="Api",
    method="GET",
    resource_path="/v1/materials/{material_id}",
    authorization_type="AWS_IAM",
    api_key_required=False,
    integration_type="AWS_PROXY",
    function_logical_id="Fn",
)


def request(**overrides) -> HttpRequest:
    fields = {
        "method": "GET",
        "path": "/v1/materials/mat%201",
        "stage": "prod",
        "query": [("status", "ADMITTED"), ("tag", "a"), ("tag", "b")],
        "headers": [
            ("Host", "127.0.0.1:8000"),
            ("User-Agent", "curl/8"),
            ("Accept", "text/html"),
            ("Accept", "application/json"),
        ],
        "body": b"",
        "source_ip": "127.0.0.1",
        "host": "127.0.0.1:8000",
    }
    return HttpRequest(**{**fields, **overrides})


def proxy_event(http_request: HttpRequest, **kwargs) -> dict:
    return build_proxy_event(
        http_request,
        RouteMatch(ROUTE, {"material_id": "mat 1"}),
        api_id="abc123",
        account_id="123456789012",
        resource_id="res1",
        identity=kwargs.pop(
            "identity", ApiIdentity(user_arn="arn:aws:iam::123456789012:user/local-operator")
        ),
        **kwargs,
    )


def test_api_gateway_proxy_event_has_the_rest_v1_shape():
    # Given a GET with repeated query parameters and headers
    # When it becomes a proxy event
    event = proxy_event(request(), now=1_800_000_000.0)
    # Then Powertools' model of API Gateway's event accepts it
    parsed = APIGatewayProxyEventModel.model_validate(event)
    # And it carries the resource template, the path without the stage, and the stage in the context
    assert (event["resource"], event["path"], event["httpMethod"]) == (
        "/v1/materials/{material_id}",
        "/v1/materials/mat%201",
        "GET",
    )
    assert event["pathParameters"] == {"material_id": "mat 1"}
    assert event["queryStringParameters"] == {"status": "ADMITTED", "tag": "b"}
    assert event["multiValueQueryStringParameters"]["tag"] == ["a", "b"]
    assert event["headers"]["Accept"] == "application/json"
    assert event["multiValueHeaders"]["Accept"] == ["text/html", "application/json"]
    context = event["requestContext"]
    assert (context["stage"], context["resourcePath"], context["path"]) == (
        "prod",
        ROUTE.resource_path,
        "/prod/v1/materials/mat%201",
    )
    assert (context["apiId"], context["resourceId"], context["accountId"]) == (
        "abc123",
        "res1",
        "123456789012",
    )
    assert context["requestTimeEpoch"] == 1_800_000_000_000
    assert parsed.requestContext.identity.userArn == "arn:aws:iam::123456789012:user/local-operator"
    assert event["body"] is None and event["isBase64Encoded"] is False


def test_api_key_reaches_the_identity():
    # Given a request authorised by an API key
    event = proxy_event(request(), identity=ApiIdentity(api_key="k-value", api_key_id="k-id"))
    # Then the handler can see which key called
    assert event["requestContext"]["identity"]["apiKey"] == "k-value"
    assert event["requestContext"]["identity"]["apiKeyId"] == "k-id"


def test_a_request_without_query_has_null_query_fields():
    event = proxy_event(request(query=[]))
    assert event["queryStringParameters"] is None and event["multiValueQueryStringParameters"] is None


def test_text_bodies_stay_text_and_binary_media_types_are_base64():
    # Given a JSON body, and an image body on an API declaring image/* binary
    text = proxy_event(
        request(method="POST", body=b'{"a": 1}', headers=[("Content-Type", "application/json")]),
        binary_media_types=("image/*",),
    )
    image = proxy_event(
        request(method="POST", body=b"\x89PNG", headers=[("Content-Type", "image/png")]),
        binary_media_types=("image~1*",),
    )
    # Then text arrives as text and the image as base64, flagged
    assert (text["body"], text["isBase64Encoded"]) == ('{"a": 1}', False)
    assert (base64.b64decode(image["body"]), image["isBase64Encoded"]) == (b"\x89PNG", True)


def receive_message_result(message_id: str, body: str, with_attributes: bool = False) -> dict:
    message = {
        "MessageId": message_id,
        "ReceiptHandle": f"rh-{message_id}",
        "MD5OfBody": "d41d8cd98f00b204e9800998ecf8427e",
        "Body": body,
        "Attributes": {
            "SenderId": "AIDAIT2UOQQY3AUEKVGXU",
            "SentTimestamp": "1795625408645",
            "ApproximateReceiveCount": "1",
            "ApproximateFirstReceiveTimestamp": "1795625408646",
        },
    }
    if with_attributes:
        message["MessageAttributes"] = {"trace": {"StringValue": "t-1", "DataType": "String"}}
        message["MD5OfMessageAttributes"] = "0123456789abcdef0123456789abcdef"
    return message


def test_sqs_event_has_the_lambda_poller_shape():
    # Given two ReceiveMessage results, one with message attributes
    source = QueueSource(
        url="http://q",
        arn="arn:aws:sqs:us-east-1:123456789012:uploads",
        region="us-east-1",
        visibility_timeout_s=30,
    )
    messages = [
        receive_message_result("m-1", '{"a": 1}'),
        receive_message_result("m-2", "two", with_attributes=True),
    ]
    # When they become one batch event
    event = build_sqs_event(messages, source)
    # Then Powertools' SQS model accepts it and the fields use Lambda's spelling
    SqsModel.model_validate(event)
    first, second = event["Records"]
    assert (first["messageId"], first["receiptHandle"], first["body"]) == ("m-1", "rh-m-1", '{"a": 1}')
    assert (first["eventSource"], first["eventSourceARN"], first["awsRegion"]) == (
        "aws:sqs",
        source.arn,
        "us-east-1",
    )
    assert first["attributes"]["ApproximateReceiveCount"] == "1"
    assert "md5OfMessageAttributes" not in first
    assert second["messageAttributes"]["trace"] == {
        "stringValue": "t-1",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }


def test_scheduled_event_has_the_eventbridge_shape():
    # Given a rule's ARN
    rule_arn = "arn:aws:events:us-east-1:123456789012:rule/Compose"
    # When its scheduled event is built
    event = scheduled_event(rule_arn, "123456789012", "us-east-1", now=1_800_000_000.0)
    # Then it is a "Scheduled Event" from aws.events naming the rule
    parsed = EventBridgeModel.model_validate(event)
    assert (parsed.detail_type, parsed.source, parsed.resources) == (
        "Scheduled Event",
        "aws.events",
        [rule_arn],
    )
    assert event["time"] == "2027-01-15T08:00:00Z" and event["detail"] == {}
    assert json.loads(json.dumps(event)) == event


def test_rate_expressions_have_periods_and_cron_has_none():
    assert rate_seconds("rate(5 minutes)") == 300
    assert rate_seconds("rate(1 hour)") == 3600
    assert rate_seconds("cron(0 12 * * ? *)") is None
