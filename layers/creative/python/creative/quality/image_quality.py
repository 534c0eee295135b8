"""Image quality by measurement: sharpness, exposure and contrast, on a copy scaled to a fixed size so the
numbers mean the same for every upload resolution. Pillow and numpy only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

MEASURE_LONG_SIDE = 512  # every image is measured at this long side (never upscaled)


@dataclass(frozen=True)
class ImageMeasures:
    sharpness: float  # variance of the Laplacian of luma (0..255 scale) at MEASURE_LONG_SIDE
    mean_luma: float  # 0..1
    contrast: float  # standard deviation of luma, 0..1
    clipped_dark: float  # share of pixels at or below 2% luma
    clipped_bright: float  # share of pixels at or above 98% luma


def luma_at_measure_size(image: Image.Image) -> np.ndarray:
    """Rec. 601 luma (0..255, float32) of the displayed image, long side scaled to MEASURE_LONG_SIDE."""
    shown = ImageOps.exif_transpose(image)
    scale = MEASURE_LONG_SIDE / max(shown.size)
    if scale < 1:
        shown.draft("RGB", (int(shown.width * scale), int(shown.height * scale)))
        shown = shown.resize(
            (max(1, round(shown.width * scale)), max(1, round(shown.height * scale))),
            Image.Resampling.BILINEAR,
        )
    return np.asarray(shown.convert("L"), dtype=np.float32)


def measure(image: Image.Image) -> ImageMeasures:
    luma = luma_at_measure_size(image)
    laplacian = luma[:-2, 1:-1] + luma[2:, 1:-1] + luma[1:-1, :-2] + luma[1:-1, 2:] - 4.0 * luma[1:-1, 1:-1]
    unit = luma / 255.0
    return ImageMeasures(
        sharpness=round(float(laplacian.var()), 2),
        mean_luma=round(float(unit.mean()), 4),
        contrast=round(float(unit.std()), 4),
        clipped_dark=round(float((unit <= 0.02).mean()), 4),
        clipped_bright=round(float((unit >= 0.98).mean()), 4),
    )
