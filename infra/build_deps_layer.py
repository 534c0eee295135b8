"""Build the dependency layer: layers/deps/requirements.txt -> build/layers/deps/python/ for python3.13 arm64.

Only prebuilt wheels for the Lambda platform are installed (no Docker, nothing compiled here). The build
is skipped while the stamp (hash of the requirements and of this recipe) matches. Run it directly with
`python -m infra.build_deps_layer [--force]`; infra.synth and infra.app call build() before synthesizing.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from infra.catalog import DEPS_LAYER_DIR, DEPS_REQUIREMENTS

SITE_PACKAGES_DIR = DEPS_LAYER_DIR / "python"  # Lambda puts /opt/python on sys.path
# Beside the layer, not inside it: the stamp must not become part of the layer's asset hash.
STAMP = DEPS_LAYER_DIR.with_name(DEPS_LAYER_DIR.name + ".stamp")

LAMBDA_PYTHON_VERSION = "3.13"
# The python3.13 runtime runs on Amazon Linux 2023 (glibc 2.34). numpy 2.4 ships no manylinux2014
# aarch64 wheels, so target manylinux_2_28, which still accepts every older manylinux wheel.
UV_PLATFORM = "aarch64-manylinux_2_28"
PIP_PLATFORMS = ("manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64")
# The Lambda runtime ships boto3 and botocore (botocore comes in through aws-xray-sdk).
PROVIDED_BY_RUNTIME = ("boto3", "botocore", "s3transfer")
# Unused at run time. Each *.dist-info stays (importlib.metadata reads it); its RECORD no longer lists
# exactly what is on disk after this, which only matters to pip uninstall.
STRIPPED_DIR_NAMES = ("__pycache__", "tests")
STRIPPED_TOP_LEVEL = ("bin",)
# Lambda allows 250 MB unzipped for a function and all its layers; leave room for code and the domain layer.
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024


def recipe_fingerprint() -> str:
    """Hash of the requirements and of every choice above: change either and the layer is rebuilt."""
    recipe = repr(
        (
            LAMBDA_PYTHON_VERSION,
            UV_PLATFORM,
            PIP_PLATFORMS,
            PROVIDED_BY_RUNTIME,
            STRIPPED_DIR_NAMES,
            STRIPPED_TOP_LEVEL,
        )
    )
    return hashlib.sha256(DEPS_REQUIREMENTS.read_bytes() + recipe.encode()).hexdigest()


def build(force: bool = False) -> int:
    """Build the layer unless it is up to date; return its unzipped size in bytes."""
    fingerprint = recipe_fingerprint()
    if not force and SITE_PACKAGES_DIR.is_dir() and STAMP.is_file() and STAMP.read_text() == fingerprint:
        return unzipped_size(SITE_PACKAGES_DIR)

    STAMP.unlink(missing_ok=True)
    shutil.rmtree(DEPS_LAYER_DIR, ignore_errors=True)
    SITE_PACKAGES_DIR.mkdir(parents=True)
    subprocess.run(install_command(SITE_PACKAGES_DIR), check=True)
    strip(SITE_PACKAGES_DIR)

    size = unzipped_size(SITE_PACKAGES_DIR)
    print(f"deps layer: {size / 1024 / 1024:.1f} MB unzipped in {SITE_PACKAGES_DIR}")
    if size > MAX_UNZIPPED_BYTES:
        raise SystemExit(
            f"deps layer is {size / 1024 / 1024:.1f} MB unzipped, over the {MAX_UNZIPPED_BYTES // 1024 // 1024} MB budget"
        )
    STAMP.write_text(fingerprint)
    return size


def install_command(target: Path) -> list[str]:
    uv = shutil.which("uv")
    if uv:
        return [
            uv, "pip", "install",
            "--python", sys.executable,  # only hosts the resolver; the target is described below
            "--target", str(target),
            "--python-platform", UV_PLATFORM,
            "--python-version", LAMBDA_PYTHON_VERSION,
            "--only-binary", ":all:",
            "-r", str(DEPS_REQUIREMENTS),
        ]  # fmt: skip
    platforms = [arg for platform in PIP_PLATFORMS for arg in ("--platform", platform)]
    return [
        sys.executable, "-m", "pip", "install",
        *platforms,
        "--implementation", "cp",
        "--python-version", LAMBDA_PYTHON_VERSION,
        "--only-binary=:all:",
        "--target", str(target),
        "-r", str(DEPS_REQUIREMENTS),
    ]  # fmt: skip


def strip(site_packages: Path) -> None:
    for name in STRIPPED_TOP_LEVEL:
        shutil.rmtree(site_packages / name, ignore_errors=True)
    for entry in site_packages.iterdir():
        distribution = entry.name.split("-")[0].lower()
        if entry.name.lower() in PROVIDED_BY_RUNTIME or (
            entry.name.endswith(".dist-info") and distribution in PROVIDED_BY_RUNTIME
        ):
            shutil.rmtree(entry)
    # Deepest first, so removing a directory never pulls the tree out from under the walk.
    for directory in sorted(site_packages.rglob("*"), key=lambda path: len(path.parts), reverse=True):
        if directory.is_dir() and directory.name in STRIPPED_DIR_NAMES:
            shutil.rmtree(directory)


def unzipped_size(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if the stamp matches")
    args = parser.parse_args(argv)
    size = build(force=args.force)
    print(
        f"deps layer: {size / 1024 / 1024:.1f} MB unzipped (budget {MAX_UNZIPPED_BYTES // 1024 // 1024} MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
