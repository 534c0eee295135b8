"""Time, behind a tiny seam so tests can pin it."""

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    """The inverse of `iso` (also accepts any ISO-8601 string with an offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
