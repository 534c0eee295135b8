"""Compliance word lists per business line, and matching that case, accents, spacing and look-alike
characters do not fool.

A line's list (and the list for every line, `*`) names banned claims (reject), regulated terms (review) and
competitors' names (review). Text and phrases are compared in one normal form: Unicode compatibility
decomposition without accents, case-folded, common look-alike characters read as letters ("fr3e" = "free",
"$ale" = "sale"), punctuation as space, and runs of single letters joined ("f r e e", "f.r.e.e" = "free").
"""

from __future__ import annotations

import re
import unicodedata

from pydantic import Field

from creative.deferred_model import DeferredModel
from creative.materials import ReasonCode
from creative.quality.verdicts import Finding, Verdict

ALL_LINES = "*"
Phrase = str
_LOOK_ALIKES = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "|": "l"}
)
_SINGLE_LETTERS = re.compile(r"\b(?:[a-z] ){2,}[a-z]\b")


class ComplianceList(DeferredModel):
    business_line: str = Field(pattern=r"^(\*|[a-z0-9][a-z0-9_-]{0,62})$")
    version: int = Field(default=0, ge=0)
    banned_claims: list[Phrase] = Field(default_factory=list, max_length=500)
    regulated: list[Phrase] = Field(default_factory=list, max_length=500)
    competitors: list[Phrase] = Field(default_factory=list, max_length=500)
    updated_by: str | None = None
    updated_at: str | None = None


def normal_form(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    # Look-alikes only inside or beside letters: "3 days" keeps its 3, "fr3e" becomes "free".
    plain = re.sub(
        r"(?<=[a-z])[0134579@$|]|[0134579@$|](?=[a-z])", lambda m: m.group(0).translate(_LOOK_ALIKES), plain
    )
    words = re.sub(r"[^a-z0-9]+", " ", plain).strip()
    return _SINGLE_LETTERS.sub(lambda m: m.group(0).replace(" ", ""), words)


def _contains(normal_text: str, phrase: str) -> bool:
    wanted = normal_form(phrase)
    if not wanted:
        return False
    if re.search(rf"\b{re.escape(wanted)}\b", normal_text):
        return True
    # "get rich" written "getrich" or "get-r-ich": compare without spaces, for phrases long enough that a
    # match inside another word is not an accident.
    joined = wanted.replace(" ", "")
    return " " in wanted and len(joined) >= 6 and joined in normal_text.replace(" ", "")


def compliance_findings(text: str, lists: list[ComplianceList]) -> list[Finding]:
    normal_text = normal_form(text)
    groups = (
        ("banned_claims", ReasonCode.COPY_BANNED_CLAIM, Verdict.REJECT, "a banned claim"),
        ("regulated", ReasonCode.COPY_REGULATED_TERM, Verdict.REVIEW, "a regulated term"),
        ("competitors", ReasonCode.COPY_COMPETITOR_NAME, Verdict.REVIEW, "a competitor's name"),
    )
    findings = []
    for field, code, verdict, what in groups:
        for listing in lists:
            hits = sorted({p for p in getattr(listing, field) if _contains(normal_text, p)})
            if hits:
                where = (
                    "every line's" if listing.business_line == ALL_LINES else f"the {listing.business_line}"
                )
                findings.append(
                    Finding(
                        code, verdict, f"{what} on {where} list (v{listing.version}): {', '.join(hits[:5])}"
                    )
                )
    return findings
