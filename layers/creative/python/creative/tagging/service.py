"""Tagging of admitted materials: one record update per material, the tag index kept in step.

A material is tagged once per tagger version: the same event twice finds it tagged and changes nothing. A
material that was rejected, deleted or superseded by a re-upload meanwhile is skipped (a log line, no
write); an image that cannot be decoded is recorded as UNTAGGABLE with the reason. A model that cannot load
or a store that fails raises, so the queue retries and at last dead-letters: never half a record. Operator
labels always win over the model (`creative.tags.with_labels`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np

from creative.errors import TransientError
from creative.materials import Material, MaterialKind, MaterialStatus
from creative.ports import MaterialRepository, ObjectHead, ObjectStore, TagIndex
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


class UnreadableImage(Exception):
    """The image bytes cannot be decoded (or are over the pixel cap): the material gets no tags."""


@dataclass(frozen=True)
class Tagged:
    tags: list[MaterialTag]
    embedding: np.ndarray  # unit length: what near-duplicates are found by


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
        *,
        max_image_bytes: int,
    ):
        self._materials = materials
        self._objects = objects
        self._index = index
        self._taggers = taggers
        self._max_image_bytes = max_image_bytes

    def tag(self, material_ids: Sequence[str], now: str) -> list[TaggingResult]:
        """Tags each material (copy lines in one encoder batch); one result per id, in order."""
        results: dict[str, TaggingResult] = {}
        to_tag: list[Material] = []
        heads: dict[tuple[str, str], ObjectHead | None] = {}  # a copy file's lines share one HEAD
        for material_id in dict.fromkeys(material_ids):
            material = self._materials.get(material_id)
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
                material, lambda m, t=tagged: self._record(m, t.tags, None, now)
            )
        for material in (m for m in to_tag if m.kind is MaterialKind.IMAGE):
            results[material.material_id] = self._isolated(material, lambda m: self._tag_image(m, now))
        return [results[material_id] for material_id in dict.fromkeys(material_ids)]

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
        if material.status is not MaterialStatus.ADMITTED:
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
            return self._record(material, [], f"unreadable image: {exc}", now)
        return self._record(material, tagged.tags, None, now)

    def _record(
        self, material: Material, model_tags: list[MaterialTag], reason: str | None, now: str
    ) -> TaggingResult:
        """Writes the tags (corrected by the material's operator labels), retrying a lost optimistic write on
        a fresh read; then moves the material's index entries."""
        names = self._taggers.names()
        for _attempt in range(MAX_UPDATE_ATTEMPTS):
            previous = material.tag_ids
            updated = material.model_copy(
                update={
                    "tags": with_labels(model_tags, material.tag_labels, names),
                    "tagging": TaggingState(
                        status="UNTAGGABLE" if reason else "TAGGED",
                        tagger_version=self._taggers.version,
                        tagged_at=now,
                        reason=reason,
                    ),
                }
            )
            stored = self._materials.update(updated, expected_revision=material.revision)
            if stored is not None:
                self._index.replace(stored, previous)
                outcome = TaggingOutcome.UNTAGGABLE if reason else TaggingOutcome.TAGGED
                return TaggingResult(stored.material_id, outcome, reason or "", tuple(stored.tag_ids))
            fresh = self._materials.get(material.material_id)
            skip = self._why_skip(material.material_id, fresh, {})
            if skip is not None:
                return skip
            material = fresh
        raise TransientError(
            f"{material.material_id}: {MAX_UPDATE_ATTEMPTS} concurrent edits in a row; retry"
        )
