"""Real and deliberately broken upload files (demo and tests), made from photos that scikit-image ships."""

from __future__ import annotations

import io
import struct
import zlib
from functools import cache
from importlib.util import find_spec
from pathlib import Path

from PIL import Image


def skimage_photo(name: str) -> Path:
    """A photo shipped inside the scikit-image wheel (read from disk; nothing is downloaded)."""
    spec = find_spec("skimage")
    assert spec and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "data" / name


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
