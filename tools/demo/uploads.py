"""What the demo uploads: real photos that scikit-image and scikit-learn ship, the copy files in
`tools/demo/copy/`, a set of deliberately bad files that admission must reject with a reason, and the
material the quality checks must catch (blur, a near-duplicate image and headline, spam, compliance), some
of which an operator then admits on review."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFilter

from demo import image_files
from demo.image_files import package_file

COPY_DIR = Path(__file__).resolve().parent / "copy"


@dataclass(frozen=True)
class DemoUpload:
    key: str
    data: bytes
    expect: str  # "ADMITTED", or the reason code the material must end REJECTED or NEEDS_REVIEW with
    operator_admits: str | None = None  # the comment of the operator who admits it on review


# (business line, category, file name in the upload, source file)
PHOTOS = [
    ("food", "coffee", "coffee.png", package_file("skimage", "data", "coffee.png")),
    ("pets", "cats", "chelsea.png", package_file("skimage", "data", "chelsea.png")),
    ("travel", "cities", "china.jpg", package_file("sklearn", "datasets", "images", "china.jpg")),
    ("travel", "gardens", "flower.jpg", package_file("sklearn", "datasets", "images", "flower.jpg")),
    ("travel", "space", "rocket.jpg", package_file("skimage", "data", "rocket.jpg")),
    ("travel", "space", "astronaut.png", package_file("skimage", "data", "astronaut.png")),
    ("motors", "bikes", "motorcycle.png", package_file("skimage", "data", "motorcycle_left.png")),
]


def good_uploads() -> list[DemoUpload]:
    uploads = [
        DemoUpload(f"uploads/{line}/{category}/{name}", source.read_bytes(), "ADMITTED")
        for line, category, name, source in PHOTOS
    ]
    # A WebP and a JPEG of photos uploaded nowhere else (a re-encode of an uploaded one is a near-duplicate),
    # so every allowed format takes part.
    uploads.append(
        DemoUpload("uploads/travel/souvenirs/coins.webp", _encoded("coins.png", "WEBP"), "ADMITTED")
    )
    uploads.append(
        DemoUpload("uploads/travel/photo-walks/cameraman.jpg", _encoded("camera.png", "JPEG"), "ADMITTED")
    )
    for copy_file in sorted(COPY_DIR.glob("*/*")):
        line = copy_file.parent.name
        uploads.append(
            DemoUpload(
                f"uploads/{line}/{copy_file.stem}/{copy_file.name}", copy_file.read_bytes(), "ADMITTED"
            )
        )
    return uploads


def bad_uploads() -> list[DemoUpload]:
    coffee = package_file("skimage", "data", "coffee.png").read_bytes()
    return [
        DemoUpload("uploads/food/coffee/truncated.jpg", image_files.truncated_jpeg(), "corrupt_image"),
        DemoUpload("uploads/food/coffee/bomb.png", image_files.decompression_bomb_png(), "too_many_pixels"),
        DemoUpload("uploads/food/coffee/tiny.png", image_files.tiny_png(), "resolution_too_low"),
        DemoUpload(
            "uploads/food/coffee/renamed-notes.jpg",
            (COPY_DIR / "food" / "coffee.txt").read_bytes(),
            "content_type_mismatch",
        ),
        DemoUpload("uploads/food/coffee/coffee-again.png", coffee, "duplicate_content"),
        DemoUpload("uploads/food/coffee/animated.png", image_files.gif_bytes(), "format_not_allowed"),
        DemoUpload(
            "uploads/food/coffee/latin1.txt", "Caf\xe9 cr\xe8me for two".encode("latin-1"), "invalid_utf8"
        ),
        DemoUpload("uploads/no-category.png", coffee, "bad_key_layout"),
    ]


def quality_uploads() -> list[DemoUpload]:
    """Material the quality checks must catch, uploaded after the good files (the originals of the near-
    duplicates come first). Two are honest copy an operator admits on review."""
    coffee = Image.open(package_file("skimage", "data", "coffee.png")).convert("RGB")
    w, h = coffee.size
    return [
        DemoUpload(
            "uploads/food/coffee/astronaut-blurred.jpg",
            _jpeg(
                Image.open(package_file("skimage", "data", "astronaut.png")).filter(
                    ImageFilter.GaussianBlur(5)
                )
            ),
            "image_blurry",
        ),
        DemoUpload(
            "uploads/food/coffee/coffee-cropped.jpg",
            _jpeg(coffee.crop((w // 20, h // 20, w - w // 20, h - h // 20))),
            "near_duplicate",
        ),
        # A paraphrase of "Fresh beans, roasted this morning" (food/coffee.txt).
        _line("food", "coffee", "paraphrase", "This morning we roasted fresh beans", "near_duplicate"),
        _line(
            "food",
            "offers",
            "spam",
            "Get paid to drink coffee! Click here to claim your cash now",
            "copy_spam_like",
        ),
        _line("pets", "cats", "vet-claim", "Vet-approved treats, 20% off this week", "copy_banned_claim"),
        _line(
            "motors",
            "finance",
            "zero-interest",
            "Zero-interest finance on every motorbike",
            "copy_regulated_term",
            operator_admits="finance terms checked with legal: the offer is real and regulated wording is shown",
        ),
        _line(
            "travel",
            "hotels",
            "free-cancellation",
            "Free cancellation on every hotel",
            "copy_spam_like",
            operator_admits="a real booking condition, not spam",
        ),
    ]


def _line(line: str, category: str, name: str, text: str, expect: str, operator_admits: str | None = None):
    return DemoUpload(f"uploads/{line}/{category}/{name}.txt", text.encode(), expect, operator_admits)


def _jpeg(image: Image.Image, quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _encoded(name: str, format_: str) -> bytes:
    buffer = io.BytesIO()
    Image.open(package_file("skimage", "data", name)).convert("RGB").save(buffer, format_, quality=85)
    return buffer.getvalue()
