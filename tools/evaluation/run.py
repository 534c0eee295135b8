"""`make evaluate`: the Open Bandit Dataset evaluation, the MovieLens simulator and its short-horizon loop
with immediate feedback, numbers in the online learner (synthetic worlds), the tagging report (whose regime
comparison `make evaluate` runs first, in the models venv), the quality report and element-level against
per-combination racing.

Each runs in its own interpreter: the OBD run trains LightGBM models (OpenMP threads), and a process that
has started OpenMP threads must not fork the simulator's workers (libgomp deadlocks in the children).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


def _run(module: str, *args: str) -> None:
    subprocess.run([sys.executable, "-m", module, *args], check=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small samples and few resamples: a smoke test")
    parser.add_argument("--out-dir", type=Path, default=Path("out/evaluation"))
    args = parser.parse_args(argv)
    quick = ["--quick"] if args.quick else []
    _run("evaluation.obd", "--out-dir", str(args.out_dir), *quick)
    _run("evaluation.simulator_report", "--out", str(args.out_dir), *quick)
    _run(
        "evaluation.fast_loop",
        "--out",
        str(args.out_dir),
        *(["--seeds", "2", "--requests", "300"] if args.quick else []),
    )
    _run(
        "evaluation.numeric_features",
        "--out",
        str(args.out_dir),
        *(["--seeds", "2", "--requests", "300"] if args.quick else []),
    )
    _run("evaluation.tagging_report", *quick)
    _run("evaluation.quality_report")
    _run(
        "evaluation.element_report",
        *(["--seeds", "11", "--days", "1", "--per-day", "500"] if args.quick else []),
    )
    outputs = sorted(str(path) for path in args.out_dir.glob("*") if path.suffix in (".json", ".png"))
    print("evaluate: outputs\n  " + "\n  ".join(outputs))


if __name__ == "__main__":
    main()
