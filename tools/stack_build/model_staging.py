"""Which model files a deploy puts in the assets bucket: build/models/manifest.json and every file it lists.

`make models` writes them (pretrained_models/build.py). The stack deploys them under MODELS_PREFIX with a
BucketDeployment (infra/constructs/model_deployment.py) from a staging directory holding exactly those files, so
build byproducts and the reference outputs the model tests use never ship. Models are optional for a
synthesis: without a manifest the stack deploys none and says so (selection falls back to its prior).
Plain Python (no aws_cdk): the synthesis fingerprint and the local runtime read it too.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from creative.inference.artifacts import MANIFEST_NAME, Manifest, file_sha256

from infra.catalog import MODELS_PREFIX
from infra.paths import BUILD_DIR, MODELS_BUILD_DIR

STAGING_DIR = BUILD_DIR / "models-deploy"
NOT_BUILT_NOTICE = (
    "notice: {manifest} is absent, so no model artifacts are deployed to the assets bucket "
    f"({MODELS_PREFIX}); run `make models` to build them."
)


@dataclass(frozen=True)
class DeployedFile:
    key: str  # relative to MODELS_PREFIX, e.g. "text-encoder/minilm-l6-v2-fp32-1/model.onnx"
    path: Path
    sha256: str
    bytes: int


def manifest_path(models_dir: Path | None = None) -> Path:
    return Path(models_dir or MODELS_BUILD_DIR) / MANIFEST_NAME


def deployed_files(models_dir: Path | None = None) -> list[DeployedFile] | None:
    """The manifest and the serving files it lists (not its references), or None when models are not built."""
    models_dir = Path(models_dir or MODELS_BUILD_DIR)
    manifest_file = manifest_path(models_dir)
    if not manifest_file.is_file():
        return None
    manifest = Manifest.read(manifest_file)
    files = [
        DeployedFile(
            key=artifact.key(file),
            path=Path(models_dir) / artifact.key(file),
            sha256=file.sha256,
            bytes=file.bytes,
        )
        for artifact in manifest.artifacts
        for file in artifact.files
    ]
    manifest_entry = DeployedFile(
        key=MANIFEST_NAME,
        path=manifest_file,
        sha256=file_sha256(manifest_file),
        bytes=manifest_file.stat().st_size,
    )
    return [*files, manifest_entry]


def notice_if_not_built(models_dir: Path | None = None) -> bool:
    """Print the notice when models are not built; True when they are."""
    if manifest_path(models_dir).is_file():
        return True
    print(NOT_BUILT_NOTICE.format(manifest=manifest_path(models_dir)), file=sys.stderr)
    return False


def stage(files: list[DeployedFile], staging_dir: Path = STAGING_DIR) -> Path:
    """Lay `files` out by key in `staging_dir` (hard links where possible: no second copy of the weights).

    Checks each file's size against the manifest first: a deploy must never ship a half-built model.
    """
    for file in files:
        if not file.path.is_file() or file.path.stat().st_size != file.bytes:
            raise FileNotFoundError(
                f"{file.path} is missing or not the size the manifest records: run `make models`"
            )
    shutil.rmtree(staging_dir, ignore_errors=True)
    for file in files:
        destination = staging_dir / file.key
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(file.path, destination)
        except OSError:
            shutil.copyfile(file.path, destination)
    return staging_dir


def content_hash(files: list[DeployedFile]) -> str:
    """The manifest's own sha256: it records every other file's sha256, so it names the whole content."""
    (manifest_entry,) = [file for file in files if file.key == MANIFEST_NAME]
    return manifest_entry.sha256
