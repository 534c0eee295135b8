"""The quality checks end to end against moto, with the models `make models` built: admission's checks, the
model checks in tagging (spam likeness, near-duplicates through the DynamoDB index), an operator's review,
replayed events that must not undo it, and composition taking only what is admitted."""

import io
import json

import pytest
from demo import image_files
from PIL import Image, ImageFilter

from tests.conftest import load_event, load_handler
from tests.integration.conftest import table_items
from tests.integration.test_flow import api, deploy_models, put, sqs_batch
from tests.integration.test_tagging_flow import MANIFEST, tagging_batch

pytestmark = pytest.mark.skipif(not MANIFEST.is_file(), reason="models are not built (`make models`)")


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def admit_and_judge(aws, ctx, *objects) -> None:
    assert load_handler("admission").lambda_handler(sqs_batch(*objects), ctx) == {"batchItemFailures": []}
    events = tagging_batch(aws["sqs"], aws["tagging_queue"])
    assert load_handler("tagging").lambda_handler(events, ctx) == {"batchItemFailures": []}


def materials_by_key(dynamodb) -> dict[str, dict]:
    return {m["source"]["key"]: m for m in table_items(dynamodb, "MATERIALS_TABLE") if "source" in m}


def codes(material: dict) -> set[str]:
    return {r["code"] for r in material["reasons"]}


@pytest.fixture
def judged(aws, monkeypatch, tmp_path, lambda_context):
    """Originals first, then a blurred photo, a cropped re-encode, a paraphrase and a spam-like line."""
    monkeypatch.setenv("MODEL_CACHE_DIR", str(tmp_path / "models"))
    s3 = aws["s3"]
    deploy_models(s3)
    coffee = Image.open(image_files.skimage_photo("coffee.png"))
    w, h = coffee.size
    originals = (
        put(s3, "uploads/food/coffee/coffee.png", image_files.photo_bytes("coffee.png")),
        put(s3, "uploads/food/coffee/lines.txt", b"Fresh beans, roasted this morning\n"),
    )
    admit_and_judge(aws, lambda_context, *originals)
    copies = (
        put(
            s3,
            "uploads/food/coffee/blurred.jpg",
            jpeg(Image.open(image_files.skimage_photo("astronaut.png")).filter(ImageFilter.GaussianBlur(5))),
        ),
        put(
            s3,
            "uploads/food/coffee/cropped.jpg",
            jpeg(coffee.crop((w // 20, h // 20, w - w // 20, h - h // 20))),
        ),
        put(s3, "uploads/food/coffee/paraphrase.txt", b"This morning we roasted fresh beans\n"),
        put(
            s3,
            "uploads/food/offers/spam.txt",
            b"Get paid to drink coffee! Click here to claim your cash now\n",
        ),
    )
    admit_and_judge(aws, lambda_context, *copies)
    return originals, copies


def test_each_check_gives_its_reason_and_only_live_materials_are_neighbours(aws, judged, lambda_context):
    materials = materials_by_key(aws["dynamodb"])
    coffee, beans = materials["uploads/food/coffee/coffee.png"], materials["uploads/food/coffee/lines.txt"]
    assert coffee["status"] == beans["status"] == "ADMITTED"
    assert "image_blurry" in codes(materials["uploads/food/coffee/blurred.jpg"])
    cropped = materials["uploads/food/coffee/cropped.jpg"]
    assert cropped["status"] == "REJECTED" and "near_duplicate" in codes(cropped)
    assert cropped["quality"]["near_duplicate_of"] == coffee["material_id"]
    paraphrase = materials["uploads/food/coffee/paraphrase.txt"]
    assert paraphrase["status"] == "NEEDS_REVIEW" and codes(paraphrase) == {"near_duplicate"}
    assert paraphrase["quality"]["near_duplicate_of"] == beans["material_id"]
    spam = materials["uploads/food/offers/spam.txt"]
    assert spam["status"] in ("NEEDS_REVIEW", "REJECTED") and "copy_spam_like" in codes(spam)
    assert spam["quality"]["spam"] >= 0.8
    # The near-duplicate index holds what is live (in review included), never what was rejected
    indexed = {item["material_id"] for item in table_items(aws["dynamodb"], "SIMILARITY_TABLE")}
    assert {coffee["material_id"], beans["material_id"], paraphrase["material_id"]} <= indexed
    assert cropped["material_id"] not in indexed
    # And the review queue lists what waits for an operator
    status, queue = api(
        "operator_api",
        "api_list_materials.json",
        lambda_context,
        queryStringParameters={"status": "NEEDS_REVIEW", "business_line": "food"},
        multiValueQueryStringParameters={"status": ["NEEDS_REVIEW"], "business_line": ["food"]},
    )
    assert status == 200 and paraphrase["material_id"] in {m["material_id"] for m in queue["items"]}


def test_an_override_survives_replayed_events_and_only_admitted_material_is_composed(
    aws, judged, lambda_context
):
    _, copies = judged
    paraphrase = materials_by_key(aws["dynamodb"])["uploads/food/coffee/paraphrase.txt"]
    # When an operator admits the paraphrase on review
    event = load_event("api_review_decision.json")
    path = f"/v1/materials/{paraphrase['material_id']}/decision"
    event |= {"path": path, "pathParameters": {"material_id": paraphrase["material_id"]}}
    event["requestContext"] = {**event["requestContext"], "path": "/prod" + path}
    response = load_handler("operator_api").lambda_handler(event, lambda_context)
    assert response["statusCode"] == 200 and json.loads(response["body"])["status"] == "ADMITTED"
    # And its upload event is delivered again, with admission's announcement and tagging after it
    admit_and_judge(aws, lambda_context, copies[2])
    # Then the operator's decision stands, recorded once
    replayed = materials_by_key(aws["dynamodb"])["uploads/food/coffee/paraphrase.txt"]
    assert replayed["status"] == "ADMITTED" and len(replayed["decisions"]) == 1
    assert replayed["decisions"][0]["comment"] == "a fair paraphrase for another placement"
    # And composition pairs admitted material only: never the cropped copy, the blurred photo or the spam
    compose = load_handler("compose_creatives")
    compose.lambda_handler(load_event("schedule_compose_creatives.json"), lambda_context)
    creatives = table_items(aws["dynamodb"], "CREATIVES_TABLE")
    materials = materials_by_key(aws["dynamodb"])
    used = {c["image_material_id"] for c in creatives} | {c["copy_material_id"] for c in creatives}
    admitted = {m["material_id"] for m in materials.values() if m["status"] == "ADMITTED"}
    assert used and used <= admitted
    assert replayed["material_id"] in used
