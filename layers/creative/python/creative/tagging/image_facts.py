"""Facts about an image an operator filters on: its dominant colours, brightness and orientation.

Plain Pillow and numpy, measured on a small copy of the displayed image (EXIF orientation applied).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

# Named colours as an operator would say them, with a representative sRGB value each. A pixel takes the
# name of the nearest one in a perceptually rounder space (see _perceptual); a colour is dominant when it
# covers at least DOMINANT_SHARE of the image.
PALETTE: dict[str, tuple[int, int, int]] = {
    "black": (20, 20, 20),
    "grey": (128, 128, 128),
    "white": (240, 240, 240),
    "red": (200, 30, 35),
    "orange": (240, 140, 30),
    "yellow": (245, 220, 50),
    "green": (50, 150, 60),
    "teal": (30, 140, 140),
    "blue": (40, 80, 200),
    "purple": (120, 50, 150),
    "pink": (240, 150, 180),
    "brown": (120, 75, 40),
    "beige": (215, 195, 160),
}
DOMINANT_SHARE = 0.15
MAX_COLOURS = 3
SAMPLE_SIDE = 64
# Mean luma (Rec. 601, 0..1) below DARK reads as a dark image, above BRIGHT as a bright one.
DARK, BRIGHT = 0.3, 0.72
# Width / height beyond these is landscape or portrait; between them, square.
SQUARE_BAND = (0.9, 1.1)


@dataclass(frozen=True)
class ImageFactsTags:
    colours: list[tuple[str, float]]  # (name, share), largest first
    brightness: str  # dark | normal | bright
    mean_luma: float
    orientation: str  # landscape | portrait | square


# sRGB level (0..255) -> linear light, looked up: the power over every sampled pixel was most of facts' time.
_LINEAR = (np.arange(256) / 255.0) ** 2.2


def _perceptual(rgb: np.ndarray) -> np.ndarray:
    """sRGB levels (uint8 0..255) to a cheap perceptual space: linear light, then opponent axes with lightness."""
    linear = _LINEAR[rgb]
    red, green, blue = linear[..., 0], linear[..., 1], linear[..., 2]
    lightness = (0.2126 * red + 0.7152 * green + 0.0722 * blue) ** (1 / 3)
    return np.stack([1.5 * lightness, red - green, 0.5 * (red + green) - blue], axis=-1)


_PALETTE_NAMES = list(PALETTE)
_PALETTE_POINTS = _perceptual(np.array(list(PALETTE.values()), dtype=np.uint8))
# The nearest palette point minimises |q|^2 - 2 p.q (|p|^2 is the same for every q): one matrix product.
_PALETTE_WEIGHTS = -2.0 * _PALETTE_POINTS.T
_PALETTE_NORMS = (_PALETTE_POINTS**2).sum(axis=1)


def facts(image: Image.Image) -> ImageFactsTags:
    shown = ImageOps.exif_transpose(image)
    width, height = shown.size
    small = np.asarray(shown.convert("RGB").resize((SAMPLE_SIDE, SAMPLE_SIDE), Image.Resampling.BILINEAR))
    levels = small.reshape(-1, 3)
    nearest = (_perceptual(levels) @ _PALETTE_WEIGHTS + _PALETTE_NORMS).argmin(axis=1)
    shares = np.bincount(nearest, minlength=len(_PALETTE_NAMES)) / len(levels)
    ranked = sorted(((_PALETTE_NAMES[i], float(s)) for i, s in enumerate(shares)), key=lambda c: -c[1])
    colours = [(name, round(share, 3)) for name, share in ranked if share >= DOMINANT_SHARE][:MAX_COLOURS]
    luma = float((levels @ np.array([0.299, 0.587, 0.114])).mean() / 255.0)
    ratio = width / height
    return ImageFactsTags(
        colours=colours or [ranked[0]],
        brightness="dark" if luma < DARK else "bright" if luma > BRIGHT else "normal",
        mean_luma=round(luma, 3),
        orientation="landscape"
        if ratio > SQUARE_BAND[1]
        else "portrait"
        if ratio < SQUARE_BAND[0]
        else "square",
    )
