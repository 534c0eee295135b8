"""Numbers in the online learner: bins on a log scale against a key per value (docs/decisions.md, 12-02).

Synthetic worlds, each a line of four creatives and one user feature that decides which suits whom, served
by the select and feedback services (in-memory storage, immediate feedback, no model), paired per seed:

- `age_int`: the user's age in years, 18-75, sent as an integer; creative k's log-odds peak at an age of
  its own (18, 37, 56, 75) and fall linearly away from it, 3% at the line's middle;
- `age_float`: the same, the age sent as a float with a random fraction;
- `city_code`: 50 cities sent as integer codes (1000, 1037, ...), each with one favourite creative (odds
  2.7 times the others'): a number that is a code, where a bin says nothing.

Each world also sends a `device` feature that says nothing. Variants of how a request's features become
the learner's terms:

- `bins` (the product's `learner.user_terms`): a float brings its bin, an integer its value and, from 10
  on, its bin;
- `values` (before 12-02): every number its value, a float at three significant digits;
- `bins_only`: every number its bin alone.

`python -m evaluation.numeric_features [--seeds 30] [--requests 3000] [--jobs 2]` writes
`out/evaluation/numeric_features.json`: expected CTR (mean true p of what was shown) per world and variant
over the first 1,000, the last 1,000 and all requests, uniform's and the oracle's, and each variant's paired lift over
`values` (mean and 95% t-interval over seeds).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from creative.clock import iso
from creative.creatives import Creative
from creative.racing import service as racing_service
from creative.racing.active_model import ActiveModel
from creative.racing.learner import number_bin, user_terms
from creative.racing.racer import ContextualRacer
from creative.racing.schemas import FeedbackRequest, SelectRequest, UserContext
from creative.racing.service import FeedbackService, RacingService
from in_memory.adapters import (
    InMemoryCreativeRepository,
    InMemoryImpressionLog,
    InMemoryModelRegistry,
    InMemoryObjectStore,
    InMemoryRacingState,
)

from evaluation import simulator_report as report

WORLDS = ("age_int", "age_float", "city_code")
CREATIVES = 4
LINE = "numbers"
START = datetime(2026, 12, 1, tzinfo=UTC)
BASE = float(np.log(0.03 / 0.97))


def value_terms(user: Mapping[str, object], max_terms: int) -> list[str]:
    """The learner's terms before numbers had bins: "name=value", a float at three significant digits."""
    terms = []
    for name in sorted(user)[:max_terms]:
        value = user[name]
        if isinstance(value, float):
            value = f"{value:.3g}"
        terms.append(f"{name}={str(value).lower() if isinstance(value, bool) else value}"[:128])
    return terms


def bin_only_terms(user: Mapping[str, object], max_terms: int) -> list[str]:
    """Every number its bin alone."""
    terms = []
    for name in sorted(user)[:max_terms]:
        value = user[name]
        if isinstance(value, int | float) and not isinstance(value, bool):
            terms.append(f"{name}~{number_bin(value)}")
        else:
            terms.extend(user_terms({name: value}, 1))
    return terms


VARIANTS = {"bins": user_terms, "values": value_terms, "bins_only": bin_only_terms}


def request_of(world: str, rng: np.random.Generator) -> tuple[dict, np.ndarray]:
    """One user's features and the true click log-odds of each creative for them."""
    if world == "city_code":
        city = int(rng.integers(50))
        logits = BASE + np.where(np.arange(CREATIVES) == (city * 7919) % CREATIVES, 1.0, -0.3)
        features: dict = {"city": 1000 + 37 * city}
    else:
        age = int(rng.integers(18, 76))
        where = (age - 18) / 57
        logits = BASE + 1.2 - 4.0 * np.abs(where - np.linspace(0.0, 1.0, CREATIVES))
        features = {"age": age if world == "age_int" else age + float(rng.random())}
    features["device"] = str(rng.choice(["ios", "android", "web"]))
    return features, logits


def _creative(k: int) -> Creative:
    return Creative(
        creative_id=f"cr_{k}",
        business_line=LINE,
        category="numbers",
        image_material_id=f"img_{k}",
        copy_material_id=f"copy_{k}",
        image_bucket="simulated",
        image_key=f"uploads/{LINE}/{k}.png",
        headline=f"creative {k}",
        created_at=iso(START),
        updated_at=iso(START),
    )


def run_one(job: tuple[int, str, str, int]) -> tuple[int, str, str, list[float]]:
    """Per request, the true click probability of the creative shown."""
    seed, world, variant, requests = job
    creatives = InMemoryCreativeRepository()
    creatives.put_new([_creative(k) for k in range(CREATIVES)])
    state = InMemoryRacingState()
    log = InMemoryImpressionLog(creatives, state)
    racing = RacingService(
        creatives,
        state,
        log,
        InMemoryObjectStore(),
        ActiveModel(InMemoryModelRegistry(), refresh_s=0),
        ContextualRacer(),
        np.random.default_rng(report.policy_seed(seed, "racer")),
        cache_ttl_s=0.0,
    )
    feedback = FeedbackService(log)
    rng = np.random.default_rng(seed)  # the users: the same stream for every variant and for `references`
    clicks = np.random.default_rng([seed, 1])
    shown = []
    racing_service.user_terms = VARIANTS[variant]  # this worker's select makes its terms this way
    try:
        for i in range(requests):
            features, logits = request_of(world, rng)
            at = START + timedelta(seconds=30 * i)
            response = racing.select(
                SelectRequest(
                    business_line=LINE,
                    placement="feed",
                    user=UserContext(id=f"u{i}", features=features),
                ),
                at,
            )
            p = 1.0 / (1.0 + np.exp(-logits[int(response.creative.creative_id.removeprefix("cr_"))]))
            shown.append(float(p))
            if clicks.random() < p:
                feedback.record(FeedbackRequest(impression_id=response.impression_id, event="click"), at)
    finally:
        racing_service.user_terms = user_terms
    return seed, world, variant, shown


def references(world: str, seed: int, requests: int) -> dict[str, float]:
    """Uniform's and the oracle's expected CTR on the same users."""
    rng = np.random.default_rng(seed)
    p = np.array([1.0 / (1.0 + np.exp(-request_of(world, rng)[1])) for _ in range(requests)])
    return {"uniform": float(p.mean()), "oracle": float(p.max(axis=1).mean())}


def summarise(results: list, seeds: list[int], requests: int) -> dict:
    by = {(seed, world, variant): np.array(shown) for seed, world, variant, shown in results}
    horizons = {"first_1000": slice(0, 1000), "last_1000": slice(-1000, None), "all": slice(None)}
    out: dict = {}
    for world in WORLDS:
        refs = [references(world, s, requests) for s in seeds]
        cells: dict = {
            "expected_ctr": {
                variant: {
                    name: report.mean_ci([float(by[s, world, variant][h].mean()) for s in seeds])
                    for name, h in horizons.items()
                }
                for variant in VARIANTS
            },
            "uniform": report.mean_ci([r["uniform"] for r in refs]),
            "oracle": report.mean_ci([r["oracle"] for r in refs]),
        }
        cells["lift_over_values"] = {
            variant: {
                name: report.mean_ci(
                    [by[s, world, variant][h].mean() / by[s, world, "values"][h].mean() - 1.0 for s in seeds]
                )
                for name, h in horizons.items()
            }
            for variant in VARIANTS
            if variant != "values"
        }
        out[world] = cells
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=report.OUT)
    args = parser.parse_args(argv)
    seeds = list(range(1, args.seeds + 1))
    jobs = [(s, w, v, args.requests) for s in seeds for w in WORLDS for v in VARIANTS]
    started = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(run_one, jobs))
    out = {
        "seeds": seeds,
        "requests": args.requests,
        "worlds": summarise(results, seeds, args.requests),
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "numeric_features.json").write_text(json.dumps(out, indent=2))
    for world, cells in out["worlds"].items():
        for variant, lift in cells["lift_over_values"].items():
            print(
                world,
                variant,
                "vs values:",
                {h: f"{100 * c['mean']:+.1f}% ± {100 * c['ci95']:.1f}" for h, c in lift.items()},
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
