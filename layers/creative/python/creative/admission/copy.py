"""Copy checks. A copy file holds one copy per line, as plain UTF-8 text or as JSON lines."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field

from creative.admission.limits import AdmissionLimits
from creative.materials import Reason, ReasonCode

_BAD_CATEGORIES = ("Cc", "Cf", "Co", "Cs")
_ALLOWED_FORMAT_CHARS = {"\u200d"}  # zero-width joiner: part of many emoji


@dataclass(frozen=True)
class CopyLine:
    """One candidate copy: its 1-based line number, its text, and any reasons it is not acceptable."""

    line: int
    text: str
    rejections: list[Reason] = field(default_factory=list)
    category: str | None = None  # a JSON line may name its own category


def decode_copy_file(data: bytes) -> str | Reason:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # a UTF-8 byte-order mark is harmless; editors add it
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Reason(code=ReasonCode.INVALID_UTF8, detail=f"not UTF-8 at byte {exc.start}")
    if "\x00" in text:
        return Reason(code=ReasonCode.INVALID_UTF8, detail="contains NUL bytes: a binary file, not text")
    if not text.strip():
        return Reason(code=ReasonCode.COPY_EMPTY, detail="the file holds no copy")
    return text


def split_copy_lines(text: str, *, json_lines: bool, limits: AdmissionLimits) -> list[CopyLine] | Reason:
    """Every non-blank line becomes a candidate (blank lines are layout, not copy).

    A file with more lines than the cap is rejected whole: admitting a prefix would silently drop the rest.
    """
    numbered = [(number, raw) for number, raw in enumerate(text.splitlines(), start=1) if raw.strip()]
    if len(numbered) > limits.max_copy_lines:
        detail = f"{len(numbered)} copy lines, maximum {limits.max_copy_lines} per file"
        return Reason(code=ReasonCode.COPY_TOO_MANY_LINES, detail=detail)
    return [
        _parse_json_line(number, raw, limits) if json_lines else _check(number, raw, None, limits)
        for number, raw in numbered
    ]


def _parse_json_line(number: int, raw: str, limits: AdmissionLimits) -> CopyLine:
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as exc:
        return CopyLine(
            number,
            raw,
            [Reason(code=ReasonCode.COPY_MALFORMED_LINE, detail=f"invalid JSON: {exc.msg}")],
        )
    text = record.get("text") if isinstance(record, dict) else None
    if not isinstance(text, str):
        detail = 'a JSON line must be an object with a string "text" field'
        return CopyLine(number, raw, [Reason(code=ReasonCode.COPY_MALFORMED_LINE, detail=detail)])
    category = record.get("category")
    return _check(number, text, category if isinstance(category, str) else None, limits)


def _check(number: int, raw: str, category: str | None, limits: AdmissionLimits) -> CopyLine:
    text = " ".join(raw.split())
    rejections = []
    if len(text) < limits.min_copy_chars:
        detail = f"{len(text)} characters, minimum {limits.min_copy_chars}"
        rejections.append(Reason(code=ReasonCode.COPY_TOO_SHORT, detail=detail))
    if len(text) > limits.max_copy_chars:
        detail = f"{len(text)} characters, maximum {limits.max_copy_chars}"
        rejections.append(Reason(code=ReasonCode.COPY_TOO_LONG, detail=detail))
    bad = sorted(
        {
            f"U+{ord(ch):04X}"
            for ch in text
            if ch not in _ALLOWED_FORMAT_CHARS and unicodedata.category(ch) in _BAD_CATEGORIES
        }
    )
    if bad:
        detail = f"control or private-use characters: {', '.join(bad[:5])}"
        rejections.append(Reason(code=ReasonCode.COPY_INVALID_CHARACTERS, detail=detail))
    return CopyLine(number, text, rejections, category)
