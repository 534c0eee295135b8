"""The pretrained LM's serving figures as `generate_copy` runs it: onnxruntime-genai on one core
(`Generator.load(..., threads=1)`), the few-shot prompts of the comparison, tokens per second while decoding
(prefill apart) and the cold start (model loaded from local disk + the first answer; the Lambda's fetch of
the model from S3 to /tmp comes on top)."""

from __future__ import annotations

import time

from generators.sampling import LM_OPTIONS, lm_directory


def measure(prompts: list[list[dict[str, str]]], temperature: float) -> dict:
    from creative.inference.generator import Generator

    directory = lm_directory()
    started = time.perf_counter()
    model = Generator.load(directory, threads=1)
    first = model.generate(prompts[0], temperature=temperature, seed=0, **LM_OPTIONS)
    cold = time.perf_counter() - started
    tokens, decode_ms, prefill_ms = 0, 0.0, 0.0
    for i, messages in enumerate(prompts[1:], start=1):
        result = model.generate(messages, temperature=temperature, seed=i, **LM_OPTIONS)
        tokens += len(result.token_ids)
        decode_ms += result.decode_ms
        prefill_ms += result.prefill_ms
    return {
        "tokens_per_s": round(tokens / (decode_ms / 1000), 1) if decode_ms else None,
        "token_unit": "SmolLM2 token (decoding; prefill apart)",
        "cold_start_s": round(cold, 3),
        "artifact_mb": round(sum(p.stat().st_size for p in directory.iterdir() if p.is_file()) / 1e6, 1),
        "load_s": round(model.load_seconds, 3),
        "first_answer_tokens": len(first.token_ids),
        "prefill_ms_mean": round(prefill_ms / max(1, len(prompts) - 1), 1),
        "artifact": f"build/models/generator/{directory.name}",
    }
