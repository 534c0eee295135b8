"""Synthesize the stack once per change of its sources.

Synthesis takes several seconds (a Node.js process, cdk-nag, hashing the assets), and the infra tests and
the local runtime all need the template. synthesize() re-runs it only when a fingerprint of everything
the template is made from differs from the stamp left in the output directory. Importing this module
is cheap: aws_cdk is only imported when a synthesis is actually needed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

from stack_build import dependency_layers, model_staging

from infra.catalog import STACK_NAME
from infra.paths import CDK_OUT_DIR, REPO_ROOT

DEFAULT_OUTDIR = CDK_OUT_DIR
STAMP_NAME = ".source-fingerprint"
LOCK_NAME = ".synth.lock"
# Layer requirements stand for the built layers (their build is stamped on them); the models manifest
# stands for the model files it lists with their sha256.
SOURCE_PATTERNS = (
    "infra/**/*.py",
    "tools/stack_build/**/*.py",
    "functions/**/*",
    "layers/**/*",
    "console/**/*",  # the console construct deploys these files as an asset
    "cdk.json",
)
# Byproducts of running code and tests; they never reach an asset (see constants.ASSET_EXCLUDES).
IGNORED_PARTS = {"__pycache__", ".pytest_cache", ".ruff_cache"}
TOOL_DISTRIBUTIONS = ("aws-cdk-lib", "constructs", "cdk-nag")


def template_path(outdir: Path = DEFAULT_OUTDIR) -> Path:
    return Path(outdir) / f"{STACK_NAME}.template.json"


def synthesize(outdir: Path = DEFAULT_OUTDIR, force: bool = False) -> Path:
    """Return the path of `<outdir>/CreativeEngine.template.json`, synthesizing it if it is stale.

    Builds the dependency layers first if they are stale. Raises infra.app.UnacknowledgedFindings when
    cdk-nag (or CloudFormation's default rules) reports a finding with no written acknowledgement, and
    stack_build.sizes.DeployedSizeExceeded when a function's code and layers are over Lambda's limit.
    Without build/models/manifest.json it deploys no models and prints a notice saying so.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    stamp = outdir / STAMP_NAME
    # Concurrent callers (pytest-xdist workers, the local runtime) wait for one synthesis, then reuse it.
    with _exclusive_lock(outdir / LOCK_NAME):
        fingerprint = source_fingerprint()
        if (
            not force
            and template_path(outdir).is_file()
            and stamp.is_file()
            and stamp.read_text() == fingerprint
        ):
            return template_path(outdir)

        from infra.app import synthesize_checked  # imports aws_cdk: seconds, so only when needed

        dependency_layers.build_all()
        stamp.unlink(missing_ok=True)
        synthesize_checked(str(outdir))
        _remove_unreferenced_assets(outdir)
        stamp.write_text(fingerprint)
    return template_path(outdir)


def source_fingerprint() -> str:
    """Hash of every file the template is made from, plus the versions of the CDK libraries."""
    digest = hashlib.sha256()
    sources = {path for pattern in SOURCE_PATTERNS for path in REPO_ROOT.glob(pattern)}
    sources.add(model_staging.manifest_path())  # absent until `make models`: then simply not hashed
    for path in sorted(sources):
        relative = path.relative_to(REPO_ROOT)
        if not path.is_file() or IGNORED_PARTS.intersection(relative.parts) or path.suffix == ".pyc":
            continue
        digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    for distribution in TOOL_DISTRIBUTIONS:
        digest.update(f"{distribution}=={metadata.version(distribution)}\0".encode())
    return digest.hexdigest()


@contextmanager
def _exclusive_lock(lock_file: Path) -> Iterator[None]:
    with open(lock_file, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_unreferenced_assets(outdir: Path) -> None:
    """Drop asset staging directories that an earlier synthesis left and this one no longer uses."""
    manifest = json.loads((outdir / f"{STACK_NAME}.assets.json").read_text())
    referenced = {entry["source"]["path"] for entry in manifest.get("files", {}).values()}
    for staged in outdir.glob("asset.*"):
        if staged.name not in referenced:
            shutil.rmtree(staged) if staged.is_dir() else staged.unlink()
