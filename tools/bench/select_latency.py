"""Benchmarks for the select path (targets live here, never in tests).

1. The racer's `choose` among N candidates (quadrature Thompson probabilities, exact propensity), with
   the ONNX CTR model scoring the candidates first, and the whole select service with its caches warm
   (model, online learner, choice, impression); in-process, one core.
2. The select handler end to end in-process against moto (DynamoDB query + writes + presign).
3. Cold import of the select handler in a fresh interpreter (from bytecode, as the layers deploy it, and from
   source), and the first ONNX model load.
Writes out/bench/select_latency.json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from creative.placements import phrase_slots_of
from creative.racing.racer import ContextualRacer

from bench.measure import machine_reference
from infra.paths import CDK_OUT_DIR, OUT_DIR, REPO_ROOT

OUT = OUT_DIR / "bench"


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    return {
        "p50_ms": ordered[len(ordered) // 2],
        "p99_ms": ordered[int(len(ordered) * 0.99)],
        "mean_ms": statistics.fmean(ordered),
        "n": len(ordered),
    }


def _timed(call, repeats: int) -> dict[str, float]:
    for _ in range(50):
        call()
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return percentiles(timings)


def bench_choose(candidates: int, repeats: int = 3000) -> dict:
    """Warm posteriors with mixed evidence, as after a few days of traffic."""
    rng = np.random.default_rng(0)
    racer = ContextualRacer()
    mean = np.log(rng.uniform(0.01, 0.08, candidates))
    variance = 1.0 / rng.uniform(10.0, 2000.0, candidates)
    return {"candidates": candidates, **_timed(lambda: racer.choose(mean, variance, rng), repeats)}


def bench_select_warm(
    candidates: int = 100,
    requests: int = 3000,
    warmup: int = 2000,
    *,
    phrases: int = 0,
    ctas: int = 0,
    placement: str = "feed",
    images: int | None = None,
) -> dict:
    """The whole select in-process with its caches warm (candidates and racing state read once per
    `SELECT_CACHE_TTL_SECONDS`): CTR model, online learner, Thompson choice, impression built and logged
    to in-memory stores. What a warm Lambda adds on top is the impression's writes to DynamoDB.

    With `images`, the line races elements (its template): `candidates` creatives pair image i % images
    with headline i, so the line has `images` images and `candidates` headlines as elements."""
    from datetime import UTC, datetime, timedelta

    from creative.line_templates import TEMPLATE_SETTING, LineTemplate
    from creative.phrase_banks import Phrase, PhraseBank
    from creative.racing.active_model import ActiveModel
    from creative.racing.ctr_training import train_ctr_model
    from creative.racing.schemas import FeedbackRequest, RequestContext, SelectRequest, UserContext
    from creative.racing.service import PHRASES_SETTING
    from in_memory.adapters import InMemoryModelRegistry

    from tests.factories import creative, logged_rows, racing_world

    pool = [creative(i, line="fashion") for i in range(candidates)]
    if images:
        pool = [
            c.model_copy(update={"image_material_id": f"mat_img{i % images}"}) for i, c in enumerate(pool)
        ]
    world = racing_world(*pool, seed=3)
    racing = world.racing
    if images:
        template = LineTemplate(business_line="fashion", racing="elements")
        world.state.save_setting(
            "fashion", TEMPLATE_SETTING, template.model_dump(mode="json"), expected_version=0
        )
    if phrases or ctas:
        bank = PhraseBank(
            business_line="fashion",
            phrases=[Phrase(text=f"Offer {i}: from {{price}} in {{city}}") for i in range(phrases)]
            + [Phrase(text=f"Action {i}", slot="cta") for i in range(ctas)],
        )
        world.state.save_setting("fashion", PHRASES_SETTING, bank.model_dump(mode="json"), expected_version=0)
    context = RequestContext(product={"price": 19.99, "city": "Paris"})
    trained = train_ctr_model(logged_rows(6000))
    # A promoted model, as select holds one between registry refreshes.
    racing._models = ActiveModel(InMemoryModelRegistry(), fallback=trained.scorer(), refresh_s=1e9)
    rng = np.random.default_rng(4)
    start = datetime(2026, 11, 25, tzinfo=UTC)
    features = [
        {"gender": g, "age": a, "device": d} for g in "fm" for a in (25, 40, 61) for d in ("ios", "web")
    ]

    def request(i: int) -> SelectRequest:
        return SelectRequest(
            business_line="fashion",
            placement=placement,
            user=UserContext(id=f"u{i % 500}", features=features[i % len(features)]),
            context=context,
        )

    for i in range(warmup):  # evidence on every family of keys
        at = start + timedelta(seconds=i)
        served = racing.select(request(i), at)
        if rng.random() < 0.05:
            world.feedback.record(FeedbackRequest(impression_id=served.impression_id, event="click"), at)
    racing._cache_ttl_s = 3600.0
    at = start + timedelta(seconds=warmup)
    racing.select(request(0), at)  # fills the caches
    counter = iter(range(10**9))
    slots = {"phrase": phrases, "cta": ctas}
    combinations = images * candidates if images else candidates
    for slot in phrase_slots_of(placement):
        combinations *= max(slots[slot], 1)
    return {
        "racing": "elements" if images else "creatives",
        "candidates": candidates,
        "images": images or candidates,
        "phrases": phrases,
        "ctas": ctas,
        "placement": placement,
        "combinations": combinations,
        "cache": "warm",
        **_timed(lambda: racing.select(request(next(counter)), at), requests),
        "target_p50_ms": 2.0,
    }


def bench_score_and_choose(candidates: int = 100, repeats: int = 2000) -> dict:
    """The ONNX CTR model scores every candidate for the user, then the racer chooses on those priors."""
    from creative.racing.ctr_training import train_ctr_model
    from creative.racing.features import CreativeFeatures

    from tests.factories import CTR_CREATIVES, logged_rows

    trained = train_ctr_model(logged_rows(6000))
    model = trained.scorer()
    pool = [
        CreativeFeatures(f"cr_{i}", "fashion", c.category, c.tags, c.elements, 0.0)
        for i, c in zip(
            range(candidates), CTR_CREATIVES * (candidates // len(CTR_CREATIVES) + 1), strict=False
        )
    ]
    racer, rng = ContextualRacer(), np.random.default_rng(1)
    variance = 1.0 / rng.uniform(10.0, 2000.0, candidates)

    def score_and_choose() -> None:
        prior = model.predict({"gender": "f", "age": 31}, pool, 7200.0)
        racer.choose(np.log(prior / (1 - prior)), variance, rng)

    return {
        "candidates": candidates,
        "model_trees": 150,
        "model_bytes": len(trained.artifact),
        "score_only": _timed(lambda: model.predict({"gender": "f", "age": 31}, pool, 7200.0), repeats),
        "score_and_choose": _timed(score_and_choose, repeats),
    }


def bench_cold_import(runs: int = 5) -> dict:
    """A select cold start without the network: import the handler and build its service (clients), in
    the environment Lambda gives it (AWS_LAMBDA_FUNCTION_NAME set: creative.cold_start holds the collector).

    As deployed, the layers carry bytecode for what this loads (stack_build.bytecode; botocore comes
    precompiled with the runtime), so `median_ms` runs from bytecode: one unmeasured run compiles it into
    a fresh cache (PYTHONPYCACHEPREFIX), then each measured run loads it. `from_source_median_ms` is the
    same start compiling every module, as a layer without bytecode would."""
    code = (
        "import os, time, importlib.util; t=time.perf_counter();"
        "os.environ.update(AWS_LAMBDA_FUNCTION_NAME='select', AWS_ACCESS_KEY_ID='t', AWS_SECRET_ACCESS_KEY='t',"
        " AWS_DEFAULT_REGION='us-east-1',"
        " CREATIVES_TABLE='c', RACING_STATE_TABLE='r', IMPRESSIONS_TABLE='i', MODEL_REGISTRY_TABLE='m',"
        " ASSETS_BUCKET='a', LINE_SETTINGS_TABLE='l');"
        f"s=importlib.util.spec_from_file_location('h', r'{REPO_ROOT / 'functions' / 'select' / 'handler.py'}');"
        "m=importlib.util.module_from_spec(s); s.loader.exec_module(m);"
        "from creative import wiring; wiring.racing(); a=(time.perf_counter()-t)*1000;"
        "r=time.perf_counter(); wiring.reseed_after_restore(); r=(time.perf_counter()-r)*1000;"
        "t=time.perf_counter(); import onnxruntime; print(a, (time.perf_counter()-t)*1000, r)"
    )

    def start(env: dict[str, str]) -> list[str]:
        return subprocess.check_output([sys.executable, "-c", code], text=True, env=env).split()

    # With a cache prefix Python reads bytecode only from there, whatever __pycache__ the virtualenv has: an
    # empty one that is never written is "from source", a filled one is "from bytecode".
    with tempfile.TemporaryDirectory() as empty, tempfile.TemporaryDirectory() as cache:
        source_outputs = [
            start({**os.environ, "PYTHONPYCACHEPREFIX": empty, "PYTHONDONTWRITEBYTECODE": "1"})
            for _ in range(runs)
        ]
        compiled = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        compiled["PYTHONPYCACHEPREFIX"] = cache
        start(compiled)  # writes the bytecode
        outputs = [start(compiled) for _ in range(runs)]
    timings = [float(o[0]) for o in outputs]
    source_timings = [float(o[0]) for o in source_outputs]
    return {
        "runs": runs,
        "median_ms": statistics.median(timings),
        "max_ms": max(timings),
        "from_source_median_ms": statistics.median(source_timings),
        "from_source_max_ms": max(source_timings),
        # Paid at the first model load (lazily), not at import: a function with no promoted model skips it.
        "onnxruntime_import_median_ms": statistics.median(float(o[1]) for o in outputs),
        # Deployed with SnapStart (infra.catalog), the import and build above run once, before the snapshot;
        # what a restored container still runs of ours is the after-restore hook (creative.wiring).
        "snap_start_after_restore_median_ms": statistics.median(float(o[2]) for o in outputs),
    }


def bench_handler_on_moto(requests: int = 500) -> dict:
    """The whole select handler against moto in-process: moto's overhead dominates, so this is an upper bound.
    moto as the local runtime runs it (`moto_gaps`: without them each select's transaction deep-copies the
    whole impressions table, and the figure measures moto's copy, not select)."""
    import os

    import boto3
    from creative import wiring
    from creative.adapters.dynamodb_creatives import DynamoCreativeRepository
    from local_runtime import moto_gaps
    from moto import mock_aws

    moto_gaps.apply()

    from tests.conftest import load_event, load_handler
    from tests.factories import creative

    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        CREATIVES_TABLE="creatives",
        RACING_STATE_TABLE="racing-state",
        IMPRESSIONS_TABLE="impressions",
        MODEL_REGISTRY_TABLE="model-registry",
        ASSETS_BUCKET="assets",
        LINE_SETTINGS_TABLE="line-settings",
    )
    template = json.loads((CDK_OUT_DIR / "CreativeEngine.template.json").read_text())
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] != "AWS::DynamoDB::Table":
                continue
            name = next(
                (
                    table
                    for prefix, table in (
                        ("Creatives", "creatives"),
                        ("RacingState", "racing-state"),
                        ("Impressions", "impressions"),
                        ("ModelRegistry", "model-registry"),
                        ("LineSettings", "line-settings"),
                    )
                    if prefix in logical_id
                ),
                None,
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
    reference_at_start = machine_reference()  # and again at the end: the speed moves within minutes
    results = {
        "racer_choose": [bench_choose(n) for n in (10, 100)],
        "racer_score_and_choose": bench_score_and_choose(),
        "select_in_process_warm": bench_select_warm(),
        # Element-level: 50 creatives x 20 phrases (1,000 combinations), and 100 x 20 x 5 CTAs (10,000).
        "select_in_process_warm_1000_combinations": bench_select_warm(50, phrases=20, placement="story"),
        "select_in_process_warm_10000_combinations": bench_select_warm(
            100, phrases=20, ctas=5, placement="home_feed"
        ),
        # Every slot per element (the line's template): 5 images x 10 headlines x 20 phrases (1,000), and
        # 30 images x 200 headlines x 20 phrases x 5 CTAs (600,000).
        "select_in_process_warm_elements_1000_combinations": bench_select_warm(
            10, phrases=20, placement="story", images=5
        ),
        # The whole space per element (the line's template): 30 images x 200 headlines x 20 phrases x 5 CTAs.
        "select_in_process_warm_elements_30x200x20x5": bench_select_warm(
            200, phrases=20, ctas=5, placement="home_feed", images=30
        ),
        "select_cold_import": bench_cold_import(),
        "select_handler_on_moto": bench_handler_on_moto(),
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "machine_reference": {"at_start": reference_at_start, "at_end": machine_reference()},
    }
    (OUT / "select_latency.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
