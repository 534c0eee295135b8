"""Request and response models of the racing API (select and feedback)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from creative.deferred_model import DeferredModel
from creative.impressions import FeatureName, FeatureValue
from creative.phrase_banks import PhraseSlot, ProductContext
from creative.tags import TAG_ID_PATTERN

Slug = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")


class UserContext(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    features: dict[FeatureName, FeatureValue] = Field(
        default_factory=dict,
        max_length=64,
        description="Name -> value, at most 64. Send a quantity (an age, a price) as a JSON number: the racer "
        "learns across nearby values of a number (bins on a log scale), while text is a category of its own.",
    )


class RequestContext(DeferredModel):
    """What the page shows around the ad: recall by category and tag, and the values phrase slots take."""

    model_config = ConfigDict(extra="forbid")

    category: str | None = Field(
        default=None, min_length=1, max_length=64, description="e.g. the product category viewed"
    )
    tags: list[Annotated[str, StringConstraints(pattern=TAG_ID_PATTERN)]] = Field(
        default_factory=list, max_length=20, description="Tag ids, e.g. iab:483"
    )
    product: ProductContext | None = None


class SelectRequest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    business_line: str = Slug
    placement: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    user: UserContext
    context: RequestContext | None = None


class CreativeElements(DeferredModel):
    creative_id: str
    image_url: str
    headline: str
    image_material_id: str
    copy_material_id: str


class PhraseElement(DeferredModel):
    slot: PhraseSlot
    phrase_id: str
    text: str = Field(description="The phrase with its slots filled from the request's product context.")
    propensity: float = Field(description="The exact probability with which this phrase was chosen.")


class SelectResponse(DeferredModel):
    impression_id: str
    creative: CreativeElements
    phrases: list[PhraseElement] = Field(
        default_factory=list,
        description="A filled phrase per phrase slot of the placement (none if the bank has none).",
    )
    propensity: float = Field(
        description="The exact probability with which everything served was chosen: the creative times each phrase."
    )
    creative_propensity: float = Field(
        description="The exact probability with which the creative (its image and headline) was chosen."
    )
    element_propensities: dict[str, float] = Field(
        default_factory=dict,
        description="Slot -> the exact probability of the element chosen for it, each drawn on its own: the "
        "phrase slots, and on a line racing elements the image and the headline too.",
    )
    racing: Literal["creatives", "elements"] = Field(
        default="creatives",
        description="creatives: a composed creative was raced; elements: every slot was chosen per element "
        "(the line's template), and model_version and predicted_ctr are the element effects' estimate.",
    )
    recall: list[str] = Field(description="The recall strategies that proposed the chosen creative.")
    policy_version: str
    model_version: str = Field(description="The CTR model whose prediction was the prior.")
    predicted_ctr: float = Field(description="That model's predicted CTR for this user and creative.")
    candidates: int


FeedbackEvent = Literal["click", "conversion"]


class FeedbackRequest(DeferredModel):
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


class FeedbackResponse(DeferredModel):
    impression_id: str
    creative_id: str
    event: FeedbackEvent
    counted: bool = Field(description="False when this event was already counted for the impression.")
