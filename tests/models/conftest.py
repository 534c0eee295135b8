"""Model tests read the artifacts `make models` builds; `make test` builds them first, so in CI they run."""

from pathlib import Path

import pytest
from creative.inference.artifacts import MANIFEST_NAME, Artifact, Manifest

from infra.paths import MODELS_BUILD_DIR

MODELS_DIR = MODELS_BUILD_DIR


@pytest.fixture(scope="session")
def manifest() -> Manifest:
    path = MODELS_DIR / MANIFEST_NAME
    if not path.is_file():
        pytest.skip(f"{path} is absent: run `make models` (make test does) to build the model artifacts")
    return Manifest.read(path)


def artifact_dir(artifact: Artifact) -> Path:
    return MODELS_DIR / artifact.prefix


@pytest.fixture(scope="session")
def text_encoder_dir(manifest: Manifest) -> Path:
    return artifact_dir(manifest.get("text-encoder"))


@pytest.fixture(scope="session")
def image_model_dir(manifest: Manifest) -> Path:
    return artifact_dir(manifest.get("image-model"))
