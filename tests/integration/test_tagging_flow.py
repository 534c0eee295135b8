"""Upload -> admission -> "Material Admitted" on the bus -> tagging queue -> tagging, against moto, with the
models `make models` built, deployed to the assets bucket as the stack deploys them."""

import json
import uuid

import pytest
from demo import image_files

from infra.paths import MODELS_BUILD_DIR
from tests.conftest import load_handler
from tests.integration.conftest import table_items
from tests.integration.test_flow import deploy_models, put, sqs_batch

MANIFEST = MODELS_BUILD_DIR / "manifest.json"
pytestmark = pytest.mark.skipif(not MANIFEST.is_file(), reason="models are not built (`make models`)")


def tagging_batch(sqs, queue_url: str) -> dict:
    """Every message the bus delivered to the tagging queue, as the SQS event Lambda would get."""
    records = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            records.append(
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                }
            )
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return {"Records": records}


@pytest.fixture
def tagging_env(aws, monkeypatch, tmp_path):
    monkeypatch.setenv("MODEL_CACHE_DIR", str(tmp_path / "models"))
    return aws


def test_admitted_uploads_are_tagged_once_and_indexed(tagging_env, lambda_context):
    aws = tagging_env
    s3, dynamodb = aws["s3"], aws["dynamodb"]
    deploy_models(s3)
    # Given a photo, a copy file and a broken JPEG, admitted
    admission = load_handler("admission")
    batch = sqs_batch(
        put(s3, "uploads/food/coffee/coffee.png", image_files.photo_bytes("coffee.png")),
        put(
            s3,
            "uploads/food/coffee/lines.txt",
            b"Free delivery on every order\nGift boxes for the whole family\n",
        ),
        put(s3, "uploads/food/coffee/broken.jpg", image_files.truncated_jpeg()),
    )
    assert admission.lambda_handler(batch, lambda_context) == {"batchItemFailures": []}
    # Then the bus delivered one "Material Admitted" per admitted material to the tagging queue
    events = tagging_batch(aws["sqs"], aws["tagging_queue"])
    admitted = {
        m["material_id"] for m in table_items(dynamodb, "MATERIALS_TABLE") if m.get("status") == "ADMITTED"
    }
    assert {json.loads(r["body"])["detail"]["material_id"] for r in events["Records"]} == admitted
    assert len(admitted) == 3
    # When the tagging function handles them
    tagging = load_handler("tagging")
    assert tagging.lambda_handler(events, lambda_context) == {"batchItemFailures": []}
    # Then every admitted material carries tags from the deployed models, with their source
    materials = {
        m["material_id"]: m for m in table_items(dynamodb, "MATERIALS_TABLE") if m.get("status") == "ADMITTED"
    }
    by_text = {m.get("text") or m["source"]["key"]: m for m in materials.values()}
    assert "selling:free_shipping" in {t["tag"] for t in by_text["Free delivery on every order"]["tags"]}
    assert "selling:gift" in {t["tag"] for t in by_text["Gift boxes for the whole family"]["tags"]}
    photo = by_text["uploads/food/coffee/coffee.png"]
    assert "iab:210" in {t["tag"] for t in photo["tags"]}  # Food & Drink
    assert all(t["source"].startswith("model:tagger@") for m in materials.values() for t in m["tags"])
    # And the tag index answers "food materials tagged Food & Drink"
    index = table_items(dynamodb, "TAGS_TABLE")
    assert {(i["line_tag"], i["material_id"]) for i in index} >= {("food#iab:210", photo["material_id"])}
    # When the same events arrive again
    revisions = {k: m["revision"] for k, m in materials.items()}
    assert tagging.lambda_handler(events, lambda_context) == {"batchItemFailures": []}
    # Then nothing changed
    again = {
        m["material_id"]: m["revision"]
        for m in table_items(dynamodb, "MATERIALS_TABLE")
        if m.get("status") == "ADMITTED"
    }
    assert again == revisions and len(table_items(dynamodb, "TAGS_TABLE")) == len(index)


def test_without_models_every_event_goes_back_to_the_queue(tagging_env, lambda_context):
    # Given no model in the assets bucket (a deploy without `make models`)
    body = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Material Admitted",
        "source": "creative-engine.admission",
        "account": "123456789012",
        "time": "2026-11-30T12:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"material_id": "mat_x", "business_line": "food", "kind": "copy"},
    }
    events = {"Records": [{"messageId": "m1", "receiptHandle": "r", "body": json.dumps(body)}]}
    # Then the batch is reported failed, for a retry and at last the dead-letter queue
    assert load_handler("tagging").lambda_handler(events, lambda_context) == {
        "batchItemFailures": [{"itemIdentifier": "m1"}]
    }


def test_a_malformed_event_is_acknowledged_not_retried(tagging_env, lambda_context):
    deploy_models(tagging_env["s3"])
    events = {"Records": [{"messageId": "m1", "receiptHandle": "r", "body": "{not json"}]}
    assert load_handler("tagging").lambda_handler(events, lambda_context) == {"batchItemFailures": []}
