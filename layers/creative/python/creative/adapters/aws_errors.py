"""AWS errors, translated once for every adapter (DynamoDB and S3 alike).

Throttling, a service's 5xx and a lost connection or timeout become TransientError: API handlers answer 503
and event handlers raise, so the event is retried and at last dead-lettered. Everything else propagates.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from creative.errors import TransientError

TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "SlowDown",
        "RequestTimeout",
    }
)
# What S3 says when the key (or that version of it) does not exist.
MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def is_transient(exc: ClientError) -> bool:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return error_code(exc) in TRANSIENT_CODES or status >= 500


def is_condition_failure(exc: ClientError) -> bool:
    return error_code(exc) == "ConditionalCheckFailedException"


def cancellation_reasons(exc: ClientError) -> list[str]:
    """The per-item reasons of a cancelled DynamoDB transaction, in the order of its items; any other error
    is raised again."""
    if error_code(exc) != "TransactionCanceledException":
        raise exc
    return [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]


def is_missing_object(exc: ClientError) -> bool:
    return error_code(exc) in MISSING_OBJECT_CODES


@contextmanager
def translated_errors(service: str) -> Iterator[None]:
    """`service` names the dependency in the error ("DynamoDB", "S3"), so a 503 says what was unavailable."""
    try:
        yield
    except ClientError as exc:
        if is_transient(exc):
            raise TransientError(f"{service} is unavailable: {error_code(exc)}") from exc
        raise
    except (BotocoreConnectionError, HTTPClientError) as exc:  # timeouts, resets, unreachable endpoint
        raise TransientError(f"{service} did not answer: {type(exc).__name__}") from exc
