"""API Gateway (REST, v1) in front of the local functions: routes, API keys, proxy events, responses.

Requests to `/{stage}/...` become the proxy events API Gateway sends a Lambda (AWS_PROXY integration),
routed by the resource tree and methods the template declares. `ApiKeyRequired` methods need an
`x-api-key` header holding a key that a usage plan grants for this API and stage, as on AWS.
`AWS_IAM` methods need SigV4 on AWS; locally they need `Authorization: Bearer <operator key>` instead,
a key the runtime generates at start: signing is AWS's job, knowing who the operator is is ours.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local_runtime.functions import FunctionError, LocalFunction
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
LOCAL_OPERATOR_ARN_TEMPLATE = "arn:aws:iam::{account}:user/local-operator"


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
class RouteMatch:
    route: ApiRoute
    path_parameters: dict[str, str]


class RouteTable:
    """The API's resource tree: which declared route a method and path reach, as API Gateway picks it."""

    def __init__(self, routes: list[ApiRoute]) -> None:
        self._routes = routes
        self._paths = sorted({r.resource_path for r in routes}, key=_specificity, reverse=True)

    def resource_for(self, path: str) -> tuple[str, dict[str, str]] | None:
        """The most specific resource template matching `path` (literal segments beat variables)."""
        for template in self._paths:
            parameters = _match(template, path)
            if parameters is not None:
                return template, parameters
        return None

    def route_for(self, method: str, resource_path: str) -> ApiRoute | None:
        candidates = [r for r in self._routes if r.resource_path == resource_path]
        exact = [r for r in candidates if r.method == method]
        return (exact or [r for r in candidates if r.method == "ANY"] or [None])[0]


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def _specificity(template: str) -> tuple[Any, ...]:
    # Per segment: literal (2) over {variable} (1) over {greedy+} (0), then longer over shorter.
    ranks = [0 if s.endswith("+}") else 1 if s.startswith("{") else 2 for s in _segments(template)]
    return (*ranks, len(ranks))


def _match(template: str, path: str) -> dict[str, str] | None:
    wanted, actual = _segments(template), _segments(path)
    parameters: dict[str, str] = {}
    for index, segment in enumerate(wanted):
        if segment.startswith("{") and segment.endswith("+}"):
            if index >= len(actual):
                return None
            parameters[segment[1:-2]] = "/".join(actual[index:])
            return parameters
        if index >= len(actual):
            return None
        if segment.startswith("{") and segment.endswith("}"):
            parameters[segment[1:-1]] = unquote(actual[index])
        elif segment != actual[index]:
            return None
    return parameters if len(actual) == len(wanted) else None


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
    content_type = _header(request.headers, "content-type") or ""
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
                "userAgent": _header(request.headers, "user-agent"),
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


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
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


def missing_parameters(route: ApiRoute, request: HttpRequest, path_parameters: dict[str, str]) -> list[str]:
    """The parameters a request validator requires that the request lacks (checked after auth, as on AWS)."""
    present = {
        "querystring": {name for name, _ in request.query},
        "header": {name.lower() for name, _ in request.headers},
        "path": set(path_parameters),
    }
    return [
        name
        for location, name in route.required_parameters
        if (name.lower() if location == "header" else name) not in present.get(location, set())
    ]


class ApiKeys:
    """The API keys a usage plan grants for one API stage, read from moto (keys can be added later)."""

    def __init__(self, apigateway: Any, api_id: str, stage: str) -> None:
        self._apigateway, self._api_id, self._stage = apigateway, api_id, stage
        self._by_value: dict[str, str] = {}
        self._lock = threading.Lock()

    def key_id(self, value: str | None) -> str | None:
        if not value:
            return None
        with self._lock:
            if value not in self._by_value:
                self._by_value = self._granted()
            return self._by_value.get(value)

    def _granted(self) -> dict[str, str]:
        granted = {}
        for plan in self._apigateway.get_usage_plans()["items"]:
            stages = {(s["apiId"], s["stage"]) for s in plan.get("apiStages", [])}
            if (self._api_id, self._stage) not in stages:
                continue
            for key in self._apigateway.get_usage_plan_keys(usagePlanId=plan["id"])["items"]:
                detail = self._apigateway.get_api_key(apiKey=key["id"], includeValue=True)
                if detail.get("enabled", True):
                    granted[detail["value"]] = detail["id"]
        return granted


@dataclass
class RestApi:
    """One deployed REST API stage and the local functions its integrations call."""

    api_id: str
    account_id: str
    stage: str
    routes: RouteTable
    functions: dict[str, LocalFunction]  # by logical id
    resource_ids: dict[str, str]  # resource path -> API Gateway resource id
    api_keys: ApiKeys
    operator_key: str
    binary_media_types: tuple[str, ...] = ()

    def handle(self, request: HttpRequest) -> HttpResponse:
        found = self.routes.resource_for(request.path)
        if found is None:
            return HttpResponse.json(NO_SUCH_RESOURCE_STATUS, MISSING_TOKEN)
        resource_path, path_parameters = found
        route = self.routes.route_for(request.method, resource_path)
        if route is None:
            return HttpResponse.json(NO_SUCH_METHOD_STATUS, MISSING_TOKEN)
        identity, refusal = self._authorize(route, request)
        if refusal is not None:
            return refusal
        missing = missing_parameters(route, request, path_parameters)
        if missing:
            return HttpResponse.json(
                HTTPStatus.BAD_REQUEST,
                {"message": f"Missing required request parameters: [{', '.join(missing)}]"},
            )
        if route.integration_type == "MOCK":
            return mock_response(route)
        return self._call(route, RouteMatch(route, path_parameters), request, identity)

    def _authorize(self, route: ApiRoute, request: HttpRequest) -> tuple[ApiIdentity, HttpResponse | None]:
        identity = ApiIdentity()
        if route.authorization_type == "AWS_IAM":
            authorization = _header(request.headers, "authorization")
            if not authorization:
                return identity, HttpResponse.json(HTTPStatus.FORBIDDEN, MISSING_TOKEN)
            if authorization != f"Bearer {self.operator_key}":
                return identity, HttpResponse.json(HTTPStatus.FORBIDDEN, INVALID_TOKEN)
            identity = ApiIdentity(
                user_arn=LOCAL_OPERATOR_ARN_TEMPLATE.format(account=self.account_id),
                account_id=self.account_id,
            )
        if route.api_key_required:
            value = _header(request.headers, "x-api-key")
            key_id = self.api_keys.key_id(value)
            if key_id is None:
                return identity, HttpResponse.json(HTTPStatus.FORBIDDEN, FORBIDDEN)
            identity = ApiIdentity(value, key_id, identity.user_arn, identity.account_id)
        return identity, None

    def _call(
        self, route: ApiRoute, match: RouteMatch, request: HttpRequest, identity: ApiIdentity
    ) -> HttpResponse:
        function = self.functions.get(route.function_logical_id or "")
        if function is None:
            log.error("%s %s integrates no local function", route.method, route.resource_path)
            return HttpResponse.json(HTTPStatus.INTERNAL_SERVER_ERROR, INTERNAL_ERROR)
        event = build_proxy_event(
            request,
            match,
            api_id=self.api_id,
            account_id=self.account_id,
            resource_id=self.resource_ids.get(route.resource_path, ""),
            identity=identity,
            binary_media_types=self.binary_media_types,
        )
        try:
            result = function.invoke(event)
        except FunctionError:
            return HttpResponse.json(HTTPStatus.BAD_GATEWAY, INTERNAL_ERROR)
        return proxy_response(result)


AdminHandler = Callable[[HttpRequest], HttpResponse]


class ApiServer:
    """A ThreadingHTTPServer on 127.0.0.1 serving `/{stage}/...` for the API and `/_local/...` for admin."""

    ADMIN_PREFIX = "/_local"

    def __init__(self, api: RestApi, admin: AdminHandler | None = None, port: int = 0) -> None:
        self.api = api
        self.admin = admin
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _request_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="api-gateway", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """The stage's base URL, shaped like the stack's ApiUrl output (".../prod/")."""
        return f"http://127.0.0.1:{self.port}/{self.api.stage}/"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def dispatch(
        self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
    ) -> HttpResponse:
        split = urlsplit(raw_path)
        path = re.sub("/{2,}", "/", split.path)  # "…/prod/" + "/v1/x" is a common join; mean "/prod/v1/x"
        host = _header(headers, "host") or f"127.0.0.1:{self.port}"
        if path == self.ADMIN_PREFIX or path.startswith(self.ADMIN_PREFIX + "/"):
            if self.admin is None:
                return HttpResponse.json(HTTPStatus.NOT_FOUND, {"message": "no admin routes"})
            return self.admin(
                HttpRequest(method, path, "", parse_qsl(split.query, True), headers, body, source_ip, host)
            )
        stage_prefix = f"/{self.api.stage}"
        if path != stage_prefix and not path.startswith(stage_prefix + "/"):
            return HttpResponse.json(NO_SUCH_RESOURCE_STATUS, MISSING_TOKEN)
        request = HttpRequest(
            method=method,
            path=path[len(stage_prefix) :] or "/",
            stage=self.api.stage,
            query=parse_qsl(split.query, keep_blank_values=True),
            headers=headers,
            body=body,
            source_ip=source_ip,
            host=host,
        )
        return self.api.handle(request)


def _request_handler(server: ApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes; with Nagle on, a keep-alive client waits out the
        # peer's delayed ACK (~40 ms) on every response.
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                response = server.dispatch(
                    self.command, self.path, list(self.headers.items()), body, self.client_address[0]
                )
            except Exception:  # the gateway itself must answer, whatever went wrong behind it
                log.exception("%s %s failed in the local gateway", self.command, self.path)
                response = HttpResponse.json(HTTPStatus.INTERNAL_SERVER_ERROR, INTERNAL_ERROR)
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (BaseHTTPRequestHandler's name)
            log.info("%s %s", self.address_string(), format % args)

    return Handler
