"""Tags: what a material is about (IAB categories), what its copy sells (selling points), and facts an
operator filters on (colour, brightness, orientation). Every tag says where it came from.

A tag id is `<vocabulary>:<term>`, e.g. `iab:472`, `selling:price_discount`, `colour:red`,
`brightness:dark`, `orientation:landscape`. The material record keeps its effective tags (the model's,
corrected by operators) and every operator label, so a model that tags again never undoes a human.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from creative.deferred_model import DeferredModel

OPERATOR_SOURCE = "operator"
TAG_ID_PATTERN = r"^(iab|selling|colour|brightness|orientation):[A-Za-z0-9_-]{1,40}$"


class Vocabulary(StrEnum):
    IAB = "iab"  # IAB Content Taxonomy 3.x node ids
    SELLING = "selling"  # selling points of ad copy
    COLOUR = "colour"
    BRIGHTNESS = "brightness"
    ORIENTATION = "orientation"


def vocabulary_of(tag: str) -> Vocabulary:
    return Vocabulary(tag.split(":", 1)[0])


class MaterialTag(DeferredModel):
    tag: str = Field(pattern=TAG_ID_PATTERN)
    name: str = Field(description="What the tag means, e.g. 'Space and Astronomy'.")
    score: float = Field(ge=0, le=1, description="The model's confidence; 1 for operator tags and facts.")
    source: str = Field(description="'model:<artifact>@<version>' or 'operator'.")


class TagLabel(DeferredModel):
    """An operator's judgement on one tag of one material: the training data of the next heads."""

    tag: str = Field(pattern=TAG_ID_PATTERN)
    present: bool
    by: str
    at: str
    comment: str | None = Field(default=None, max_length=500)


class TaggingState(DeferredModel):
    status: Literal["TAGGED", "UNTAGGABLE"]
    tagger_version: str
    tagged_at: str
    reason: str | None = Field(default=None, description="Why a material could not be tagged.")


def with_labels(
    model_tags: list[MaterialTag], labels: list[TagLabel], names: dict[str, str]
) -> list[MaterialTag]:
    """The effective tags: the model's, minus what operators removed, plus what they added."""
    latest = {label.tag: label for label in sorted(labels, key=lambda label: label.at)}
    kept = [t for t in model_tags if t.tag not in latest or latest[t.tag].present]
    have = {t.tag for t in kept}
    added = [
        MaterialTag(tag=tag, name=names.get(tag, tag), score=1.0, source=OPERATOR_SOURCE)
        for tag, label in latest.items()
        if label.present and tag not in have
    ]
    return sorted(kept + added, key=lambda t: (-t.score, t.tag))
