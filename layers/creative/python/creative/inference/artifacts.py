"""Model artifacts: the versioned manifest `make models` writes, and the local cache a function fills from it.

An artifact is a directory `<name>/<version>/` of files, each with its sha256 and size. The same relative
keys are used in `build/models/`, in the assets bucket (under a prefix the adapter adds) and in the local
cache (`/tmp/models/<name>/<version>/` on Lambda), so a file is identified by its key and checked by its hash.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field

from creative.deferred_model import DeferredModel

MANIFEST_NAME = "manifest.json"
_NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"

# fetch(key, dest_path): copies the object stored under `key` (e.g. "text-encoder/minilm-l6-v2-fp32-1/model.onnx")
# to dest_path. The S3 adapter, the local runtime and the tests each supply one.
Fetch = Callable[[str, Path], None]


class ArtifactIntegrityError(RuntimeError):
    """A model file does not match the manifest even after fetching it again."""


class ArtifactFile(DeferredModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(min_length=1, description="Relative to the artifact directory, '/'-separated.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int = Field(ge=0)


class Artifact(DeferredModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_NAME_PATTERN)
    version: str = Field(pattern=_NAME_PATTERN)
    source_package: str
    source_version: str
    files: list[ArtifactFile] = Field(min_length=1, description="What serving needs; fetched to the cache.")
    references: list[ArtifactFile] = Field(
        default_factory=list, description="Build-time reference outputs for the tests; never fetched."
    )
    build_key: str = Field(default="", description="Hash of the build's inputs; unchanged means cached.")
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return f"{self.name}/{self.version}"

    def key(self, file: ArtifactFile) -> str:
        return f"{self.prefix}/{file.path}"

    @property
    def total_bytes(self) -> int:
        return sum(file.bytes for file in self.files)


class Manifest(DeferredModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = 1
    artifacts: list[Artifact] = Field(default_factory=list)

    def get(self, name: str) -> Artifact:
        for artifact in self.artifacts:
            if artifact.name == name:
                return artifact
        raise KeyError(f"no artifact named {name!r} in the manifest")

    @classmethod
    def read(cls, path: Path) -> Manifest:
        return cls.model_validate_json(path.read_text())

    def write(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=2) + "\n")


def file_sha256(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def mismatched_files(artifact: Artifact, artifact_dir: Path) -> list[str]:
    """Paths (files and references) that are missing or whose size or sha256 differ from the manifest."""
    bad = []
    for file in [*artifact.files, *artifact.references]:
        path = artifact_dir / file.path
        if not path.is_file() or path.stat().st_size != file.bytes or file_sha256(path) != file.sha256:
            bad.append(file.path)
    return bad


def fetch_from_directory(root: Path) -> Fetch:
    """A fetch callable over a directory laid out by key, e.g. `build/models/` locally and in tests."""

    def fetch(key: str, dest_path: Path) -> None:
        shutil.copyfile(root / key, dest_path)

    return fetch


class ModelFiles:
    """Puts an artifact's files in a local cache directory, verified against the manifest.

    A file already in the cache with the right size and sha256 is reused; a missing or corrupt one is fetched
    (to a temporary name, then renamed, so a crash never leaves a half file under the real name). Files
    verified once by this instance are not hashed again.
    """

    def __init__(self, artifact: Artifact, cache_root: Path, fetch: Fetch) -> None:
        self._artifact = artifact
        self._fetch = fetch
        self.directory = cache_root / artifact.name / artifact.version
        self._verified: set[str] = set()

    def materialise(self) -> Path:
        """The local directory holding every file of the artifact, fetching what is missing or wrong."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for file in self._artifact.files:
            if file.path not in self._verified:
                self._ensure(file)
                self._verified.add(file.path)
        return self.directory

    def _ensure(self, file: ArtifactFile) -> None:
        path = self.directory / file.path
        if _matches(path, file):
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)  # a damaged copy must not share /tmp (512 MB) with its replacement
        partial = path.with_name(path.name + ".partial")
        try:
            self._fetch(self._artifact.key(file), partial)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        if not _matches(partial, file):
            partial.unlink(missing_ok=True)
            raise ArtifactIntegrityError(
                f"{self._artifact.key(file)}: fetched file does not match the manifest "
                f"(expected sha256 {file.sha256}, {file.bytes} bytes)"
            )
        partial.replace(path)


def _matches(path: Path, file: ArtifactFile) -> bool:
    return path.is_file() and path.stat().st_size == file.bytes and file_sha256(path) == file.sha256
