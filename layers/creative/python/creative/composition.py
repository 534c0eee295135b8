"""Composition: admitted images × admitted headlines of a business line → a bounded set of creatives.

A material takes part once it is ADMITTED and the model checks (tagging) have judged it: a material still
waiting for them could yet turn out a near-duplicate or spam. A creative whose image or headline is no
longer admitted (an operator rejected it, a check re-judged it) is disabled on the next sweep.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain, zip_longest

from creative.creatives import Creative, CreativeStatus, creative_id_for
from creative.materials import Material, MaterialKind
from creative.ports import CreativeRepository, MaterialRepository

# Only the newest materials of each kind take part: keeps a sweep O(cap²) however large the library grows.
MAX_MATERIALS_PER_KIND = 200


@dataclass(frozen=True)
class CompositionReport:
    business_line: str
    images: int
    copies: int
    existing: int
    created: int
    retagged: int = 0  # existing creatives whose elements' tags changed since (tagging, operators)
    disabled: int = 0  # active creatives with an element no longer admitted


def balanced_pairs(n_images: int, n_copies: int) -> Iterator[tuple[int, int]]:
    """Every (image, copy) index pair once, in diagonals: the first diagonal gives every image and every
    copy a partner, the next gives each a second one, and so on."""
    span = max(n_images, n_copies)
    seen: set[tuple[int, int]] = set()
    for diagonal in range(span):
        for k in range(span):
            pair = (k % n_images, (k + diagonal) % n_copies)
            if pair not in seen:
                seen.add(pair)
                yield pair


def plan_creatives(
    images: list[Material], copies: list[Material], existing: list[Creative], *, cap: int, now: str
) -> list[Creative]:
    """The new creatives to add, at most `cap` minus the active ones.

    Pairs within a category come first (categories take turns), then pairs across categories; within each,
    the newest materials lead and every material gets a partner before any gets a second.
    """
    # Disabled creatives keep their ids (never re-created) but free their place under the cap.
    room = cap - sum(c.status is CreativeStatus.ACTIVE for c in existing)
    if room <= 0 or not images or not copies:
        return []
    images = sorted(images, key=lambda m: m.created_at, reverse=True)[:MAX_MATERIALS_PER_KIND]
    copies = sorted(copies, key=lambda m: m.created_at, reverse=True)[:MAX_MATERIALS_PER_KIND]
    taken = {c.creative_id for c in existing}
    planned: list[Creative] = []
    for image, copy in chain(_same_category_pairs(images, copies), _pairs(images, copies)):
        creative_id = creative_id_for(image.material_id, copy.material_id)
        if creative_id in taken:
            continue
        taken.add(creative_id)
        planned.append(_creative(creative_id, image, copy, now))
        if len(planned) == room:
            break
    return planned


def _pairs(images: list[Material], copies: list[Material]) -> Iterator[tuple[Material, Material]]:
    return ((images[i], copies[c]) for i, c in balanced_pairs(len(images), len(copies)))


def _same_category_pairs(
    images: list[Material], copies: list[Material]
) -> Iterator[tuple[Material, Material]]:
    groups = []
    for category in dict.fromkeys(m.category for m in images):  # newest category first
        group_copies = [c for c in copies if c.category == category]
        if group_copies:
            groups.append(_pairs([m for m in images if m.category == category], group_copies))
    for round_ in zip_longest(*groups):
        yield from (pair for pair in round_ if pair is not None)


IMAGE_QUALITY = ("sharpness", "mean_luma", "contrast", "clipped_bright", "blockiness")
COPY_QUALITY = ("caps_ratio", "spam")


def element_quality(image: Material, copy: Material) -> dict[str, float]:
    """The elements' measured quality, named by element: what the CTR model may learn from."""
    measured = {f"image.{n}": getattr(image.quality, n) for n in IMAGE_QUALITY}
    measured |= {f"copy.{n}": getattr(copy.quality, n) for n in COPY_QUALITY}
    return {name: float(value) for name, value in measured.items() if value is not None}


def element_tags(image: Material, copy: Material) -> list[str]:
    return sorted(set(image.tag_ids) | set(copy.tag_ids))


def tags_by_element(image: Material, copy: Material) -> dict[str, list[str]]:
    return {"image": sorted(image.tag_ids), "headline": sorted(copy.tag_ids)}


def _creative(creative_id: str, image: Material, copy: Material, now: str) -> Creative:
    return Creative(
        creative_id=creative_id,
        business_line=image.business_line,
        category=image.category,
        image_material_id=image.material_id,
        copy_material_id=copy.material_id,
        # The served rendition (no metadata, upright); materials admitted before renditions existed have
        # none, and show their original.
        image_bucket=(image.served or image.source).bucket,
        image_key=(image.served or image.source).key,
        image_version_id=(image.served or image.source).version_id,
        headline=copy.text or "",
        tags=element_tags(image, copy),
        element_tags=tags_by_element(image, copy),
        quality=element_quality(image, copy),
        status=CreativeStatus.ACTIVE,
        created_at=now,
        updated_at=now,
    )


class Composition:
    """Sweeps every business line: composes its admitted images and copy into at most `cap` active creatives."""

    def __init__(self, materials: MaterialRepository, creatives: CreativeRepository, *, cap: int):
        self._materials = materials
        self._creatives = creatives
        self._cap = cap

    def compose_all(self, now: str) -> list[CompositionReport]:
        """One sweep over every business line. Idempotent: ids are derived from the pair."""
        return [self._compose(business_line, now) for business_line in self._materials.business_lines()]

    def _compose(self, business_line: str, now: str) -> CompositionReport:
        admitted = self._materials.admitted(business_line)  # one read of the line's partition, split by kind
        judged = [m for m in admitted if m.tagging is not None]
        images = [m for m in judged if m.kind is MaterialKind.IMAGE]
        copies = [m for m in judged if m.kind is MaterialKind.COPY]
        existing = self._creatives.for_business_line(business_line)
        elements = {m.material_id: m for m in admitted}
        disabled = self._disable_orphans(existing, elements, now)
        existing = [c for c in existing if c.creative_id not in disabled] + list(disabled.values())
        planned = plan_creatives(images, copies, existing, cap=self._cap, now=now)
        return CompositionReport(
            business_line=business_line,
            images=len(images),
            copies=len(copies),
            existing=len(existing),
            created=self._creatives.put_new(planned) if planned else 0,
            retagged=self._retag(existing, elements, now),
            disabled=len(disabled),
        )

    def _disable_orphans(
        self, existing: list[Creative], elements: dict[str, Material], now: str
    ) -> dict[str, Creative]:
        disabled = {}
        for creative in existing:
            orphaned = creative.image_material_id not in elements or creative.copy_material_id not in elements
            if creative.status is CreativeStatus.ACTIVE and orphaned:
                stored = self._creatives.set_status(creative.creative_id, CreativeStatus.DISABLED, now)
                if stored is not None:
                    disabled[creative.creative_id] = stored
        return disabled

    def _retag(self, existing: list[Creative], elements: dict[str, Material], now: str) -> int:
        """A creative's tags are its elements' tags: tagging arrives after composition (seconds after
        admission), and operators correct tags later, so each sweep brings creatives up to date."""
        changed = 0
        for creative in existing:
            image, copy = elements.get(creative.image_material_id), elements.get(creative.copy_material_id)
            if image is None or copy is None:
                continue  # an element no longer admitted: the creative keeps what it had
            tags, by_element = element_tags(image, copy), tags_by_element(image, copy)
            if (tags, by_element) != (creative.tags, creative.element_tags) and self._creatives.set_tags(
                creative.creative_id, tags, now, by_element
            ):
                changed += 1
        return changed
