"""`make demo`: the whole system on this machine, no AWS account.

Starts the local runtime (moto + the synthesized stack + the real handlers), saves each business line's
compliance list through the operator API, uploads real photos, copy, deliberately bad files and material
the quality checks must catch through the S3 API, waits for admission and the model checks, admits two
reviewed lines as an operator would, fires copy generation, composes creatives, saves each line's phrase bank
and recall rules, then drives select/feedback over HTTP (requests carry a product, whose price, discount and
city fill the phrase slots) from a click simulator with hidden CTRs, and compares the racer with uniform
random choice of creative and phrases on the same simulator. Writes out/demo/summary.json and
out/demo/report.html (charts of the run, readable from disk).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import threading
import time
from collections import Counter, defaultdict

import boto3
import numpy as np
import requests
from local_runtime.client import local_session
from local_runtime.runtime import LocalRuntime

from demo import report
from demo.clicks import ClickSimulator
from demo.phrases import PRODUCTS, save_racing_settings, servable_phrases
from demo.uploads import DemoUpload, bad_uploads, good_uploads, quality_uploads
from infra.paths import OUT_DIR, REPO_ROOT

COMPLIANCE_LISTS = REPO_ROOT / "tools" / "corpora" / "data" / "compliance_lists.json"

OUT = OUT_DIR / "demo"
PLACEMENT = "home_feed"  # an image, a headline, a phrase and a call to action


def upload_all(s3, bucket: str, uploads: list[DemoUpload]) -> None:
    for upload in uploads:
        s3.put_object(Bucket=bucket, Key=upload.key, Body=upload.data)


class ApiClient:
    """The local API over HTTP, with the racing API key and the local operator key."""

    def __init__(self, runtime: LocalRuntime):
        self.base = runtime.api_url.rstrip("/")
        self.racing = local_session()
        self.racing.headers["x-api-key"] = runtime.api_key
        self.operator = local_session()
        self.operator.headers["Authorization"] = f"Bearer {runtime.operator_key}"
        self.retried_5xx: list[str] = []

    def post(self, path: str, body: dict) -> dict:
        """A racing call. A 503 (a dependency did not answer in time), a 502 (the function ran past its
        5 s timeout: moto on a loaded laptop is far slower than DynamoDB) or no answer in 30 s is retried
        once, as an ad server would, and counted in the summary (`racing_calls_retried_after_5xx`)."""
        try:
            response = self.racing.post(self.base + path, json=body, timeout=30)
        except requests.ReadTimeout as slow:  # no answer at all: the same retry as a gateway's 504
            response = None
            self.retried_5xx.append(f"no answer in 30 s: {slow}"[:300])
        if response is not None and response.status_code in (502, 503):
            self.retried_5xx.append(f"{response.status_code} {response.text[:300]}")
            response = None
        if response is None:
            response = self.racing.post(self.base + path, json=body, timeout=30)
        if not response.ok:
            raise requests.HTTPError(
                f"{response.status_code} on {path}: {response.text[:500]}", response=response
            )
        return response.json()

    def operator_call(self, method: str, path: str, body: dict) -> dict:
        response = self.operator.request(method, self.base + path, json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def get(self, path: str, **params) -> dict:
        response = self.operator.get(self.base + path, params=params, timeout=10)
        response.raise_for_status()
        return response.json()

    def all_pages(self, path: str, **params) -> list[dict]:
        items, token = [], None
        while True:
            page = self.get(path, **params, **({"next_token": token} if token else {}))
            items += page["items"]
            token = page.get("next_token")
            if not token:
                return items


def check_admission(materials: list[dict], uploads: list[DemoUpload]) -> list[str]:
    """Every uploaded file ended as expected; returns the problems (empty when all is well)."""
    by_key = defaultdict(list)
    for material in materials:
        by_key[material["source"]["key"]].append(material)
    problems = []
    for upload in uploads:
        records = by_key.get(upload.key, [])
        if not records:
            problems.append(f"{upload.key}: no material record")
        elif upload.expect == "ADMITTED":
            problems += [f"{upload.key}: {m['reasons']}" for m in records if m["status"] != "ADMITTED"]
        elif not any(
            m["status"] != "ADMITTED" and upload.expect in [r["code"] for r in m["reasons"]] for m in records
        ):
            problems.append(f"{upload.key}: expected {upload.expect}, got {[m['reasons'] for m in records]}")
    return problems


def save_compliance_lists(api: ApiClient) -> int:
    """Each line's list (and the every-line list "*") through the operator API, as an operator would."""
    lists = json.loads(COMPLIANCE_LISTS.read_text())
    for line, listing in lists.items():
        current = api.get(f"/v1/compliance/{line}")
        api.operator_call(
            "PUT", f"/v1/compliance/{line}", {**listing, "expected_version": current["version"]}
        )
    return len(lists)


def review(api: ApiClient, uploads: list[DemoUpload]) -> list[dict]:
    """Admits the reviewed materials the demo's operator vouches for, with their comment."""
    comments = {u.key: u.operator_admits for u in uploads if u.operator_admits}
    decided = []
    for material in api.all_pages("/v1/materials", status="NEEDS_REVIEW", limit=200):
        comment = comments.get(material["source"]["key"])
        if comment:
            body = {"decision": "admit", "comment": comment}
            decided.append(
                api.operator_call("POST", f"/v1/materials/{material['material_id']}/decision", body)
            )
    return decided


def race(
    api: ApiClient, creatives: list[dict], simulator: ClickSimulator, selections: int, seed: int
) -> dict:
    rng = np.random.default_rng(seed)
    lines = sorted({c["business_line"] for c in creatives})
    by_id = {c["creative_id"]: c for c in creatives}
    chosen, phrases, clicks, latencies_ms, duplicate_clicks_counted = [], [], 0, [], 0
    recall_mix: Counter = Counter()
    for i in range(selections):
        line = lines[i % len(lines)]
        body = {
            "business_line": line,
            "placement": PLACEMENT,
            "user": {
                "id": f"user-{rng.integers(10_000)}",
                "features": {
                    "device": str(rng.choice(["ios", "android", "web"])),
                    "segment": str(rng.choice(["enthusiast", "casual"])),
                },
            },
            "context": {"product": PRODUCTS[line]},
        }
        started = time.perf_counter()
        selection = api.post("/v1/select", body)
        latencies_ms.append((time.perf_counter() - started) * 1000)
        creative = by_id[selection["creative"]["creative_id"]]
        phrase_ids = tuple(p["phrase_id"] for p in selection["phrases"])
        chosen.append(creative)
        phrases.append(phrase_ids)
        recall_mix.update(selection["recall"])
        if simulator.clicked(creative, rng, phrase_ids):
            clicks += 1
            feedback = {"impression_id": selection["impression_id"], "event": "click"}
            api.post("/v1/feedback", feedback)
            if clicks % 10 == 1:  # users double-click: the second must not count
                duplicate_clicks_counted += int(api.post("/v1/feedback", feedback)["counted"])
    return {
        "chosen": chosen,
        "phrases": phrases,
        "recall_mix": dict(recall_mix.most_common()),
        "clicks": clicks,
        "latencies_ms": latencies_ms,
        "duplicates_counted": duplicate_clicks_counted,
    }


def uniform_baseline(
    creatives: list[dict], lines_order: list[str], simulator: ClickSimulator, seed: int, servable: dict
) -> tuple[int, list[float]]:
    """The same simulator and the same sequence of business lines, with the creative and each phrase chosen
    uniformly among what select could serve."""
    rng = np.random.default_rng(seed + 1)
    by_line = defaultdict(list)
    for c in creatives:
        by_line[c["business_line"]].append(c)
    clicks, expected = 0, []
    for line in lines_order:
        creative = by_line[line][rng.integers(len(by_line[line]))]
        phrase_ids = tuple(
            options[rng.integers(len(options))].phrase_id for options in servable[line].values() if options
        )
        expected.append(simulator.ctr(creative, phrase_ids))
        clicks += simulator.clicked(creative, rng, phrase_ids)
    return clicks, expected


def best_phrases(simulator: ClickSimulator, creative: dict, servable: dict[str, list]) -> tuple[str, ...]:
    """The best phrase of each slot (phrase appeals add up on the log-odds, so each slot is best alone)."""
    return tuple(
        max(options, key=lambda p: simulator.ctr(creative, (p.phrase_id,))).phrase_id
        for options in servable.values()
        if options
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--selections", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--serve",
        action="store_true",
        help="keep the runtime (and the console) up after the run, until Ctrl-C",
    )
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    simulator = ClickSimulator()
    good, bad, caught = good_uploads(), bad_uploads(), quality_uploads()

    with LocalRuntime(log_dir=OUT / "logs") as runtime:
        print(
            f"local runtime up: API {runtime.api_url}  S3 {runtime.endpoint_url}  logs {OUT.relative_to(REPO_ROOT)}/logs/"
        )
        print(
            f"console {runtime.console_url}  (operator key {runtime.operator_key}; live while the demo runs)"
        )
        s3 = boto3.client(
            "s3",
            endpoint_url=runtime.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        bucket = runtime.outputs["UploadsBucketName"]
        api = ApiClient(runtime)
        compliance_lists = save_compliance_lists(api)
        # Good files first, so the originals of the deliberate duplicates are the ones admitted.
        upload_all(s3, bucket, good)
        runtime.drain_queues(timeout=180)
        upload_all(s3, bucket, bad + caught)
        runtime.drain_queues(timeout=180)
        judged = api.all_pages("/v1/materials", limit=200)
        problems = check_admission(judged, good + bad + caught)
        decisions = review(api, caught)
        # Copy generation, as its schedule would run it: the new lines are uploads admission then judges.
        generation_run = runtime.fire_schedule("generate_copy")
        runtime.drain_queues(timeout=180)
        materials = api.all_pages("/v1/materials", limit=200)

        runtime.fire_schedule("compose_creatives")
        creatives = api.all_pages("/v1/creatives", limit=200)
        banks = save_racing_settings(api, creatives)
        servable = {line: servable_phrases(bank, line, PLACEMENT) for line, bank in banks.items()}
        started = time.perf_counter()
        raced = race(api, creatives, simulator, args.selections, args.seed)
        race_seconds = time.perf_counter() - started
        final_stats = {c["creative_id"]: c for c in api.all_pages("/v1/creatives", limit=200)}
        labels = {line: api.get(f"/v1/asset-labels/{line}")["items"] for line in sorted(banks)}
        # The hourly retraining, fired once: minutes of traffic are still inside its attribution delay and
        # holdout window, so it should refuse (insufficient data) and leave select on the constant prior.
        retraining = runtime.fire_schedule("retrain_ctr")
        if args.serve:
            print(
                f"\nserving the demo's data: console {runtime.console_url} (operator key {runtime.operator_key})"
            )
            print("Ctrl-C stops (the summary and report.html are written after)")
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()

    chosen = raced["chosen"]
    lines_order = [c["business_line"] for c in chosen]
    uniform_clicks, uniform_expected = uniform_baseline(
        creatives, lines_order, simulator, args.seed, servable
    )
    best_by_line = {}
    for c in creatives:
        ctr = simulator.ctr(c, best_phrases(simulator, c, servable[c["business_line"]]))
        if ctr > best_by_line.get(c["business_line"], (None, -1))[1]:
            best_by_line[c["business_line"]] = (c["creative_id"], ctr)
    racer_expected = [simulator.ctr(c, p) for c, p in zip(chosen, raced["phrases"], strict=True)]
    oracle_expected = [best_by_line[line][1] for line in lines_order]
    second_half = chosen[len(chosen) // 2 :]
    rejections = Counter(r["code"] for m in judged if m["status"] == "REJECTED" for r in m["reasons"])
    reviews = Counter(r["code"] for m in judged if m["status"] == "NEEDS_REVIEW" for r in m["reasons"])
    latencies = sorted(raced["latencies_ms"])
    summary = {
        "materials_admitted": sum(m["status"] == "ADMITTED" for m in materials),
        "materials_rejected": sum(m["status"] == "REJECTED" for m in materials),
        "materials_in_review": sum(m["status"] == "NEEDS_REVIEW" for m in materials),
        "rejections_by_reason": dict(sorted(rejections.items())),
        "reviews_by_reason": dict(sorted(reviews.items())),
        "operator_admitted_on_review": len(decisions),
        "compliance_lists_saved": compliance_lists,
        "admission_problems": problems,
        **tagging_summary(materials),
        "generated_copy": (generated := generated_summary(materials, generation_run)),
        # The names, at the top level too: how many generated lines were written and admitted.
        "copies_generated": generated["copies_generated"],
        "copies_generated_admitted": generated["copies_generated_admitted"],
        "creatives": len(creatives),
        "creatives_by_business_line": dict(Counter(c["business_line"] for c in creatives)),
        "selections": len(chosen),
        "clicks": raced["clicks"],
        "ctr_racer": raced["clicks"] / len(chosen),
        "ctr_uniform": uniform_clicks / len(chosen),
        "expected_ctr_racer": statistics.fmean(racer_expected),
        "expected_ctr_uniform": statistics.fmean(uniform_expected),
        "expected_ctr_oracle": statistics.fmean(oracle_expected),
        "best_creative_share": sum(c["creative_id"] == best_by_line[c["business_line"]][0] for c in chosen)
        / len(chosen),
        "best_creative_share_second_half": sum(
            c["creative_id"] == best_by_line[c["business_line"]][0] for c in second_half
        )
        / len(second_half),
        "selections_with_phrases": sum(bool(p) for p in raced["phrases"]),
        "phrases_served": dict(Counter(len(p) for p in raced["phrases"])),
        "recall_strategy_mix": raced["recall_mix"],
        "labels_by_asset": labels_by_asset(labels),
        "duplicate_clicks_counted": raced["duplicates_counted"],
        "racing_calls_retried_after_5xx": len(api.retried_5xx),
        "first_5xx": api.retried_5xx[0] if api.retried_5xx else None,
        "clicks_recorded_by_api": sum(s["clicks"] for s in final_stats.values()),
        "select_latency_ms_p50": latencies[len(latencies) // 2],
        "select_latency_ms_p99": latencies[int(len(latencies) * 0.99)],
        "race_seconds": race_seconds,
        "retraining_outcome": retraining["outcome"],
        "retraining_reason": retraining["reason"],
        "by_business_line": per_business_line(
            chosen, creatives, racer_expected, uniform_expected, best_by_line
        ),
    }
    (OUT / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    report.write(
        OUT / "report.html", summary, report.timeline(racer_expected, uniform_expected, oracle_expected)
    )
    print_summary(summary)
    # Judged on expected CTR (the hidden CTRs of what was served): realised clicks add binomial noise,
    # and the server's sampler is unseeded, as it is in production.
    ok = (
        not problems
        and len(decisions) == sum(1 for u in caught if u.operator_admits)
        and summary["materials_tagged"] == summary["materials_admitted"]
        and summary["expected_ctr_racer"] > summary["expected_ctr_uniform"]
        and summary["clicks_recorded_by_api"] == summary["clicks"]
        and summary["duplicate_clicks_counted"] == 0
        and summary["selections_with_phrases"] == summary["selections"]
    )
    print(
        f"\nwrote {OUT.relative_to(REPO_ROOT)}/summary.json and report.html (open it from disk) — "
        f"{'OK' if ok else 'CHECK FAILED'}"
    )
    return 0 if ok else 1


def generated_summary(materials: list[dict], run: dict) -> dict:
    """What generate_copy wrote and what admission and the model checks made of it."""
    generated = [m for m in materials if "/generated-" in m["source"]["key"]]
    by_line: dict[str, list[str]] = defaultdict(list)
    for m in generated:
        by_line[m["business_line"]].append(f"{m['text']} ({m['status']})")
    return {
        "run": run,
        "copies_generated": len(generated),
        "copies_generated_admitted": sum(m["status"] == "ADMITTED" for m in generated),
        "examples_by_business_line": {line: texts[:3] for line, texts in sorted(by_line.items())},
        "lines": len(generated),
        "by_status": dict(Counter(m["status"] for m in generated)),
        "reasons": dict(Counter(r["code"] for m in generated for r in m["reasons"])),
        "examples": [f"{m['business_line']}: {m['text']} ({m['status']})" for m in generated[:8]],
    }


def labels_by_asset(labels: dict[str, list[dict]]) -> dict[str, dict[str, int]]:
    """Per slot (creative, image, headline, phrase, cta), how many assets carry each label, over every line."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for rows in labels.values():
        for row in rows:
            counts[row["slot"]][row["label"]] += 1
    return {slot: dict(sorted(c.items())) for slot, c in sorted(counts.items())}


def tagging_summary(materials: list[dict], top: int = 5) -> dict:
    """How many admitted materials carry tags, how many tags each, and each line's most frequent tags."""
    admitted = [m for m in materials if m["status"] == "ADMITTED"]
    by_line: dict[str, Counter] = defaultdict(Counter)
    for material in admitted:
        by_line[material["business_line"]].update(f"{t['tag']} ({t['name']})" for t in material["tags"])
    return {
        "materials_tagged": sum((m.get("tagging") or {}).get("status") == "TAGGED" for m in admitted),
        "tags_per_material_mean": round(statistics.fmean(len(m["tags"]) for m in admitted), 2)
        if admitted
        else 0.0,
        "top_tags_by_business_line": {
            line: dict(counts.most_common(top)) for line, counts in sorted(by_line.items())
        },
    }


def per_business_line(
    chosen: list[dict],
    creatives: list[dict],
    racer_expected: list[float],
    uniform_expected: list[float],
    best_by_line: dict[str, tuple[str, float]],
) -> dict[str, dict]:
    """Expected CTR of what was served, per business line (less noisy than realised clicks)."""
    lines = {}
    for line in sorted(best_by_line):
        served = [i for i, c in enumerate(chosen) if c["business_line"] == line]
        lines[line] = {
            "creatives": sum(c["business_line"] == line for c in creatives),
            "selections": len(served),
            "expected_ctr_racer": statistics.fmean(racer_expected[i] for i in served),
            "expected_ctr_uniform": statistics.fmean(uniform_expected[i] for i in served),
            "best_ctr": best_by_line[line][1],
            "best_creative_share": sum(chosen[i]["creative_id"] == best_by_line[line][0] for i in served)
            / len(served),
        }
    return lines


def print_summary(s: dict) -> None:
    print("\nCreative Engine demo")
    print(
        f"  materials admitted / in review / rejected   {s['materials_admitted']} / "
        f"{s['materials_in_review']} / {s['materials_rejected']}"
    )
    for reason, count in s["rejections_by_reason"].items():
        print(f"    rejected: {reason:<28} {count}")
    for reason, count in s["reviews_by_reason"].items():
        print(f"    sent to review: {reason:<22} {count}")
    print(f"    admitted by an operator on review: {s['operator_admitted_on_review']}")
    for problem in s["admission_problems"]:
        print(f"    PROBLEM: {problem}")
    print(
        f"  materials tagged                {s['materials_tagged']} ({s['tags_per_material_mean']} tags each)"
    )
    for line, tags in s["top_tags_by_business_line"].items():
        print(f"    {line:<10} " + ", ".join(f"{tag} x{n}" for tag, n in list(tags.items())[:3]))
    generated = s["generated_copy"]
    print(f"  generated copy lines            {generated['lines']} {generated['by_status']}")
    for example in generated["examples"][:4]:
        print(f"    {example}")
    print(f"  creatives                       {s['creatives']} {s['creatives_by_business_line']}")
    print(f"  selections / clicks             {s['selections']} / {s['clicks']}")
    print(f"  CTR racer / uniform             {s['ctr_racer']:.4f} / {s['ctr_uniform']:.4f}")
    print(
        f"  expected CTR racer/uniform/best {s['expected_ctr_racer']:.4f} / {s['expected_ctr_uniform']:.4f} / {s['expected_ctr_oracle']:.4f}"
    )
    print(
        f"  best creative share (2nd half)  {s['best_creative_share']:.3f} ({s['best_creative_share_second_half']:.3f})"
    )
    print(f"  selections with phrases         {s['selections_with_phrases']} {s['phrases_served']}")
    print(f"  recall strategies of the served {s['recall_strategy_mix']}")
    for slot, counts in s["labels_by_asset"].items():
        print(f"    labels {slot:<10} " + ", ".join(f"{label} x{n}" for label, n in counts.items()))
    print(
        f"  select latency over HTTP        p50 {s['select_latency_ms_p50']:.1f} ms, p99 {s['select_latency_ms_p99']:.1f} ms"
    )
    print("\n  business line  creatives  selections  E[CTR] racer  uniform    best  best share")
    for line, row in s["by_business_line"].items():
        print(
            f"  {line:<14} {row['creatives']:>9}  {row['selections']:>10}  {row['expected_ctr_racer']:>12.4f}"
            f"  {row['expected_ctr_uniform']:>7.4f}  {row['best_ctr']:.4f}  {row['best_creative_share']:>10.3f}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
