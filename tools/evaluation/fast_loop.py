"""Short horizon, immediate feedback: the racer and its peers over the first requests of the MovieLens
simulator's traffic, each outcome fed back before the next choice and no retraining, as a client loop over
the HTTP API would run them (issue 11: "from the first thousand requests").

`python -m evaluation.fast_loop [--seeds 20] [--requests 3000] [--jobs 2]` writes
`out/evaluation/fast_loop.json`: per policy, the expected CTR (mean true p of what was shown) over the first
500, 1,000 and all requests, mean and 95% t-interval over seeds; the racer's paired lifts over each peer;
and the noise ablation (`noise_ablation`): the racer again with the simulator's five random user features
added, its expected CTR and its relative change, paired per seed.
Seeds 1..n are evaluation seeds (the racer's knobs were chosen on tuning seeds 101-104, checked on 201-280).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from evaluation import simulator_report as report
from evaluation.movielens_traffic import TrafficConfig, run_immediate

POLICIES = (
    "uniform",
    "ts_context_free",
    "mabwiser_linucb",
    "vw_squarecb",
    "vw_bag",
    "racer",
    "oracle_features",
)
# The racer on the same traffic with `report.NOISE_FEATURES` random user features added (the ablation).
NOISY_RACER = "racer+noise"
HORIZONS = (500, 1000)
# One day of the simulator's traffic holds about 9,600 requests; the loop takes the first ones.
CONFIG = replace(TrafficConfig(), days=1)


def run_one(job: tuple[int, str, int]) -> tuple[int, str, dict[str, float]]:
    seed, name, requests = job
    noisy = name == NOISY_RACER
    traffic = report.traffic_for(
        seed, replace(CONFIG, noise_features=report.NOISE_FEATURES) if noisy else CONFIG
    )
    policy = report.make_policy("racer" if noisy else name, seed, traffic)
    shown = run_immediate(policy, traffic, requests)
    if hasattr(policy, "close"):
        policy.close()
    return seed, name, {str(h): float(shown[:h].mean()) for h in horizons(requests)}


def horizons(requests: int) -> list[int]:
    """The horizons reported: those of `HORIZONS` shorter than the run, and the whole run."""
    return [h for h in HORIZONS if h < requests] + [requests]


def summarise(results: list, seeds: list[int], policies: list[str], requests: int) -> dict:
    by = {(seed, name): values for seed, name, values in results}
    reported = [str(h) for h in horizons(requests)]
    summary = {
        name: {h: report.mean_ci([by[s, name][h] for s in seeds]) for h in reported} for name in policies
    }
    lifts = {}
    if "racer" in policies:
        for peer in policies:
            if peer in ("racer", "oracle_features"):
                continue
            lifts[peer] = {
                h: report.mean_ci([by[s, "racer"][h] / by[s, peer][h] - 1.0 for s in seeds]) for h in reported
            }
    out = {"expected_ctr": summary, "racer_lift": lifts}
    if "racer" in policies and all((s, NOISY_RACER) in by for s in seeds):
        out["noise_ablation"] = {
            "added_features": report.NOISE_FEATURES,
            "with_noise": {h: report.mean_ci([by[s, NOISY_RACER][h] for s in seeds]) for h in reported},
            "relative_change": {
                h: report.mean_ci([by[s, NOISY_RACER][h] / by[s, "racer"][h] - 1.0 for s in seeds])
                for h in reported
            },
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=report.OUT)
    args = parser.parse_args(argv)
    report.prepare()
    factory, missing = report.racer_factory()
    policies = [p for p in POLICIES if p != "racer" or factory is not None]
    seeds = list(range(1, args.seeds + 1))
    # The ablation's runs are jobs, not a policy of the table: each seed's noisy racer after its others.
    ablation = [NOISY_RACER] if factory is not None else []
    jobs = [(s, name, args.requests) for s in seeds for name in policies + ablation]
    started = time.perf_counter()
    results = report.run_all(jobs, args.jobs, worker=run_one)
    out = {
        "requests": args.requests,
        "seeds": seeds,
        "racer_missing_reason": missing,
        **summarise(results, seeds, policies, args.requests),
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fast_loop.json").write_text(json.dumps(out, indent=2))
    for name, cells in out["expected_ctr"].items():
        print(name, {h: f"{100 * c['mean']:.2f} ± {100 * c['ci95']:.2f}" for h, c in cells.items()})
    for peer, cells in out["racer_lift"].items():
        print(
            "racer vs",
            peer,
            {h: f"{100 * c['mean']:+.1f}% ± {100 * c['ci95']:.1f}" for h, c in cells.items()},
        )
    if "noise_ablation" in out:
        changes = out["noise_ablation"]["relative_change"]
        print(
            "racer with noise features",
            {h: f"{100 * c['mean']:+.1f}% ± {100 * c['ci95']:.1f}" for h, c in changes.items()},
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
