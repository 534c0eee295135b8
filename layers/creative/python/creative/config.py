"""Each function's configuration, read from its environment once per cold start and validated."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Self

from pydantic import BaseModel, ConfigDict, Field

from creative.admission.limits import AdmissionLimits


class _EnvConfig(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        return cls.model_validate(dict(os.environ if environ is None else environ))


class AdmissionConfig(_EnvConfig):
    materials_table: str = Field(alias="MATERIALS_TABLE")
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE")
    max_image_bytes: int = Field(default=AdmissionLimits().max_image_bytes, alias="MAX_IMAGE_BYTES")
    max_image_pixels: int = Field(default=AdmissionLimits().max_image_pixels, alias="MAX_IMAGE_PIXELS")
    min_image_width: int = Field(default=AdmissionLimits().min_image_width, alias="MIN_IMAGE_WIDTH")
    min_image_height: int = Field(default=AdmissionLimits().min_image_height, alias="MIN_IMAGE_HEIGHT")
    min_copy_chars: int = Field(default=AdmissionLimits().min_copy_chars, alias="MIN_COPY_CHARS")
    max_copy_chars: int = Field(default=AdmissionLimits().max_copy_chars, alias="MAX_COPY_CHARS")

    @property
    def limits(self) -> AdmissionLimits:
        return AdmissionLimits(
            max_image_bytes=self.max_image_bytes,
            max_image_pixels=self.max_image_pixels,
            min_image_width=self.min_image_width,
            min_image_height=self.min_image_height,
            min_copy_chars=self.min_copy_chars,
            max_copy_chars=self.max_copy_chars,
        )


class CompositionConfig(_EnvConfig):
    materials_table: str = Field(alias="MATERIALS_TABLE")
    creatives_table: str = Field(alias="CREATIVES_TABLE")
    max_creatives_per_business_line: int = Field(default=100, gt=0, alias="MAX_CREATIVES_PER_BUSINESS_LINE")


class SelectConfig(_EnvConfig):
    creatives_table: str = Field(alias="CREATIVES_TABLE")
    impressions_table: str = Field(alias="IMPRESSIONS_TABLE")
    uploads_bucket: str = Field(alias="UPLOADS_BUCKET")
    max_candidates: int = Field(default=100, gt=0, alias="MAX_CANDIDATES")
    propensity_draws: int = Field(default=1000, gt=0, alias="PROPENSITY_DRAWS")
    impression_ttl_days: int = Field(default=30, gt=0, alias="IMPRESSION_TTL_DAYS")


class FeedbackConfig(_EnvConfig):
    creatives_table: str = Field(alias="CREATIVES_TABLE")
    impressions_table: str = Field(alias="IMPRESSIONS_TABLE")


class OperatorConfig(_EnvConfig):
    materials_table: str = Field(alias="MATERIALS_TABLE")
    creatives_table: str = Field(alias="CREATIVES_TABLE")
    uploads_bucket: str = Field(alias="UPLOADS_BUCKET")
