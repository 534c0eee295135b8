"""Opening images nobody vouched for: a pixel cap before any decode, and a decompression bomb is an error.

Pillow's own guard warns below twice its MAX_IMAGE_PIXELS and raises above; every place that opens an
uploaded image (admission, tagging, the image model) goes through `open_untrusted`, which turns the warning
into an error and checks the caller's cap from the header, before a pixel is decoded.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image


class UnsafeImage(ValueError):
    """Too many pixels for the cap, or what Pillow calls a decompression bomb."""


def open_untrusted(data: bytes, *, max_pixels: int, formats: list[str] | None = None) -> Image.Image:
    """The image, lazily opened (header read, pixels not decoded). Raises UnsafeImage past the cap and
    whatever Pillow raises on bytes that are not an image it reads."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=formats)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise UnsafeImage(str(exc)) from exc
    width, height = image.size
    if width * height > max_pixels:
        raise UnsafeImage(f"{width}x{height} exceeds {max_pixels} pixels")
    return image
