"""What crosses API Gateway's AWS_PROXY integration: the HTTP request as a proxy event, the result as a response."""

from __future__ import annotations

import base64
import fnmatch
import json
import logging
import time
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from local_runtime.api_routes import RouteMatch
from local_runtime.template import ApiRoute

log = logging.getLogger(__name__)

# AWS answers 403 "Missing Authentication Token" for any path or method the API does not declare;
# locally the status says which of the two it was, the body stays AWS's.
NO_SUCH_RESOURCE_STATUS = HTTPStatus.NOT_FOUND
NO_SUCH_METHOD_STATUS = HTTPStatus.METHOD_NOT_ALLOWED
MISSING_TOKEN = {"message": "Missing Authentication Token"}
FORBIDDEN = {"message": "Forbidden"}
INVALID_TOKEN = {"message": "The security token included in the request is invalid."}
INTERNAL_ERROR = {"message": "Internal server error"}


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str  # without the stage, e.g. "/v1/select"
    stage: str
    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]  # in arrival order, names as sent
    body: bytes
    source_ip: str
    host: str


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @classmethod
    def json(
        cls, status: int, document: Any, extra_headers: list[tuple[str, str]] | None = None
    ) -> HttpResponse:
        headers = [("Content-Type", "application/json"), *(extra_headers or [])]
        return cls(int(status), headers, json.dumps(document).encode())


@dataclass(frozen=True)
class ApiIdentity:
    """Who the caller is, as API Gateway would put it in requestContext.identity."""

    api_key: str | None = None
    api_key_id: str | None = None
    user_arn: str | None = None
    account_id: str | None = None


def build_proxy_event(
    request: HttpRequest,
    match: RouteMatch,
    *,
    api_id: str,
    account_id: str,
    resource_id: str,
    identity: ApiIdentity,
    binary_media_types: tuple[str, ...] = (),
    now: float | None = None,
) -> dict[str, Any]:
    """The event an AWS_PROXY integration sends to Lambda for `request` (REST API, payload format 1.0)."""
    now = time.time() if now is None else now
    headers = _single_and_multi(request.headers)
    query = _single_and_multi(request.query)
    content_type = header(request.headers, "content-type") or ""
    is_binary = bool(request.body) and _is_binary(content_type, binary_media_types)
    if not request.body:
        body = None
    elif is_binary:
        body = base64.b64encode(request.body).decode()
    else:
        body = request.body.decode("utf-8", errors="replace")
    request_id = str(uuid.uuid4())
    return {
        "resource": match.route.resource_path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers[0],
        "multiValueHeaders": headers[1],
        "queryStringParameters": query[0],
        "multiValueQueryStringParameters": query[1],
        "pathParameters": match.path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": account_id,
            "apiId": api_id,
            "domainName": request.host,
            "domainPrefix": request.host.split(".", 1)[0].split(":", 1)[0],
            "extendedRequestId": base64.b32encode(uuid.uuid4().bytes[:10]).decode().rstrip("="),
            "httpMethod": request.method,
            "identity": {
                "accessKey": None,
                "accountId": identity.account_id,
                "apiKey": identity.api_key,
                "apiKeyId": identity.api_key_id,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": request.source_ip,
                "user": None,
                "userAgent": header(request.headers, "user-agent"),
                "userArn": identity.user_arn,
                "clientCert": None,
            },
            "path": f"/{request.stage}{request.path}",
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "resourceId": resource_id,
            "resourcePath": match.route.resource_path,
            "stage": request.stage,
        },
        "body": body,
        "isBase64Encoded": is_binary,
    }


def _single_and_multi(
    pairs: list[tuple[str, str]],
) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """API Gateway's two views of repeated names: the last value, and every value in order."""
    if not pairs:
        return None, None
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        multi.setdefault(name, []).append(value)
    return {name: values[-1] for name, values in multi.items()}, multi


def header(headers: list[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in headers if k.lower() == name]
    return values[-1] if values else None


def _is_binary(content_type: str, binary_media_types: tuple[str, ...]) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    # CloudFormation escapes "/" as "~1" in BinaryMediaTypes.
    return any(fnmatch.fnmatch(media_type, t.replace("~1", "/").lower()) for t in binary_media_types)


def proxy_response(result: Any) -> HttpResponse:
    """What API Gateway returns for a Lambda proxy result; a malformed result is a 502, as on AWS."""
    if not isinstance(result, dict) or not isinstance(result.get("statusCode", 200), int):
        log.error("malformed Lambda proxy response: %r", result)
        return HttpResponse.json(HTTPStatus.BAD_GATEWAY, INTERNAL_ERROR)
    headers: list[tuple[str, str]] = [(k, str(v)) for k, v in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers = [(k, v) for k, v in headers if k.lower() != name.lower()]
        headers.extend((name, str(v)) for v in values)
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    body = result.get("body") or ""
    if not isinstance(body, str):
        log.error("Lambda proxy response body is not a string: %r", body)
        return HttpResponse.json(HTTPStatus.BAD_GATEWAY, INTERNAL_ERROR)
    payload = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    return HttpResponse(int(result.get("statusCode", 200)), headers, payload)


def mock_response(route: ApiRoute) -> HttpResponse:
    """A MOCK integration (CORS preflight, typically): its first integration response, headers and all."""
    declared = route.mock_response
    headers = [
        (name.removeprefix("method.response.header."), value.strip("'"))
        for name, value in (declared.get("ResponseParameters") or {}).items()
    ]
    return HttpResponse(int(declared.get("StatusCode", 200)), headers, b"")
