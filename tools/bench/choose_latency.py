"""Per-decision time among 100 candidates, in-process, warm, on one core: the racer beside Vowpal Wabbit.

1. `creative.racing.racer.ContextualRacer.choose(mean, variance, rng)` with numpy
   arrays of length 100 (when that module exists). Target: p50 <= 0.3 ms, p99 <= 1 ms.
2. Vowpal Wabbit `--cb_explore_adf --squarecb -q UA` with 100 actions, after it has learned 5000 labelled
   decisions: `predict` alone on a prepared example, and a whole decision (build the text example,
   predict, sample from the pmf).
Writes out/bench/choose.json.
"""

from __future__ import annotations

import importlib
import json
import os
import statistics
import time

import numpy as np

from bench.measure import machine_reference
from infra.paths import OUT_DIR

OUT = OUT_DIR / "bench"
CANDIDATES = 100
STATES = 64  # distinct warm states cycled through, so no call sees exactly the previous call's input
TARGET_P50_MS = 0.3
TARGET_P99_MS = 1.0


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    return {
        "p50_ms": round(ordered[len(ordered) // 2], 4),
        "p99_ms": round(ordered[int(len(ordered) * 0.99)], 4),
        "mean_ms": round(statistics.fmean(ordered), 4),
        "n": len(ordered),
    }


def timed(call, repeats: int, warmup: int = 200) -> list[float]:
    for i in range(warmup):
        call(i)
    samples = []
    for i in range(repeats):
        started = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def racer_states(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Warm posteriors on the log-odds: CTRs of a few percent, narrow where evidence is plentiful, wide for
    the one in ten that are new."""
    states = []
    for _ in range(STATES):
        mean = np.log(rng.uniform(0.005, 0.08, CANDIDATES))
        variance = 1.0 / rng.uniform(10.0, 2000.0, CANDIDATES)
        variance[rng.random(CANDIDATES) < 0.1] = 0.5  # cold-start creatives
        states.append((mean, variance))
    return states


def bench_racer(repeats: int) -> dict:
    try:
        contextual = importlib.import_module("creative.racing.racer")
        racer = contextual.ContextualRacer()
    except (ImportError, AttributeError) as missing:
        return {"available": False, "reason": f"{type(missing).__name__}: {missing}"}
    rng = np.random.default_rng(0)
    states = racer_states(rng)

    def choose(i: int) -> None:
        mean, variance = states[i % STATES]
        racer.choose(mean, variance, rng)

    result = percentiles(timed(choose, repeats))
    return {
        "available": True,
        "call": "ContextualRacer().choose(mean, variance, rng), default RacerConfig",
        "candidates": CANDIDATES,
        **result,
        "target_p50_ms": TARGET_P50_MS,
        "target_p99_ms": TARGET_P99_MS,
        "meets_target": result["p50_ms"] <= TARGET_P50_MS and result["p99_ms"] <= TARGET_P99_MS,
    }


def vw_examples(rng: np.random.Generator) -> tuple[list[str], list[list[str]]]:
    actions = [
        f"|A id=cr_{a} category=c{a % 12} tag=t{a % 7} tag=t{(a * 3) % 11} tag=decade_{1950 + 10 * (a % 5)}s"
        for a in range(CANDIDATES)
    ]
    users = [
        f"shared |U age_bucket=a{rng.integers(7)} gender=g{rng.integers(2)} occupation=o{rng.integers(21)}"
        for _ in range(STATES)
    ]
    return actions, [[user, *actions] for user in users]


def bench_vw(repeats: int) -> dict:
    from vowpalwabbit import Workspace

    rng = np.random.default_rng(0)
    args = "--cb_explore_adf --squarecb -q UA --quiet --random_seed 0"
    vw = Workspace(args)
    actions, examples = vw_examples(rng)
    for i in range(5000):  # warm: a learned model, not an empty one
        lines = list(examples[i % STATES])
        chosen = int(rng.integers(CANDIDATES))
        lines[chosen + 1] = f"0:{-float(rng.random() < 0.03)}:{1 / CANDIDATES} {lines[chosen + 1]}"
        vw.learn(lines)

    def predict(i: int) -> None:
        vw.predict(examples[i % STATES])

    def decide(i: int) -> None:
        user = examples[i % STATES][0]
        pmf = np.asarray(vw.predict([user, *actions]), dtype=float)
        rng.choice(CANDIDATES, p=pmf / pmf.sum())

    out = {
        "available": True,
        "args": args,
        "candidates": CANDIDATES,
        "predict_only": percentiles(timed(predict, repeats)),
        "decision": percentiles(timed(decide, repeats)),
    }
    vw.finish()
    return out


def main(repeats: int = 5000) -> dict:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    report = {
        "racer": bench_racer(repeats),
        "vowpal_wabbit": bench_vw(repeats),
        "cores": 1,
        # Other processes on the machine inflate the tail; the load average says how busy it was.
        "load_average_1m": round(os.getloadavg()[0], 2),
        "machine_reference": machine_reference(),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "choose.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
