"""The HTTP boundary of the API functions that route several paths (Powertools' resolver), answering
every failure with the one error shape and status table of `creative.api_errors`."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from creative.api_errors import Answer, domain_error, no_route, schema_mismatch, unexpected
from creative.errors import CreativeError


def error_response(answer: Answer) -> Response:
    status, body = answer
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def new_resolver(logger: Logger) -> APIGatewayRestResolver:
    """A REST resolver that validates requests and answers every failure with the same JSON error shape."""
    app = APIGatewayRestResolver(enable_validation=True)

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response:
        return error_response(schema_mismatch(exc.errors()))

    @app.exception_handler(CreativeError)
    def _domain(exc: CreativeError) -> Response:
        return error_response(domain_error(exc))

    @app.not_found
    def _no_route(_exc: Exception) -> Response:
        return error_response(no_route(app.current_event.http_method, app.current_event.path))

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # Log the stack trace for us; show the caller only that it failed.
        logger.exception("unhandled error")
        return error_response(unexpected())

    return app
