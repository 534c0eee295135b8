"""Placements: where a creative is shown, and the image shapes each accepts. Declared once, here.

Admission records which placements an image fits (`Material.placements`); an image that fits none waits
for an operator. Sizes follow the common display and social specs: a feed tile from 4:5 portrait to 1.91:1
landscape, a wide banner, a 9:16 story.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class PlacementSpec(BaseModel):
    min_width: int = Field(gt=0)
    min_height: int = Field(gt=0)
    min_aspect: float = Field(gt=0, description="width / height")
    max_aspect: float = Field(gt=0)

    def fits(self, width: int, height: int) -> bool:
        aspect = width / height
        return (
            width >= self.min_width
            and height >= self.min_height
            and self.min_aspect <= aspect <= self.max_aspect
        )


PLACEMENTS: dict[str, PlacementSpec] = {
    "home_feed": PlacementSpec(min_width=300, min_height=300, min_aspect=0.8, max_aspect=1.91),
    "banner": PlacementSpec(min_width=600, min_height=150, min_aspect=2.0, max_aspect=8.1),
    "story": PlacementSpec(min_width=360, min_height=640, min_aspect=0.5, max_aspect=0.8),
}


def placements_for(width: int, height: int) -> list[str]:
    return [name for name, spec in PLACEMENTS.items() if spec.fits(width, height)]
