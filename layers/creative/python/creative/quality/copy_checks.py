"""Findings on a copy line's form, as a copywriter would object: shouting, !!!, emoji walls, no words at
all, and contact details that do not belong in a headline."""

from __future__ import annotations

import re
import unicodedata

from creative.materials import ReasonCode
from creative.quality.policy import QualityPolicy
from creative.quality.verdicts import Finding, Verdict, graded

URL = re.compile(r"(?i)\b(?:https?://|www\.)\S+|\b[a-z0-9-]+\.(?:com|net|org|io|co|biz|info|shop|store)\b")
# Seven or more digits, optionally with spaces, dots, dashes, parentheses or a leading +, between them.
PHONE = re.compile(r"(?<![\w.])\+?\(?\d[\d\s().-]{6,}\d(?![\w.])")
PUNCTUATION_RUN = re.compile(r"([!?.,*$#~])\1+")


def _emoji_count(text: str) -> int:
    return sum(1 for ch in text if unicodedata.category(ch) == "So" or 0x1F300 <= ord(ch) <= 0x1FAFF)


def copy_findings(text: str, policy: QualityPolicy) -> tuple[list[Finding], float | None]:
    """The form checks' findings and the line's upper-case share (None for lines with too few letters)."""
    letters = [ch for ch in text if ch.isalpha()]
    findings = []
    if not letters:
        findings.append(
            Finding(ReasonCode.COPY_DIGITS_ONLY, Verdict.REJECT, "no letters: not copy a reader can read")
        )
    caps = None
    if len(letters) >= policy.caps_min_letters:
        caps = round(sum(ch.isupper() for ch in letters) / len(letters), 3)
        findings.append(
            Finding(
                ReasonCode.COPY_ALL_CAPS,
                graded(caps, *policy.caps_ratio),
                f"{caps:.0%} of letters in capitals",
                caps,
            )
        )
    runs = [
        m.group(0) for m in PUNCTUATION_RUN.finditer(text) if m.group(0) != "..."
    ]  # an ellipsis is one mark
    longest = max(map(len, runs), default=1)
    if longest > 1:
        findings.append(
            Finding(
                ReasonCode.COPY_REPEATED_PUNCTUATION,
                graded(longest, *policy.repeated_punctuation),
                f"a run of {longest} punctuation marks",
                float(longest),
            )
        )
    emoji = _emoji_count(text)
    if emoji:
        findings.append(
            Finding(
                ReasonCode.COPY_TOO_MANY_EMOJI, graded(emoji, *policy.emoji), f"{emoji} emoji", float(emoji)
            )
        )
    if url := URL.search(text):
        findings.append(
            Finding(ReasonCode.COPY_CONTAINS_URL, Verdict.REJECT, f"a web address: {url.group(0)!r}")
        )
    if phone := PHONE.search(text):
        findings.append(
            Finding(ReasonCode.COPY_CONTAINS_PHONE, Verdict.REJECT, f"a phone number: {phone.group(0)!r}")
        )
    return findings, caps
