"""The manifest entry of an artifact a builder has written: each file's sha256 and size (build time only)."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from creative.inference.artifacts import Artifact, ArtifactFile, file_sha256


def describe_file(artifact_dir: Path, relative_path: str) -> ArtifactFile:
    path = artifact_dir / relative_path
    return ArtifactFile(path=relative_path, sha256=file_sha256(path), bytes=path.stat().st_size)


def describe_artifact(
    out_dir: Path,
    name: str,
    version: str,
    source_package: str,
    *,
    files: Iterable[str],
    references: Iterable[str] = (),
    details: dict[str, Any] | None = None,
    source_version: str | None = None,
) -> Artifact:
    """The entry of files already written under `out_dir/<name>/<version>/`; the source package's version
    is the installed one unless given."""
    artifact_dir = out_dir / name / version
    return Artifact(
        name=name,
        version=version,
        source_package=source_package,
        source_version=source_version or importlib.metadata.version(source_package),
        files=[describe_file(artifact_dir, path) for path in sorted(files)],
        references=[describe_file(artifact_dir, path) for path in sorted(references)],
        details=details or {},
    )
