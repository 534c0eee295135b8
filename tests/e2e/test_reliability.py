"""Reliability on the local runtime over HTTP, at the small counts of `make test` (`make reliability` runs the
same code at full size and writes out/reliability/report.json; docs/reliability.md)."""

import json

import pytest
import requests
from reliability.run import QUICK, measure_on, violations
from reliability.stack import operator, seed_one_creative

from tests.conftest import load_event

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    from local_runtime.runtime import LocalRuntime
    from stack_build.synth import synthesize

    synthesize()
    log_dir = tmp_path_factory.mktemp("reliability-logs")
    with LocalRuntime(log_dir=log_dir) as running:
        running.test_log_dir = log_dir
        yield running


def test_fuzzing_load_and_faults_lose_nothing_and_break_no_schema(runtime):
    # Given the local runtime with one creative / When every route is fuzzed, selects and clicks race on the
    # creative (each click sent twice), and uploads meet throttling and 5xx from DynamoDB and S3
    report, details = measure_on(runtime, QUICK, runtime.test_log_dir)
    # Then no answer was a 5xx or off the schema, no impression or click was lost or counted twice, every
    # upload ended in a record (the dead-lettered one after its redrive), with a log line naming it
    assert violations(report, details) == []
    assert report["fuzz_requests"] > 0 and report["faults_injected"] > 0
    assert report["impressions_counted"] == report["selects_sent"] == QUICK.selects
    assert report["concurrent_feedback_counted"] == report["concurrent_feedback_sent"] == QUICK.clicks
    assert report["events_lost"] == 0
    assert report["dead_lettered_then_redriven"] >= QUICK.doomed_uploads


def _materials_of(runtime, key: str) -> list[dict]:
    listed = operator(runtime, "GET", "/v1/materials", params={"business_line": "twice", "limit": 100})
    return [m for m in listed.json()["items"] if m["source"]["key"] == key]


def test_the_same_upload_event_twice_makes_one_record_set(runtime):
    # Given an uploaded copy file, admitted from its S3 event
    s3, sqs = runtime.client("s3"), runtime.client("sqs")
    bucket, key = runtime.outputs["UploadsBucketName"], "uploads/twice/cats/lines.txt"
    put = s3.put_object(Bucket=bucket, Key=key, Body=b"Warm beds for cold cats\nA nap in every box\n")
    runtime.drain_queues(timeout=60)
    first = _materials_of(runtime, key)
    # When the same event is delivered twice more (SQS is at least once)
    body = json.loads(load_event("sqs_upload_events.json")["Records"][0]["body"])
    body["detail"]["bucket"]["name"] = bucket
    body["detail"]["object"].update(
        key=key, size=44, etag=put["ETag"].strip('"'), **{"version-id": put["VersionId"]}
    )
    for _ in range(2):
        sqs.send_message(QueueUrl=runtime.outputs["UploadEventsQueueUrl"], MessageBody=json.dumps(body))
    runtime.drain_queues(timeout=60)
    # Then the records are the same two, unchanged
    assert len(first) == 2 and _materials_of(runtime, key) == first


def test_the_composition_schedule_fired_twice_composes_once(runtime):
    # Given a line with one creative
    line = seed_one_creative(runtime, "twice-composed")

    def creatives() -> list[dict]:
        listed = operator(runtime, "GET", "/v1/creatives", params={"business_line": line.business_line})
        return listed.json()["items"]

    before = creatives()
    # When the schedule fires twice more
    runtime.fire_schedule("compose_creatives")
    runtime.fire_schedule("compose_creatives")
    # Then the line still has its one creative
    assert [c["creative_id"] for c in creatives()] == [c["creative_id"] for c in before] == [line.creative_id]


def test_a_click_before_its_impression_is_visible_counts_nothing_and_its_retry_counts_once(runtime):
    # Given an impression served, then hidden as if its write were not yet visible
    line = seed_one_creative(runtime, "early-click")
    headers = {"x-api-key": runtime.api_key}
    base = runtime.api_url.rstrip("/")
    request = {"business_line": line.business_line, "placement": "feed", "user": {"id": "u1"}}
    served = requests.post(base + "/v1/select", json=request, headers=headers, timeout=30).json()
    dynamodb, table = runtime.client("dynamodb"), runtime.outputs["ImpressionsTableName"]
    key = {"impression_id": {"S": served["impression_id"]}}
    item = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    dynamodb.delete_item(TableName=table, Key=key)
    click = {"impression_id": served["impression_id"], "event": "click"}
    # When the click arrives first, then (the client retrying) after the impression is visible, then again
    early = requests.post(base + "/v1/feedback", json=click, headers=headers, timeout=30)
    dynamodb.put_item(TableName=table, Item=item)
    retried = requests.post(base + "/v1/feedback", json=click, headers=headers, timeout=30)
    again = requests.post(base + "/v1/feedback", json=click, headers=headers, timeout=30)
    # Then the early click is a 404 that counted nothing, and the click counts exactly once
    assert early.status_code == 404 and early.json()["error"]["code"] == "unknown_impression"
    assert (retried.json()["counted"], again.json()["counted"]) == (True, False)
    listed = operator(runtime, "GET", "/v1/creatives", params={"business_line": line.business_line})
    (stats,) = listed.json()["items"]
    assert (stats["impressions"], stats["clicks"]) == (1, 1)
