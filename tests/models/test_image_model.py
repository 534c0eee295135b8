"""The ONNX EfficientNet-lite0 against the torch reference computed at build time, and on real photos."""

import io

import numpy as np
import pytest
from creative.inference.image_model import ImageModel
from creative.untrusted_images import UnsafeImage
from PIL import Image
from skimage import data

CAT_CLASSES = set(range(281, 286))  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO = 967
MOPED, MOTOR_SCOOTER = 665, 670


@pytest.fixture(scope="module")
def model(image_model_dir) -> ImageModel:
    return ImageModel(image_model_dir)


@pytest.fixture(scope="module")
def reference(image_model_dir) -> dict[str, np.ndarray]:
    with np.load(image_model_dir / "reference.npz") as stored:
        return dict(stored)


def photos() -> dict[str, Image.Image]:
    arrays = {"chelsea": data.chelsea(), "coffee": data.coffee(), "motorcycle": data.stereo_motorcycle()[0]}
    return {name: Image.fromarray(array) for name, array in arrays.items()}


def test_logits_and_embeddings_match_torch(model, reference):
    # Given the torch model's logits and pooled features for three photos and two noise images
    # When the ONNX graph runs on the same inputs
    logits, embeddings = model.run(reference["inputs"])

    # Then they agree to 1e-3
    assert np.abs(logits - reference["logits"]).max() <= 1e-3
    assert np.abs(embeddings - reference["embeddings"]).max() <= 1e-3
    assert logits.shape == (5, 1000) and embeddings.shape == (5, 1280)


def test_numpy_preprocessing_equals_the_torch_reference(model, reference):
    # Given the reference preprocessing of the scikit-image photos (torch ops after Pillow's resize)
    assert list(reference["photo_names"]) == list(photos())

    # When the serving code preprocesses the same photos
    inputs = np.stack([model.preprocess(photo) for photo in photos().values()])

    # Then the tensors are the same
    assert inputs.shape == reference["photo_inputs"].shape == (3, 3, 224, 224)
    assert np.abs(inputs - reference["photo_inputs"]).max() <= 1e-5


def test_the_photos_are_recognised(model):
    # Given a cat, a cup of espresso and a motorcycle
    chelsea, coffee, motorcycle = photos().values()

    # When they are classified (the coffee as JPEG bytes, as an upload arrives)
    buffer = io.BytesIO()
    coffee.save(buffer, format="JPEG", quality=95)
    predictions = model.predict([chelsea, buffer.getvalue(), motorcycle], top_k=3)

    # Then the top class is a cat, espresso, and a moped or motor scooter, with names from the artifact
    top = [prediction.top[0] for prediction in predictions]
    assert top[0].class_index in CAT_CLASSES
    assert top[1].class_index == ESPRESSO and top[1].label == "espresso"
    assert top[2].class_index in {MOPED, MOTOR_SCOOTER}
    assert all(0.0 < score.probability <= 1.0 for score in top)
    assert all(len(prediction.top) == 3 for prediction in predictions)


def test_embeddings_are_unit_length_and_nearer_for_the_same_photo(model):
    # Given a photo, a slightly different crop of it, and another photo
    chelsea, coffee, _ = photos().values()
    cropped = chelsea.crop((10, 10, chelsea.width - 10, chelsea.height - 10))

    # When they are embedded
    original, near, other = (p.embedding for p in model.predict([chelsea, cropped, coffee]))

    # Then the embeddings have unit length and the crop is closer to its photo than the other photo is
    np.testing.assert_allclose([np.linalg.norm(e) for e in (original, near, other)], 1.0, atol=1e-5)
    assert float(original @ near) > float(original @ other)


def test_exif_orientation_is_applied_before_resizing(model):
    # Given the cat photo stored rotated, with an EXIF tag saying how to turn it upright (lossless PNG)
    upright = photos()["chelsea"]
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    buffer = io.BytesIO()
    upright.transpose(Image.Transpose.ROTATE_90).save(buffer, format="PNG", exif=exif)
    tagged = Image.open(io.BytesIO(buffer.getvalue()))
    assert tagged.size == (upright.height, upright.width)

    # When both are preprocessed
    # Then the tagged image becomes the upright one
    np.testing.assert_array_equal(model.preprocess(tagged), model.preprocess(upright))


def test_no_images_give_no_predictions(model):
    assert model.predict([]) == []


def test_image_bytes_are_opened_as_untrusted_uploads(image_model_dir):
    # Given a model capped at 10,000 pixels and a PNG whose header declares 200 x 100
    capped = ImageModel(image_model_dir, max_pixels=10_000)
    buffer = io.BytesIO()
    Image.new("RGB", (200, 100)).save(buffer, format="PNG")
    # Then the bytes are refused before decoding, as admission and tagging refuse them
    with pytest.raises(UnsafeImage):
        capped.predict([buffer.getvalue()])
