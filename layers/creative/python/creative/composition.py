"""Composition: admitted images × admitted headlines of a business line → a bounded set of creatives."""

from __future__ import annotations

from dataclasses import dataclass

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


def plan_creatives(
    images: list[Material], copies: list[Material], existing: list[Creative], *, cap: int, now: str
) -> list[Creative]:
    """The new creatives to add, at most `cap - len(existing)`.

    Pairs of the same category come first; within that, the pairs grow as an expanding square over the
    newest images and headlines, so every new material gets partners before any one material gets many.
    """
    room = cap - len(existing)
    if room <= 0 or not images or not copies:
        return []
    images = sorted(images, key=lambda m: m.created_at, reverse=True)[:MAX_MATERIALS_PER_KIND]
    copies = sorted(copies, key=lambda m: m.created_at, reverse=True)[:MAX_MATERIALS_PER_KIND]
    existing_ids = {c.creative_id for c in existing}
    ranked = sorted(
        ((i, c) for i in range(len(images)) for c in range(len(copies))),
        key=lambda ic: (images[ic[0]].category != copies[ic[1]].category, max(ic), ic[0] + ic[1], ic),
    )
    planned = []
    for i, c in ranked:
        image, copy = images[i], copies[c]
        creative_id = creative_id_for(image.material_id, copy.material_id)
        if creative_id in existing_ids:
            continue
        planned.append(
            Creative(
                creative_id=creative_id,
                business_line=image.business_line,
                category=image.category,
                image_material_id=image.material_id,
                copy_material_id=copy.material_id,
                image_bucket=image.source.bucket,
                image_key=image.source.key,
                headline=copy.text or "",
                status=CreativeStatus.ACTIVE,
                created_at=now,
                updated_at=now,
            )
        )
        if len(planned) == room:
            break
    return planned


def compose_all_business_lines(
    materials: MaterialRepository, creatives: CreativeRepository, *, cap: int, now: str
) -> list[CompositionReport]:
    """One sweep over every business line. Idempotent: ids are derived from the pair."""
    reports = []
    for business_line in materials.business_lines():
        images = materials.admitted(business_line, MaterialKind.IMAGE)
        copies = materials.admitted(business_line, MaterialKind.COPY)
        existing = creatives.for_business_line(business_line)
        planned = plan_creatives(images, copies, existing, cap=cap, now=now)
        created = creatives.put_new(planned) if planned else 0
        reports.append(
            CompositionReport(
                business_line=business_line,
                images=len(images),
                copies=len(copies),
                existing=len(existing),
                created=created,
            )
        )
    return reports
