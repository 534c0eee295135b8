"""Image checks: format by magic bytes, pixel cap before decode, minimum resolution, full decode."""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from creative.admission.limits import AdmissionLimits
from creative.materials import ImageFacts, Rejection, RejectionCode

_ALLOWED = ("PNG", "JPEG", "WEBP")


def sniff_image_format(data: bytes) -> str | None:
    """The format the bytes really are (the file name is only a claim)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:2] == b"BM":
        return "BMP"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    return None


def inspect_image(data: bytes, limits: AdmissionLimits) -> ImageFacts | list[Rejection]:
    """Facts about an acceptable image, or the reasons it is not acceptable."""
    sniffed = sniff_image_format(data)
    if sniffed is None:
        return [
            Rejection(
                code=RejectionCode.CONTENT_TYPE_MISMATCH,
                detail="named as an image but bytes are not PNG, JPEG or WebP",
            )
        ]
    if sniffed not in _ALLOWED:
        return [
            Rejection(
                code=RejectionCode.FORMAT_NOT_ALLOWED, detail=f"{sniffed} is not one of {', '.join(_ALLOWED)}"
            )
        ]
    try:
        with warnings.catch_warnings():
            # Pillow warns (then errors) on huge images; our own cap below decides first.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[sniffed])  # lazy: reads the header only
    except Image.DecompressionBombError as exc:
        return [Rejection(code=RejectionCode.TOO_MANY_PIXELS, detail=str(exc))]
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        return [Rejection(code=RejectionCode.CORRUPT_IMAGE, detail=f"header unreadable: {exc}")]
    width, height = image.size
    if width * height > limits.max_image_pixels:
        return [
            Rejection(
                code=RejectionCode.TOO_MANY_PIXELS,
                detail=f"{width}x{height} exceeds {limits.max_image_pixels} pixels",
            )
        ]
    rejections = []
    if width < limits.min_image_width or height < limits.min_image_height:
        rejections.append(
            Rejection(
                code=RejectionCode.RESOLUTION_TOO_LOW,
                detail=f"{width}x{height} is below {limits.min_image_width}x{limits.min_image_height}",
            )
        )
    corrupt = _decode_fully(image)
    if corrupt:
        rejections.append(corrupt)
    if rejections:
        return rejections
    return ImageFacts(format=sniffed, width=width, height=height, mode=image.mode)


def _decode_fully(image: Image.Image) -> Rejection | None:
    """Decodes every pixel: truncated or corrupt files fail here rather than in front of a user."""
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        return Rejection(code=RejectionCode.CORRUPT_IMAGE, detail=f"cannot decode: {exc}")
    return None
