"""DynamoDB's attribute-value format and page tokens: the codec every table adapter shares.

Written here rather than taken from boto3.dynamodb.types: importing boto3 costs ~0.3 s of every cold start
(it pulls in s3transfer), and JSON-shaped documents need only these few types.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from decimal import Decimal
from typing import Any

from creative.errors import InvalidRequest


def to_item(document: dict[str, Any]) -> dict[str, Any]:
    """A JSON-like document as a DynamoDB item; None values are left out."""
    return {k: _attribute(v) for k, v in document.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _value(v) for k, v in item.items()}


def _attribute(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):  # before int: a bool is an int
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes):
        return {"B": value}
    if isinstance(value, int | Decimal):
        return {"N": str(value)}
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"DynamoDB numbers must be finite, got {value}")
        return {"N": str(Decimal(repr(value)))}
    if value is None:
        return {"NULL": True}
    return _collection(value)


def _collection(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {"M": {k: _attribute(v) for k, v in value.items() if v is not None}}
    if isinstance(value, list | tuple):
        return {"L": [_attribute(v) for v in value]}
    if isinstance(value, set | frozenset):  # a string set (DynamoDB has no empty sets)
        if not value or not all(isinstance(v, str) for v in value):
            raise ValueError("only non-empty sets of strings can be stored as a DynamoDB set")
        return {"SS": sorted(value)}
    raise TypeError(f"cannot store a {type(value).__name__} in DynamoDB")


def _value(attribute: dict[str, Any]) -> Any:
    ((kind, raw),) = attribute.items()
    if kind in ("S", "BOOL"):
        return raw
    if kind == "B":
        return bytes(raw)
    if kind == "N":
        number = Decimal(raw)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "M":
        return {k: _value(v) for k, v in raw.items()}
    if kind == "L":
        return [_value(v) for v in raw]
    if kind == "SS":
        return frozenset(raw)
    if kind == "NULL":
        return None
    raise TypeError(f"unexpected DynamoDB type {kind}")


def encode_token(last_key: dict[str, Any] | None, scope: str) -> str | None:
    """A page token: where the last page stopped, bound to the query that produced it."""
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps({"scope": scope, "key": last_key}).encode()).decode()


def decode_token(token: str | None, scope: str) -> dict[str, Any] | None:
    """The start key of the next page; tokens from another query (or forged ones) are a 400, not a 500."""
    if not token:
        return None
    try:
        document = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        document = None
    if (
        not isinstance(document, dict)
        or document.get("scope") != scope
        or not isinstance(document.get("key"), dict)
    ):
        raise InvalidRequest("next_token was not issued for this query", code="invalid_token")
    return document["key"]
