"""Placements: where a creative is shown, the image shapes each accepts and the slots it has. Declared once,
here.

Admission records which placements an image fits (`Material.placements`); an image that fits none waits
for an operator. Sizes follow the common display and social specs: a feed tile from 4:5 portrait to 1.91:1
landscape, a wide banner, a 9:16 story. Every placement shows an image and a headline; `phrase` and `cta`
(call to action) slots are filled from the line's phrase bank (`creative.phrase_banks`) where declared.
"""

from __future__ import annotations

from pydantic import Field

from creative.deferred_model import DeferredModel


class PlacementSpec(DeferredModel):
    min_width: int = Field(gt=0)
    min_height: int = Field(gt=0)
    min_aspect: float = Field(gt=0, description="width / height")
    max_aspect: float = Field(gt=0)
    slots: tuple[str, ...] = ("image", "headline")

    def fits(self, width: int, height: int) -> bool:
        aspect = width / height
        return (
            width >= self.min_width
            and height >= self.min_height
            and self.min_aspect <= aspect <= self.max_aspect
        )


PLACEMENTS: dict[str, PlacementSpec] = {
    "home_feed": PlacementSpec(
        min_width=300,
        min_height=300,
        min_aspect=0.8,
        max_aspect=1.91,
        slots=("image", "headline", "phrase", "cta"),
    ),
    "banner": PlacementSpec(
        min_width=600, min_height=150, min_aspect=2.0, max_aspect=8.1, slots=("image", "headline", "cta")
    ),
    "story": PlacementSpec(
        min_width=360, min_height=640, min_aspect=0.5, max_aspect=0.8, slots=("image", "headline", "phrase")
    ),
}
PHRASE_SLOTS = ("phrase", "cta")


def phrase_slots_of(placement: str) -> tuple[str, ...]:
    """The slots of a placement that phrases fill; a placement not declared here has none."""
    spec = PLACEMENTS.get(placement)
    return tuple(s for s in spec.slots if s in PHRASE_SLOTS) if spec else ()


def placements_for(width: int, height: int) -> list[str]:
    return [name for name, spec in PLACEMENTS.items() if spec.fits(width, height)]
