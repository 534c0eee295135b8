"""`python -m pretrained_models.build`: builds every model artifact into build/models/ and writes its manifest.

Each builder is a module with `build(out_dir) -> list[artifact]`. Its build key hashes the module's source,
the shared build code and the pinned requirements (which pin every source wheel); when the key is unchanged
and every file still has the sha256 the manifest records, the builder is skipped. A file's hash is computed
once and then trusted while its size and mtime are unchanged (as git's index does), so a second run takes a
fraction of a second even with the generator's 290 MB.

Runs in .venv-models (torch and friends); the serving package `creative` is put on the path so the manifest
model is the one the functions read.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from creative.inference.artifacts import (
    MANIFEST_NAME,
    Artifact,
    ArtifactFile,
    Manifest,
    file_sha256,
    mismatched_files,
)

from infra.paths import DOMAIN_PACKAGE_PARENT, MODELS_BUILD_DIR

DEFAULT_OUT = MODELS_BUILD_DIR
_HERE = Path(__file__).resolve().parent
STAMPS_NAME = ".verified.json"  # key -> [bytes, mtime_ns, sha256] of files whose hash was checked
_SHARED_INPUTS = (
    _HERE / "build.py",
    _HERE / "artifact_description.py",
    _HERE / "deterministic_npz.py",
    _HERE / "requirements.txt",
    _HERE / "requirements-nodeps.txt",
    DOMAIN_PACKAGE_PARENT / "creative" / "inference" / "artifacts.py",
)


@dataclass(frozen=True)
class Builder:
    name: str
    module: str
    optional: bool = False  # the generator's builder is written separately; until it exists it is skipped


BUILDERS = (
    Builder("text_encoder", "pretrained_models.text_encoder"),
    Builder("text_encoder_distilled", "pretrained_models.text_encoder_distilled"),
    Builder("image_model", "pretrained_models.image_model"),
    Builder("generator", "pretrained_models.generator", optional=True),
    # After the distilled encoder: it fits its heads on the served int8 encoder's embeddings.
    Builder("tagger", "pretrained_models.tagger"),
)


def build_key(module_path: Path, inputs: tuple[Path, ...] = ()) -> str:
    """Hash of the builder's module, the shared build code and the builder's own INPUTS (data files, the
    modules it trains with); an input that does not exist is hashed as absent."""
    digest = hashlib.sha256()
    for path in (module_path, *_SHARED_INPUTS, *inputs):
        content = path.read_bytes() if path.is_file() else b"<absent>"
        digest.update(path.name.encode() + b"\0" + content + b"\0")
    return digest.hexdigest()


def read_manifest(out_dir: Path) -> Manifest:
    path = out_dir / MANIFEST_NAME
    if not path.is_file():
        return Manifest()
    try:
        return Manifest.read(path)
    except ValueError:
        print(f"{path}: unreadable manifest, rebuilding everything")
        return Manifest()


def read_stamps(out_dir: Path) -> dict[str, list]:
    try:
        return json.loads((out_dir / STAMPS_NAME).read_text())
    except (OSError, ValueError):
        return {}


def is_intact(artifact: Artifact, out_dir: Path, stamps: dict[str, list]) -> bool:
    """Every file has its manifest sha256; hashes only files whose size or mtime changed since last checked."""
    for file in [*artifact.files, *artifact.references]:
        path, key = out_dir / artifact.prefix / file.path, artifact.key(file)
        if not path.is_file():
            return False
        stat = path.stat()
        stamp = [stat.st_size, stat.st_mtime_ns, file.sha256]
        if stamps.get(key) == stamp:
            continue
        if stat.st_size != file.bytes or file_sha256(path) != file.sha256:
            return False
        stamps[key] = stamp
    return True


def build_all(out_dir: Path, only: set[str] | None = None) -> Manifest:
    out_dir.mkdir(parents=True, exist_ok=True)
    previous = read_manifest(out_dir)
    stamps = read_stamps(out_dir)
    artifacts: list[Artifact] = []
    for builder in BUILDERS:
        if only is not None and builder.name not in only:
            artifacts.extend(a for a in previous.artifacts if a.details.get("builder") == builder.name)
            continue
        artifacts.extend(_run_builder(builder, out_dir, previous, stamps))
    manifest = Manifest(artifacts=sorted(artifacts, key=lambda artifact: artifact.name))
    if manifest != previous:
        manifest.write(out_dir / MANIFEST_NAME)
    (out_dir / STAMPS_NAME).write_text(json.dumps(stamps, indent=0, sort_keys=True) + "\n")
    return manifest


def _run_builder(
    builder: Builder, out_dir: Path, previous: Manifest, stamps: dict[str, list]
) -> list[Artifact]:
    spec = importlib.util.find_spec(builder.module)
    if spec is None or spec.origin is None:
        if builder.optional:
            print(f"{builder.name}: {builder.module} does not exist yet, skipped")
            return []
        raise RuntimeError(f"builder module {builder.module} is missing")
    module = importlib.import_module(builder.module)
    key = build_key(Path(spec.origin), tuple(getattr(module, "INPUTS", ())))
    cached = [a for a in previous.artifacts if a.details.get("builder") == builder.name]
    if cached and all(a.build_key == key and is_intact(a, out_dir, stamps) for a in cached):
        print(f"{builder.name}: up to date ({_summary(cached)})")
        return cached
    started = time.perf_counter()
    entries = module.build(out_dir)
    built = [
        artifact.model_copy(
            update={"build_key": key, "details": {**artifact.details, "builder": builder.name}}
        )
        for artifact in as_artifacts(entries)
    ]
    for artifact in built:
        if bad := mismatched_files(artifact, out_dir / artifact.prefix):
            raise RuntimeError(f"{artifact.prefix}: files do not match their manifest entry: {bad}")
        is_intact(artifact, out_dir, stamps)  # records the stamps of the files just hashed
    print(f"{builder.name}: built in {time.perf_counter() - started:.1f} s ({_summary(built)})")
    return built


def as_artifacts(entries: list[Any]) -> list[Artifact]:
    """Builder output as manifest entries: Artifact models, artifact-shaped dicts, or one dict per file
    (name, version, source_package, source_version, path, sha256, bytes), grouped by name and version."""
    artifacts: list[Artifact] = []
    per_file: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for entry in entries:
        if isinstance(entry, Artifact):
            artifacts.append(entry)
        elif "files" in entry:
            artifacts.append(Artifact.model_validate(entry))
        else:
            per_file.setdefault((entry["name"], entry["version"]), []).append(entry)
    for (name, version), rows in per_file.items():
        prefix = f"{name}/{version}/"
        artifacts.append(
            Artifact(
                name=name,
                version=version,
                source_package=rows[0]["source_package"],
                source_version=rows[0]["source_version"],
                files=[
                    ArtifactFile(
                        path=row["path"].removeprefix(prefix), sha256=row["sha256"], bytes=row["bytes"]
                    )
                    for row in rows
                ],
            )
        )
    return artifacts


def _summary(artifacts: list[Artifact]) -> str:
    return ", ".join(f"{a.prefix} {a.total_bytes / 1e6:.1f} MB" for a in artifacts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--only", action="append", choices=[b.name for b in BUILDERS])
    args = parser.parse_args(argv)
    started = time.perf_counter()
    manifest = build_all(args.out, set(args.only) if args.only else None)
    print(f"{len(manifest.artifacts)} artifacts in {args.out} ({time.perf_counter() - started:.2f} s)")


if __name__ == "__main__":
    main()
