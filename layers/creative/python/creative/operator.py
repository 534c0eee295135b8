"""What operators read and change: materials with their reasons, creatives with how they are racing."""

from __future__ import annotations

from pydantic import BaseModel, Field

from creative.creatives import Creative, CreativeStatus
from creative.errors import NotFound
from creative.impressions import BetaPosterior
from creative.materials import Material, MaterialStatus
from creative.ports import CreativeRepository, MaterialRepository, ObjectStore


class MaterialPage(BaseModel):
    items: list[Material]
    next_token: str | None = None


class CreativeStats(BaseModel):
    creative_id: str
    business_line: str
    category: str
    status: CreativeStatus
    headline: str
    image_material_id: str
    copy_material_id: str
    image_key: str
    image_url: str
    impressions: int
    clicks: int
    ctr: float | None = Field(description="Observed clicks / impressions; null before the first impression.")
    posterior_mean: float = Field(description="Mean of the arm's Beta posterior (uniform prior).")
    posterior_ci95: tuple[float, float] = Field(
        description="Normal approximation of the 95% credible interval."
    )
    created_at: str
    updated_at: str


class CreativePage(BaseModel):
    items: list[CreativeStats]
    next_token: str | None = None


class CreativeStatusChange(BaseModel):
    status: CreativeStatus


class OperatorService:
    def __init__(
        self,
        materials: MaterialRepository,
        creatives: CreativeRepository,
        images: ObjectStore,
        *,
        image_url_ttl_s: int = 3600,
    ):
        self._materials = materials
        self._creatives = creatives
        self._images = images
        self._image_url_ttl_s = image_url_ttl_s

    def list_materials(
        self,
        *,
        business_line: str | None,
        status: MaterialStatus | None,
        limit: int,
        next_token: str | None,
        content_hash: str | None = None,
    ) -> MaterialPage:
        page = self._materials.list(
            business_line=business_line,
            status=status,
            limit=limit,
            next_token=next_token,
            content_hash=content_hash,
        )
        return MaterialPage(items=page.items, next_token=page.next_token)

    def get_material(self, material_id: str) -> Material:
        material = self._materials.get(material_id)
        if material is None:
            raise NotFound(f"material '{material_id}' does not exist", code="unknown_material")
        return material

    def list_creatives(
        self, *, business_line: str | None, limit: int, next_token: str | None
    ) -> CreativePage:
        page = self._creatives.list(business_line=business_line, limit=limit, next_token=next_token)
        return CreativePage(items=[self.stats(c) for c in page.items], next_token=page.next_token)

    def set_creative_status(
        self, creative_id: str, change: CreativeStatusChange, *, now: str
    ) -> CreativeStats:
        creative = self._creatives.set_status(creative_id, change.status, now)
        if creative is None:
            raise NotFound(f"creative '{creative_id}' does not exist", code="unknown_creative")
        return self.stats(creative)

    def stats(self, creative: Creative) -> CreativeStats:
        posterior = BetaPosterior.of(creative.impressions, creative.clicks)
        return CreativeStats(
            creative_id=creative.creative_id,
            business_line=creative.business_line,
            category=creative.category,
            status=creative.status,
            headline=creative.headline,
            image_material_id=creative.image_material_id,
            copy_material_id=creative.copy_material_id,
            image_key=creative.image_key,
            image_url=self._images.presigned_url(
                creative.image_bucket, creative.image_key, creative.image_version_id, self._image_url_ttl_s
            ),
            impressions=creative.impressions,
            clicks=creative.clicks,
            ctr=creative.clicks / creative.impressions if creative.impressions else None,
            posterior_mean=posterior.mean,
            posterior_ci95=posterior.interval95(),
            created_at=creative.created_at,
            updated_at=creative.updated_at,
        )
