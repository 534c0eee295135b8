"""Each function's configuration, read from its environment once per cold start and validated."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Self

from pydantic import ConfigDict, Field, model_validator

from creative.admission.limits import AdmissionLimits
from creative.deferred_model import DeferredModel
from creative.racing.racer import RacerConfig


class _EnvConfig(DeferredModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        return cls.model_validate(dict(os.environ if environ is None else environ))


class _WithAdmissionLimits(_EnvConfig):
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


class AdmissionConfig(_WithAdmissionLimits):
    materials_table: str = Field(alias="MATERIALS_TABLE")
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE")
    material_events_bus: str = Field(alias="MATERIAL_EVENTS_BUS")
    line_settings_table: str = Field(alias="LINE_SETTINGS_TABLE")


class TaggingConfig(_WithAdmissionLimits):
    """Tagging reads images admission admitted, under admission's caps (the same limits)."""

    materials_table: str = Field(alias="MATERIALS_TABLE")
    tags_table: str = Field(alias="TAGS_TABLE")
    assets_bucket: str = Field(alias="ASSETS_BUCKET")
    similarity_table: str = Field(alias="SIMILARITY_TABLE")
    line_settings_table: str = Field(alias="LINE_SETTINGS_TABLE")
    model_cache_dir: str = Field(default="/tmp/models", alias="MODEL_CACHE_DIR")


class CompositionConfig(_EnvConfig):
    materials_table: str = Field(alias="MATERIALS_TABLE")
    creatives_table: str = Field(alias="CREATIVES_TABLE")
    max_creatives_per_business_line: int = Field(default=100, gt=0, alias="MAX_CREATIVES_PER_BUSINESS_LINE")


_RACER_DEFAULTS = RacerConfig()


class RacerSettings(_EnvConfig):
    """The racer's tunables; select and retraining must agree on them, so both read the same names.

    Defaults are RacerConfig's: one source, which the catalog also writes into both functions' environment.
    """

    model_prior_precision: float = Field(
        default=_RACER_DEFAULTS.model_prior_precision, gt=0, alias="RACER_MODEL_PRIOR_PRECISION"
    )
    untrained_prior_precision: float = Field(
        default=_RACER_DEFAULTS.untrained_prior_precision, gt=0, alias="RACER_UNTRAINED_PRIOR_PRECISION"
    )
    exploration_floor: float = Field(
        default=_RACER_DEFAULTS.exploration_floor, ge=0, le=1, alias="RACER_EXPLORATION_FLOOR"
    )
    half_life_hours: float = Field(
        default=_RACER_DEFAULTS.half_life_hours, gt=0, alias="RACER_HALF_LIFE_HOURS"
    )
    counter_shards: int = Field(
        default=_RACER_DEFAULTS.counter_shards, ge=1, le=32, alias="RACER_COUNTER_SHARDS"
    )
    posterior_scale: float = Field(
        default=_RACER_DEFAULTS.learner.posterior_scale, gt=0, le=1, alias="RACER_POSTERIOR_SCALE"
    )
    own_key_floor: float = Field(
        default=_RACER_DEFAULTS.learner.own_key_floor, ge=0, le=10, alias="RACER_OWN_KEY_FLOOR"
    )

    @classmethod
    def default_environment(cls) -> dict[str, str]:
        """The defaults as environment variables, e.g. {"RACER_EXPLORATION_FLOOR": "0.01", ...}."""
        return {
            field.alias: _environment_text(field.default)
            for field in RacerSettings.model_fields.values()
            if field.alias
        }

    def racer_config(self) -> RacerConfig:
        return RacerConfig(
            model_prior_precision=self.model_prior_precision,
            untrained_prior_precision=self.untrained_prior_precision,
            exploration_floor=self.exploration_floor,
            half_life_hours=self.half_life_hours,
            counter_shards=self.counter_shards,
            learner=replace(
                _RACER_DEFAULTS.learner,
                posterior_scale=self.posterior_scale,
                own_key_floor=self.own_key_floor,
            ),
        )


def _environment_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _RacingStores(RacerSettings):
    """Where arms, impressions and CTR models live: select and retraining read the same ones."""

    creatives_table: str = Field(alias="CREATIVES_TABLE")
    racing_state_table: str = Field(alias="RACING_STATE_TABLE")
    impressions_table: str = Field(alias="IMPRESSIONS_TABLE")
    model_registry_table: str = Field(alias="MODEL_REGISTRY_TABLE")
    assets_bucket: str = Field(alias="ASSETS_BUCKET")


class SelectConfig(_RacingStores):
    max_candidates: int = Field(default=100, gt=0, alias="MAX_CANDIDATES")
    # Compliance lists (banned claims) that filled phrases are checked against before serving.
    line_settings_table: str = Field(alias="LINE_SETTINGS_TABLE")
    max_phrase_chars: int = Field(default=AdmissionLimits().max_copy_chars, gt=0, alias="MAX_PHRASE_CHARS")
    # Candidates and racing state are re-read once a container's copy is this old.
    cache_ttl_seconds: float = Field(default=2.0, ge=0, le=60, alias="SELECT_CACHE_TTL_SECONDS")
    impression_ttl_days: int = Field(default=30, gt=0, alias="IMPRESSION_TTL_DAYS")
    model_refresh_seconds: float = Field(default=60.0, ge=0, alias="MODEL_REFRESH_SECONDS")


class RetrainingConfig(_RacingStores):
    window_days: float = Field(default=14.0, gt=0, alias="RETRAIN_WINDOW_DAYS")
    holdout_hours: float = Field(default=24.0, gt=0, alias="RETRAIN_HOLDOUT_HOURS")
    min_training_rows: int = Field(default=2000, gt=0, alias="RETRAIN_MIN_ROWS")
    min_training_clicks: int = Field(default=50, gt=0, alias="RETRAIN_MIN_CLICKS")
    min_holdout_rows: int = Field(default=500, gt=0, alias="RETRAIN_MIN_HOLDOUT_ROWS")
    min_win_probability: float = Field(default=0.8, gt=0, lt=1, alias="RETRAIN_MIN_WIN_PROBABILITY")


class FeedbackConfig(_EnvConfig):
    racing_state_table: str = Field(alias="RACING_STATE_TABLE")
    impressions_table: str = Field(alias="IMPRESSIONS_TABLE")


class OperatorConfig(_WithAdmissionLimits, RacerSettings):
    """Admission's limits too: a browser upload form carries the byte cap admission will apply. The racer's
    settings too: asset labels and fatigue weigh evidence with the racer's decay and learner."""

    uploads_bucket: str = Field(alias="UPLOADS_BUCKET")  # presigned upload forms, image URLs
    model_registry_table: str = Field(alias="MODEL_REGISTRY_TABLE")  # the CTR model and retraining runs
    materials_table: str = Field(alias="MATERIALS_TABLE")
    creatives_table: str = Field(alias="CREATIVES_TABLE")
    racing_state_table: str = Field(alias="RACING_STATE_TABLE")
    impressions_table: str = Field(alias="IMPRESSIONS_TABLE")  # the racing timeline (read only)
    tags_table: str = Field(alias="TAGS_TABLE")
    line_settings_table: str = Field(alias="LINE_SETTINGS_TABLE")
    material_events_bus: str = Field(alias="MATERIAL_EVENTS_BUS")  # a material admitted on review
    assets_bucket: str = Field(alias="ASSETS_BUCKET")  # the tagger's vocabulary, under models/
    model_cache_dir: str = Field(default="/tmp/models", alias="MODEL_CACHE_DIR")


class GenerationConfig(_EnvConfig):
    materials_table: str = Field(alias="MATERIALS_TABLE")
    creatives_table: str = Field(alias="CREATIVES_TABLE")
    racing_state_table: str = Field(alias="RACING_STATE_TABLE")
    uploads_bucket: str = Field(alias="UPLOADS_BUCKET")
    line_settings_table: str = Field(alias="LINE_SETTINGS_TABLE")  # compliance lists, checked before writing
    assets_bucket: str = Field(alias="ASSETS_BUCKET")  # the generator's files, under models/
    model_cache_dir: str = Field(default="/tmp/models", alias="MODEL_CACHE_DIR")
    per_line_cap: int = Field(default=8, gt=0, le=100, alias="GENERATED_PER_LINE")
    max_pending_review: int = Field(default=50, gt=0, alias="GENERATION_MAX_PENDING_REVIEW")
    window_hours: int = Field(default=6, gt=0, le=24, alias="GENERATION_WINDOW_HOURS")
