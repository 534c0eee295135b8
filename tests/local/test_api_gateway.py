"""Routing, auth checks and response mapping of the local API Gateway, without a server."""

import base64

from local_runtime.api_events import HttpRequest, mock_response, proxy_response
from local_runtime.api_gateway import missing_parameters
from local_runtime.api_routes import RouteTable
from local_runtime.template import ApiRoute


def route(method: str, path: str, **fields) -> ApiRoute:
    return ApiRoute(
        rest_api_logical_id="Api",
        method=method,
        resource_path=path,
        authorization_type=fields.pop("authorization_type", "NONE"),
        api_key_required=False,
        integration_type=fields.pop("integration_type", "AWS_PROXY"),
        function_logical_id="Fn",
        **fields,
    )


TABLE = RouteTable(
    [
        route("GET", "/v1/creatives"),
        route("GET", "/v1/creatives/{creative_id}"),
        route("PATCH", "/v1/creatives/{creative_id}"),
        route("GET", "/v1/creatives/top"),
        route("ANY", "/files/{proxy+}"),
        route("GET", "/"),
    ]
)


def test_literal_segments_win_over_variables():
    # Given both /v1/creatives/top and /v1/creatives/{creative_id}
    # When /v1/creatives/top is requested, Then the literal resource is chosen, as API Gateway does
    assert TABLE.resource_for("/v1/creatives/top") == ("/v1/creatives/top", {})
    assert TABLE.resource_for("/v1/creatives/cr_1") == (
        "/v1/creatives/{creative_id}",
        {"creative_id": "cr_1"},
    )


def test_greedy_variables_take_the_rest_of_the_path():
    assert TABLE.resource_for("/files/a/b/c.txt") == ("/files/{proxy+}", {"proxy": "a/b/c.txt"})
    assert TABLE.route_for("DELETE", "/files/{proxy+}").method == "ANY"


def test_unknown_paths_and_methods_have_no_route():
    # Given paths and methods the template does not declare
    # Then there is no resource, or a resource without that method
    assert TABLE.resource_for("/v2/creatives") is None
    assert TABLE.resource_for("/v1/creatives/cr_1/extra") is None
    assert TABLE.route_for("DELETE", "/v1/creatives/{creative_id}") is None
    assert TABLE.resource_for("/") == ("/", {})


def test_proxy_result_maps_to_status_headers_and_body():
    # Given a Lambda proxy result with single and multi-value headers
    result = {
        "statusCode": 201,
        "headers": {"X-One": "1", "Set-Cookie": "dropped"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": '{"ok": true}',
    }
    # When API Gateway maps it
    response = proxy_response(result)
    # Then multi-value headers win over single ones and JSON is the default content type
    assert response.status == 201 and response.body == b'{"ok": true}'
    assert ("Set-Cookie", "a=1") in response.headers and ("Set-Cookie", "b=2") in response.headers
    assert ("Set-Cookie", "dropped") not in response.headers
    assert ("Content-Type", "application/json") in response.headers


def test_base64_results_are_decoded():
    response = proxy_response(
        {"statusCode": 200, "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True}
    )
    assert response.body == b"\x00\x01"


def test_malformed_results_are_bad_gateway():
    # Given results API Gateway cannot map
    # Then the caller gets 502 {"message": "Internal server error"}, as from API Gateway
    for result in ("not a dict", {"statusCode": "200"}, {"statusCode": 200, "body": {"not": "a string"}}):
        response = proxy_response(result)
        assert response.status == 502 and response.body == b'{"message": "Internal server error"}'


def test_required_parameters_are_checked():
    # Given a route whose validator requires ?page and the x-tenant header
    checked = route(
        "GET", "/v1/creatives", required_parameters=(("querystring", "page"), ("header", "X-Tenant"))
    )
    request = HttpRequest(
        "GET", "/v1/creatives", "prod", [("other", "1")], [("x-tenant", "t")], b"", "127.0.0.1", "h"
    )
    # When a request has the header but not the query parameter
    # Then only the query parameter is missing (header names are case-insensitive)
    assert missing_parameters(checked, request, {}) == ["page"]


def test_mock_integrations_answer_with_their_declared_response():
    # Given a CORS preflight MOCK integration
    preflight = route(
        "OPTIONS",
        "/v1/creatives",
        integration_type="MOCK",
        mock_response={
            "StatusCode": "204",
            "ResponseParameters": {"method.response.header.Access-Control-Allow-Origin": "'*'"},
        },
    )
    # When answered, Then the declared status and headers come back
    response = mock_response(preflight)
    assert response.status == 204 and response.headers == [("Access-Control-Allow-Origin", "*")]
