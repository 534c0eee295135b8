"""A check's outcome and how outcomes combine into a material's status."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from creative.materials import MaterialStatus, Reason, ReasonCode


class Verdict(IntEnum):
    """Ordered: the worst verdict of a material's checks decides its status."""

    PASS = 0
    REVIEW = 1
    REJECT = 2


@dataclass(frozen=True)
class Finding:
    code: ReasonCode
    verdict: Verdict
    detail: str
    score: float | None = None

    def reason(self) -> Reason:
        verdict = "reject" if self.verdict is Verdict.REJECT else "review"
        return Reason(code=self.code, detail=self.detail, score=self.score, verdict=verdict)


def graded(
    value: float, review_at: float | None, reject_at: float | None, *, higher_is_worse: bool = True
) -> Verdict:
    """PASS, REVIEW or REJECT for a score against two cut-offs (either may be absent)."""

    def crosses(cut: float | None) -> bool:
        return cut is not None and (value >= cut if higher_is_worse else value <= cut)

    if crosses(reject_at):
        return Verdict.REJECT
    return Verdict.REVIEW if crosses(review_at) else Verdict.PASS


def status_of(findings: list[Finding]) -> MaterialStatus:
    worst = max((f.verdict for f in findings), default=Verdict.PASS)
    return {
        Verdict.PASS: MaterialStatus.ADMITTED,
        Verdict.REVIEW: MaterialStatus.NEEDS_REVIEW,
        Verdict.REJECT: MaterialStatus.REJECTED,
    }[worst]


def status_of_reasons(reasons: list[Reason]) -> MaterialStatus:
    if any(r.verdict == "reject" for r in reasons):
        return MaterialStatus.REJECTED
    return MaterialStatus.NEEDS_REVIEW if reasons else MaterialStatus.ADMITTED


def reasons_of(findings: list[Finding]) -> list[Reason]:
    """The findings that decided something (a passed check is not a reason), worst first."""
    return [f.reason() for f in sorted(findings, key=lambda f: -f.verdict) if f.verdict is not Verdict.PASS]
