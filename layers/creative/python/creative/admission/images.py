"""Image checks: format by magic bytes, pixel cap before decode, minimum resolution, full decode."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps

from creative.admission.limits import AdmissionLimits
from creative.materials import ImageFacts, Reason, ReasonCode
from creative.untrusted_images import UnsafeImage, open_untrusted

_ALLOWED = ("PNG", "JPEG", "WEBP")
_EXTENSIONS = {"PNG": ("png", "image/png"), "JPEG": ("jpg", "image/jpeg"), "WEBP": ("webp", "image/webp")}
# EXIF orientations 5-8 rotate by 90°: the image is shown with width and height swapped.
_QUARTER_TURNS = {5, 6, 7, 8}


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


def _reject(code: ReasonCode, detail: str) -> list[Reason]:
    return [Reason(code=code, detail=detail)]


@dataclass(frozen=True)
class InspectedImage:
    facts: ImageFacts
    image: Image.Image  # decoded: the quality checks measure its pixels


def inspect_image(data: bytes, limits: AdmissionLimits) -> InspectedImage | list[Reason]:
    """Facts about an acceptable image and its decoded pixels, or the reasons it is not acceptable.

    Any failure of the decoder on these bytes is the file's fault, never a reason to retry: Pillow raises
    many exception types on malformed input (OSError, ValueError, SyntaxError, struct.error, EOFError, …),
    so every one of them becomes `corrupt_image`.
    """
    sniffed = sniff_image_format(data)
    if sniffed is None:
        return _reject(
            ReasonCode.CONTENT_TYPE_MISMATCH, "named as an image but bytes are not PNG, JPEG or WebP"
        )
    if sniffed not in _ALLOWED:
        return _reject(ReasonCode.FORMAT_NOT_ALLOWED, f"{sniffed} is not one of {', '.join(_ALLOWED)}")
    try:
        image = open_untrusted(data, max_pixels=limits.max_image_pixels, formats=[sniffed])  # header only
    except UnsafeImage as exc:
        return _reject(ReasonCode.TOO_MANY_PIXELS, str(exc))
    except Exception as exc:  # noqa: BLE001 - see docstring
        return _reject(ReasonCode.CORRUPT_IMAGE, f"header unreadable ({type(exc).__name__})")
    width, height = image.size
    if getattr(image, "n_frames", 1) > 1:
        return _reject(ReasonCode.ANIMATED_IMAGE, f"{image.n_frames} frames; creatives are still images")
    try:
        orientation = image.getexif().get(0x0112, 1)
        image.load()  # decodes every pixel: truncated or corrupt files fail here, not in front of a user
    except Exception as exc:  # noqa: BLE001 - see docstring
        return _reject(ReasonCode.CORRUPT_IMAGE, f"cannot decode ({type(exc).__name__}: {exc})")
    if orientation in _QUARTER_TURNS:
        width, height = height, width
    if width < limits.min_image_width or height < limits.min_image_height:
        detail = f"{width}x{height} is below {limits.min_image_width}x{limits.min_image_height}"
        return _reject(ReasonCode.RESOLUTION_TOO_LOW, detail)
    facts = ImageFacts(
        format=sniffed, width=width, height=height, mode=image.mode, exif_orientation=orientation
    )
    return InspectedImage(facts, image)


@dataclass(frozen=True)
class Rendition:
    data: bytes
    extension: str
    content_type: str


def served_rendition(image: Image.Image, image_format: str) -> Rendition:
    """What users are shown: the pixels upright (EXIF orientation applied) and re-encoded in the upload's
    format with no metadata at all, so no camera, owner or GPS position written by the operator's device
    reaches a user. Only the colour profile is kept: it changes how the pixels look."""
    upright = ImageOps.exif_transpose(image)
    extension, content_type = _EXTENSIONS[image_format]
    options: dict = {"icc_profile": image.info["icc_profile"]} if image.info.get("icc_profile") else {}
    if image_format == "JPEG":
        upright = upright.convert("RGB") if upright.mode not in ("RGB", "L", "CMYK") else upright
        options |= {"quality": 90, "optimize": True}
    elif image_format == "WEBP":
        options |= {"quality": 90}
    buffer = io.BytesIO()
    upright.save(buffer, format=image_format, **options)
    return Rendition(buffer.getvalue(), extension, content_type)
