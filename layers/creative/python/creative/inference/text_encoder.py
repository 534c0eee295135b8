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
        self._tokenizer.no_padding()  # each batch is padded to its own longest line (`_padded`)
        self._session = cpu_session(model_dir / "model.onnx", threads=threads)

    def tokenize(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The model's inputs for `texts` as one batch, padded to its longest line."""
        return self._padded(self._token_ids(texts))

    def _token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        return [encoding.ids for encoding in self._tokenizer.encode_batch(list(texts))]

    @staticmethod
    def _padded(token_ids: Sequence[list[int]]) -> dict[str, np.ndarray]:
        """[PAD] is id 0, masked out, of token type 0 (the only type a single sentence has)."""
        input_ids = np.zeros((len(token_ids), max(map(len, token_ids), default=0)), dtype=np.int64)
        attention_mask = np.zeros_like(input_ids)
        for row, ids in enumerate(token_ids):
            input_ids[row, : len(ids)] = ids
            attention_mask[row, : len(ids)] = 1
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": np.zeros_like(input_ids),
        }

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """(len(texts), 384) float32, each row of unit length."""
        if isinstance(texts, str):
            raise TypeError("encode takes a sequence of texts, not one string")
        # One tokenizer call for every line (one call per line cost as much as the heads); lines of similar
        # length share a batch, so little compute goes to padding (sentence-transformers does the same); rows
        # are put back in the caller's order.
        token_ids = self._token_ids(texts)
        order = np.argsort([-len(ids) for ids in token_ids], kind="stable")
        embeddings = np.zeros((len(texts), self.dimension), dtype=np.float32)
        batch_size = min(batch_size, self.max_batch)
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            batch = self._padded([token_ids[row] for row in rows])
            embeddings[rows] = self._session.run(["embeddings"], batch)[0]
        return embeddings
