"""What every model benchmark measures the same way: timings, percentiles, peak RSS, a cold start from an
empty cache, and a fresh interpreter pinned to one CPU per measurement."""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from infra.paths import MODELS_BUILD_DIR, OUT_DIR, REPO_ROOT

OUT = OUT_DIR / "bench"


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ordered = sorted(samples_s)
    return {
        "p50_ms": round(ordered[len(ordered) // 2] * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 2),
        "min_ms": round(ordered[0] * 1000, 2),  # the least disturbed run, when the machine is shared
        "n": len(ordered),
    }


def timed(call: Callable[[], object], repeats: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux reports KiB


def cold_start(name: str) -> tuple[dict, Path]:
    """Fetch into an empty cache as a Lambda cold start does (copy instead of S3 GET), then load."""
    started = time.perf_counter()
    from creative.inference.artifacts import Manifest, ModelFiles, fetch_from_directory

    artifact = Manifest.read(MODELS_BUILD_DIR / "manifest.json").get(name)
    cache = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    fetch_started = time.perf_counter()
    model_dir = ModelFiles(artifact, cache, fetch_from_directory(MODELS_BUILD_DIR)).materialise()
    fetched = time.perf_counter()
    ModelFiles(artifact, cache, fetch_from_directory(MODELS_BUILD_DIR)).materialise()  # warm /tmp: hash only
    verified = time.perf_counter()
    return {
        "artifact": artifact.prefix,
        "artifact_mb": round(artifact.total_bytes / 1e6, 1),
        "fetch_and_verify_s": round(fetched - fetch_started, 3),
        "verify_cached_s": round(verified - fetched, 3),
        "manifest_import_s": round(fetch_started - started, 3),
    }, model_dir


# A fixed pure-Python workload and a bare interpreter start: the same code's timings moved 2-4x between days
# on these shared machines, so each report carries the machine's own speed beside its figures.
REFERENCE_LOOP = 1_000_000


def machine_reference(runs: int = 5) -> dict[str, float]:
    """Medians of `runs`: a loop of REFERENCE_LOOP additions in this process, and `python -I -S -c pass`
    in a fresh one. Divide a figure by them to compare readings of different days."""

    def loop() -> None:
        total = 0
        for i in range(REFERENCE_LOOP):
            total += i

    def start() -> None:
        subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], check=True)

    return {
        "python_loop_1e6_ms": round(statistics.median(timed(loop, runs, warmup=1)) * 1000, 1),
        "interpreter_start_ms": round(statistics.median(timed(start, runs, warmup=1)) * 1000, 1),
    }


def in_fresh_interpreter(module: str, *args: str) -> dict:
    """Runs `python -m <module> --worker <args>` pinned to one CPU (the worker pins itself) and returns the
    JSON it prints last: load times are cold and the peak RSS is the worker's own."""
    completed = subprocess.run(
        [sys.executable, "-m", module, "--worker", *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def one_core_main(
    argv: list[str] | None, module: str, name: str, bench: Callable[[], dict], description: str, **facts
) -> dict:
    """The entry point of a one-core benchmark: as `--worker` (in a fresh interpreter pinned to one CPU)
    it runs `bench` and prints its JSON; otherwise it starts that worker, adds the machine's facts and writes
    out/bench/<name>.json."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    if parser.parse_args(argv).worker:
        pin_to_one_cpu()
        print(json.dumps(bench()))
        return {}
    result = {
        "cpu_count": os.cpu_count(),
        "one_core": True,
        **facts,
        "load_average_1min_at_start": round(os.getloadavg()[0], 2),  # other work on the machine skews timings
        "machine_reference": machine_reference(),
    }
    result |= in_fresh_interpreter(module)
    print(json.dumps(result, indent=2))
    write_report(name, result)
    return result


def pin_to_one_cpu() -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def write_report(name: str, result: dict) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    return path
