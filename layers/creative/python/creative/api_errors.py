"""The API's one error shape and its one table of statuses, shared by both ways a function answers HTTP:
Powertools' resolver (`creative.http`) and a single JSON route (`creative.json_route`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from creative.deferred_model import DeferredModel
from creative.errors import Conflict, CreativeError, InvalidRequest, NotFound, TransientError

STATUS_BY_ERROR: dict[type[CreativeError], int] = {
    InvalidRequest: 400,
    NotFound: 404,
    Conflict: 409,
    TransientError: 503,
}


class ErrorBody(DeferredModel):
    code: str
    message: str
    details: dict | list | None = None


class ErrorResponse(DeferredModel):
    error: ErrorBody


# Each answer below is (HTTP status, JSON body): the resolver and a JSON route wrap it in their response.
Answer = tuple[int, str]


def error_json(code: str, message: str, details: dict | list | None = None) -> str:
    return ErrorResponse(error=ErrorBody(code=code, message=message, details=details)).model_dump_json()


def domain_error(error: CreativeError) -> Answer:
    """A domain error's status, with its scalar details (what a caller may see of it)."""
    status = next((s for t, s in STATUS_BY_ERROR.items() if isinstance(error, t)), 500)
    details = {k: v for k, v in error.details.items() if isinstance(v, (str, int, float, bool))}
    return status, error_json(error.code, error.message, details or None)


def schema_mismatch(errors: Iterable[Mapping[str, Any]]) -> Answer:
    """400 with pydantic's errors (or errors shaped like them) as the API reports them: where, what is
    wrong, and its type."""
    details = [
        {"location": list(e.get("loc", ())), "problem": e.get("msg", ""), "type": e.get("type", "")}
        for e in errors
    ]
    return 400, error_json("invalid_request", "the request does not match the API schema", details)


def no_route(method: object, path: object) -> Answer:
    return 404, error_json("no_route", f"no route for {method} {path}")


def unexpected() -> Answer:
    """What a caller sees of a failure nobody planned for: that it failed (the stack trace is logged)."""
    return 500, error_json("internal_error", "the request failed; it has been logged")
