"""Real and deliberately broken upload files (demo and tests), made from photos that scikit-image ships."""

from __future__ import annotations

import io
import struct
import zlib
from functools import cache
from importlib.util import find_spec
from pathlib import Path

from PIL import Image


def package_file(package: str, *parts: str) -> Path:
    """A data file shipped inside an installed package's wheel (read from disk; nothing is downloaded)."""
    spec = find_spec(package)
    assert spec and spec.submodule_search_locations, f"{package} is not installed"
    return Path(next(iter(spec.submodule_search_locations)), *parts)


def skimage_photo(name: str) -> Path:
    return package_file("skimage", "data", name)


@cache
def photo_bytes(name: str = "chelsea.png") -> bytes:
    return skimage_photo(name).read_bytes()


def jpeg_of(name: str = "coffee.png", quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    Image.open(skimage_photo(name)).convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def webp_of(name: str = "astronaut.png") -> bytes:
    buffer = io.BytesIO()
    Image.open(skimage_photo(name)).convert("RGB").save(buffer, "WEBP", quality=80)
    return buffer.getvalue()


def truncated_jpeg() -> bytes:
    data = jpeg_of("coffee.png")
    return data[: len(data) // 2]


def tiny_png(width: int = 32, height: int = 32) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def gif_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (200, 200)).save(buffer, "GIF")
    return buffer.getvalue()


def decompression_bomb_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A tiny file whose header claims width×height pixels: a few KB that would decode to ~900 MB."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    row = b"\x00" + b"\x00" * width
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(64)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def animated_webp() -> bytes:
    frames = [Image.new("RGB", (200, 200), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "WEBP", save_all=True, append_images=frames[1:], duration=100)
    return buffer.getvalue()


def rotated_jpeg(width: int = 300, height: int = 200, orientation: int = 6) -> bytes:
    """A JPEG stored landscape whose EXIF says to display it turned a quarter (portrait)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()
