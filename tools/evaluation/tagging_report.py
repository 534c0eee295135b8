"""`out/tagging/report.json`: the regime comparison, what serves and how well, how fast, and how soon an
upload carries its tags.

    .venv/bin/python -m evaluation.tagging_report [--quick]

Reads `out/tagging/regimes.json` (written by `evaluation.tagging_regimes` in the models venv; `make
evaluate` runs both) and adds, measured here:
- the served configuration (heads on the int8 encoder's embeddings) on the same ad-copy splits and seeds,
  and the same for the six-layer int8 encoder that served before distillation (`six_layer_int8`);
- copy IAB tags: the zero-shot rule's cuts fitted on half the IAB-labelled ad copy, scored on the other half;
- image tags on the hand-labelled photos shipped in packages (`corpora.photos`): how often the IAB tags
  match an operator's, and the dominant colours;
- throughput and cold start on one core (`bench.tagging`);
- upload to tags on the local runtime: 20 files put through S3 at once, each timed until the operator API
  shows every material of it tagged (functions warm; a first two-file upload, cold, reported beside).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from functools import cache

import numpy as np
from corpora import ad_copy, iab_taxonomy, photos
from pretrained_models import tag_heads

from evaluation import tagging_regimes
from infra.paths import MODELS_BUILD_DIR, OUT_DIR

OUT = OUT_DIR / "tagging"
SERVING_REGIME = "feature_extraction"
UPLOAD_FILES = 20


@cache
def served_taggers():
    from creative.inference.artifacts import Manifest
    from creative.tagging.taggers import Taggers

    manifest = Manifest.read(MODELS_BUILD_DIR / "manifest.json")
    dirs = [MODELS_BUILD_DIR / manifest.get(n).prefix for n in ("tagger", "text-encoder-int8", "image-model")]
    return Taggers(*dirs, max_pixels=40_000_000)


def served_heads(seeds: tuple[int, ...], encoder=None, name: str = "text-encoder-int8") -> dict:
    """Feature extraction as served: class-balanced heads on the int8 encoder (or `encoder`, called
    `name`), same splits as the regimes."""
    (data,) = [d for d in tagging_regimes.datasets() if d.name == "ad_copy"]
    embeddings = (encoder or served_taggers().encoder).encode(data.texts)
    rows = []
    for seed in seeds:
        test, subsets = tagging_regimes.split(data, seed)
        train = subsets["all"]
        heads = tag_heads.fit_heads(embeddings[train], data.labels[train], seed=seed)
        scores = heads.probabilities(embeddings[test])
        rows.append(
            tag_heads.multilabel_metrics(data.labels[test], scores, scores >= tag_heads.DECISION_THRESHOLD)
        )
    return {m: round(statistics.fmean(r[m] for r in rows), 4) for m in ("micro_f1", "macro_f1", "map")} | {
        "seeds": len(rows),
        "encoder": name,
    }


def copy_iab_held_out(seed: int = 0, encoder=None) -> dict:
    """The copy IAB rule (tools/pretrained_models/tagger.py) fitted on one half, scored on the other; on the
    served encoder, or on `encoder` with the node descriptions embedded by it."""
    from pretrained_models.tagger import COPY_IAB_PRECISION, COPY_IAB_TIER1_PRECISION, _lowest_cut

    taggers = served_taggers()
    nodes = iab_taxonomy.load()
    iab_vectors = taggers.iab_vectors
    if encoder is None:
        encoder = taggers.encoder
    else:
        iab_vectors = encoder.encode([f"{n['name']}: {n['description']}" for n in nodes])
    parents = {n["id"]: n["parent_id"] for n in nodes}

    def branch(node):
        chain = []
        while node is not None:
            chain.append(node)
            node = parents[node]
        return chain

    rows = [r for r in ad_copy.load_labelled() if r.get("iab")]
    cosines = encoder.encode([r["text"] for r in rows]) @ iab_vectors.T
    best = [taggers.iab.ids[b] for b in cosines.argmax(axis=1)]
    top = cosines.max(axis=1)
    node_hit = np.array(
        [any(b in branch(g) or g in branch(b) for g in r["iab"]) for r, b in zip(rows, best, strict=True)]
    )
    tier1_hit = np.array(
        [any(branch(b)[-1] == branch(g)[-1] for g in r["iab"]) for r, b in zip(rows, best, strict=True)]
    )
    order = np.random.default_rng(seed).permutation(len(rows))
    fit, held = order[: len(order) // 2], order[len(order) // 2 :]
    node_cut = _lowest_cut(top[fit], node_hit[fit], COPY_IAB_PRECISION)
    tier1_cut = min(_lowest_cut(top[fit], tier1_hit[fit], COPY_IAB_TIER1_PRECISION), node_cut)
    node_kept, tier1_kept = top[held] >= node_cut, top[held] >= tier1_cut
    return {
        "labelled_lines": len(rows),
        "held_out_lines": len(held),
        "min_cosine": node_cut,
        "min_cosine_tier1": tier1_cut,
        "node_precision": round(float(node_hit[held][node_kept].mean()), 3) if node_kept.any() else None,
        "node_recall": round(float(node_hit[held][node_kept].sum() / len(held)), 3),
        "tier1_precision": round(float(tier1_hit[held][tier1_kept].mean()), 3) if tier1_kept.any() else None,
        "tier1_recall": round(float(tier1_hit[held][tier1_kept].sum() / len(held)), 3),
    }


def six_layer_comparison(seeds: tuple[int, ...]) -> dict:
    """What distilling the encoder to three layers cost: the six-layer int8 encoder it replaced, scored on
    the same splits by the same heads and IAB rule."""
    from bench.tagging import six_layer_int8
    from creative.inference.text_encoder import TextEncoder

    encoder = TextEncoder(six_layer_int8())
    return {
        "heads": served_heads(seeds, encoder, name="six-layer int8"),
        "copy_iab": copy_iab_held_out(encoder=encoder),
    }


def image_tags() -> dict:
    """Served image tags against an operator's hand labels, on real photos shipped in packages."""
    taggers = served_taggers()
    nodes = iab_taxonomy.load()
    parents = {n["id"]: n["parent_id"] for n in nodes}

    def tier1(node):
        while parents[node] is not None:
            node = parents[node]
        return node

    labelled = [p for p in photos.fetch(use_for="tagging") if p.iab]
    any_hit = tier1_hits = tier1_predicted = tier1_gold = tier1_found = colour_hit = 0
    for photo in labelled:
        tagged = taggers.tag_image(photo.path.read_bytes())
        predicted = {t.tag.removeprefix("iab:") for t in tagged.tags if t.tag.startswith("iab:")}
        gold = set(photo.iab)
        gold_branches = {a for g in gold for a in _ancestry(g, parents)}
        any_hit += bool(predicted & gold_branches) or any(
            gold & set(_ancestry(p, parents)) for p in predicted
        )
        predicted_tier1, gold_tier1 = {tier1(p) for p in predicted}, {tier1(g) for g in gold}
        tier1_predicted += len(predicted_tier1)
        tier1_hits += len(predicted_tier1 & gold_tier1)
        tier1_gold += len(gold_tier1)
        tier1_found += len(gold_tier1 & predicted_tier1)
        colours = {t.tag.removeprefix("colour:") for t in tagged.tags if t.tag.startswith("colour:")}
        colour_hit += bool(colours & set(photo.entry.get("dominant_colours", [])))
    return {
        "photos": len(labelled),
        "share_with_a_matching_iab_tag": round(any_hit / len(labelled), 3),
        "tier1_precision": round(tier1_hits / max(tier1_predicted, 1), 3),
        "tier1_recall": round(tier1_found / max(tier1_gold, 1), 3),
        "share_with_a_matching_colour": round(colour_hit / len(labelled), 3),
    }


def _ancestry(node: str, parents: dict) -> list[str]:
    chain = []
    while node is not None:
        chain.append(node)
        node = parents[node]
    return chain


def upload_to_tags(files: int = UPLOAD_FILES) -> dict:
    """Seconds from putting each file to the operator API showing all its materials tagged, for a 20-file
    upload to functions that are warm, as they are in a running system. A two-file upload (one photo, one
    copy file) to a fresh runtime goes first; its times, which include the cold start of admission,
    tagging and the operator API, are reported beside as `first_upload`."""
    import boto3
    from demo.image_files import jpeg_of
    from local_runtime.runtime import LocalRuntime

    photos_ = ("coffee.png", "chelsea.png", "astronaut.png", "rocket.jpg", "motorcycle_left.png")

    def upload(line: str, i: int) -> tuple[str, bytes]:
        if i % 2:
            return (
                f"uploads/{line}/copy/lines-{i}.txt",
                f"Fresh offer number {i}\nFree delivery, day {i}\n".encode(),
            )
        return f"uploads/{line}/photos/photo-{i}.jpg", jpeg_of(photos_[i // 2 % len(photos_)], quality=80 + i)

    with LocalRuntime() as runtime:
        s3 = boto3.client(
            "s3",
            endpoint_url=runtime.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        first = _seconds_to_tags(runtime, s3, "warmup", [upload("warmup", i) for i in range(2)])
        timed = _seconds_to_tags(runtime, s3, "latency", [upload("latency", i) for i in range(files)])
    return {**_percentiles(timed, files), "first_upload": _percentiles(first, 2)}


def _seconds_to_tags(runtime, s3, line: str, uploads: list[tuple[str, bytes]]) -> list[float]:
    import requests

    bucket = runtime.outputs["UploadsBucketName"]
    put_at = {}
    for key, data in uploads:
        s3.put_object(Bucket=bucket, Key=key, Body=data)
        put_at[key] = time.monotonic()
    done: dict[str, float] = {}
    headers = {"Authorization": f"Bearer {runtime.operator_key}"}
    deadline = time.monotonic() + 120
    while len(done) < len(uploads) and time.monotonic() < deadline:
        listed = requests.get(
            runtime.api_url.rstrip("/") + "/v1/materials",
            params={"business_line": line, "limit": 200},
            headers=headers,
            timeout=10,
        ).json()["items"]
        now = time.monotonic()
        by_key: dict[str, list[dict]] = {}
        for material in listed:
            by_key.setdefault(material["source"]["key"], []).append(material)
        for key, materials in by_key.items():
            if key not in done and all((m.get("tagging") or {}).get("status") for m in materials):
                done[key] = now - put_at[key]
        time.sleep(0.1)
    return sorted(done.values())


def _percentiles(seconds: list[float], files: int) -> dict:
    return {
        "files": files,
        "tagged": len(seconds),
        "p50_s": round(seconds[len(seconds) // 2], 2) if seconds else None,
        "p95_s": round(seconds[min(len(seconds) - 1, int(0.95 * len(seconds)))], 2) if seconds else None,
        "max_s": round(seconds[-1], 2) if seconds else None,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed for the served heads")
    args = parser.parse_args(argv)
    regimes_file = OUT / "regimes.json"
    regimes = json.loads(regimes_file.read_text()) if regimes_file.is_file() else {}
    from bench.tagging import main as bench_tagging

    seeds = (0,) if args.quick else tagging_regimes.SEEDS
    speed = bench_tagging([])
    latency = upload_to_tags()
    report = {
        "regimes": regimes.get("regimes", {}),
        "datasets": regimes.get("datasets", {}),
        "serving_regime": SERVING_REGIME,
        "served": served_heads(seeds),
        "copy_iab": copy_iab_held_out(),
        "image_tags": image_tags(),
        "six_layer_int8": six_layer_comparison(seeds),
        "encoder_lines_per_s": speed["encoder_lines_per_s"],
        "copy_lines_per_s": speed["copy_lines_per_s"],
        "images_per_s": speed["images_per_s"],
        "cold_start_s": speed["cold_start_s"],
        "upload_to_tags_p95_s": latency["p95_s"],
        "upload_to_tags": latency,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k not in ("regimes",)}, indent=2))
    print(f"wrote {OUT / 'report.json'}")
    return report


if __name__ == "__main__":
    main()
