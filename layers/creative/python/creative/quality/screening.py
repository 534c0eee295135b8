"""What admission judges from the bytes it read: image measures and placements, copy form and compliance.

The model checks (spam likeness, near-duplicates) need embeddings and run where the embeddings are
computed, in the tagging function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from PIL import Image

from creative.materials import ImageFacts, QualityScores
from creative.quality.compliance import ALL_LINES, ComplianceList, compliance_findings
from creative.quality.copy_checks import copy_findings
from creative.quality.image_checks import image_findings
from creative.quality.policy import QualityPolicy
from creative.quality.verdicts import Finding


class ComplianceLists(Protocol):
    """What admission reads of the compliance store (creative.ports.ComplianceStore)."""

    def current(self, business_line: str) -> ComplianceList: ...


class Policies(Protocol):
    """What admission reads of the line policies (creative.ports.QualityPolicies)."""

    def policy(self, business_line: str) -> QualityPolicy: ...


@dataclass(frozen=True)
class Screened:
    findings: list[Finding]
    quality: QualityScores
    placements: list[str] = field(default_factory=list)


class Screening:
    def __init__(self, policies: Policies, compliance: ComplianceLists):
        self._policies = policies
        self._compliance = compliance
        # Read once per admission job: a copy file's lines share them.
        self._lists: dict[str, list[ComplianceList]] = {}
        self._line_policies: dict[str, QualityPolicy] = {}

    def policy(self, business_line: str) -> QualityPolicy:
        if business_line not in self._line_policies:
            self._line_policies[business_line] = self._policies.policy(business_line)
        return self._line_policies[business_line]

    def image(self, image: Image.Image, facts: ImageFacts, business_line: str) -> Screened:
        findings, measures, placements = image_findings(
            image, facts.width, facts.height, facts.format == "JPEG", self.policy(business_line)
        )
        blockiness = next((f.score for f in findings if f.code.value == "image_compression_artifacts"), None)
        quality = QualityScores(
            sharpness=next((f.score for f in findings if f.code.value == "image_blurry"), None),
            mean_luma=measures.mean_luma,
            contrast=measures.contrast,
            clipped_bright=measures.clipped_bright,
            blockiness=blockiness,
        )
        return Screened(findings, quality, placements)

    def copy(self, text: str, business_line: str) -> Screened:
        findings, caps = copy_findings(text, self.policy(business_line))
        findings += compliance_findings(text, self._lists_for(business_line))
        return Screened(findings, QualityScores(caps_ratio=caps))

    def _lists_for(self, business_line: str) -> list[ComplianceList]:
        if business_line not in self._lists:
            self._lists[business_line] = [
                self._compliance.current(ALL_LINES),
                self._compliance.current(business_line),
            ]
        return self._lists[business_line]
