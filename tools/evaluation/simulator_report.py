"""Run every policy on the same MovieLens traffic and report CTR, regret, first day and propensity coverage.

    python -m evaluation.simulator_report [--quick] [--seeds N] [--jobs 2]
    python -m evaluation.simulator_report --sweep [--quick]     # peers' knobs, on tuning seeds only

Writes out/evaluation/simulator.json (or simulator_sweep.json), simulator_ctr.png and simulator_regret.png.
The racer (`evaluation.racer_policy.RacerPolicy`) is included when that module imports.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import math
import multiprocessing
import sys
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy import stats

from evaluation import click_model, movielens
from evaluation.movielens_traffic import (
    QUICK,
    FeaturesOracle,
    Oracle,
    TrafficConfig,
    build_traffic,
    metrics,
    run,
    traffic_summary,
)
from evaluation.peers import (
    USER_FIELDS,
    ContextFreeThompson,
    MabwiserLinUCB,
    MabwiserThompson,
    Uniform,
    UserOneHot,
    VowpalCbAdf,
)
from infra.paths import OUT_DIR

OUT = OUT_DIR / "evaluation"
EVALUATION_SEEDS = (1, 2, 3, 4, 5)
TUNING_SEEDS = (101, 102)  # the sweep's; never evaluated on
PEERS = ("ts_context_free", "mabwiser_ts", "mabwiser_linucb", "vw_epsilon", "vw_squarecb", "vw_bag")
BASELINES = ("uniform",)
# The oracle knows the true p; oracle_features knows all but the user's individual taste, so it bounds what a
# policy that sees the user's features (every peer, and the racer) can reach.
REFERENCE = ("oracle_features", "oracle")
RACER = "racer"
NOISE_FEATURES = 5  # random user features the ablation adds (TrafficConfig.noise_features)
SWEEP = {
    "mabwiser_linucb": [{"alpha": a} for a in (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)],
    "vw_epsilon": [{"explorer_args": f"--epsilon {e}"} for e in (0.01, 0.05, 0.1)],
    "vw_squarecb": [{"explorer_args": f"--squarecb --gamma_scale {g}"} for g in (1, 10, 100, 1000)],
}
SCALARS = (
    "ctr",
    "expected_ctr",
    "regret",
    "regret_per_1000",
    "first_day_ctr",
    "first_day_expected_ctr",
    "after_drift_expected_ctr",
    "new_creative_share",
    "propensity_logged_share",
    "propensity_min",
    "propensity_p5",
    "candidates_covered_share",
    "ms_per_choose",
)

# Filled before the worker processes fork, so that each inherits the data and the fitted click model.
_DATA: movielens.MovieLens | None = None
_MODEL: click_model.ClickModel | None = None
_TRAFFIC_CACHE: dict[tuple[int, TrafficConfig], object] = {}


def racer_factory():
    """RacerPolicy from evaluation.racer_policy, or None (and why) when it cannot be imported."""
    try:
        module = importlib.import_module("evaluation.racer_policy")
        return module.RacerPolicy, None
    except Exception as error:  # the racer is optional here; say why it is missing
        return None, f"{type(error).__name__}: {error}"


def policy_seed(seed: int, name: str) -> int:
    return int(np.random.SeedSequence([seed, zlib.crc32(name.encode())]).generate_state(1)[0])


def vocabulary(data: movielens.MovieLens) -> dict[str, list[str]]:
    return {name: sorted({str(u.features()[name]) for u in data.users}) for name in USER_FIELDS}


def make_policy(name: str, seed: int, traffic, variant: dict | None = None):
    variant = variant or {}
    own_seed = policy_seed(seed, name)
    if name == "uniform":
        return Uniform(own_seed)
    if name == "ts_context_free":
        return ContextFreeThompson(own_seed)
    if name == "mabwiser_ts":
        return MabwiserThompson(own_seed)
    if name == "mabwiser_linucb":
        return MabwiserLinUCB(own_seed, UserOneHot(vocabulary(_DATA)), **variant)
    if name.startswith("vw_"):
        return VowpalCbAdf(own_seed, name.removeprefix("vw_"), **variant)
    if name == "oracle":
        return Oracle(traffic)
    if name == "oracle_features":
        return FeaturesOracle(traffic)
    if name == RACER:
        factory, _ = racer_factory()
        accepts_seed = "seed" in inspect.signature(factory).parameters
        return factory(seed=own_seed) if accepts_seed else factory()
    raise ValueError(f"unknown policy {name}")


def traffic_for(seed: int, config: TrafficConfig):
    key = (seed, config)
    if key not in _TRAFFIC_CACHE:
        _TRAFFIC_CACHE.clear()  # one seed's traffic at a time per process; it is a few hundred MB at most
        _TRAFFIC_CACHE[key] = build_traffic(_DATA, _MODEL, seed, config)
    return _TRAFFIC_CACHE[key]


def run_one(job: tuple[int, str, TrafficConfig, dict | None]) -> tuple[int, str, dict, dict]:
    seed, name, config, variant = job
    traffic = traffic_for(seed, config)
    policy = make_policy(name, seed, traffic, variant)
    result = metrics(run(policy, traffic), traffic)
    if hasattr(policy, "close"):
        policy.close()
    label = name if not variant else f"{name}[{','.join(f'{k}={v}' for k, v in variant.items())}]"
    return seed, label, result, traffic_summary(traffic)


def run_all(jobs: list, processes: int, worker: Callable = run_one) -> list:
    """`worker` over `jobs` in forked processes (the traffic and the click model are inherited, not pickled)."""
    if processes <= 1:
        return [worker(job) for job in jobs]
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(worker, jobs))


def mean_ci(values: list[float]) -> dict:
    clean = [v for v in values if not math.isnan(v)]
    if not clean:
        return {"mean": None, "ci95": None, "per_seed": values}
    mean = float(np.mean(clean))
    half = (
        float(stats.t.ppf(0.975, len(clean) - 1) * np.std(clean, ddof=1) / math.sqrt(len(clean)))
        if len(clean) > 1
        else None
    )
    return {"mean": mean, "ci95": half, "per_seed": [round(v, 6) for v in values]}


def aggregate(results: list, seeds: tuple[int, ...]) -> dict:
    by_policy: dict[str, dict[int, dict]] = {}
    for seed, label, result, _ in results:
        by_policy.setdefault(label, {})[seed] = result
    summary = {}
    for label, per_seed in by_policy.items():
        ordered = [per_seed[s] for s in seeds]
        summary[label] = {m: mean_ci([r[m] for r in ordered]) for m in SCALARS}
        hours = len(ordered[0]["hourly"]["cumulative_regret"])
        summary[label]["hourly_cumulative_regret_mean"] = [
            round(float(np.mean([r["hourly"]["cumulative_regret"][h] for r in ordered])), 3)
            for h in range(hours)
        ]
    return summary


def paired_lifts(summary: dict, policy: str, reference: str, metric: str) -> dict:
    """Per-seed relative lift of policy over reference on metric (common random numbers make it paired)."""
    ours = summary[policy][metric]["per_seed"]
    theirs = summary[reference][metric]["per_seed"]
    return mean_ci([a / b - 1.0 for a, b in zip(ours, theirs, strict=True)]) | {"reference": reference}


LIFT_METRICS = ("ctr", "first_day_ctr", "expected_ctr", "first_day_expected_ctr")


def best_peer(summary: dict, metric: str) -> str:
    return max((p for p in PEERS if p in summary), key=lambda p: summary[p][metric]["mean"])


def compared(summary: dict, racer_present: bool) -> list[str]:
    """The learning policies the lifts are about: the peers that ran, then the racer if it did."""
    return [*(p for p in PEERS if p in summary), *([RACER] if racer_present else [])]


def lifts(summary: dict, racer_present: bool) -> dict:
    out: dict = {}
    for metric in LIFT_METRICS:
        best = best_peer(summary, metric)
        out[metric] = {"best_peer": best}
        for policy in compared(summary, racer_present):
            out[metric][policy] = {
                "vs_uniform": paired_lifts(summary, policy, "uniform", metric),
                "vs_best_peer": paired_lifts(summary, policy, best, metric) if policy != best else None,
            }
    if racer_present:
        out["racer_targets"] = {
            metric: {
                "vs_best_peer_at_least_10pct": out[metric][RACER]["vs_best_peer"]["mean"] >= 0.10,
                "vs_uniform_at_least_15pct": out[metric][RACER]["vs_uniform"]["mean"] >= 0.15,
            }
            for metric in ("ctr", "first_day_ctr")
        }
    if "oracle_features" in summary:
        out["ceiling"] = ceiling(summary, racer_present)
    return out


def ceiling(summary: dict, racer_present: bool) -> dict:
    """How far the features oracle (the best any policy seeing the user's features can do) is above the best
    peer, and what share of the room between uniform and that ceiling each policy took, per seed."""
    out: dict = {}
    for metric in LIFT_METRICS:
        best = best_peer(summary, metric)
        top = summary["oracle_features"][metric]["per_seed"]
        floor = summary["uniform"][metric]["per_seed"]
        out[metric] = {
            "best_peer": best,
            "oracle_features_vs_best_peer": paired_lifts(summary, "oracle_features", best, metric),
            "share_of_headroom": {
                policy: mean_ci(
                    [
                        (a - u) / (t - u)
                        for a, u, t in zip(summary[policy][metric]["per_seed"], floor, top, strict=True)
                    ]
                )
                for policy in compared(summary, racer_present)
            },
        }
    return out


def noise_ablation(clean: dict, noisy: dict) -> dict:
    """The racer with NOISE_FEATURES random user features added against the racer without, same seeds."""
    out: dict = {"added_features": NOISE_FEATURES}
    for metric in ("ctr", "expected_ctr", "first_day_expected_ctr"):
        with_noise = noisy[RACER][metric]["per_seed"]
        without = clean[RACER][metric]["per_seed"]
        out[metric] = {
            "without": clean[RACER][metric],
            "with_noise": noisy[RACER][metric],
            "relative_change": mean_ci([a / b - 1.0 for a, b in zip(with_noise, without, strict=True)]),
        }
    out["ctr_change_below_2pct"] = abs(out["ctr"]["relative_change"]["mean"]) < 0.02
    return out


def fmt(cell: dict, scale: float = 1.0, digits: int = 2) -> str:
    if cell["mean"] is None:
        return "n/a"
    ci = "" if cell["ci95"] is None else f" ± {cell['ci95'] * scale:.{digits}f}"
    return f"{cell['mean'] * scale:.{digits}f}{ci}"


def table(summary: dict) -> str:
    header = (
        "| policy | CTR % | expected CTR % | regret / 1000 req | first-day CTR % | after-drift exp. CTR % "
        "| new-creative share % | propensity logged % | propensity p5 | candidates covered % | ms / choose |"
    )
    lines = [header, "|" + "---|" * 11]
    for label, s in summary.items():
        lines.append(
            f"| {label} | {fmt(s['ctr'], 100)} | {fmt(s['expected_ctr'], 100)} | {fmt(s['regret_per_1000'])} "
            f"| {fmt(s['first_day_ctr'], 100)} | {fmt(s['after_drift_expected_ctr'], 100)} "
            f"| {fmt(s['new_creative_share'], 100, 1)} | {fmt(s['propensity_logged_share'], 100, 0)} "
            f"| {fmt(s['propensity_p5'], 1, 4)} | {fmt(s['candidates_covered_share'], 100, 0)} "
            f"| {fmt(s['ms_per_choose'], 1, 3)} |"
        )
    return "\n".join(lines)


def plot(summary: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(summary)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    x = np.arange(len(labels))
    for offset, metric, name in ((-0.2, "ctr", "whole run"), (0.2, "first_day_ctr", "first day")):
        means = [summary[p][metric]["mean"] * 100 for p in labels]
        errors = [(summary[p][metric]["ci95"] or 0) * 100 for p in labels]
        ax.bar(x + offset, means, 0.4, yerr=errors, capsize=3, label=name)
    ax.set_xticks(x, labels, rotation=30, ha="right")
    ax.set_ylabel("realised CTR, % (mean ± 95% CI over seeds)")
    ax.set_title("MovieLens simulator: CTR on the same traffic")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "simulator_ctr.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(10, 4.5))
    for label in labels:
        ax.plot(summary[label]["hourly_cumulative_regret_mean"], label=label)
    ax.set_xlabel("hour")
    ax.set_ylabel("cumulative expected regret vs oracle (clicks)")
    ax.set_title("MovieLens simulator: cumulative regret (mean over seeds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "simulator_regret.png", dpi=120)
    plt.close(fig)
    return ["simulator_ctr.png", "simulator_regret.png"]


def prepare() -> None:
    global _DATA, _MODEL
    _DATA = movielens.load()
    _MODEL = click_model.fit(_DATA)


def sweep(config: TrafficConfig, processes: int, out: Path) -> dict:
    jobs = [
        (seed, name, config, variant)
        for name, variants in SWEEP.items()
        for variant in variants
        for seed in TUNING_SEEDS
    ]
    summary = aggregate(run_all(jobs, processes), TUNING_SEEDS)
    report = {
        "seeds": list(TUNING_SEEDS),
        "config": config.__dict__,
        "note": "tuning seeds only; the evaluation uses different seeds. Rule: highest mean expected CTR.",
        "best": {
            name: max(
                (label for label in summary if label.startswith(f"{name}[")),
                key=lambda label: summary[label]["expected_ctr"]["mean"],
            )
            for name in SWEEP
        },
        "results": {
            label: {m: s[m] for m in ("ctr", "expected_ctr", "first_day_expected_ctr")}
            for label, s in summary.items()
        },
    }
    (out / "simulator_sweep.json").write_text(json.dumps(report, indent=2))
    for label, s in summary.items():
        print(
            f"{label:60s} expected CTR {fmt(s['expected_ctr'], 100)} %  first day {fmt(s['first_day_expected_ctr'], 100)} %"
        )
    return report


def evaluate(config: TrafficConfig, seeds: tuple[int, ...], processes: int, out: Path) -> dict:
    factory, why_not = racer_factory()
    names = [*BASELINES, *PEERS, *([RACER] if factory else []), *REFERENCE]
    jobs = [(seed, name, config, None) for seed in seeds for name in names]
    noisy = replace(config, noise_features=NOISE_FEATURES)
    ablation_jobs = [(seed, RACER, noisy, None) for seed in seeds] if factory else []
    started = time.perf_counter()
    every = run_all(jobs + ablation_jobs, processes)
    results, noisy_results = every[: len(jobs)], every[len(jobs) :]
    summary = aggregate(results, seeds)
    traffic = {seed: t for seed, _, _, t in results}
    report = {
        "data": _DATA.source,
        "seeds": list(seeds),
        "config": config.__dict__,
        "click_model": _MODEL.calibration,
        "traffic": [traffic[s] for s in seeds],
        "racer_included": factory is not None,
        "racer_missing_reason": why_not,
        "policies": summary,
        "lifts": lifts(summary, factory is not None),
        "ablation": {"noise_features": noise_ablation(summary, aggregate(noisy_results, seeds))}
        if factory
        else {},
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    (out / "simulator.json").write_text(json.dumps(report, indent=2))
    report["plots"] = plot(summary, out)
    return report


def evaluate_racer_only(config: TrafficConfig, seeds: tuple[int, ...], processes: int, out: Path) -> dict:
    """Re-runs the racer (and its noise ablation) against the peers stored in `simulator.json`: peers take
    most of a full run and do not change when the racer does. Refuses a stored run of other seeds or traffic."""
    stored = json.loads((out / "simulator.json").read_text())
    if stored["seeds"] != list(seeds) or stored["config"] != {**config.__dict__, "noise_features": 0}:
        raise SystemExit("simulator.json holds other seeds or traffic: run the full evaluation")
    noisy = replace(config, noise_features=NOISE_FEATURES)
    started = time.perf_counter()
    every = run_all(
        [(s, RACER, config, None) for s in seeds] + [(s, RACER, noisy, None) for s in seeds], processes
    )
    clean, with_noise = aggregate(every[: len(seeds)], seeds), aggregate(every[len(seeds) :], seeds)
    summary = {**stored["policies"], RACER: clean[RACER]}
    stored |= {
        "racer_included": True,
        "racer_missing_reason": None,
        "policies": summary,
        "lifts": lifts(summary, True),
        "ablation": {"noise_features": noise_ablation(summary, with_noise)},
        "racer_rerun_seconds": round(time.perf_counter() - started, 1),
    }
    (out / "simulator.json").write_text(json.dumps(stored, indent=2))
    stored["plots"] = plot(summary, out)
    return stored


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="2 days of light traffic, 2 seeds (about a minute)"
    )
    parser.add_argument(
        "--seeds", type=int, default=None, help="number of evaluation seeds (default 3, quick 2)"
    )
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--sweep", action="store_true", help="sweep the peers' knobs on the tuning seeds")
    parser.add_argument(
        "--racer-only", action="store_true", help="re-run the racer against the peers in simulator.json"
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    config = QUICK if args.quick else TrafficConfig()
    seeds = EVALUATION_SEEDS[: args.seeds or (2 if args.quick else 3)]
    args.out.mkdir(parents=True, exist_ok=True)
    prepare()
    if args.sweep:
        sweep(config, args.jobs, args.out)
        return 0
    if args.racer_only:
        report = evaluate_racer_only(config, seeds, args.jobs, args.out)
        print(table(report["policies"]))
        return 0
    report = evaluate(config, seeds, args.jobs, args.out)
    if not report["racer_included"]:
        print(f"racer not included: {report['racer_missing_reason']}")
    print(
        f"seeds {list(seeds)}; {report['traffic'][0]['requests']} requests per seed; {report['wall_seconds']} s"
    )
    print(table(report["policies"]))
    print(f"wrote {args.out / 'simulator.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
