"""Benchmark of the ad-copy generator on one core (targets live here, never in tests).

`python -m bench.generator` runs in a fresh interpreter pinned to one CPU, onnxruntime-genai on one
intra-op thread, and reports:
- cold start: copy + sha256-verify the artifact into an empty cache (the Lambda fetches it from the assets
  bucket to /tmp instead), import, model load, first generation;
- decode speed in tokens/s (target ≥ 50) and prompt prefill time, greedy and sampled, over the build's
  reference chats with 64 new tokens each (loop guard off, so every call decodes the same amount);
- peak RSS of that interpreter.
Writes out/bench/generator.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from bench.measure import cold_start, in_fresh_interpreter, peak_rss_mb, pin_to_one_cpu, write_report
from infra.paths import MODELS_BUILD_DIR

TARGET_TOKENS_PER_S = 50
NEW_TOKENS = 64
ROUNDS = 3


def decode_speed(generator, chats: list, **settings) -> dict:
    from creative.inference.generator import NO_LOOP_GUARD

    tokens, decode_s, prefill_ms = 0, 0.0, []
    for _ in range(ROUNDS):
        for chat in chats:
            generation = generator.generate(chat, max_tokens=NEW_TOKENS, loop_guard=NO_LOOP_GUARD, **settings)
            tokens += len(generation.token_ids)
            decode_s += generation.decode_ms / 1000
            prefill_ms.append(generation.prefill_ms)
    return {
        "tokens": tokens,
        "tokens_per_s": round(tokens / decode_s, 1),
        "prefill_ms_median": round(statistics.median(prefill_ms), 1),
    }


def bench() -> dict:
    result, model_dir = cold_start("generator")
    fetched = time.perf_counter()
    from creative.inference.generator import Generator

    imported = time.perf_counter()
    generator = Generator.load(model_dir, threads=1)
    loaded = time.perf_counter()
    reference = json.loads((MODELS_BUILD_DIR / result["artifact"] / "reference.json").read_text())
    chats = [case["messages"] for case in reference["cases"]]
    generator.generate(chats[0], max_tokens=16)
    first = time.perf_counter()
    greedy = decode_speed(generator, chats)
    sampled = decode_speed(generator, chats, temperature=0.8, top_p=0.95, top_k=50, seed=1)
    return result | {
        "import_s": round(imported - fetched, 3),
        "load_s": round(loaded - imported, 3),
        "first_generation_16_tokens_s": round(first - loaded, 3),
        "greedy": greedy,
        "sampled": sampled,
        "target_tokens_per_s": TARGET_TOKENS_PER_S,
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Generator benchmark on one core.")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        pin_to_one_cpu()
        print(json.dumps(bench()))
        return
    # A fresh interpreter, so the load is cold and the peak RSS is the generator's own.
    result = {"cpu_count": os.cpu_count(), "one_core": True, "intra_op_threads": 1}
    result |= in_fresh_interpreter("bench.generator")
    print(json.dumps(result, indent=2))
    write_report("generator", result)


if __name__ == "__main__":
    main()
