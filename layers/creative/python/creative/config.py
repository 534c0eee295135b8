"""Each function's configuration, read from its environment once per cold start and validated."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from creative.admission.limits import AdmissionLimits


class _EnvConfig(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        return cls.model_validate(dict(os.environ if environ is None else environ))


class AdmissionConfig(_EnvConfig):
    materials_table: str = Field(alias="MATERIALS_TABLE")
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE")
    # Each limit can be overridden by its upper-case name, e.g. MAX_IMAGE_BYTES=5242880.
    limits: AdmissionLimits = Field(default_factory=AdmissionLimits)

    @model_validator(mode="before")
    @classmethod
    def _limits_from_environment(cls, environ: Any) -> Any:
        if isinstance(environ, dict) and "limits" not in environ:
            overrides = {
                name: environ[name.upper()]
                for name in AdmissionLimits.model_fields
                if name.upper() in environ
            }
            environ = {**environ, "limits": AdmissionLimits.model_validate(overrides)}
        return environ


class CompositionConfig(_EnvConfig):
    materials_table: str = Field(alias="MATERIALS_TABLE")
    creatives_table: str = Field(alias="CREATIVES_TABLE")
    max_creatives_per_business_line: int = Field(default=100, gt=0, alias="MAX_CREATIVES_PER_BUSINESS_LINE")


class SelectConfig(_EnvConfig):
    creatives_table: str = Field(alias="CREATIVES_TABLE")
    impressions_table: str = Field(alias="IMPRESSIONS_TABLE")
    max_candidates: int = Field(default=100, gt=0, alias="MAX_CANDIDATES")
    propensity_draws: int = Field(default=1000, gt=0, alias="PROPENSITY_DRAWS")
    impression_ttl_days: int = Field(default=30, gt=0, alias="IMPRESSION_TTL_DAYS")


class FeedbackConfig(_EnvConfig):
    creatives_table: str = Field(alias="CREATIVES_TABLE")
    impressions_table: str = Field(alias="IMPRESSIONS_TABLE")


class OperatorConfig(_EnvConfig):
    materials_table: str = Field(alias="MATERIALS_TABLE")
    creatives_table: str = Field(alias="CREATIVES_TABLE")
