"""The API's one error shape and its one table of statuses, shared by both ways a function answers HTTP:
Powertools' resolver (`creative.http`) and a single JSON route (`creative.json_route`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from creative.errors import Conflict, CreativeError, InvalidRequest, NotFound, TransientError

STATUS_BY_ERROR: dict[type[CreativeError], int] = {
    InvalidRequest: 400,
    NotFound: 404,
    Conflict: 409,
    TransientError: 503,
}
SCHEMA_MISMATCH = "the request does not match the API schema"
UNEXPECTED = "the request failed; it has been logged"


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict | list | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


def error_json(code: str, message: str, details: dict | list | None = None) -> str:
    return ErrorResponse(error=ErrorBody(code=code, message=message, details=details)).model_dump_json()


def status_of(error: CreativeError) -> int:
    return next((s for t, s in STATUS_BY_ERROR.items() if isinstance(error, t)), 500)


def public_details(error: CreativeError) -> dict | None:
    """The scalar details of a domain error: what a caller may see of it."""
    details = {k: v for k, v in error.details.items() if isinstance(v, (str, int, float, bool))}
    return details or None


def validation_details(errors: Iterable[Mapping[str, Any]]) -> list[dict]:
    """pydantic's errors as the API reports them: where, what is wrong, and its type."""
    return [
        {"location": list(e.get("loc", ())), "problem": e.get("msg", ""), "type": e.get("type", "")}
        for e in errors
    ]
