"""Publish a stack's file assets to S3 as cdk-assets does: directories zipped, files uploaded as they are."""

from __future__ import annotations

import os
import threading
import zipfile
from pathlib import Path
from typing import Any

from local_runtime.cloud_assembly import FileAsset

# cdk-assets stamps every zip entry with this date so the same content always makes the same zip.
_ZIP_ENTRY_DATE = (1980, 1, 1, 0, 0, 0)
CACHE_DIR_NAME = ".creative-local-zips"


def publish(assets: tuple[FileAsset, ...], s3: Any, placeholders: dict[str, str]) -> None:
    for asset in assets:
        bucket = fill_placeholders(asset.bucket_name, placeholders)
        body = _zip_of(asset) if asset.packaging == "zip" else asset.source
        s3.upload_file(str(body), bucket, fill_placeholders(asset.object_key, placeholders))
    _forget_other_zips(assets)


def _forget_other_zips(assets: tuple[FileAsset, ...]) -> None:
    """Zips of assets the assembly no longer has (an earlier synthesis made them) only take space."""
    current = {f"{a.asset_hash}.zip" for a in assets if a.packaging == "zip"}
    for cache in {a.source.parent / CACHE_DIR_NAME for a in assets}:
        for archive in cache.glob("*.zip") if cache.is_dir() else []:
            if archive.name not in current:
                archive.unlink(missing_ok=True)


def fill_placeholders(text: str, placeholders: dict[str, str]) -> str:
    for name, value in placeholders.items():
        text = text.replace("${" + name + "}", value)
    return text


def _zip_of(asset: FileAsset) -> Path:
    """The asset's zip, built once per asset hash (the hash changes whenever the content does)."""
    cache = asset.source.parent / CACHE_DIR_NAME
    cache.mkdir(exist_ok=True)
    archive = cache / f"{asset.asset_hash}.zip"
    if not archive.exists():
        # A private temporary name per process: `local up` and a test run may zip the same asset at once.
        partial = archive.with_suffix(f".{os.getpid()}.{threading.get_ident()}.partial")
        zip_directory(asset.source, partial)
        partial.replace(archive)  # atomic: readers see the whole zip or none
    return archive


def zip_directory(directory: Path, archive: Path) -> None:
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(_files_under(directory)):
            entry = zipfile.ZipInfo(path.relative_to(directory).as_posix(), date_time=_ZIP_ENTRY_DATE)
            entry.external_attr = (path.stat().st_mode & 0xFFFF) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(entry, path.read_bytes())


def _files_under(directory: Path) -> list[Path]:
    return [Path(root) / name for root, _, names in os.walk(directory, followlinks=True) for name in names]
