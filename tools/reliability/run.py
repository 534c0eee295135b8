"""`make reliability`: fuzzing, load and faults on one local runtime; writes out/reliability/report.json.

    python -m reliability.run                 # the full run (the counts the issue asks for)
    python -m reliability.run --quick         # the counts tests/e2e/test_reliability.py uses

The report holds exactly the figures the issue names; details.json beside it holds the breakdown (requests
per route, faults per error code, the first failures verbatim, seconds per phase). The exit status is 1
when an invariant fails: a 5xx, a schema violation, an event lost, a count that differs from what was sent.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from infra.paths import REPO_ROOT
from reliability.faults import lost_answers, storm
from reliability.fuzz import fuzz
from reliability.load import race
from reliability.stack import running_stack, seed_one_creative

OUT_DIR = REPO_ROOT / "out" / "reliability"
LINE = "reliability"
# Past select's read timeout (1 s, creative.wiring.API_CLIENT): the caller gives up on a write that landed.
LATE_ANSWER_S = 1.5


@dataclasses.dataclass(frozen=True)
class Sizes:
    fuzz_examples: int  # per route and method, in each of schemathesis's two modes
    selects: int
    clicks: int
    fault_uploads: int
    doomed_uploads: int
    fault_probability: float
    late_answer_selects: int  # selects while 30% of their writes' answers come back too late


FULL = Sizes(
    fuzz_examples=300,
    selects=5000,
    clicks=1000,
    fault_uploads=40,
    doomed_uploads=5,
    fault_probability=0.3,
    late_answer_selects=100,
)
QUICK = Sizes(
    fuzz_examples=10,
    selects=200,
    clicks=100,
    fault_uploads=6,
    doomed_uploads=1,
    fault_probability=0.3,
    late_answer_selects=20,
)


def measure(sizes: Sizes, out_dir: Path) -> tuple[dict, dict]:
    log_dir = out_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    for old in log_dir.glob("*.log"):
        old.unlink()
    with running_stack(log_dir=log_dir) as runtime:
        return measure_on(runtime, sizes, log_dir)


def measure_on(runtime, sizes: Sizes, log_dir: Path) -> tuple[dict, dict]:
    """The figures, on a started runtime whose function logs go to `log_dir`."""
    seconds: dict[str, float] = {}
    started = time.monotonic()
    line = seed_one_creative(runtime, LINE)
    seconds["seed"] = _lap(started)
    load = race(runtime, line, selects=sizes.selects, clicks=sizes.clicks)
    seconds["load"] = _lap(started, seconds)
    faults = storm(
        runtime,
        count=sizes.fault_uploads,
        doomed=sizes.doomed_uploads,
        probability=sizes.fault_probability,
        log_dir=log_dir,
    )
    late = lost_answers(
        runtime, line, selects=sizes.late_answer_selects, probability=0.3, late_answer_s=LATE_ANSWER_S
    )
    seconds["faults"] = _lap(started, seconds)
    # Last: fuzzing writes whatever the schema allows (policies, objectives, decisions).
    fuzzed = fuzz(runtime, examples_per_operation=sizes.fuzz_examples)
    seconds["fuzz"] = _lap(started, seconds)
    report = {
        "fuzz_requests": fuzzed.requests,
        "fuzz_5xx": fuzzed.server_errors,
        "schema_violations": fuzzed.schema_violations,
        "concurrent_feedback_sent": load.concurrent_feedback_sent,
        "concurrent_feedback_counted": load.concurrent_feedback_counted,
        "selects_sent": load.selects_sent,
        "impressions_counted": load.impressions_counted,
        "faults_injected": faults.faults_injected,
        "events_lost": faults.events_lost,
        "dead_lettered_then_redriven": faults.dead_lettered_then_redriven,
    }
    details = {
        "sizes": dataclasses.asdict(sizes),
        "seconds": seconds,
        "fuzz": {"per_operation": fuzzed.per_operation, "failures": fuzzed.samples},
        "load": dataclasses.asdict(load),
        "faults": dataclasses.asdict(faults),
        "late_answers": dataclasses.asdict(late),
    }
    return report, details


def violations(report: dict, details: dict) -> list[str]:
    found = [
        f"{key} = {report[key]}" for key in ("fuzz_5xx", "schema_violations", "events_lost") if report[key]
    ]
    if report["concurrent_feedback_counted"] != report["concurrent_feedback_sent"]:
        found.append("clicks counted differ from clicks sent")
    if report["impressions_counted"] != report["selects_sent"]:
        found.append("impressions counted differ from selects sent")
    if details["load"]["counted_true"] > report["concurrent_feedback_sent"]:
        found.append("a duplicate click was answered counted")
    if details["load"]["impressions_logged"] != report["impressions_counted"]:
        found.append("impressions counted differ from impressions logged")
    found += _late_answer_violations(details["late_answers"])
    faults = details["faults"]
    if faults["dead_lettered"] < details["sizes"]["doomed_uploads"]:
        found.append("a doomed upload was not dead-lettered")
    if faults["dead_lettered_then_redriven"] != faults["dead_lettered"]:
        found.append("a dead-lettered upload was not processed after its redrive")
    if faults["doomed_logged"] != details["sizes"]["doomed_uploads"]:
        found.append("a dead-lettered upload has no log line naming it")
    return found


def _late_answer_violations(late: dict) -> list[str]:
    found = []
    if (
        late["impressions_counted"] != late["impressions_logged"]
        or late["selects_answered"] > late["impressions_logged"]
    ):
        found.append("a select whose answer came late was counted twice or not logged")
    # Not vacuous: answers must have come late, and the selects behind them must have landed
    if late["late_answers"] == 0:
        found.append("no select answer came late: the late-answer check tested nothing")
    if late["impressions_logged"] == 0 or late["selects_answered"] == 0:
        found.append("no select of the late-answer run was answered and logged")
    return found


def _lap(started: float, previous: dict[str, float] | None = None) -> float:
    return round(time.monotonic() - started - sum((previous or {}).values()), 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="the small counts make test uses")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    report, details = measure(QUICK if args.quick else FULL, args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "details.json").write_text(json.dumps(details, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    problems = violations(report, details)
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
