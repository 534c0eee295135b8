"""The first flow against moto: upload event → admission → composition → select → feedback → stats."""

import json
import uuid

import pytest
from creative.adapters.model_files import MODELS_PREFIX
from creative.inference.artifacts import Manifest
from creative.tagging.taggers import IMAGE_MODEL_ARTIFACT, TAGGER_ARTIFACT, TEXT_ENCODER_ARTIFACT
from demo import image_files

from infra.paths import MODELS_BUILD_DIR
from tests.conftest import load_event, load_handler
from tests.integration.conftest import ASSETS_BUCKET, UPLOADS_BUCKET, table_items

MODELS_MANIFEST = MODELS_BUILD_DIR / "manifest.json"


def deploy_models(s3, names=(TAGGER_ARTIFACT, TEXT_ENCODER_ARTIFACT, IMAGE_MODEL_ARTIFACT)) -> None:
    """The model files `make models` built, in the assets bucket as the stack deploys them."""
    s3.upload_file(str(MODELS_MANIFEST), ASSETS_BUCKET, MODELS_PREFIX + "manifest.json")
    manifest = Manifest.read(MODELS_MANIFEST)
    for name in names:
        artifact = manifest.get(name)
        for file in artifact.files:
            s3.upload_file(
                str(MODELS_BUILD_DIR / artifact.key(file)), ASSETS_BUCKET, MODELS_PREFIX + artifact.key(file)
            )


def sqs_batch(*objects: tuple[str, str, dict]) -> dict:
    """An SQS batch of S3 Object Created events as EventBridge delivers them, one per (bucket, key, head)."""
    template = load_event("sqs_upload_events.json")["Records"][0]
    records = []
    for bucket, key, head in objects:
        body = json.loads(template["body"])
        body["detail"]["bucket"]["name"] = bucket
        body["detail"]["object"] = {
            "key": key.replace(" ", "+"),
            "size": head.get("ContentLength", 0),
            "etag": head.get("ETag", "").strip('"'),
            "version-id": head.get("VersionId"),
            "sequencer": "00617F08299329D189",
        }
        records.append({**template, "messageId": str(uuid.uuid4()), "body": json.dumps(body)})
    return {"Records": records}


def put(s3, key: str, data: bytes) -> tuple[str, str, dict]:
    s3.put_object(Bucket=UPLOADS_BUCKET, Key=key, Body=data)
    return UPLOADS_BUCKET, key, s3.head_object(Bucket=UPLOADS_BUCKET, Key=key)


def api(function: str, event_name: str, ctx, body=None, **overrides) -> tuple[int, dict]:
    event = {**load_event(event_name), **overrides}
    if body is not None:
        event["body"] = json.dumps(body)
    response = load_handler(function).lambda_handler(event, ctx)
    return response["statusCode"], json.loads(response["body"])


@pytest.mark.skipif(not MODELS_MANIFEST.is_file(), reason="models are not built (`make models`)")
def test_upload_to_clicks(aws, lambda_context, monkeypatch, tmp_path):
    s3, dynamodb = aws["s3"], aws["dynamodb"]
    monkeypatch.setenv("MODEL_CACHE_DIR", str(tmp_path / "models"))
    deploy_models(s3)
    admission = load_handler("admission")
    # Given real photos, a copy file and a truncated JPEG in the uploads bucket
    batch = sqs_batch(
        put(s3, "uploads/food/coffee/coffee photo.png", image_files.photo_bytes("coffee.png")),
        put(s3, "uploads/food/coffee/cat.png", image_files.photo_bytes("chelsea.png")),
        put(s3, "uploads/food/coffee/headlines.txt", b"Fresh beans, roasted today\nTwo lattes for one\n"),
        put(s3, "uploads/food/coffee/broken.jpg", image_files.truncated_jpeg()),
    )
    # When admission handles the batch, twice (SQS delivers at least once)
    assert admission.lambda_handler(batch, lambda_context) == {"batchItemFailures": []}
    first = sorted(
        (m["material_id"], m["status"]) for m in table_items(dynamodb, "MATERIALS_TABLE") if "status" in m
    )
    assert admission.lambda_handler(batch, lambda_context) == {"batchItemFailures": []}
    second = sorted(
        (m["material_id"], m["status"]) for m in table_items(dynamodb, "MATERIALS_TABLE") if "status" in m
    )
    # Then one record per image and copy line, unchanged by the replay; the key with a space was decoded
    assert first == second
    assert [s for _, s in first].count("ADMITTED") == 4 and [s for _, s in first].count("REJECTED") == 1
    status, page = api(
        "operator_api",
        "api_list_materials.json",
        lambda_context,
        queryStringParameters={"business_line": "food", "status": "REJECTED"},
        multiValueQueryStringParameters={"business_line": ["food"], "status": ["REJECTED"]},
    )
    assert status == 200
    assert [r["code"] for r in page["items"][0]["reasons"]] == ["corrupt_image"]
    assert {m["source"]["key"] for m in table_items(dynamodb, "MATERIALS_TABLE") if "source" in m} >= {
        "uploads/food/coffee/coffee photo.png"
    }

    # When the model checks have run (tagging: only judged materials are composed)
    from tests.integration.test_tagging_flow import tagging_batch

    events = tagging_batch(aws["sqs"], aws["tagging_queue"])
    assert load_handler("tagging").lambda_handler(events, lambda_context) == {"batchItemFailures": []}
    # And the composition schedule fires (twice: idempotent)
    compose = load_handler("compose_creatives")
    assert (
        compose.lambda_handler(load_event("schedule_compose_creatives.json"), lambda_context)["created"] == 4
    )
    assert (
        compose.lambda_handler(load_event("schedule_compose_creatives.json"), lambda_context)["created"] == 0
    )

    # When a user is served and clicks, and the click is reported twice
    status, chosen = api("select", "api_select.json", lambda_context)
    assert status == 200 and chosen["candidates"] == 4
    assert chosen["creative"]["image_url"].startswith("https://")
    click = {"impression_id": chosen["impression_id"], "event": "click"}
    assert api("feedback", "api_feedback.json", lambda_context, body=click)[1]["counted"] is True
    assert api("feedback", "api_feedback.json", lambda_context, body=click)[1]["counted"] is False
    # Then the operator sees one impression and one click on that creative, and the impression carries
    # the propensity the response stated
    status, creatives = api("operator_api", "api_list_creatives.json", lambda_context)
    stats = {c["creative_id"]: c for c in creatives["items"]}[chosen["creative"]["creative_id"]]
    assert (stats["impressions"], stats["clicks"]) == (1, 1)
    impression = table_items(dynamodb, "IMPRESSIONS_TABLE")[0]
    assert impression["propensity"] == pytest.approx(chosen["propensity"])
    assert impression["clicked_at"] and impression["expires_at"] > 0
    # And a click on an unknown impression is a 404, not a new count
    status, error = api("feedback", "api_feedback.json", lambda_context)
    assert status == 404 and error["error"]["code"] == "unknown_impression"


def test_a_failing_record_fails_alone_and_is_retried(aws, lambda_context):
    s3 = aws["s3"]
    good = put(s3, "uploads/pets/cats/chelsea.png", image_files.photo_bytes("chelsea.png"))
    # A bucket that does not exist: not "object missing", so the record is reported for retry (then the DLQ)
    missing_bucket = ("no-such-bucket", "uploads/pets/cats/x.png", {"ContentLength": 10, "ETag": '"x"'})
    batch = sqs_batch(good, missing_bucket)
    response = load_handler("admission").lambda_handler(batch, lambda_context)
    assert response == {"batchItemFailures": [{"itemIdentifier": batch["Records"][1]["messageId"]}]}
    statuses = [m["status"] for m in table_items(aws["dynamodb"], "MATERIALS_TABLE") if "status" in m]
    assert statuses == ["ADMITTED"]


def test_a_malformed_message_is_reported_not_dropped(aws, lambda_context):
    batch = sqs_batch(put(aws["s3"], "uploads/pets/cats/chelsea.png", image_files.photo_bytes("chelsea.png")))
    batch["Records"].append({**batch["Records"][0], "messageId": "bad-1", "body": "{not json"})
    response = load_handler("admission").lambda_handler(batch, lambda_context)
    assert response == {"batchItemFailures": [{"itemIdentifier": "bad-1"}]}


def test_materials_list_pages_with_tokens(aws, lambda_context):
    lines = "\n".join(f"Headline number {i} for the page test" for i in range(7)).encode()
    load_handler("admission").lambda_handler(
        sqs_batch(put(aws["s3"], "uploads/food/coffee/many.txt", lines)), lambda_context
    )
    seen, token = [], None
    for _ in range(10):
        query = {
            "business_line": "food",
            "status": "ADMITTED",
            "limit": "3",
            **({"next_token": token} if token else {}),
        }
        status, page = api(
            "operator_api",
            "api_list_materials.json",
            lambda_context,
            queryStringParameters=query,
            multiValueQueryStringParameters={k: [v] for k, v in query.items()},
        )
        assert status == 200
        seen += [m["material_id"] for m in page["items"]]
        token = page["next_token"]
        if not token:
            break
    assert len(seen) == len(set(seen)) == 7
    query = {"next_token": "garbage!"}
    status, error = api(
        "operator_api",
        "api_list_materials.json",
        lambda_context,
        queryStringParameters=query,
        multiValueQueryStringParameters={"next_token": ["garbage!"]},
    )
    assert status == 400 and error["error"]["code"] == "invalid_token"


def test_records_left_when_time_runs_short_are_reported_not_started(aws, lambda_context):
    # Given a batch of two uploads, and a function with time for the first record only
    s3 = aws["s3"]
    batch = sqs_batch(
        put(s3, "uploads/pets/cats/chelsea.png", image_files.photo_bytes("chelsea.png")),
        put(s3, "uploads/pets/cats/coffee.png", image_files.photo_bytes("coffee.png")),
    )
    handler = load_handler("admission")

    def remaining_ms() -> int:  # plenty until the first material is recorded, then too little
        return 5_000 if table_items(aws["dynamodb"], "MATERIALS_TABLE") else 60_000

    lambda_context.get_remaining_time_in_millis = remaining_ms
    response = handler.lambda_handler(batch, lambda_context)
    # Then the first is admitted and the second goes back to the queue untouched, with nothing recorded
    assert response == {"batchItemFailures": [{"itemIdentifier": batch["Records"][1]["messageId"]}]}
    materials = [m for m in table_items(aws["dynamodb"], "MATERIALS_TABLE") if "status" in m]
    assert [m["source"]["key"] for m in materials] == ["uploads/pets/cats/chelsea.png"]


@pytest.mark.skipif(not MODELS_MANIFEST.is_file(), reason="models are not built (`make models`)")
def test_generated_copy_is_written_once_per_window_and_admitted_like_an_upload(
    aws, lambda_context, monkeypatch, tmp_path
):
    from types import SimpleNamespace

    s3, dynamodb = aws["s3"], aws["dynamodb"]
    deploy_models(s3, names=("generator",))
    monkeypatch.setenv("MODEL_CACHE_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("UPLOADS_BUCKET", UPLOADS_BUCKET)
    monkeypatch.setenv("GENERATED_PER_LINE", "3")  # a few lines are enough to follow them through
    context = SimpleNamespace(**{**vars(lambda_context), "get_remaining_time_in_millis": lambda: 600_000})
    admission = load_handler("admission")
    # Given a line with admitted copy
    copy = b"Fresh roast every morning\nYour cup, your way\nCold brew, warm smiles\n"
    batch = sqs_batch(put(s3, "uploads/food/coffee/copy.txt", copy))
    assert admission.lambda_handler(batch, context) == {"batchItemFailures": []}
    # When the schedule fires, and fires again in the same window
    generate = load_handler("generate_copy")
    first = generate.lambda_handler(load_event("schedule_generate_copy.json"), context)
    again = generate.lambda_handler(load_event("schedule_generate_copy.json"), context)
    # Then new lines were written once, with their provenance beside them
    assert first["written"] >= 1 and first["outcomes"] == {"written": 1}
    assert again == {"business_lines": 1, "written": 0, "outcomes": {"already_written": 1}}
    key = "uploads/food/coffee/generated-20261125T12.txt"
    lines = s3.get_object(Bucket=UPLOADS_BUCKET, Key=key)["Body"].read().decode().splitlines()
    provenance = json.loads(
        s3.get_object(Bucket=UPLOADS_BUCKET, Key="generated/food/20261125T12.json")["Body"].read()
    )
    assert provenance["lines"] == lines and provenance["generator"].startswith("smollm2-135m-instruct@")
    assert len(lines) == first["written"] and not set(lines) & set(copy.decode().splitlines())
    # And admission judges the file like any upload: one record per line, each with a status and its reasons
    head = s3.head_object(Bucket=UPLOADS_BUCKET, Key=key)
    assert admission.lambda_handler(sqs_batch((UPLOADS_BUCKET, key, head)), context) == {
        "batchItemFailures": []
    }
    generated = [m for m in table_items(dynamodb, "MATERIALS_TABLE") if m.get("source", {}).get("key") == key]
    assert len(generated) == len(lines)
    assert all(m["status"] == "ADMITTED" or m["reasons"] for m in generated)
