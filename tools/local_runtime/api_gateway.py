"""API Gateway (REST, v1) in front of the local functions: authorization, validation and the integration call.

Requests to `/{stage}/...` (served by `api_server`) become the proxy events API Gateway sends a Lambda (AWS_PROXY integration),
routed by the resource tree and methods the template declares. `ApiKeyRequired` methods need an
`x-api-key` header holding a key that a usage plan grants for this API and stage, as on AWS.
`AWS_IAM` methods need SigV4 on AWS and `COGNITO_USER_POOLS` methods a user pool's ID token; locally both
need `Authorization: Bearer <operator key>` instead, a key the runtime generates at start: signing and
signing in are AWS's job, knowing who the operator is is ours.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from local_runtime.api_events import (
    FORBIDDEN,
    INTERNAL_ERROR,
    INVALID_TOKEN,
    MISSING_TOKEN,
    NO_SUCH_METHOD_STATUS,
    NO_SUCH_RESOURCE_STATUS,
    ApiIdentity,
    HttpRequest,
    HttpResponse,
    build_proxy_event,
    header,
    mock_response,
    proxy_response,
)
from local_runtime.api_routes import RouteMatch, RouteTable
from local_runtime.functions import FunctionError, LocalFunction
from local_runtime.template import ApiRoute

log = logging.getLogger(__name__)
LOCAL_OPERATOR_ARN_TEMPLATE = "arn:aws:iam::{account}:user/local-operator"
# Signed requests (SigV4) and user-pool ID tokens both stand for an operator: locally, the operator key.
OPERATOR_AUTHORIZATION_TYPES = ("AWS_IAM", "COGNITO_USER_POOLS")


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
        if route.authorization_type in OPERATOR_AUTHORIZATION_TYPES:
            authorization = header(request.headers, "authorization")
            if not authorization:
                return identity, HttpResponse.json(HTTPStatus.FORBIDDEN, MISSING_TOKEN)
            if authorization != f"Bearer {self.operator_key}":
                return identity, HttpResponse.json(HTTPStatus.FORBIDDEN, INVALID_TOKEN)
            identity = ApiIdentity(
                user_arn=LOCAL_OPERATOR_ARN_TEMPLATE.format(account=self.account_id),
                account_id=self.account_id,
            )
        if route.api_key_required:
            value = header(request.headers, "x-api-key")
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
