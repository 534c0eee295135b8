"""A business line's creative template: how select fills a placement's slots.

"creatives" (the default): the racer chooses among composed image × headline creatives, learning user ×
creative interactions and starting each from the CTR model's prior; phrase slots are chosen per element.
"elements": every slot is chosen per element (`creative.racing.elements`), images and headlines included,
so a line with 30 images × 200 headlines × 20 phrases × 5 calls to action costs select what 255 elements
cost, whatever the product. Images and headlines are learned per element with their interactions with user
features; what it gives up: element × element interactions (which image works with which headline) and
the CTR model's prior of the creative path.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from creative.deferred_model import DeferredModel

TEMPLATE_SETTING = "template"  # its name among the line's racing settings (RacingState.settings)
RacingMode = Literal["creatives", "elements"]


class LineTemplate(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    business_line: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    version: int = Field(default=0, ge=0)
    racing: RacingMode = Field(
        default="creatives",
        description="creatives: race composed image × headline creatives; elements: choose every slot per "
        "element, images and headlines included.",
    )
    updated_by: str | None = None
    updated_at: str | None = None


class LineTemplateChange(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    expected_version: int = Field(ge=0, description="The version being replaced (0 for a line with none).")
    racing: RacingMode
