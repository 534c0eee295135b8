"""What the demo uploads: real photos that scikit-image and scikit-learn ship, the copy files in
`tools/demo/copy/`, and a set of deliberately bad files that admission must reject with a reason."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from demo import image_files
from demo.image_files import package_file

COPY_DIR = Path(__file__).resolve().parent / "copy"


@dataclass(frozen=True)
class DemoUpload:
    key: str
    data: bytes
    expect: str  # "ADMITTED" or the rejection code admission must give


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
    # A WebP and a JPEG re-encode of shipped photos, so every allowed format takes part.
    uploads.append(
        DemoUpload("uploads/food/coffee/coffee-cup.webp", image_files.webp_of("coffee.png"), "ADMITTED")
    )
    uploads.append(
        DemoUpload("uploads/pets/cats/chelsea-small.jpg", image_files.jpeg_of("chelsea.png"), "ADMITTED")
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
