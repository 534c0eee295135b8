"""The HTTP boundary of the API functions that route several paths (Powertools' resolver), answering
every failure with the one error shape and status table of `creative.api_errors`."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from creative.api_errors import (
    SCHEMA_MISMATCH,
    UNEXPECTED,
    error_json,
    public_details,
    status_of,
    validation_details,
)
from creative.errors import CreativeError


def error_response(status: int, code: str, message: str, details: dict | list | None = None) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=error_json(code, message, details),
    )


def new_resolver(logger: Logger) -> APIGatewayRestResolver:
    """A REST resolver that validates requests and answers every failure with the same JSON error shape."""
    app = APIGatewayRestResolver(enable_validation=True)

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response:
        return error_response(400, "invalid_request", SCHEMA_MISMATCH, validation_details(exc.errors()))

    @app.exception_handler(CreativeError)
    def _domain(exc: CreativeError) -> Response:
        return error_response(status_of(exc), exc.code, exc.message, public_details(exc))

    @app.not_found
    def _no_route(_exc: Exception) -> Response:
        return error_response(
            404, "no_route", f"no route for {app.current_event.http_method} {app.current_event.path}"
        )

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # Log the stack trace for us; show the caller only that it failed.
        logger.exception("unhandled error")
        return error_response(500, "internal_error", UNEXPECTED)

    return app
