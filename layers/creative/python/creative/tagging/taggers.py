"""The served taggers: copy (MiniLM embeddings -> selling-point heads + IAB zero-shot) and images
(EfficientNet-lite0 ImageNet classes -> IAB nodes through a reviewed mapping, plus image facts). On the same
forward passes they give what the model quality checks need: the copy's spam likeness and each material's
near-duplicate fingerprint (one encoder pass per line serves all three).

Everything is read from three artifacts `make models` builds and the stack deploys: `text-encoder-int8`,
`image-model` and `tagger` (the heads, per-tag thresholds, vocabularies, IAB description vectors and the
ImageNet -> IAB mapping; its `tagger.json` says how they were fitted). onnxruntime, tokenizers, Pillow and
numpy only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from creative.inference.image_model import ImageModel
from creative.inference.onnx_session import cpu_session
from creative.inference.text_encoder import TextEncoder
from creative.quality.near_duplicates import (
    CopyCanonicaliser,
    Fingerprint,
    SimilaritySpace,
    copy_fingerprint,
    perceptual_hash,
)
from creative.tagging.image_facts import facts
from creative.tagging.service import Tagged, UnreadableImage
from creative.tagging.vocabulary import TagVocabulary
from creative.tags import MaterialTag
from creative.untrusted_images import open_untrusted

TAGGER_ARTIFACT = "tagger"
TEXT_ENCODER_ARTIFACT = "text-encoder-int8"
IMAGE_MODEL_ARTIFACT = "image-model"


@dataclass(frozen=True)
class IabTree:
    ids: list[str]
    names: dict[str, str]  # id -> "Personal Finance > Insurance"
    parents: dict[str, str | None]

    def with_ancestors(self, node: str) -> list[str]:
        chain = []
        while node is not None:
            chain.append(node)
            node = self.parents[node]
        return chain


class Taggers:
    """Both taggers over one set of artifacts; `version` names every file that decides a tag."""

    def __init__(self, tagger_dir: Path, text_encoder_dir: Path, image_model_dir: Path, *, max_pixels: int):
        config = json.loads((tagger_dir / "tagger.json").read_text())
        self.version = config["version"]
        self.source = f"model:{TAGGER_ARTIFACT}@{self.version}"
        self._config = config
        self.vocabulary = TagVocabulary.from_config(config)
        self._max_pixels = max_pixels
        nodes = config["iab"]["nodes"]
        self.iab = IabTree(
            ids=[n["id"] for n in nodes],
            names={n["id"]: n["path"] for n in nodes},
            parents={n["id"]: n["parent_id"] for n in nodes},
        )
        self._selling = config["selling"]
        self._selling_thresholds = np.array(self._selling["thresholds"], dtype=np.float32)
        self.iab_vectors = np.load(tagger_dir / "iab_vectors.npy")
        self._heads = cpu_session(tagger_dir / "selling_heads.onnx")
        self._spam_head = cpu_session(tagger_dir / "spam_head.onnx")
        similarity = config["similarity"]
        self.canonical_copy = CopyCanonicaliser(similarity["copy"]["synonyms"])
        self.spaces = {
            kind: SimilaritySpace(
                similarity[kind]["space"],
                np.random.default_rng(similarity[kind]["seed"]).standard_normal(
                    (similarity[kind]["bands"], similarity[kind]["bits"], centre.shape[0])
                ),
                centre,
            )
            for kind in ("copy", "image")
            for centre in [np.load(tagger_dir / f"{kind}_centre.npy")]
        }
        self.encoder = TextEncoder(text_encoder_dir)
        self._image_model = ImageModel(image_model_dir, max_pixels=max_pixels)
        self._imagenet_to_iab: list[list[str]] = config["image"]["imagenet_to_iab"]

    def names(self) -> dict[str, str]:
        """Every tag id this tagger can give, with its human name (operator tags use them too)."""
        named = {f"iab:{i}": name for i, name in self.iab.names.items()}
        named |= {
            f"selling:{t}": n for t, n in zip(self._selling["ids"], self._selling["names"], strict=True)
        }
        named |= {f"colour:{c}": c for c in self._config["image"]["colours"]}
        named |= {f"brightness:{b}": b for b in ("dark", "normal", "bright")}
        named |= {f"orientation:{o}": o for o in ("landscape", "portrait", "square")}
        return named

    def tag_copy(self, texts: Sequence[str]) -> list[Tagged]:
        if not texts:
            return []
        embeddings = self.encoder.encode(list(texts))
        (probabilities,) = self._heads.run(["probabilities"], {"embeddings": embeddings})
        (spam,) = self._spam_head.run(["probabilities"], {"embeddings": embeddings})
        similarities = embeddings @ self.iab_vectors.T
        return [
            Tagged(
                self._selling_tags(row) + self._copy_iab_tags(cosines),
                copy_fingerprint(embedding, text, self.canonical_copy),
                spam=round(float(spam_row[0]), 4),
            )
            for text, embedding, row, cosines, spam_row in zip(
                texts, embeddings, probabilities, similarities, spam, strict=True
            )
        ]

    def _selling_tags(self, probabilities: np.ndarray) -> list[MaterialTag]:
        ids, names = self._selling["ids"], self._selling["names"]
        return [
            MaterialTag(tag=f"selling:{ids[i]}", name=names[i], score=round(float(p), 4), source=self.source)
            for i, p in enumerate(probabilities)
            if p >= self._selling_thresholds[i]
        ]

    def _copy_iab_tags(self, cosines: np.ndarray) -> list[MaterialTag]:
        """The closest node by description with its ancestors when it is close enough to be trusted, only its
        tier-1 category when it is close enough for that (cuts and their precision in tagger.json)."""
        rule = self._config["iab"]["copy"]
        best = int(np.argmax(cosines))
        node, score = self.iab.ids[best], float(cosines[best])
        if score >= rule["min_cosine"]:
            return self._iab_tags({node: score})
        if score >= rule["min_cosine_tier1"]:
            return self._iab_tags({self.iab.with_ancestors(node)[-1]: score})
        return []

    def tag_image(self, data: bytes) -> Tagged:
        """Raises UnreadableImage when Pillow cannot decode the bytes or they are over the pixel cap."""
        try:
            image = open_untrusted(data, max_pixels=self._max_pixels)
            # A JPEG decodes straight to the smallest power-of-two scale that still covers the model's
            # input (its shorter side resized to 256): a 1 MP photo decodes at half size, ~3x faster.
            side = self._image_model.preprocess.resize_shorter
            image.draft("RGB", (side, side))
            image.load()
        except Exception as exc:  # noqa: BLE001 - Pillow raises many types on bad bytes; all mean the same here
            raise UnreadableImage(f"{type(exc).__name__}: {exc}") from exc
        (prediction,) = self._image_model.predict([image], top_k=self._config["image"]["top_k"])
        scores: dict[str, float] = {}
        for scored in prediction.top:
            for node in self._imagenet_to_iab[scored.class_index]:
                scores[node] = scores.get(node, 0.0) + scored.probability
        kept = {n: s for n, s in scores.items() if s >= self._config["image"]["min_score"]}
        fingerprint = Fingerprint(prediction.embedding, perceptual_hash(image))
        return Tagged(self._iab_tags(kept) + self._fact_tags(image), fingerprint)

    def _iab_tags(self, scores: dict[str, float]) -> list[MaterialTag]:
        """Each scored node and its ancestors (an ancestor takes its best descendant's score)."""
        best: dict[str, float] = {}
        for node, score in scores.items():
            for ancestor in self.iab.with_ancestors(node):
                best[ancestor] = max(best.get(ancestor, 0.0), score)
        return [
            MaterialTag(
                tag=f"iab:{n}", name=self.iab.names[n], score=round(min(s, 1.0), 4), source=self.source
            )
            for n, s in sorted(best.items(), key=lambda item: -item[1])
        ]

    def _fact_tags(self, image: Image.Image) -> list[MaterialTag]:
        found = facts(image)
        named = [(f"colour:{c}", c, share) for c, share in found.colours]
        named += [(f"brightness:{found.brightness}", found.brightness, 1.0)]
        named += [(f"orientation:{found.orientation}", found.orientation, 1.0)]
        return [MaterialTag(tag=t, name=n, score=round(s, 4), source=self.source) for t, n, s in named]
