"""Sentence embeddings from the all-MiniLM-L6-v2 ONNX artifact: tokenizers + onnxruntime, no torch.

Mean pooling and L2 normalisation are inside the graph, so `encode` returns what sentence-transformers'
`encode(normalize_embeddings=True)` does. Each batch is padded to its longest line and every line is
truncated at 256 tokens, as sentence-transformers does for this model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from creative.inference.onnx_session import cpu_session


class TextEncoder:
    def __init__(self, model_dir: Path, *, threads: int = 1) -> None:
        config = json.loads((model_dir / "config.json").read_text())
        self.max_length: int = config["max_length"]
        self.dimension: int = config["dimension"]
        # A dynamically quantized graph scales activations over the whole batch, so a line's embedding
        # would depend on its batchmates: such an artifact says `"max_batch": 1`.
        self.max_batch: int = config.get("max_batch", 1024)
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=self.max_length)
        self._tokenizer.enable_padding(pad_id=0, pad_type_id=0, pad_token="[PAD]")  # to the longest line
        self._session = cpu_session(model_dir / "model.onnx", threads=threads)

    def tokenize(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        encodings = self._tokenizer.encode_batch(list(texts))
        return {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """(len(texts), 384) float32, each row of unit length."""
        if isinstance(texts, str):
            raise TypeError("encode takes a sequence of texts, not one string")
        # Lines of similar length share a batch, so little compute goes to padding (sentence-transformers
        # does the same); rows are put back in the caller's order.
        order = np.argsort([-len(text) for text in texts], kind="stable")
        embeddings = np.zeros((len(texts), self.dimension), dtype=np.float32)
        batch_size = min(batch_size, self.max_batch)
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            batch = self.tokenize([texts[row] for row in rows])
            embeddings[rows] = self._session.run(["embeddings"], batch)[0]
        return embeddings
