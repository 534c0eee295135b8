"""A business line's recall rules, as operators set them: pins, blocks and schedules per placement, the map
from user features to tags, and each strategy's quota. One document per line, versioned.

What needs only the document is validated here (overlapping schedules, a creative both pinned and blocked at
the same time); what needs the line's creatives (a pin on a disabled or foreign creative) is checked by the
operator service before saving.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints, model_validator

from creative.deferred_model import DeferredModel
from creative.impressions import FeatureName
from creative.tags import TAG_ID_PATTERN

CreativeId = Annotated[str, StringConstraints(pattern=r"^cr_[A-Za-z0-9_-]{1,64}$")]
Placement = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
TagId = Annotated[str, StringConstraints(pattern=TAG_ID_PATTERN)]

# The strategies a quota can be set for, in the order they fill the candidate set after the pins.
QUOTA_STRATEGIES = ("tag", "hot")


class Window(DeferredModel):
    """When a rule applies: from `starts_at` (inclusive) to `ends_at` (exclusive); open ends are unbounded."""

    model_config = ConfigDict(extra="forbid")

    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self

    def covers(self, at: datetime) -> bool:
        return (self.starts_at is None or self.starts_at <= at) and (
            self.ends_at is None or at < self.ends_at
        )

    def overlaps(self, other: Window) -> bool:
        far_past, far_future = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
        start = max(self.starts_at or far_past, other.starts_at or far_past)
        end = min(self.ends_at or far_future, other.ends_at or far_future)
        return start < end


class CreativeRule(Window):
    """A pin, a block or a schedule of one creative, on the listed placements (none listed: every one)."""

    creative_id: CreativeId
    placements: list[Placement] = Field(default_factory=list, max_length=20)

    def applies(self, placement: str, at: datetime) -> bool:
        return (not self.placements or placement in self.placements) and self.covers(at)

    def shares_placement(self, other: CreativeRule) -> bool:
        return (
            not self.placements or not other.placements or bool(set(self.placements) & set(other.placements))
        )


class FeatureTags(DeferredModel):
    """Users whose feature `feature` equals `value` are interested in `tags` (e.g. segment=runner →
    iab:sports)."""

    model_config = ConfigDict(extra="forbid")

    feature: FeatureName
    value: str = Field(min_length=1, max_length=256)
    tags: list[TagId] = Field(min_length=1, max_length=20)


class Quotas(DeferredModel):
    """How many candidates each strategy may add; the business-line strategy fills what is left."""

    model_config = ConfigDict(extra="forbid")

    tag: int = Field(default=40, ge=0, le=1000)
    hot: int = Field(default=20, ge=0, le=1000)


class RecallRules(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    business_line: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    version: int = Field(default=0, ge=0)
    # Pinned creatives are always candidates (first, within MAX_CANDIDATES) where and while the pin applies.
    pins: list[CreativeRule] = Field(default_factory=list, max_length=100)
    # Blocked creatives are never candidates where and while the block applies.
    blocks: list[CreativeRule] = Field(default_factory=list, max_length=500)
    # A creative with schedules is a candidate only inside one of them (on their placements).
    schedules: list[CreativeRule] = Field(default_factory=list, max_length=500)
    feature_tags: list[FeatureTags] = Field(default_factory=list, max_length=200)
    quotas: Quotas = Field(default_factory=Quotas)
    updated_by: str | None = None
    updated_at: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> RecallRules:
        for kind in ("pins", "blocks", "schedules"):
            rules: list[CreativeRule] = getattr(self, kind)
            for i, rule in enumerate(rules):
                for other in rules[i + 1 :]:
                    same = other.creative_id == rule.creative_id and rule.shares_placement(other)
                    if same and rule.overlaps(other):
                        raise ValueError(
                            f"{kind} of {rule.creative_id} overlap in time on a shared placement; "
                            "merge them or make them consecutive"
                        )
        for pin in self.pins:
            for block in self.blocks:
                clash = pin.creative_id == block.creative_id and pin.shares_placement(block)
                if clash and pin.overlaps(block):
                    raise ValueError(f"{pin.creative_id} is both pinned and blocked at the same time")
        return self

    def creative_ids(self) -> set[str]:
        return {rule.creative_id for rule in (*self.pins, *self.blocks, *self.schedules)}

    def tags_for(self, user_features: dict[str, object]) -> set[str]:
        """The tags the operator maps this user's features to."""
        wanted: set[str] = set()
        for mapping in self.feature_tags:
            value = user_features.get(mapping.feature)
            if value is not None and _as_text(value) == mapping.value:
                wanted.update(mapping.tags)
        return wanted


def _as_text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
