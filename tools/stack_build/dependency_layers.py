"""Build the dependency layers: layers/<name>/requirements.txt -> build/layers/<name>/python/ for python3.13 arm64.

`deps` is the layer every function carries; the others (e.g. `training`) are attached only to the functions
whose catalog entry lists them, and hold only what `deps` does not already provide: they are resolved
against the deps layer's exact versions, and every distribution the deps layer ships is removed from them,
so a function never carries two copies of numpy.

Only prebuilt wheels for the Lambda platform are installed (no Docker, nothing compiled here). A layer is
skipped while its stamp (hash of its requirements, of its recipe and, for an extra layer, of the deps
layer's stamp) matches. `python -m stack_build.dependency_layers [--force]` builds them all and prints their sizes;
stack_build.synth and infra.app call build_all() before synthesizing.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from stack_build import bytecode

from infra.catalog import BUILT_LAYERS_DIR, DEPS_LAYER, LAYER_SOURCES_DIR, extra_layer_names

LAMBDA_PYTHON_VERSION = "3.13"
# The python3.13 runtime runs on Amazon Linux 2023 (glibc 2.34). numpy 2.4 ships no manylinux2014
# aarch64 wheels, so target manylinux_2_28, which still accepts every older manylinux wheel.
UV_PLATFORM = "aarch64-manylinux_2_28"
PIP_PLATFORMS = ("manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64")
# What `Requires-Dist` markers are evaluated against when checking that nothing a package needs is missing.
LAMBDA_MARKER_ENVIRONMENT = {
    "python_version": LAMBDA_PYTHON_VERSION,
    "python_full_version": f"{LAMBDA_PYTHON_VERSION}.0",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "aarch64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "extra": "",
}
# The Lambda runtime ships boto3 and botocore (botocore comes in through aws-xray-sdk).
PROVIDED_BY_RUNTIME = ("boto3", "botocore", "s3transfer")
# Unused at run time. Each *.dist-info stays (importlib.metadata reads it); its RECORD no longer lists
# exactly what is on disk after this, which only matters to pip uninstall.
STRIPPED_DIR_NAMES = ("__pycache__", "tests")
STRIPPED_TOP_LEVEL = ("bin",)


@dataclass(frozen=True)
class BundledLibrary:
    """A shared library a wheel links against but does not bundle, and the Lambda runtime lacks.

    It is copied from another wheel of the same layer to `<layer>/lib/<soname>`: Lambda puts /opt/lib on
    LD_LIBRARY_PATH, so the dynamic loader finds it there by the name the wheel asks for.
    """

    soname: str
    copied_from: str  # glob under python/, e.g. "scikit_learn.libs/libgomp-*.so.1.0.0"
    needed_by: str  # why, for the build log and the docs


@dataclass(frozen=True)
class LayerRecipe:
    name: str
    # Distributions a package declares but never imports on our paths, removed with the reason why.
    unused_distributions: dict[str, str] = field(default_factory=dict)
    # Paths under python/ that hold test data or tooling, never imported at run time.
    stripped_paths: tuple[str, ...] = ()
    bundled_libraries: tuple[BundledLibrary, ...] = ()

    @property
    def requirements(self) -> Path:
        return LAYER_SOURCES_DIR / self.name / "requirements.txt"

    @property
    def directory(self) -> Path:
        return BUILT_LAYERS_DIR / self.name

    @property
    def site_packages(self) -> Path:
        return self.directory / "python"  # Lambda puts /opt/python on sys.path

    @property
    def stamp(self) -> Path:
        # Beside the layer, not inside it: the stamp must not become part of the layer's asset hash.
        return self.directory.with_name(self.name + ".stamp")

    @property
    def is_deps(self) -> bool:
        return self.name == DEPS_LAYER


# tokenizers declares huggingface-hub for Tokenizer.from_pretrained (downloads from the Hub); serving
# loads tokenizer.json from the model cache with Tokenizer.from_file, and `import tokenizers` imports
# none of these (measured). Together they are ~25 MB the select function would carry for nothing.
_HUB_ONLY = "only huggingface-hub needs it; tokenizers imports huggingface-hub only for from_pretrained"
RECIPES: dict[str, LayerRecipe] = {
    DEPS_LAYER: LayerRecipe(
        name=DEPS_LAYER,
        unused_distributions={
            "huggingface-hub": "tokenizers imports it only in from_pretrained; we load tokenizer.json files",
            **{
                name: _HUB_ONLY
                for name in (
                    "hf-xet",
                    "fsspec",
                    "httpx2",
                    "httpcore2",
                    "anyio",
                    "h11",
                    "idna",
                    "click",
                    "tqdm",
                    "pyyaml",
                    "filelock",
                    "truststore",
                )
            },
        },
        stripped_paths=(
            # onnxruntime's Python-only tooling (quantisation, transformer graph optimisers, converters):
            # inference sessions never import it.
            "onnxruntime/transformers",
            "onnxruntime/quantization",
            "onnxruntime/tools",
            # The C API library (25 MB) for C/C++ callers; the Python binding links ORT statically and
            # never loads it (its only NEEDED entries are glibc/libstdc++; sessions run without it).
            "onnxruntime/capi/libonnxruntime.so.1.31.1",
        ),
    ),
    "training": LayerRecipe(
        name="training",
        # onnxmltools declares skl2onnx (and so scikit-learn) for converting scikit-learn pipelines; a
        # LightGBM Booster converts without importing either (measured), and lightgbm needs scikit-learn
        # only for its LGBMClassifier wrapper, which training does not use. 37 MB the function cannot
        # afford: with them retrain_ctr is over Lambda's 250 MB (see docs/deploy.md).
        unused_distributions={
            "skl2onnx": "onnxmltools imports it only to convert scikit-learn models",
            "scikit-learn": "only skl2onnx and lightgbm's LGBMClassifier wrapper import it",
            "joblib": "only scikit-learn imports it",
            "threadpoolctl": "only scikit-learn imports it",
        },
        # ONNX's backend conformance test vectors (13 MB); the converter and checker never read them.
        stripped_paths=("onnx/backend/test",),
        bundled_libraries=(
            # lightgbm's manylinux wheel links libgomp.so.1 without bundling it (LightGBM documents the
            # OpenMP runtime as a system prerequisite) and the python3.13 runtime image has none.
            # scikit-learn's wheel bundles an auditwheel-renamed GCC libgomp whose version definitions
            # (GOMP_*, OMP_*) cover what lib_lightgbm.so needs; it is copied before scikit-learn goes.
            BundledLibrary(
                soname="libgomp.so.1",
                copied_from="scikit_learn.libs/libgomp-*.so.1.0.0",
                needed_by="lightgbm/lib/lib_lightgbm.so",
            ),
        ),
    ),
}


def recipe_for(name: str) -> LayerRecipe:
    return RECIPES.get(name) or LayerRecipe(name=name)


def layer_names() -> list[str]:
    """Every built layer: deps first (the others are resolved against it), then the catalog's extra layers."""
    return [DEPS_LAYER, *extra_layer_names()]


def recipe_fingerprint(recipe: LayerRecipe) -> str:
    """Hash of the requirements and of every choice above: change either and the layer is rebuilt."""
    choices = repr(
        (
            LAMBDA_PYTHON_VERSION,
            UV_PLATFORM,
            PIP_PLATFORMS,
            PROVIDED_BY_RUNTIME,
            STRIPPED_DIR_NAMES,
            STRIPPED_TOP_LEVEL,
            recipe,
        )
    )
    digest = hashlib.sha256(recipe.requirements.read_bytes() + choices.encode())
    if not recipe.is_deps:
        # An extra layer is resolved against the deps layer's versions: rebuilt whenever that changes.
        digest.update(recipe_for(DEPS_LAYER).stamp.read_bytes())
    return digest.hexdigest()


def is_up_to_date(recipe: LayerRecipe) -> bool:
    return (
        recipe.site_packages.is_dir()
        and recipe.stamp.is_file()
        and recipe.stamp.read_text() == recipe_fingerprint(recipe)
    )


def build_all(force: bool = False) -> dict[str, int]:
    """Build every layer that is stale, with the bytecode the runtime loads at a cold start
    (stack_build.bytecode); return each layer's unzipped size in bytes, by name."""
    sizes = {name: build(recipe_for(name), force=force) for name in layer_names()}
    deps = recipe_for(DEPS_LAYER)
    bytecode.compile_layer_if_stale(deps.site_packages, deps.stamp, LAMBDA_PYTHON_VERSION)
    sizes[DEPS_LAYER] = unzipped_size(deps.directory)
    staged = bytecode.stage_creative_layer(LAMBDA_PYTHON_VERSION)
    return {"creative": unzipped_size(staged), **sizes}


def build(recipe: LayerRecipe, force: bool = False) -> int:
    """Build one layer unless it is up to date; return its unzipped size in bytes."""
    if not recipe.requirements.is_file():
        raise FileNotFoundError(f"layer {recipe.name!r} has no {recipe.requirements}")
    if not force and is_up_to_date(recipe):
        return unzipped_size(recipe.directory)

    recipe.stamp.unlink(missing_ok=True)
    bytecode.bytecode_stamp(recipe.stamp).unlink(missing_ok=True)
    shutil.rmtree(recipe.directory, ignore_errors=True)
    recipe.site_packages.mkdir(parents=True)
    constraints = None
    if not recipe.is_deps:
        constraints = recipe.directory.with_name(recipe.name + ".constraints.txt")
        constraints.write_text(pinned_versions_of(recipe_for(DEPS_LAYER).site_packages))
    subprocess.run(install_command(recipe, constraints), check=True)
    bundle_libraries(recipe)  # before strip(): the library may come from a distribution it removes
    strip(recipe)
    check_nothing_needed_is_missing(recipe)

    size = unzipped_size(recipe.directory)
    print(f"{recipe.name} layer: {size / 1e6:.1f} MB unzipped in {recipe.directory}")
    recipe.stamp.write_text(recipe_fingerprint(recipe))
    return size


def install_command(recipe: LayerRecipe, constraints: Path | None) -> list[str]:
    target, requirements = recipe.site_packages, recipe.requirements
    constrained = ["-c", str(constraints)] if constraints else []
    uv = shutil.which("uv")
    if uv:
        return [
            uv, "pip", "install",
            "--python", sys.executable,  # only hosts the resolver; the target is described below
            "--target", str(target),
            "--python-platform", UV_PLATFORM,
            "--python-version", LAMBDA_PYTHON_VERSION,
            "--only-binary", ":all:",
            "-r", str(requirements),
            *constrained,
        ]  # fmt: skip
    platforms = [arg for platform in PIP_PLATFORMS for arg in ("--platform", platform)]
    return [
        sys.executable, "-m", "pip", "install",
        *platforms,
        "--implementation", "cp",
        "--python-version", LAMBDA_PYTHON_VERSION,
        "--only-binary=:all:",
        "--target", str(target),
        "-r", str(requirements),
        *constrained,
    ]  # fmt: skip


# Distributions installed in a site-packages directory, by normalised name.


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_distributions(site_packages: Path) -> dict[str, Path]:
    """Normalised distribution name -> its *.dist-info directory."""
    found = {}
    for dist_info in site_packages.glob("*.dist-info"):
        name = _metadata_field(dist_info, "Name") or dist_info.name.split("-")[0]
        found[canonical(name)] = dist_info
    return found


def pinned_versions_of(site_packages: Path) -> str:
    """`name==version` for every distribution in a built layer: the constraints an extra layer resolves with."""
    lines = []
    for name, dist_info in sorted(installed_distributions(site_packages).items()):
        lines.append(f"{name}=={_metadata_field(dist_info, 'Version')}")
    return "\n".join(lines) + "\n"


def _metadata_field(dist_info: Path, field_name: str) -> str | None:
    metadata = dist_info / "METADATA"
    if not metadata.is_file():
        return None
    for line in metadata.read_text(errors="replace").splitlines():
        if not line:
            break  # the headers end at the first blank line
        key, _, value = line.partition(":")
        if key == field_name:
            return value.strip()
    return None


def requirements_of(dist_info: Path) -> list[Requirement]:
    """What a distribution requires unconditionally on the Lambda platform (no extras)."""
    metadata = dist_info / "METADATA"
    required = []
    for line in metadata.read_text(errors="replace").splitlines():
        if not line:
            break
        if line.startswith("Requires-Dist:"):
            requirement = Requirement(line.removeprefix("Requires-Dist:").strip())
            if requirement.marker is None or requirement.marker.evaluate(LAMBDA_MARKER_ENVIRONMENT):
                required.append(requirement)
    return required


def remove_distribution(site_packages: Path, dist_info: Path) -> None:
    """Delete exactly the files a distribution's RECORD lists, then the directories that left empty."""
    record = dist_info / "RECORD"
    paths = []
    if record.is_file():
        paths = [line.split(",")[0] for line in record.read_text().splitlines() if line.strip()]
    directories = set()
    for relative in paths:
        path = (site_packages / relative).resolve()
        if not path.is_relative_to(site_packages.resolve()):
            continue  # scripts RECORD lists under ../../bin
        path.unlink(missing_ok=True)
        directories.update(parent for parent in path.parents if parent.is_relative_to(site_packages))
    shutil.rmtree(dist_info, ignore_errors=True)
    for directory in sorted(directories, key=lambda path: len(path.parts), reverse=True):
        if directory != site_packages.resolve() and directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()


# The build steps after installing.


def strip(recipe: LayerRecipe) -> None:
    site_packages = recipe.site_packages
    for name in STRIPPED_TOP_LEVEL:
        shutil.rmtree(site_packages / name, ignore_errors=True)
    installed = installed_distributions(site_packages)
    unwanted = set(map(canonical, PROVIDED_BY_RUNTIME)) | set(map(canonical, recipe.unused_distributions))
    if not recipe.is_deps:
        # What the deps layer ships (at the very versions the constraints pinned) the function already has.
        unwanted |= set(installed_distributions(recipe_for(DEPS_LAYER).site_packages))
    for name in sorted(unwanted & installed.keys()):
        remove_distribution(site_packages, installed[name])
    for relative in recipe.stripped_paths:
        path = site_packages / relative
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        else:
            raise SystemExit(f"{recipe.name} layer: {relative} is gone; update its stripped_paths")
    # Deepest first, so removing a directory never pulls the tree out from under the walk.
    for directory in sorted(site_packages.rglob("*"), key=lambda path: len(path.parts), reverse=True):
        if directory.is_dir() and directory.name in STRIPPED_DIR_NAMES:
            shutil.rmtree(directory)


def check_nothing_needed_is_missing(recipe: LayerRecipe) -> None:
    """Every requirement of every distribution left must be in this layer, the deps layer or the runtime,
    unless the recipe removed it on purpose: stripping must never remove what something still imports."""
    present = set(installed_distributions(recipe.site_packages))
    if not recipe.is_deps:
        present |= set(installed_distributions(recipe_for(DEPS_LAYER).site_packages))
    allowed_missing = set(map(canonical, PROVIDED_BY_RUNTIME)) | set(
        map(canonical, recipe.unused_distributions)
    )
    missing = []
    for name, dist_info in sorted(installed_distributions(recipe.site_packages).items()):
        for requirement in requirements_of(dist_info):
            needed = canonical(requirement.name)
            if needed not in present and needed not in allowed_missing:
                missing.append(f"{name} requires {requirement}")
    if missing:
        raise SystemExit(f"{recipe.name} layer lacks what its packages require: {missing}")


def bundle_libraries(recipe: LayerRecipe) -> None:
    for library in recipe.bundled_libraries:
        candidates = sorted(recipe.site_packages.glob(library.copied_from))
        if len(candidates) != 1:
            raise SystemExit(
                f"{recipe.name} layer: expected one {library.copied_from} to provide {library.soname} "
                f"for {library.needed_by}, found {[str(c) for c in candidates]}"
            )
        destination = recipe.directory / "lib" / library.soname
        destination.parent.mkdir(exist_ok=True)
        shutil.copyfile(candidates[0], destination)


def unzipped_size(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if the stamps match")
    args = parser.parse_args(argv)
    sizes = build_all(force=args.force)
    for name, size in sizes.items():
        print(f"{name} layer: {size:,} bytes ({size / 1e6:.1f} MB) unzipped")
    print("each function's deployed size (code + all its layers): python -m stack_build.sizes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
