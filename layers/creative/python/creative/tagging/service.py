"""Tagging and the model quality checks of announced materials: one record update per material, the tag and
near-duplicate indexes kept in step.

Every material admission did not reject is announced. Here it gets its tags and the checks that need the
models: spam likeness (copy) and near-duplicates of the line's earlier materials (both kinds). Their
findings join admission's reasons and may send the material to review or reject it; an operator's decision
is final, so on a material an operator decided they are recorded as scores only. Tags are indexed for
recall only while the material is ADMITTED.

A material is tagged once per tagger version: the same event twice finds it tagged and changes nothing. A
material that was rejected, deleted or superseded by a re-upload meanwhile is skipped (a log line, no
write); an image that cannot be decoded is recorded as UNTAGGABLE and sent to review (not_judged). A model
that cannot load or a store that fails raises, so the queue retries and at last dead-letters: never half a
record and never a default pass. Operator labels always win over the model (`creative.tags.with_labels`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from creative.errors import TransientError
from creative.materials import MODEL_REASONS, Material, MaterialKind, MaterialStatus, ReasonCode
from creative.ports import MaterialRepository, ObjectHead, ObjectStore, QualityPolicies, TagIndex
from creative.quality.near_duplicates import Fingerprint, Match, NearDuplicates
from creative.quality.policy import QualityPolicy
from creative.quality.verdicts import Finding, Verdict, graded, reasons_of, status_of_reasons
from creative.tags import MaterialTag, TaggingState, with_labels

logger = logging.getLogger(__name__)
MAX_UPDATE_ATTEMPTS = 3  # optimistic writes that lost to a concurrent editor are recomputed this often


class TaggingOutcome(StrEnum):
    TAGGED = "tagged"
    UNTAGGABLE = "untaggable"
    ALREADY_TAGGED = "already_tagged"
    SKIPPED = "skipped"
    FAILED = "failed"  # a dependency failed: the event is retried


@dataclass(frozen=True)
class TaggingResult:
    material_id: str
    outcome: TaggingOutcome
    detail: str = ""
    tags: tuple[str, ...] = ()
    status: str = ""  # the material's status after the model checks


class UnreadableImage(Exception):
    """The image bytes cannot be decoded (or are over the pixel cap): the material gets no tags."""


@dataclass(frozen=True)
class Tagged:
    """What the models say of one material: its tags, its near-duplicate fingerprint and, for copy, its spam
    likeness."""

    tags: list[MaterialTag]
    fingerprint: Fingerprint
    spam: float | None = None


class Taggers(Protocol):
    version: str  # names every model file that decides a tag

    def names(self) -> dict[str, str]:
        """Every tag id the taggers can give, with its human name."""

    def tag_copy(self, texts: Sequence[str]) -> list[Tagged]: ...

    def tag_image(self, data: bytes) -> Tagged:
        """Raises UnreadableImage when the bytes are not a decodable image within the cap."""


class Tagging:
    def __init__(
        self,
        materials: MaterialRepository,
        objects: ObjectStore,
        index: TagIndex,
        taggers: Taggers,
        near_duplicates: NearDuplicates,
        policies: QualityPolicies,
        *,
        max_image_bytes: int,
    ):
        self._materials = materials
        self._objects = objects
        self._index = index
        self._taggers = taggers
        self._near_duplicates = near_duplicates
        self._policies = policies
        self._line_policies: dict[str, QualityPolicy] = {}
        self._max_image_bytes = max_image_bytes

    def tag(self, material_ids: Sequence[str], now: str) -> list[TaggingResult]:
        """Tags each material (copy lines in one encoder batch); one result per id, in order."""
        results: dict[str, TaggingResult] = {}
        to_tag: list[Material] = []
        self._line_policies = {}  # read once per batch, as admission reads them once per file
        heads: dict[tuple[str, str], ObjectHead | None] = {}  # a copy file's lines share one HEAD
        ids = list(dict.fromkeys(material_ids))
        found = self._materials.get_many(ids)  # one read for the batch
        for material_id in ids:
            material = found.get(material_id)
            skip = self._why_skip(material_id, material, heads)
            if skip is not None:
                results[material_id] = skip
                logger.info("tagging %s: %s (%s)", material_id, skip.outcome, skip.detail)
            else:
                to_tag.append(material)
        copies = [m for m in to_tag if m.kind is MaterialKind.COPY]
        tagged_copies = self._taggers.tag_copy([m.text or "" for m in copies]) if copies else []
        for material, tagged in zip(copies, tagged_copies, strict=True):
            results[material.material_id] = self._isolated(
                material, lambda m, t=tagged: self._record(m, t, None, now)
            )
        for material in (m for m in to_tag if m.kind is MaterialKind.IMAGE):
            results[material.material_id] = self._isolated(material, lambda m: self._tag_image(m, now))
        return [results[material_id] for material_id in ids]

    @staticmethod
    def _isolated(material: Material, work: Callable[[Material], TaggingResult]) -> TaggingResult:
        """One material's failure (a throttled write, an S3 fault) fails only its own event."""
        try:
            return work(material)
        except Exception as exc:  # noqa: BLE001 - reported per material; the queue retries it
            logger.warning("tagging %s failed: %s: %s", material.material_id, type(exc).__name__, exc)
            return TaggingResult(material.material_id, TaggingOutcome.FAILED, f"{type(exc).__name__}: {exc}")

    def _why_skip(
        self, material_id: str, material: Material | None, heads: dict[tuple[str, str], ObjectHead | None]
    ) -> TaggingResult | None:
        if material is None:
            return TaggingResult(material_id, TaggingOutcome.SKIPPED, "no such material")
        if material.status is MaterialStatus.REJECTED:
            return TaggingResult(material_id, TaggingOutcome.SKIPPED, f"material is {material.status}")
        if material.tagging is not None and material.tagging.tagger_version == self._taggers.version:
            return TaggingResult(
                material_id,
                TaggingOutcome.ALREADY_TAGGED,
                material.tagging.tagger_version,
                tuple(material.tag_ids),
            )
        source = material.source
        if (source.bucket, source.key) not in heads:
            heads[(source.bucket, source.key)] = self._objects.head(source.bucket, source.key)
        current = heads[(source.bucket, source.key)]
        if current is None:
            return TaggingResult(material_id, TaggingOutcome.SKIPPED, "the object was deleted")
        if (current.version_id or current.etag) != (source.version_id or source.etag):
            return TaggingResult(material_id, TaggingOutcome.SKIPPED, "the object was re-uploaded since")
        return None

    def _tag_image(self, material: Material, now: str) -> TaggingResult:
        source = material.source
        data = self._objects.read(source.bucket, source.key, source.version_id, self._max_image_bytes)
        if data is None:
            logger.info("tagging %s: skipped (the object version is gone)", material.material_id)
            return TaggingResult(material.material_id, TaggingOutcome.SKIPPED, "the object version is gone")
        try:
            tagged = self._taggers.tag_image(data)
        except UnreadableImage as exc:
            return self._record(material, None, f"unreadable image: {exc}", now)
        return self._record(material, tagged, None, now)

    def _model_findings(
        self, material: Material, tagged: Tagged | None, unreadable: str | None
    ) -> tuple[list[Finding], Match | None]:
        """Spam likeness and the nearest live near-duplicate; what the models could not read goes to review."""
        if tagged is None:
            detail = f"the model checks could not run: {unreadable}"
            return [Finding(ReasonCode.NOT_JUDGED, Verdict.REVIEW, detail)], None
        line = material.business_line
        if line not in self._line_policies:
            self._line_policies[line] = self._policies.policy(line)
        policy = self._line_policies[line]
        findings = []
        if tagged.spam is not None:
            verdict = graded(tagged.spam, *policy.spam)
            if verdict is not Verdict.PASS:
                findings.append(
                    Finding(
                        ReasonCode.COPY_SPAM_LIKE, verdict, f"spam likeness {tagged.spam:.2f}", tagged.spam
                    )
                )
        near = self._live_near_duplicate(material, tagged.fingerprint, policy)
        if near is not None:
            findings.append(near.finding)
        return findings, near

    def _live_near_duplicate(
        self, material: Material, fingerprint: Fingerprint, policy: QualityPolicy
    ) -> Match | None:
        """The worst match whose material is still live. Entries of materials rejected or removed since are
        dropped when met: the index is cleaned lazily, by the lookups that would be misled."""
        kind = material.kind.value
        for match in self._near_duplicates.matches(
            material.business_line, kind, material.material_id, fingerprint, policy
        ):
            other = self._materials.get(match.neighbour.material_id)
            if other is not None and other.status is not MaterialStatus.REJECTED:
                return match
            self._near_duplicates.forget(material.business_line, kind, [match.entry])
        return None

    def _record(
        self, material: Material, tagged: Tagged | None, unreadable: str | None, now: str
    ) -> TaggingResult:
        """Writes tags (corrected by the material's operator labels), model scores and the status the model
        checks lead to, retrying a lost optimistic write on a fresh read; then moves the tag index entries.
        A material that stays live is filed in the near-duplicate index first: a crash after that leaves an
        entry a replay finds (and skips as its own), never a live material missing from the index."""
        names = self._taggers.names()
        findings, near = self._model_findings(material, tagged, unreadable)
        for _attempt in range(MAX_UPDATE_ATTEMPTS):
            previous = material.tag_ids
            update = {
                "tags": with_labels(tagged.tags if tagged else [], material.tag_labels, names),
                "tagging": TaggingState(
                    status="UNTAGGABLE" if unreadable else "TAGGED",
                    tagger_version=self._taggers.version,
                    tagged_at=now,
                    reason=unreadable,
                ),
                "quality": material.quality.model_copy(
                    update={
                        "spam": tagged.spam if tagged else None,
                        "near_duplicate_of": near.neighbour.material_id if near else None,
                        "near_duplicate_similarity": round(near.neighbour.cosine, 4) if near else None,
                    }
                ),
            }
            if not material.decisions:  # an operator's decision stands; the checks only add scores then
                reasons = [r for r in material.reasons if r.code not in MODEL_REASONS] + reasons_of(findings)
                update |= {"reasons": reasons, "status": status_of_reasons(reasons)}
            updated = material.model_copy(update=update)
            if tagged is not None and updated.status is not MaterialStatus.REJECTED:
                self._near_duplicates.remember(
                    material.business_line, material.kind.value, material.material_id, tagged.fingerprint
                )
            stored = self._materials.update(updated, expected_revision=material.revision)
            if stored is not None:
                indexed = (
                    stored
                    if stored.status is MaterialStatus.ADMITTED
                    else stored.model_copy(update={"tags": []})
                )
                self._index.replace(indexed, previous)
                outcome = TaggingOutcome.UNTAGGABLE if unreadable else TaggingOutcome.TAGGED
                return TaggingResult(
                    stored.material_id, outcome, unreadable or "", tuple(stored.tag_ids), stored.status.value
                )
            fresh = self._materials.get(material.material_id)
            skip = self._why_skip(material.material_id, fresh, {})
            if skip is not None:
                return skip
            material = fresh
        raise TransientError(
            f"{material.material_id}: {MAX_UPDATE_ATTEMPTS} concurrent edits in a row; retry"
        )
