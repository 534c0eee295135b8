"""Admission limits, one place. Defaults suit display ads; each can be overridden per deployment."""

from pydantic import Field

from creative.deferred_model import DeferredModel

# Admission's default pixel cap, and the cap of any code that opens images and is given no other. (Here,
# not in `creative.untrusted_images`: every function reads its limits, few need Pillow.)
DEFAULT_MAX_PIXELS = 40_000_000


class AdmissionLimits(DeferredModel):
    max_image_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    # Checked from the header before any pixel is decoded: a decompression bomb never gets decoded.
    max_image_pixels: int = Field(default=DEFAULT_MAX_PIXELS, gt=0)
    min_image_width: int = Field(default=128, gt=0)
    min_image_height: int = Field(default=128, gt=0)
    max_copy_file_bytes: int = Field(default=1024 * 1024, gt=0)
    max_copy_lines: int = Field(default=2000, gt=0)
    min_copy_chars: int = Field(default=4, gt=0)
    max_copy_chars: int = Field(default=90, gt=0)
