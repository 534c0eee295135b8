"""Benchmark of the tagging function's taggers on one core (targets live here, never in tests).

`python -m bench.tagging` runs in a fresh interpreter pinned to one CPU, onnxruntime on one intra-op thread,
as the function runs them, and reports:
- cold start: the three artifacts (tagger, int8 text encoder, image model) copied and sha256-verified into
  an empty cache (the function fetches them from the assets bucket), imports, session loads, first call;
- copy lines/s: the 583 real lines of the labelled ad-copy set, tagged as the function tags a batch
  (selling-point heads + IAB zero-shot); target >= 500;
- images/s at 1 megapixel: real photos re-encoded as ~1 MP JPEGs, bytes in (decode, facts, classify,
  embed); target >= 40;
- the served (distilled, three-layer) encoder against the six-layer int8 encoder it replaced, both on the
  same 583 lines one at a time, timed in alternation in this interpreter so a busy machine slows both;
- peak RSS of that interpreter.
Writes out/bench/tagging.json.
"""

from __future__ import annotations

import io
import statistics
import time
from pathlib import Path

from bench.measure import (
    cold_start,
    one_core_main,
    peak_rss_mb,
    timed,
)
from infra.paths import BUILD_DIR, MODELS_BUILD_DIR

COPY_TARGET_PER_S = 500
IMAGE_TARGET_PER_S = 40
MEGAPIXEL = (1155, 866)  # 1.0 MP at 4:3
PHOTOS = ("coffee.png", "chelsea.png", "astronaut.png", "rocket.jpg", "motorcycle_left.png")


def one_megapixel_jpegs() -> list[bytes]:
    from demo.image_files import skimage_photo
    from PIL import Image

    jpegs = []
    for name in PHOTOS:
        buffer = io.BytesIO()
        Image.open(skimage_photo(name)).convert("RGB").resize(MEGAPIXEL).save(buffer, "JPEG", quality=90)
        jpegs.append(buffer.getvalue())
    return jpegs


def six_layer_int8() -> Path:
    """The encoder served before distillation: the teacher's fp32 graph quantized as the served one is,
    built once per teacher graph (its sha256 names the directory) and reused by later runs."""
    from creative.inference.artifacts import Manifest
    from pretrained_models.text_encoder import quantize

    teacher = Manifest.read(MODELS_BUILD_DIR / "manifest.json").get("text-encoder")
    graph = next(f for f in teacher.files if f.path == "model.onnx")
    out_dir = BUILD_DIR / "comparison" / f"text-encoder-six-layer-int8-{graph.sha256[:12]}"
    if not (out_dir / "config.json").is_file():  # written last by quantize
        quantize(MODELS_BUILD_DIR / teacher.prefix, out_dir)
    return out_dir


def encoder_lines_per_s(encoders: dict, lines: list[str], rounds: int = 3) -> dict[str, float]:
    """Lines/s of each encoder (best of `rounds`), the encoders timed in turn within each round."""
    best = dict.fromkeys(encoders, 0.0)
    for _ in range(rounds):
        for name, encoder in encoders.items():
            started = time.perf_counter()
            encoder.encode(lines)
            best[name] = max(best[name], len(lines) / (time.perf_counter() - started))
    return {name: round(rate, 1) for name, rate in best.items()}


def bench() -> dict:
    started = time.perf_counter()
    tagger, tagger_dir = cold_start("tagger")
    encoder, encoder_dir = cold_start("text-encoder-int8")
    image, image_dir = cold_start("image-model")
    fetched = time.perf_counter()
    from creative.tagging.taggers import Taggers

    imported = time.perf_counter()
    taggers = Taggers(tagger_dir, encoder_dir, image_dir, max_pixels=40_000_000)
    loaded = time.perf_counter()
    from corpora.ad_copy import load_labelled

    lines = [row["text"] for row in load_labelled()]
    jpegs = one_megapixel_jpegs()
    before_first = time.perf_counter()
    taggers.tag_copy(lines[:1])
    taggers.tag_image(jpegs[0])
    first = time.perf_counter()
    copy_runs = timed(lambda: taggers.tag_copy(lines), repeats=3, warmup=1)
    image_runs = timed(lambda: [taggers.tag_image(j) for j in jpegs], repeats=5, warmup=1)
    tagging_peak_rss_mb = peak_rss_mb()  # before the comparison below loads a second encoder
    from creative.inference.text_encoder import TextEncoder

    six_layer = TextEncoder(six_layer_int8())
    six_layer.encode(lines[:20])
    encoders = encoder_lines_per_s({"served": taggers.encoder, "six_layer_int8": six_layer}, lines)
    return {
        "artifacts": [tagger["artifact"], encoder["artifact"], image["artifact"]],
        "fetch_and_verify_s": round(
            tagger["fetch_and_verify_s"] + encoder["fetch_and_verify_s"] + image["fetch_and_verify_s"], 3
        ),
        "cold_start_s": round(loaded - started + (first - before_first), 3),
        "import_s": round(imported - fetched, 3),
        "load_s": round(loaded - imported, 3),
        "first_call_s": round(first - before_first, 3),
        "copy_lines": len(lines),
        "copy_lines_per_s": round(len(lines) / statistics.median(copy_runs), 1),
        "copy_lines_per_s_best": round(len(lines) / min(copy_runs), 1),
        "encoder_lines_per_s": encoders,
        "images": len(jpegs),
        "image_megapixels": round(MEGAPIXEL[0] * MEGAPIXEL[1] / 1e6, 2),
        "images_per_s": round(len(jpegs) / statistics.median(image_runs), 1),
        "images_per_s_best": round(len(jpegs) / min(image_runs), 1),
        "target_copy_lines_per_s": COPY_TARGET_PER_S,
        "target_images_per_s": IMAGE_TARGET_PER_S,
        "peak_rss_mb": tagging_peak_rss_mb,
    }


def main(argv: list[str] | None = None) -> dict:
    return one_core_main(
        argv, "bench.tagging", "tagging", bench, "Tagging benchmark on one core.", intra_op_threads=1
    )


if __name__ == "__main__":
    main()
