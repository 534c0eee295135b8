"""How large the racing state's DynamoDB items grow, and what one impression and one click cost to write.

DynamoDB bills an UpdateItem by the larger of the item's size before and after (1 write unit per KB), so
the size of the shard item an impression touches is its write cost, and what a hot creative's partition
must absorb. Runs the racer over the MovieLens simulator's traffic (a tuning seed, the light two-day
traffic, five user features per request including one noise feature) and sizes every shard item as
DynamoDB does: attribute name bytes plus number bytes (one per two significant digits, plus one).

    python -m bench.racing_state_size
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

from evaluation import simulator_report
from evaluation.movielens_traffic import QUICK, metrics, run
from evaluation.racer_policy import RacerPolicy

from infra.paths import OUT_DIR

OUT = OUT_DIR / "bench"
SEED = 101  # a tuning seed: benchmarks never look at the evaluation seeds
KEY_BYTES = len("state_id") + 40 + len("shard") + 2 + len("business_line") + 12


def number_bytes(value: float) -> int:
    digits = len(f"{abs(value):.9g}".replace(".", "").replace("-", "").lstrip("0").split("e")[0]) or 1
    return math.ceil(digits / 2) + 1


def item_bytes(item: dict[str, float]) -> int:
    return KEY_BYTES + sum(len(name) + number_bytes(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def main() -> dict:
    simulator_report.prepare()
    traffic = simulator_report.traffic_for(SEED, replace(QUICK, noise_features=1))
    policy = RacerPolicy(seed=SEED)
    result = metrics(run(policy, traffic), traffic)
    items = policy._log.state.items
    sizes = sorted(item_bytes(v) for v in items.values())
    results = {
        "seed": SEED,
        "requests": len(traffic.requests),
        "expected_ctr": round(result["expected_ctr"], 5),
        "shard_items": len(sizes),
        "shard_item_bytes": {"median": sizes[len(sizes) // 2], "max": sizes[-1]},
        "attributes_per_item_max": max(len(v) for v in items.values()),
        # An impression is one UpdateItem on its creative's shard; a click is that write and the
        # impression's mark in a transaction (which bills each item twice).
        "write_units_per_impression": {
            "median": write_units(sizes[len(sizes) // 2]),
            "max": write_units(sizes[-1]),
        },
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "racing_state_size.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
