"""Benchmarks of the served models on one core (targets live here, never in tests).

`python -m bench.models` runs each model in its own fresh interpreter pinned to one CPU, with onnxruntime on
one intra-op thread, and reports:
- cold start: copy + sha256-verify the artifact into an empty cache, imports, session load, first call;
- latency p50/p99 for batch 1 and batch 32 (text) or batch 1 and 8 (images, JPEG bytes in, incl. decode);
- throughput: ad-copy lines/s (target ≥ 500) and images/s classified + embedded (target ≥ 40);
- peak RSS of that interpreter;
- for the text encoder, a dynamic-int8 variant quantized here (size, speed, cosine drift vs
  sentence-transformers), the numbers behind keeping fp32.
Writes out/bench/models.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.measure import (
    cold_start,
    in_fresh_interpreter,
    peak_rss_mb,
    percentiles,
    pin_to_one_cpu,
    timed,
    write_report,
)
from infra.paths import MODELS_BUILD_DIR

TEXT_TARGET_PER_S = 500
IMAGE_TARGET_PER_S = 40


def ad_copy() -> tuple[list[str], list[str]]:
    """Real ad-copy lines: the build's reference set, 18 one-liners and two paragraphs past 256 tokens.
    Imported after the cold-start timings, which it would otherwise include."""
    from pretrained_models.text_encoder import REFERENCE_TEXTS

    return [t for t in REFERENCE_TEXTS if len(t) < 200], [t for t in REFERENCE_TEXTS if len(t) >= 200]


def bench_text() -> dict:
    result, model_dir = cold_start("text-encoder")
    started = time.perf_counter()
    from creative.inference.text_encoder import TextEncoder

    imported = time.perf_counter()
    encoder = TextEncoder(model_dir, threads=1)
    loaded = time.perf_counter()
    one_liners, paragraphs_text = ad_copy()
    batch32 = [one_liners[i % len(one_liners)] for i in range(32)]
    before_first = time.perf_counter()
    encoder.encode([one_liners[0]])
    first = time.perf_counter()
    batch1 = timed(lambda: encoder.encode([one_liners[1]]), repeats=300)
    batch32_times = timed(lambda: encoder.encode(batch32), repeats=60)
    paragraphs = timed(lambda: encoder.encode(paragraphs_text), repeats=20)
    # Many lines at once: sorted by length, each batch of 32 holds lines of similar length (less padding).
    bulk = [one_liners[i % len(one_liners)] for i in range(16 * len(one_liners))]
    bulk_times = timed(lambda: encoder.encode(bulk), repeats=5, warmup=1)
    result |= {
        "import_s": round(imported - started, 3),
        "load_s": round(loaded - imported, 3),
        "first_call_s": round(first - before_first, 3),
        "batch1": percentiles(batch1),
        "batch32": percentiles(batch32_times),
        "copies_per_s_batch32": round(32 / statistics.median(batch32_times), 1),
        "copies_per_s_batch1": round(1 / statistics.median(batch1), 1),
        "copies_per_s_bulk": round(len(bulk) / statistics.median(bulk_times), 1),
        "ms_per_256_token_paragraph": round(statistics.median(paragraphs) / len(paragraphs_text) * 1000, 1),
        "target_copies_per_s": TEXT_TARGET_PER_S,
        "peak_rss_mb": peak_rss_mb(),
    }
    return result


def bench_image() -> dict:
    import io

    result, model_dir = cold_start("image-model")
    started = time.perf_counter()
    from creative.inference.image_model import ImageModel

    imported = time.perf_counter()
    model = ImageModel(model_dir, threads=1)
    loaded = time.perf_counter()
    from PIL import Image
    from skimage import data

    uploads = []
    for array in (data.chelsea(), data.coffee(), data.stereo_motorcycle()[0], data.astronaut()):
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="JPEG", quality=90)
        uploads.append(buffer.getvalue())
    before_first = time.perf_counter()
    model.predict(uploads[:1])
    first = time.perf_counter()
    batch1 = timed(lambda: model.predict(uploads[1:2]), repeats=100)
    batch8 = timed(lambda: model.predict(uploads * 2), repeats=20)
    preprocess = timed(lambda: model.preprocess(Image.open(io.BytesIO(uploads[1]))), repeats=100)
    result |= {
        "import_s": round(imported - started, 3),
        "load_s": round(loaded - imported, 3),
        "first_call_s": round(first - before_first, 3),
        "batch1": percentiles(batch1),
        "batch8": percentiles(batch8),
        "decode_and_preprocess": percentiles(preprocess),
        "images_per_s_batch1": round(1 / statistics.median(batch1), 1),
        "images_per_s_batch8": round(8 / statistics.median(batch8), 1),
        "target_images_per_s": IMAGE_TARGET_PER_S,
        "peak_rss_mb": peak_rss_mb(),
    }
    return result


def text_int8_study() -> dict:
    """Dynamic int8 (weights int8, activations quantized per call) of the fp32 graph vs fp32, on the
    reference lines (cosine with sentence-transformers) and on batch-32 speed."""
    import numpy as np
    from creative.inference.artifacts import Manifest
    from creative.inference.text_encoder import TextEncoder
    from onnxruntime.quantization import QuantType, quantize_dynamic

    one_liners, _ = ad_copy()
    batch32 = [one_liners[i % len(one_liners)] for i in range(32)]
    fp32_dir = MODELS_BUILD_DIR / Manifest.read(MODELS_BUILD_DIR / "manifest.json").get("text-encoder").prefix
    with np.load(fp32_dir / "reference.npz") as stored:
        texts, reference = [str(t) for t in stored["texts"]], stored["embeddings"]
    variants = {
        "int8_dynamic": {},  # onnxruntime's defaults: MatMul and Gather (embeddings), per tensor
        "int8_dynamic_matmul_per_channel": {"op_types_to_quantize": ["MatMul"], "per_channel": True},
    }
    study = {}
    with tempfile.TemporaryDirectory() as scratch:
        directories = {"fp32": fp32_dir}
        for label, options in variants.items():
            directories[label] = Path(scratch) / label
            directories[label].mkdir()
            for name in ("tokenizer.json", "config.json"):
                (directories[label] / name).write_bytes((fp32_dir / name).read_bytes())
            quantize_dynamic(
                fp32_dir / "model.onnx",
                directories[label] / "model.onnx",
                weight_type=QuantType.QInt8,
                **options,
            )
        for label, directory in directories.items():
            encoder = TextEncoder(directory, threads=1)
            cosines = (encoder.encode(texts) * reference).sum(axis=1)
            times = timed(lambda encoder=encoder: encoder.encode(batch32), repeats=40)
            study[label] = {
                "model_mb": round((directory / "model.onnx").stat().st_size / 1e6, 1),
                "cosine_min": round(float(cosines.min()), 5),
                "cosine_mean": round(float(cosines.mean()), 5),
                "batch32_p50_ms": percentiles(times)["p50_ms"],
                "copies_per_s_batch32": round(32 / statistics.median(times), 1),
            }
    return study


WORKERS = {"text-encoder": bench_text, "image-model": bench_image, "text-encoder-int8-study": text_int8_study}


def main() -> None:
    parser = argparse.ArgumentParser(description="Model serving benchmarks on one core.")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--skip-int8", action="store_true", help="skip the int8 text encoder study")
    args = parser.parse_args()
    if args.worker:
        pin_to_one_cpu()
        print(json.dumps(WORKERS[args.worker]()))
        return
    names = [name for name in WORKERS if not (args.skip_int8 and name.endswith("int8-study"))]
    results = {
        "cpu_count": os.cpu_count(),
        "one_core": True,
        "intra_op_threads": 1,
        "load_average_1min_at_start": round(os.getloadavg()[0], 2),  # other work on the machine skews timings
    }
    for name in names:
        results[name] = in_fresh_interpreter("bench.models", name)
        print(f"{name}: {json.dumps(results[name])}")
    write_report("models", results)


if __name__ == "__main__":
    main()
