"""A function's cold start: model files from the assets bucket to /tmp, verified, then served."""

import io

import pytest
from creative.adapters.model_files import MODELS_PREFIX, model_directory
from creative.inference.artifacts import ArtifactIntegrityError, Manifest
from creative.inference.image_model import ImageModel
from PIL import Image
from skimage import data

from infra.paths import MODELS_BUILD_DIR
from tests.integration.conftest import ASSETS_BUCKET

MANIFEST = MODELS_BUILD_DIR / "manifest.json"
pytestmark = pytest.mark.skipif(not MANIFEST.is_file(), reason="models are not built (`make models`)")


def deploy_image_model(s3) -> None:
    """What the deploy does for one artifact: the manifest and its files under models/."""
    s3.upload_file(str(MANIFEST), ASSETS_BUCKET, MODELS_PREFIX + "manifest.json")
    artifact = Manifest.read(MANIFEST).get("image-model")
    for file in artifact.files:
        s3.upload_file(
            str(MODELS_BUILD_DIR / artifact.key(file)), ASSETS_BUCKET, MODELS_PREFIX + artifact.key(file)
        )


def jpeg(array) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="JPEG", quality=95)
    return out.getvalue()


def test_a_cold_start_fetches_verifies_and_serves_the_deployed_model(aws, tmp_path):
    # Given the image model deployed to the assets bucket
    deploy_image_model(aws["s3"])
    # When a function materialises it into an empty /tmp cache and classifies a photo
    directory = model_directory(aws["s3"], ASSETS_BUCKET, "image-model", tmp_path)
    prediction = ImageModel(directory).predict([jpeg(data.coffee())])[0]
    # Then every file is there and the model is the real one
    assert {p.name for p in directory.iterdir()} == {"labels.json", "model.onnx", "preprocess.json"}
    assert prediction.top[0].label == "espresso"


def test_a_corrupt_object_in_the_bucket_is_refused_not_served(aws, tmp_path):
    # Given a deployed model whose ONNX file was damaged in the bucket
    deploy_image_model(aws["s3"])
    artifact = Manifest.read(MANIFEST).get("image-model")
    key = MODELS_PREFIX + artifact.key(next(f for f in artifact.files if f.path == "model.onnx"))
    aws["s3"].put_object(Bucket=ASSETS_BUCKET, Key=key, Body=b"truncated")
    # When a cold start materialises it, then it refuses, and leaves no file under the real name
    with pytest.raises(ArtifactIntegrityError):
        model_directory(aws["s3"], ASSETS_BUCKET, "image-model", tmp_path)
    assert not (tmp_path / "image-model" / artifact.version / "model.onnx").exists()
