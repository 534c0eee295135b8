"""Request and response models of the racing API (select and feedback)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from creative.impressions import FeatureName, FeatureValue

Slug = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")


class UserContext(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    features: dict[FeatureName, FeatureValue] = Field(default_factory=dict, max_length=64)


class SelectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    business_line: str = Slug
    placement: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    user: UserContext


class CreativeElements(BaseModel):
    creative_id: str
    image_url: str
    headline: str
    image_material_id: str
    copy_material_id: str


class SelectResponse(BaseModel):
    impression_id: str
    creative: CreativeElements
    propensity: float = Field(description="The exact probability with which this creative was chosen.")
    policy_version: str
    model_version: str = Field(description="The CTR model whose prediction was the prior.")
    predicted_ctr: float = Field(description="That model's predicted CTR for this user and creative.")
    candidates: int


FeedbackEvent = Literal["click", "conversion"]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    impression_id: str = Field(min_length=1, max_length=64)
    event: FeedbackEvent
    value: float | None = Field(
        default=None,
        ge=0,
        le=1e9,
        allow_inf_nan=False,
        description="A conversion's value (e.g. the order total); conversions only.",
    )

    @model_validator(mode="after")
    def _value_only_on_conversions(self) -> FeedbackRequest:
        if self.value is not None and self.event != "conversion":
            raise ValueError("value is for conversions only")
        return self


class FeedbackResponse(BaseModel):
    impression_id: str
    creative_id: str
    event: FeedbackEvent
    counted: bool = Field(description="False when this event was already counted for the impression.")
