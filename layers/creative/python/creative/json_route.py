"""One JSON route answered without a router: the racing API's hot paths, select and feedback.

Each serves one POST route on every ad request. Powertools' resolver cost them about 1 ms a warm request
(validation through its OpenAPI layer, the response through jsonable_encoder) and about 0.1 s a cold start
(its package imports asyncio for its AppSync resolver). A route does what they used of it, the same way:
it checks the method and path, parses the JSON body and validates it into the request model, calls the
service, and answers with the response model's JSON or the API's one error shape (`creative.api_errors`).
The OpenAPI document is still Powertools' own, made from the route's models (`JsonRoute.documented`).

Two differences a client could see: the Content-Type of a request is not checked (every body is read as
JSON, where the resolver answered 500 to `text/plain`), and a response is pydantic's JSON (UTF-8 text
where `json.dumps` wrote escapes for non-ASCII characters): the same values.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from creative.api_errors import Answer, domain_error, no_route, schema_mismatch, unexpected
from creative.errors import CreativeError

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

RequestT = TypeVar("RequestT", bound=BaseModel)
ResponseT = TypeVar("ResponseT", bound=BaseModel)
JSON_HEADERS = {"Content-Type": ["application/json"]}
MISSING_BODY = {"loc": ("body",), "msg": "Field required", "type": "missing"}


def proxy_response(answer: Answer) -> dict[str, Any]:
    """An API Gateway (REST) Lambda proxy result, shaped as Powertools' resolver shapes it."""
    status, body = answer
    return {"statusCode": status, "body": body, "isBase64Encoded": False, "multiValueHeaders": JSON_HEADERS}


@dataclass(frozen=True)
class JsonRoute(Generic[RequestT, ResponseT]):
    name: str  # the operation's function name in the OpenAPI document
    method: str
    path: str
    request_model: type[RequestT]
    response_model: type[ResponseT]
    summary: str
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # A route is declared when its handler is imported, inside the cold start: its models are built
        # then, not by the first request (every model of the layer defers its build, creative.deferred_model).
        self.request_model.model_rebuild()
        self.response_model.model_rebuild()

    def handle(
        self,
        event: Mapping[str, Any],
        serve: Callable[[RequestT, str | None], ResponseT],
        logger: Logger,
    ) -> dict[str, Any]:
        """Answers one proxy event; `serve` gets the request and the API key id that called."""
        try:
            return self._answer(event, serve)
        except CreativeError as exc:
            return proxy_response(domain_error(exc))
        except Exception:
            # Whatever failed (the service, or parsing a body built to break it): a JSON 500 for the caller,
            # never the Lambda error API Gateway would turn into a 502. The stack trace is for us.
            logger.exception("unhandled error")
            return proxy_response(unexpected())

    def _answer(self, event: Mapping[str, Any], serve: Callable[[RequestT, str | None], ResponseT]) -> dict:
        method, path = event.get("httpMethod"), event.get("path")
        # A trailing slash is the same route, as Powertools' resolver matched it.
        if method != self.method or not isinstance(path, str) or (path.rstrip("/") or "/") != self.path:
            return proxy_response(no_route(method, path))
        body = event.get("body")
        try:
            if body and event.get("isBase64Encoded"):
                body = base64.b64decode(body).decode()
            payload = json.loads(body) if body else None
        except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError and binascii.Error are ValueErrors
            position = getattr(exc, "pos", None)
            location = ("body", position) if position is not None else ("body",)
            return proxy_response(
                schema_mismatch([{"loc": location, "msg": "JSON decode error", "type": "json_invalid"}])
            )
        if payload is None:  # no body, an empty one or `null`: all missing, as the resolver read them
            return proxy_response(schema_mismatch([MISSING_BODY]))
        try:
            request = self.request_model.model_validate(payload)
        except ValidationError as exc:
            return proxy_response(schema_mismatch({**e, "loc": ("body", *e["loc"])} for e in exc.errors()))
        identity = (event.get("requestContext") or {}).get("identity") or {}
        return proxy_response((200, serve(request, identity.get("apiKeyId")).model_dump_json()))

    def documented(self, logger: Logger) -> APIGatewayRestResolver:
        """A Powertools resolver holding this route, for the OpenAPI document only (never on a request)."""
        from creative.http import new_resolver

        app = new_resolver(logger)

        def endpoint(request):  # annotated below, from the route's models
            raise NotImplementedError

        endpoint.__name__ = endpoint.__qualname__ = self.name
        endpoint.__annotations__ = {"request": self.request_model, "return": self.response_model}
        app.route(self.path, self.method, summary=self.summary, tags=list(self.tags))(endpoint)
        return app
