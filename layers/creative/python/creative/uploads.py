"""Uploaded objects: the S3 object an upload event names, and what its key says about it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote_plus

from creative.deferred_model import DeferredModel
from creative.materials import MaterialKind, SourceObject

UPLOAD_PREFIX = "uploads/"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp"}
COPY_EXTENSIONS = {".txt", ".jsonl"}
GENERATED_FILE_PREFIX = "generated-"  # copy files the generator writes: generated-<window>.txt


class UploadedObject(DeferredModel):
    """An object version that an upload event announced."""

    bucket: str
    key: str
    raw_key: str | None = None  # the key as the event spelled it, when decoding changed it
    size: int | None = None
    etag: str = ""
    version_id: str | None = None

    @classmethod
    def from_event(cls, bucket: str, raw_key: str, size: float | None, etag: str, version_id: str | None):
        # S3 event notifications URL-encode keys (spaces arrive as '+'); decode once, here.
        key = unquote_plus(raw_key)
        return cls(
            bucket=bucket,
            key=key,
            raw_key=raw_key if raw_key != key else None,
            size=int(size) if size is not None else None,
            etag=etag.strip('"'),
            version_id=None if version_id in (None, "", "null") else version_id,
        )

    def source(self, line: int | None = None) -> SourceObject:
        return SourceObject(
            bucket=self.bucket, key=self.key, version_id=self.version_id, etag=self.etag, line=line
        )


@dataclass(frozen=True)
class UploadPlacement:
    """`uploads/<business_line>/<category>/<file>`: what the key layout tells us."""

    business_line: str
    category: str
    filename: str

    @property
    def extension(self) -> str:
        dot = self.filename.rfind(".")
        return self.filename[dot:].lower() if dot > 0 else ""

    @property
    def generated(self) -> bool:
        return self.filename.startswith(GENERATED_FILE_PREFIX)

    @property
    def declared_kind(self) -> MaterialKind | None:
        if self.extension in IMAGE_EXTENSIONS:
            return MaterialKind.IMAGE
        if self.extension in COPY_EXTENSIONS:
            return MaterialKind.COPY
        return None


def parse_upload_key(key: str) -> UploadPlacement | None:
    """Returns None when the key does not follow the upload layout."""
    if not key.startswith(UPLOAD_PREFIX):
        return None
    parts = key[len(UPLOAD_PREFIX) :].split("/")
    if len(parts) != 3 or not parts[2]:
        return None
    business_line, category, filename = parts
    if not (_SLUG.match(business_line) and _SLUG.match(category)):
        return None
    return UploadPlacement(business_line=business_line, category=category, filename=filename)
