"""`make evaluate`: the Open Bandit Dataset evaluation, then the MovieLens simulator when it is present."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path

from creative_eval import obd

SIMULATOR_MODULE = "creative_eval.simulate"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small samples and few resamples: a smoke test")
    parser.add_argument("--out-dir", type=Path, default=Path("out/evaluation"))
    args = parser.parse_args(argv)
    quick = ["--quick"] if args.quick else []
    obd.main(["--out-dir", str(args.out_dir), *quick])
    if importlib.util.find_spec(SIMULATOR_MODULE) is None:
        print(f"evaluate: {SIMULATOR_MODULE} is not there yet; skipped the MovieLens simulator")
    else:
        importlib.import_module(SIMULATOR_MODULE).main(["--out", str(args.out_dir), *quick])
    outputs = sorted(str(path) for path in args.out_dir.glob("*") if path.suffix in (".json", ".png"))
    print("evaluate: outputs\n  " + "\n  ".join(outputs))


if __name__ == "__main__":
    main()
