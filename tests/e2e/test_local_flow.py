"""End to end over HTTP: the local runtime (moto + deployed template + real handlers)."""

import boto3
import pytest
import requests
from creative.config import SelectConfig
from demo import image_files

from tests.polling import poll

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def access():
    """Every AWS call the functions make in this module's flows, checked against the catalog's grants by
    the module's last test."""
    from local_runtime.access_audit import AccessRecorder

    recorder = AccessRecorder().install()
    yield recorder
    recorder.uninstall()


@pytest.fixture(scope="module")
def runtime(tmp_path_factory, access):
    from local_runtime.runtime import LocalRuntime
    from stack_build.synth import synthesize

    synthesize()  # cached: only when a source changed since the last synthesis
    log_dir = tmp_path_factory.mktemp("function-logs")
    with LocalRuntime(log_dir=log_dir) as running:
        running.test_log_dir = log_dir
        yield running


@pytest.fixture(scope="module")
def s3(runtime):
    return boto3.client(
        "s3",
        endpoint_url=runtime.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def url(runtime, path: str) -> str:
    return runtime.api_url.rstrip("/") + path


def operator(runtime, method: str, path: str, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {runtime.operator_key}"}
    return requests.request(method, url(runtime, path), headers=headers, timeout=10, **kwargs)


def racing(runtime, path: str, body) -> requests.Response:
    return requests.post(url(runtime, path), json=body, headers={"x-api-key": runtime.api_key}, timeout=10)


def test_upload_admit_compose_select_feedback_stats(runtime, s3):
    bucket = runtime.outputs["UploadsBucketName"]
    # Given a real photo, a copy file and a decompression bomb uploaded through the S3 API
    s3.put_object(
        Bucket=bucket, Key="uploads/e2e/cats/chelsea cat.png", Body=image_files.photo_bytes("chelsea.png")
    )
    # A key with characters that URL-encoding changes still finds its object
    # (another photo: a JPEG of the cat would be a near-duplicate of it)
    s3.put_object(Bucket=bucket, Key="uploads/e2e/cats/c++ 100%.jpg", Body=image_files.jpeg_of("coffee.png"))
    s3.put_object(Bucket=bucket, Key="uploads/e2e/cats/copy.txt", Body=b"Cats love this\nNap-tested beds\n")
    s3.put_object(Bucket=bucket, Key="uploads/e2e/cats/bomb.png", Body=image_files.decompression_bomb_png())
    # When the queue has been drained by the admission handler
    runtime.drain_queues(timeout=60)
    # Then the operator API shows what was admitted and why the bomb was rejected
    listed = operator(runtime, "GET", "/v1/materials", params={"business_line": "e2e"}).json()["items"]
    by_key = {(m["source"]["key"], m["source"].get("line")): m for m in listed}
    assert by_key[("uploads/e2e/cats/chelsea cat.png", None)]["status"] == "ADMITTED"
    assert by_key[("uploads/e2e/cats/c++ 100%.jpg", None)]["status"] == "ADMITTED"
    assert by_key[("uploads/e2e/cats/copy.txt", 2)]["status"] == "ADMITTED"
    bomb = by_key[("uploads/e2e/cats/bomb.png", None)]
    assert bomb["status"] == "REJECTED" and bomb["reasons"][0]["code"] == "too_many_pixels"
    detail = operator(runtime, "GET", f"/v1/materials/{bomb['material_id']}").json()
    assert detail["reasons"] == bomb["reasons"]

    # When composition runs and a user is served, clicks, and the click is reported twice
    runtime.fire_schedule("compose_creatives")
    request = {
        "business_line": "e2e",
        "placement": "feed",
        "user": {"id": "u1", "features": {"device": "ios"}},
    }
    chosen = racing(runtime, "/v1/select", request)
    assert chosen.status_code == 200, chosen.text
    selection = chosen.json()
    assert selection["candidates"] == 4 and 0 < selection["propensity"] <= 1
    image = requests.get(selection["creative"]["image_url"], timeout=10)
    assert image.status_code == 200 and image.content[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0")
    click = {"impression_id": selection["impression_id"], "event": "click"}
    assert racing(runtime, "/v1/feedback", click).json()["counted"] is True
    assert racing(runtime, "/v1/feedback", click).json()["counted"] is False

    # Then the creative shows one impression and one click
    creatives = operator(runtime, "GET", "/v1/creatives", params={"business_line": "e2e"}).json()["items"]
    stats = {c["creative_id"]: c for c in creatives}[selection["creative"]["creative_id"]]
    assert (stats["impressions"], stats["clicks"], stats["ctr"]) == (1, 1, 1.0)

    # And the creative shows the image's served rendition, not the operator's upload
    image_material = operator(runtime, "GET", f"/v1/materials/{stats['image_material_id']}").json()
    assert (
        stats["image_key"].startswith("served/e2e/") and image_material["source"]["key"] != stats["image_key"]
    )
    # And re-uploading the image's key does not change what the creative shows (URLs name the version)
    before = requests.get(selection["creative"]["image_url"], timeout=10).content
    s3.put_object(
        Bucket=runtime.outputs["UploadsBucketName"],
        Key=image_material["source"]["key"],
        Body=image_files.tiny_png(),
    )
    runtime.drain_queues(timeout=60)
    assert requests.get(selection["creative"]["image_url"], timeout=10).content == before

    # And an operator can disable it, after which it is never served
    disabled = operator(
        runtime, "PATCH", f"/v1/creatives/{stats['creative_id']}", json={"status": "DISABLED"}
    )
    assert disabled.status_code == 200 and disabled.json()["status"] == "DISABLED"
    # (once select's per-container cache of candidates has expired: its TTL, or ten times its last read on
    # a loaded machine's moto)
    served = poll(
        lambda: {racing(runtime, "/v1/select", request).json()["creative"]["creative_id"] for _ in range(10)},
        lambda served: stats["creative_id"] not in served,
        first_after=SelectConfig.model_fields["cache_ttl_seconds"].default + 0.2,
    )
    assert stats["creative_id"] not in served


def test_keys_are_required_and_errors_are_json(runtime):
    body = {"business_line": "e2e", "placement": "feed", "user": {"id": "u1"}}
    assert requests.post(url(runtime, "/v1/select"), json=body, timeout=10).status_code == 403
    bad_key = requests.post(url(runtime, "/v1/select"), json=body, headers={"x-api-key": "nope"}, timeout=10)
    assert bad_key.status_code == 403
    assert requests.get(url(runtime, "/v1/materials"), timeout=10).status_code == 403
    malformed = racing(runtime, "/v1/select", {"business_line": "E2E!"})
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "invalid_request"
    unknown = racing(runtime, "/v1/feedback", {"impression_id": "imp_missing", "event": "click"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_impression"


def test_function_logs_go_to_their_log_files(runtime, s3):
    s3.put_object(
        Bucket=runtime.outputs["UploadsBucketName"],
        Key="uploads/e2e-logs/cats/c.png",
        Body=image_files.photo_bytes(),
    )
    runtime.drain_queues(timeout=60)
    admission_log = (runtime.test_log_dir / "admission.log").read_text()
    assert "uploads/e2e-logs/cats/c.png" in admission_log
    assert '"function_name":"' in admission_log  # Powertools' Lambda context fields


def test_uploads_are_tagged_and_operators_read_and_correct_the_tags(runtime, s3):
    bucket = runtime.outputs["UploadsBucketName"]
    # Given a photo and two copy lines uploaded through the S3 API
    s3.put_object(
        Bucket=bucket, Key="uploads/tags/coffee/coffee.png", Body=image_files.photo_bytes("coffee.png")
    )
    s3.put_object(
        Bucket=bucket,
        Key="uploads/tags/coffee/lines.txt",
        Body=b"Free delivery on every order\nGift boxes for two\n",
    )
    # When admission and then tagging (fed by the stack's event bus) have run
    runtime.drain_queues(timeout=120)
    # Then the operator API shows each material's tags, with their source
    listed = operator(runtime, "GET", "/v1/materials", params={"business_line": "tags"}).json()["items"]
    by_text = {m.get("text") or m["source"]["key"]: m for m in listed}
    photo = by_text["uploads/tags/coffee/coffee.png"]
    assert "iab:210" in {t["tag"] for t in photo["tags"]}  # Food & Drink
    assert photo["tagging"]["status"] == "TAGGED" and photo["tags"][0]["source"].startswith("model:tagger@")
    assert "selling:free_shipping" in {t["tag"] for t in by_text["Free delivery on every order"]["tags"]}
    # And the tag index finds the photo by its category
    found = operator(runtime, "GET", "/v1/tags/iab:210/materials", params={"business_line": "tags"}).json()
    assert photo["material_id"] in {item["material_id"] for item in found["items"]}
    # When an operator removes a tag and adds another
    line = by_text["Gift boxes for two"]
    change = {"add": ["selling:family_kids"], "remove": ["selling:gift"], "comment": "for couples"}
    edited = operator(runtime, "POST", f"/v1/materials/{line['material_id']}/tags", json=change)
    # Then the material reads back with the operator's tags, and the label says who made the change
    assert edited.status_code == 200, edited.text
    tags = {t["tag"]: t["source"] for t in edited.json()["tags"]}
    assert tags.get("selling:family_kids") == "operator" and "selling:gift" not in tags
    assert edited.json()["tag_labels"][0]["by"].endswith("local-operator")
    # And composition gives creatives the union of their elements' tags
    runtime.fire_schedule("compose_creatives")
    creatives = operator(runtime, "GET", "/v1/creatives", params={"business_line": "tags"}).json()["items"]
    assert creatives and all("iab:210" in c["tags"] for c in creatives)


def test_every_aws_call_the_functions_made_is_granted_by_their_catalog_entries(runtime, access):
    # moto enforces no IAM: a grant missing from infra/catalog.py would first fail on AWS. Runs last in
    # this module, after the flows above; the scheduled functions the flows did not run run here.
    from infra.catalog import FUNCTIONS

    runtime.fire_schedule("retrain_ctr")
    runtime.fire_schedule("generate_copy")
    runtime.drain_queues(timeout=120)  # generated copy goes through admission and tagging too
    assert {call.function for call in access.calls} == {spec.name for spec in FUNCTIONS}
    ungranted = access.ungranted()
    assert ungranted == [], "\n".join(map(str, ungranted))
