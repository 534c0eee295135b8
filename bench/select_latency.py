"""Benchmarks for the select path (targets live here, never in tests).

1. Thompson sampling with Monte Carlo propensity among N candidates, in-process, one core.
2. The select handler end to end in-process against moto (DynamoDB query + transaction + presign).
3. Cold import of the select handler in a fresh interpreter.
Writes out/bench/select_latency.json.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from creative.racing.thompson import ArmState, ThompsonSampler

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "out" / "bench"


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    return {
        "p50_ms": ordered[len(ordered) // 2],
        "p99_ms": ordered[int(len(ordered) * 0.99)],
        "mean_ms": statistics.fmean(ordered),
        "n": len(ordered),
    }


def bench_sampler(candidates: int, draws: int, repeats: int = 2000) -> dict:
    rng = np.random.default_rng(0)
    arms = [ArmState(f"cr_{i}", int(rng.integers(0, 5000)), 0) for i in range(candidates)]
    arms = [ArmState(a.arm_id, a.impressions, int(a.impressions * rng.uniform(0.01, 0.08))) for a in arms]
    sampler = ThompsonSampler(draws=draws)
    for _ in range(50):
        sampler.choose(arms, rng)
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        sampler.choose(arms, rng)
        timings.append((time.perf_counter() - started) * 1000)
    return {"candidates": candidates, "draws": draws, **percentiles(timings)}


def bench_cold_import(runs: int = 5) -> dict:
    """A select cold start without the network: import the handler and build its service (clients)."""
    code = (
        "import os, time, importlib.util; t=time.perf_counter();"
        "os.environ.update(AWS_ACCESS_KEY_ID='t', AWS_SECRET_ACCESS_KEY='t', AWS_DEFAULT_REGION='us-east-1',"
        " CREATIVES_TABLE='c', IMPRESSIONS_TABLE='i');"
        f"s=importlib.util.spec_from_file_location('h', r'{REPO / 'functions' / 'select' / 'handler.py'}');"
        "m=importlib.util.module_from_spec(s); s.loader.exec_module(m);"
        "from creative import wiring; wiring.racing(); print((time.perf_counter()-t)*1000)"
    )
    timings = [float(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in range(runs)]
    return {"runs": runs, "median_ms": statistics.median(timings), "max_ms": max(timings)}


def bench_handler_on_moto(requests: int = 500) -> dict:
    """The whole select handler against moto in-process: moto's overhead dominates, so this is an upper bound."""
    import os

    import boto3
    from creative import wiring
    from creative.adapters.dynamodb import DynamoCreativeRepository
    from moto import mock_aws

    from tests.conftest import load_event, load_handler
    from tests.unit.test_racing import creative

    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        CREATIVES_TABLE="creatives",
        IMPRESSIONS_TABLE="impressions",
    )
    template = json.loads((REPO / "cdk.out" / "CreativeEngine.template.json").read_text())
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] != "AWS::DynamoDB::Table":
                continue
            name = (
                "creatives"
                if "Creatives" in logical_id
                else "impressions"
                if "Impressions" in logical_id
                else None
            )
            if name:
                props = resource["Properties"]
                dynamodb.create_table(
                    TableName=name,
                    **{
                        k: props[k]
                        for k in (
                            "AttributeDefinitions",
                            "KeySchema",
                            "GlobalSecondaryIndexes",
                            "BillingMode",
                        )
                        if k in props
                    },
                )
        DynamoCreativeRepository(dynamodb, "creatives").put_new([creative(i) for i in range(50)])
        wiring.racing.cache_clear()
        handler = load_handler("select")
        event = load_event("api_select.json")

        class Context:
            function_name, memory_limit_in_mb, aws_request_id = "select", 1024, "bench"
            invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:select"

        timings = []
        for _ in range(requests):
            started = time.perf_counter()
            response = handler.lambda_handler(event, Context())
            timings.append((time.perf_counter() - started) * 1000)
            assert response["statusCode"] == 200, response
    return {"candidates": 50, **percentiles(timings[20:])}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    results = {
        "sampler": [bench_sampler(n, d) for n, d in ((10, 1000), (100, 1000), (100, 200))],
        "select_cold_import": bench_cold_import(),
        "select_handler_on_moto": bench_handler_on_moto(),
    }
    (OUT / "select_latency.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
