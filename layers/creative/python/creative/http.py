"""The HTTP boundary shared by the API functions: one error shape and one mapping of errors to statuses."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import BaseModel

from creative.errors import Conflict, CreativeError, InvalidRequest, NotFound, TransientError

STATUS_BY_ERROR: dict[type[CreativeError], int] = {
    InvalidRequest: 400,
    NotFound: 404,
    Conflict: 409,
    TransientError: 503,
}


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict | list | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


def error_response(status: int, code: str, message: str, details: dict | list | None = None) -> Response:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, details=details))
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=body.model_dump_json()
    )


def new_resolver(logger: Logger) -> APIGatewayRestResolver:
    """A REST resolver that validates requests and answers every failure with the same JSON error shape."""
    app = APIGatewayRestResolver(enable_validation=True)

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response:
        details = [
            {"location": list(e.get("loc", ())), "problem": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return error_response(400, "invalid_request", "the request does not match the API schema", details)

    @app.exception_handler(CreativeError)
    def _domain(exc: CreativeError) -> Response:
        status = next((s for t, s in STATUS_BY_ERROR.items() if isinstance(exc, t)), 500)
        details = {k: v for k, v in exc.details.items() if isinstance(v, (str, int, float, bool))}
        return error_response(status, exc.code, exc.message, details or None)

    @app.not_found
    def _no_route(_exc: Exception) -> Response:
        return error_response(
            404, "no_route", f"no route for {app.current_event.http_method} {app.current_event.path}"
        )

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # Log the stack trace for us; show the caller only that it failed.
        logger.exception("unhandled error")
        return error_response(500, "internal_error", "the request failed; it has been logged")

    return app
