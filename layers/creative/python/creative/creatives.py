"""Creatives: an admitted image paired with an admitted headline, raced against each other."""

from __future__ import annotations

import hashlib
from enum import StrEnum

from pydantic import Field

from creative.deferred_model import DeferredModel


class CreativeStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


class Creative(DeferredModel):
    creative_id: str
    business_line: str
    category: str
    image_material_id: str
    copy_material_id: str
    image_bucket: str
    image_key: str
    # The admitted version: re-uploading the same key must not change what a creative shows.
    image_version_id: str | None = None
    headline: str
    tags: list[str] = Field(default_factory=list)
    # Each element's own tags ("image", "headline"): what a line racing elements learns from, per element.
    element_tags: dict[str, list[str]] = Field(default_factory=dict)
    # Its elements' quality measures ("image.sharpness", "copy.spam", ...): CTR model features, so a clean
    # creative starts with a better prior only where the logged clicks say cleanliness pays.
    quality: dict[str, float] = Field(default_factory=dict)
    status: CreativeStatus = CreativeStatus.ACTIVE
    created_at: str
    updated_at: str


def creative_id_for(image_material_id: str, copy_material_id: str) -> str:
    """Deterministic: composing the same pair twice names the same creative."""
    digest = hashlib.sha256(f"{image_material_id}|{copy_material_id}".encode()).hexdigest()
    return "cr_" + digest[:24]
