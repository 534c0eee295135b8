"""API handlers over real-shaped API Gateway events, with the domain behind in-memory fakes."""

import base64
import json

import pytest
from creative.materials import ImageFacts, Material, MaterialKind, MaterialStatus, SourceObject
from creative.operator import OperatorService
from creative.tagging.vocabulary import TagVocabulary
from creative.tags import MaterialTag
from in_memory.adapters import (
    InMemoryComplianceLists,
    InMemoryMaterialEvents,
    InMemoryMaterialRepository,
    InMemoryModelRegistry,
    InMemoryObjectStore,
    InMemoryQualityPolicies,
    InMemoryTagIndex,
)

from tests.conftest import line_route_event, load_event, load_handler
from tests.factories import creative, racing_world


@pytest.fixture
def world():
    racing = racing_world(creative(1), creative(2))
    materials, tag_index = InMemoryMaterialRepository(), InMemoryTagIndex()
    compliance, events, policies = (
        InMemoryComplianceLists(),
        InMemoryMaterialEvents(),
        InMemoryQualityPolicies(),
    )
    models = InMemoryModelRegistry()
    return {
        "creatives": racing.creatives,
        "state": racing.state,
        "log": racing.log,
        "racing": racing.racing,
        "feedback": racing.feedback,
        "materials": materials,
        "tag_index": tag_index,
        "compliance": compliance,
        "events": events,
        "policies": policies,
        "models": models,
        "operator": OperatorService(
            materials,
            racing.creatives,
            InMemoryObjectStore(),
            tag_index,
            lambda: VOCABULARY,
            compliance,
            events,
            policies,
            racing.state,
            uploads_bucket="uploads-bucket",
            models=models,
        ),
    }


VOCABULARY = TagVocabulary(
    {"selling:gift": "Gift", "selling:price_discount": "Price / discount", "iab:210": "Food & Drink"},
    "tagger-test",
)


def with_body(event: dict, body) -> dict:
    return {**event, "body": body if isinstance(body, str) or body is None else json.dumps(body)}


def call(function: str, event: dict, service, ctx) -> tuple[int, dict]:
    response = load_handler(function).handle(event, ctx, service)
    return response["statusCode"], json.loads(response["body"])


def test_select_then_click_then_stats(world, lambda_context):
    status, chosen = call("select", load_event("api_select.json"), world["racing"], lambda_context)
    assert status == 200 and chosen["creative"]["creative_id"] in {"cr_1", "cr_2"}
    assert 0 < chosen["propensity"] <= 1 and chosen["policy_version"] == "racer-v2"
    click = with_body(
        load_event("api_feedback.json"), {"impression_id": chosen["impression_id"], "event": "click"}
    )
    assert call("feedback", click, world["feedback"], lambda_context) == (
        200,
        {
            "impression_id": chosen["impression_id"],
            "creative_id": chosen["creative"]["creative_id"],
            "event": "click",
            "counted": True,
        },
    )
    status, again = call("feedback", click, world["feedback"], lambda_context)
    assert status == 200 and again["counted"] is False
    status, page = call(
        "operator_api", load_event("api_list_creatives.json"), world["operator"], lambda_context
    )
    stats = {c["creative_id"]: c for c in page["items"]}[chosen["creative"]["creative_id"]]
    assert (stats["impressions"], stats["clicks"], stats["ctr"]) == (1, 1, 1.0)
    assert stats["posterior_mean"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "body",
    [
        None,
        "not json",
        {},
        {"business_line": "Food!", "placement": "home", "user": {"id": "u"}},
        {"business_line": "food", "placement": "home", "user": {"id": ""}},
        {"business_line": "food", "placement": "home", "user": {"id": "u"}, "surprise": 1},
    ],
)
def test_bad_select_requests_get_400_with_a_reason(world, lambda_context, body):
    status, error = call(
        "select", with_body(load_event("api_select.json"), body), world["racing"], lambda_context
    )
    assert status == 400
    assert error["error"]["code"] == "invalid_request" and error["error"]["message"]
    assert "Traceback" not in json.dumps(error)


def test_a_select_request_says_where_it_breaks_the_schema(world, lambda_context):
    event = load_event("api_select.json")
    _, not_json = call("select", with_body(event, '{"business_line": '), world["racing"], lambda_context)
    body = {"business_line": "food", "placement": "home", "user": {"id": 7}}
    _, wrong_type = call("select", with_body(event, body), world["racing"], lambda_context)
    assert not_json["error"]["details"] == [
        {"location": ["body", 18], "problem": "JSON decode error", "type": "json_invalid"}
    ]
    assert wrong_type["error"]["details"] == [
        {
            "location": ["body", "user", "id"],
            "problem": "Input should be a valid string",
            "type": "string_type",
        }
    ]


def test_select_answers_a_base64_body_a_trailing_slash_and_no_other_route(world, lambda_context):
    event = load_event("api_select.json")
    encoded = {**event, "body": base64.b64encode(event["body"].encode()).decode(), "isBase64Encoded": True}
    status, chosen = call("select", encoded, world["racing"], lambda_context)
    assert status == 200 and chosen["creative"]["creative_id"] in {"cr_1", "cr_2"}
    assert call("select", {**event, "path": "/v1/select/"}, world["racing"], lambda_context)[0] == 200
    for other in ({"httpMethod": "GET"}, {"path": "/v1/selector"}, {"path": None}):
        status, error = call("select", {**event, **other}, world["racing"], lambda_context)
        assert (status, error["error"]["code"]) == (404, "no_route")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [("null", 400, "invalid_request"), ("", 400, "invalid_request"), ("[" * 100_000, 500, "internal_error")],
)
def test_a_body_that_is_no_request_is_a_json_error_never_a_lambda_error(
    world, lambda_context, body, status, code
):
    event = with_body(load_event("api_select.json"), body)
    answered, error = call("select", event, world["racing"], lambda_context)
    assert (answered, error["error"]["code"]) == (status, code)
    if status == 400:  # no body at all, as the resolver read one
        assert error["error"]["details"] == [
            {"location": ["body"], "problem": "Field required", "type": "missing"}
        ]


def test_an_unexpected_failure_is_a_logged_500_that_shows_nothing_of_it(lambda_context, monkeypatch):
    class Broken:
        def select(self, *args, **kwargs):
            raise RuntimeError("secret internals")

    handler, logged = load_handler("select"), []
    monkeypatch.setattr(handler.logger, "exception", lambda message, *a, **k: logged.append(message))
    response = handler.handle(load_event("api_select.json"), lambda_context, Broken())
    assert response["statusCode"] == 500 and logged == ["unhandled error"]
    assert json.loads(response["body"])["error"] == {
        "code": "internal_error",
        "message": "the request failed; it has been logged",
        "details": None,
    }


def test_unknown_business_line_is_404(world, lambda_context):
    event = with_body(
        load_event("api_select.json"), {"business_line": "travel", "placement": "p", "user": {"id": "u"}}
    )
    status, error = call("select", event, world["racing"], lambda_context)
    assert status == 404 and error["error"]["code"] == "no_active_creatives"


def test_feedback_from_another_api_key_is_404_and_counts_nothing(world, lambda_context):
    # Given an impression served to the key in the select event
    status, chosen = call("select", load_event("api_select.json"), world["racing"], lambda_context)
    click = with_body(
        load_event("api_feedback.json"), {"impression_id": chosen["impression_id"], "event": "click"}
    )
    # When another client's key reports a click on it
    other = json.loads(json.dumps(click))
    other["requestContext"]["identity"]["apiKeyId"] = "another-client"
    status, error = call("feedback", other, world["feedback"], lambda_context)
    # Then it is unknown to that client, and the owner's click still counts once
    assert status == 404 and error["error"]["code"] == "unknown_impression"
    assert call("feedback", click, world["feedback"], lambda_context)[1]["counted"] is True


def test_click_on_unknown_impression_is_404_and_other_events_are_400(world, lambda_context):
    status, error = call("feedback", load_event("api_feedback.json"), world["feedback"], lambda_context)
    assert status == 404 and error["error"]["code"] == "unknown_impression"
    event = with_body(load_event("api_feedback.json"), {"impression_id": "imp_x", "event": "purchase"})
    assert call("feedback", event, world["feedback"], lambda_context)[0] == 400


def test_operator_disables_and_reenables_a_creative(world, lambda_context):
    event = load_event("api_disable_creative.json")
    event["pathParameters"] = {"creative_id": "cr_1"}
    event["path"] = "/v1/creatives/cr_1"
    status, stats = call("operator_api", event, world["operator"], lambda_context)
    assert status == 200 and stats["status"] == "DISABLED"
    assert world["creatives"].items["cr_1"].status.value == "DISABLED"
    status, _ = call(
        "operator_api", with_body(event, {"status": "ACTIVE"}), world["operator"], lambda_context
    )
    assert status == 200 and world["creatives"].items["cr_1"].status.value == "ACTIVE"
    assert (
        call("operator_api", with_body(event, {"status": "DELETED"}), world["operator"], lambda_context)[0]
        == 400
    )


def test_operator_reads_unknown_material_as_404_and_bad_filters_as_400(world, lambda_context):
    status, error = call(
        "operator_api", load_event("api_get_material.json"), world["operator"], lambda_context
    )
    assert status == 404 and error["error"]["code"] == "unknown_material"
    event = load_event("api_list_materials.json")
    event["queryStringParameters"] = {"status": "MAYBE"}
    event["multiValueQueryStringParameters"] = {"status": ["MAYBE"]}
    assert call("operator_api", event, world["operator"], lambda_context)[0] == 400


@pytest.mark.parametrize(
    "features",
    [
        {"score": float("nan")},
        {"score": 1e200},
        {"big": 10**40},
        {"bio": "x" * 5000},
        {"bad key!": 1},
        {f"f{i}": i for i in range(65)},
    ],
)
def test_unstorable_user_features_are_400_not_500(world, lambda_context, features):
    body = json.dumps({"business_line": "food", "placement": "p", "user": {"id": "u", "features": features}})
    status, error = call(
        "select", with_body(load_event("api_select.json"), body), world["racing"], lambda_context
    )
    assert status == 400 and error["error"]["code"] == "invalid_request"


def test_a_click_after_the_impression_expired_is_not_counted(world, lambda_context):
    _, chosen = call("select", load_event("api_select.json"), world["racing"], lambda_context)
    impression = world["log"].items[chosen["impression_id"]]
    impression.expires_at = 1  # long past
    click = with_body(
        load_event("api_feedback.json"), {"impression_id": chosen["impression_id"], "event": "click"}
    )
    status, error = call("feedback", click, world["feedback"], lambda_context)
    assert status == 404 and error["error"]["code"] == "unknown_impression"
    creative_id = chosen["creative"]["creative_id"]
    assert world["state"].totals([creative_id])[creative_id].clicks == 0


def admitted_material(world, material_id: str = "mat_3f2a1b0c9d8e7f6a5b4c3d2e") -> None:
    tagged = MaterialTag(
        tag="selling:price_discount", name="Price / discount", score=0.9, source="model:tagger@t1"
    )
    world["materials"].put_new(
        Material(
            material_id=material_id,
            kind=MaterialKind.COPY,
            status=MaterialStatus.ADMITTED,
            business_line="food",
            category="coffee",
            source=SourceObject(bucket="b", key="uploads/food/coffee/c.txt", line=1),
            text="Gift boxes for two",
            tags=[tagged],
            created_at="2026-11-25T00:00:00.000000Z",
        )
    )


def test_an_operator_corrects_tags_and_a_double_submit_changes_nothing(world, lambda_context):
    admitted_material(world)
    event = load_event("api_change_tags.json")
    # When the operator replaces the model's price tag by a gift tag, with a reason
    status, material = call("operator_api", event, world["operator"], lambda_context)
    # Then the material carries the operator's tag and two labels saying who, when and why
    assert status == 200
    assert [(t["tag"], t["source"]) for t in material["tags"]] == [("selling:gift", "operator")]
    assert [(lab["tag"], lab["present"]) for lab in material["tag_labels"]] == [
        ("selling:gift", True),
        ("selling:price_discount", False),
    ]
    assert material["tag_labels"][0]["comment"] == "a gift box, not a discount"
    # And the tag index follows: gift lists it, the price tag no longer does
    tag_index = world["tag_index"]
    assert [
        e.material_id for e in tag_index.materials("food", "selling:gift", limit=5, next_token=None).items
    ] == [material["material_id"]]
    assert not tag_index.materials("food", "selling:price_discount", limit=5, next_token=None).items
    # When the same request is sent again
    status, again = call("operator_api", event, world["operator"], lambda_context)
    # Then nothing changes
    assert status == 200 and again["revision"] == material["revision"] and len(again["tag_labels"]) == 2


@pytest.mark.parametrize(
    "body, code",
    [
        ({"add": ["selling:teleportation"]}, "unknown_tag"),
        ({"add": ["selling:gift"], "remove": ["selling:gift"]}, "invalid_request"),
        ({}, "invalid_request"),
        ({"add": ["not a tag"]}, "invalid_request"),
    ],
)
def test_a_tag_change_the_api_cannot_apply_is_400_and_stores_nothing(world, lambda_context, body, code):
    admitted_material(world)
    status, error = call(
        "operator_api", with_body(load_event("api_change_tags.json"), body), world["operator"], lambda_context
    )
    assert status == 400 and error["error"]["code"] == code
    assert world["materials"].get("mat_3f2a1b0c9d8e7f6a5b4c3d2e").tag_labels == []


def test_tagging_an_unknown_material_is_404(world, lambda_context):
    status, error = call(
        "operator_api", load_event("api_change_tags.json"), world["operator"], lambda_context
    )
    assert status == 404 and error["error"]["code"] == "unknown_material"


def decision_event(material_id: str, body: dict) -> dict:
    event = load_event("api_change_tags.json")
    path = f"/v1/materials/{material_id}/decision"
    event |= {"resource": "/v1/materials/{material_id}/decision", "path": path, "body": json.dumps(body)}
    event["pathParameters"] = {"material_id": material_id}
    event["requestContext"] = {
        **event["requestContext"],
        "resourcePath": event["resource"],
        "path": "/prod" + path,
    }
    return event


def test_an_operator_admits_a_material_under_review_and_the_audit_trail_keeps_it(world, lambda_context):
    admitted_material(world)
    material_id = "mat_3f2a1b0c9d8e7f6a5b4c3d2e"
    stored = world["materials"].items[material_id]
    world["materials"].items[material_id] = stored.model_copy(update={"status": MaterialStatus.NEEDS_REVIEW})
    # When the operator admits it with a comment
    body = {"decision": "admit", "comment": "a competitor named in a fair comparison"}
    status, material = call(
        "operator_api", decision_event(material_id, body), world["operator"], lambda_context
    )
    # Then it is admitted, and the decision says who, when, from what and why
    assert status == 200 and material["status"] == "ADMITTED"
    (decision,) = material["decisions"]
    assert (decision["from_status"], decision["to_status"], decision["comment"]) == (
        "NEEDS_REVIEW",
        "ADMITTED",
        body["comment"],
    )
    # And, never having been through the model checks, it is announced so they run
    assert world["events"].announced == [material_id]
    # When the same decision is sent again, nothing changes
    _, again = call("operator_api", decision_event(material_id, body), world["operator"], lambda_context)
    assert again["revision"] == material["revision"] and len(again["decisions"]) == 1
    # When an operator overrides it to rejected, it leaves the tag index
    reject = {"decision": "reject", "comment": "legal asked us to pull it"}
    _, rejected = call("operator_api", decision_event(material_id, reject), world["operator"], lambda_context)
    assert rejected["status"] == "REJECTED" and len(rejected["decisions"]) == 2
    assert rejected["reasons"][-1]["code"] == "operator_decision"
    assert "legal asked us to pull it" in rejected["reasons"][-1]["detail"]
    assert not world["tag_index"].materials("food", "selling:price_discount", limit=5, next_token=None).items


@pytest.mark.parametrize(
    "body",
    [{"decision": "admit"}, {"decision": "maybe", "comment": "x"}, {"decision": "admit", "comment": ""}],
)
def test_a_decision_without_a_reason_or_with_an_unknown_verdict_is_400(world, lambda_context, body):
    admitted_material(world)
    status, _ = call(
        "operator_api",
        decision_event("mat_3f2a1b0c9d8e7f6a5b4c3d2e", body),
        world["operator"],
        lambda_context,
    )
    assert status == 400


def compliance_event(method: str, line: str, body: dict | None = None, versions: bool = False) -> dict:
    route = "/v1/compliance/{business_line}" + ("/versions" if versions else "")
    return line_route_event(method, route, line, body)


def test_compliance_lists_are_versioned_and_a_stale_edit_is_409(world, lambda_context):
    operator = world["operator"]
    # Given an empty list for food, saved by an operator
    status, empty = call("operator_api", compliance_event("GET", "food"), operator, lambda_context)
    assert status == 200 and empty["version"] == 0
    first = {"banned_claims": ["miracle cure"], "competitors": ["Starbucks"], "expected_version": 0}
    status, saved = call("operator_api", compliance_event("PUT", "food", first), operator, lambda_context)
    assert status == 200 and saved["version"] == 1 and saved["updated_by"]
    # When another operator saves over the version they loaded, and a third over the same stale version
    second = {**first, "regulated": ["wine"], "expected_version": 1}
    assert call("operator_api", compliance_event("PUT", "food", second), operator, lambda_context)[0] == 200
    status, error = call("operator_api", compliance_event("PUT", "food", second), operator, lambda_context)
    # Then the stale edit is refused with the current version, and every saved version is listed
    assert status == 409 and error["error"]["details"]["current_version"] == 2
    _, versions = call(
        "operator_api", compliance_event("GET", "food", versions=True), operator, lambda_context
    )
    assert [v["version"] for v in versions["items"]] == [2, 1]
    # And the list for every line is addressed as "*"
    assert call("operator_api", compliance_event("GET", "*"), operator, lambda_context)[0] == 200


@pytest.mark.parametrize(
    "body",
    [
        {"banned_claims": ["x"], "expected_version": 0},
        {"banned_claims": ["ok phrase"]},
        {"expected_version": -1},
    ],
)
def test_an_invalid_compliance_list_is_400_and_nothing_is_saved(world, lambda_context, body):
    status, _ = call("operator_api", compliance_event("PUT", "food", body), world["operator"], lambda_context)
    assert status == 400 and world["compliance"].current("food").version == 0


def policy_event(method: str, line: str, body: dict | None = None) -> dict:
    return line_route_event(method, "/v1/quality-policy/{business_line}", line, body)


def test_a_business_line_sets_its_own_spam_cut_offs(world, lambda_context):
    operator = world["operator"]
    status, before = call("operator_api", policy_event("GET", "food"), operator, lambda_context)
    assert status == 200 and before["overrides"] == {} and before["effective"]["spam"] == [0.8, 0.99]
    change = {"overrides": {"spam": [0.6, 0.95]}}
    status, saved = call("operator_api", policy_event("PUT", "food", change), operator, lambda_context)
    assert status == 200 and saved["effective"]["spam"] == [0.6, 0.95] and saved["updated_by"]
    # What tagging reads for food changed; other lines keep the defaults
    assert world["policies"].policy("food").spam == (0.6, 0.95)
    assert world["policies"].policy("travel").spam == (0.8, 0.99)


@pytest.mark.parametrize(
    "body",
    [
        {"overrides": {"spam_cut": [0.5, 0.9]}},  # not a field
        {"overrides": {"spam": "high"}},  # not a pair
        {"overrides": {"caps_min_letters": 0}},  # out of range
        {"overrides": {}, "extra": 1},
    ],
)
def test_an_invalid_quality_policy_is_400_and_nothing_is_saved(world, lambda_context, body):
    status, error = call("operator_api", policy_event("PUT", "food", body), world["operator"], lambda_context)
    assert status == 400 and error["error"]["message"]
    assert world["policies"].lines == {}


def test_the_every_line_address_is_not_a_policy(world, lambda_context):
    status, _ = call("operator_api", policy_event("GET", "*"), world["operator"], lambda_context)
    assert status == 400


def objective_event(method: str, line: str, body: dict | None = None) -> dict:
    return line_route_event(method, "/v1/racing-objective/{business_line}", line, body)


def test_a_business_line_chooses_what_its_racer_optimises(world, lambda_context):
    operator = world["operator"]
    status, current = call("operator_api", objective_event("GET", "food"), operator, lambda_context)
    assert status == 200 and current == {"business_line": "food", "objective": "ctr"}
    change = {"objective": "value_per_impression"}
    status, saved = call("operator_api", objective_event("PUT", "food", change), operator, lambda_context)
    assert status == 200 and saved["objective"] == "value_per_impression"
    assert world["state"].read("food").objective == "value_per_impression"
    bad = {"objective": "revenue"}
    assert call("operator_api", objective_event("PUT", "food", bad), operator, lambda_context)[0] == 400


def test_conversions_with_their_value_show_in_the_creatives_stats(world, lambda_context):
    _, chosen = call("select", load_event("api_select.json"), world["racing"], lambda_context)
    conversion = {"impression_id": chosen["impression_id"], "event": "conversion", "value": 30.0}
    status, counted = call(
        "feedback", with_body(load_event("api_feedback.json"), conversion), world["feedback"], lambda_context
    )
    assert status == 200 and counted["counted"] and counted["event"] == "conversion"
    _, creatives = call(
        "operator_api", load_event("api_list_creatives.json"), world["operator"], lambda_context
    )
    stats = {c["creative_id"]: c for c in creatives["items"]}[chosen["creative"]["creative_id"]]
    assert (stats["conversions"], stats["value"], stats["value_per_impression"]) == (1, 30.0, 30.0)
    clicked_value = {"impression_id": chosen["impression_id"], "event": "click", "value": 3}
    status, _ = call(
        "feedback",
        with_body(load_event("api_feedback.json"), clicked_value),
        world["feedback"],
        lambda_context,
    )
    assert status == 400


def image_material(
    world, material_id: str, *, served: bool, pixels: tuple[int, int] | None = (640, 480)
) -> None:
    world["materials"].put_new(
        Material(
            material_id=material_id,
            kind=MaterialKind.IMAGE,
            status=MaterialStatus.ADMITTED if served else MaterialStatus.REJECTED,
            business_line="food",
            category="burgers",
            source=SourceObject(bucket="uploads-bucket", key="uploads/food/burgers/a.jpg", version_id="v1"),
            served=(
                SourceObject(bucket="uploads-bucket", key=f"served/food/{material_id}.jpg", version_id="v2")
                if served
                else None
            ),
            image=ImageFacts(format="JPEG", width=pixels[0], height=pixels[1], mode="RGB")
            if pixels
            else None,
            created_at="2026-11-25T00:00:00.000000Z",
        )
    )


def image_event(material_id: str) -> dict:
    event = load_event("api_material_image.json")
    event["path"] = f"/v1/materials/{material_id}/image"
    event["pathParameters"] = {"material_id": material_id}
    return event


def test_a_thumbnail_is_a_short_lived_url_of_the_served_rendition_else_of_the_upload(world, lambda_context):
    # Given an admitted image with a served rendition and a rejected one without
    image_material(world, "mat_served", served=True)
    image_material(world, "mat_rejected", served=False)
    # When the console asks for their images
    status, served = call("operator_api", image_event("mat_served"), world["operator"], lambda_context)
    _, original = call("operator_api", image_event("mat_rejected"), world["operator"], lambda_context)
    # Then the admitted one shows what users see, the rejected one its upload, both signed for 5 minutes
    assert (
        status == 200 and served["rendition"] == "served" and "/served/food/mat_served.jpg" in served["url"]
    )
    assert original["rendition"] == "original" and "/uploads/food/burgers/a.jpg" in original["url"]
    assert served["expires_in"] == original["expires_in"] == 300


def test_an_image_admission_could_not_read_safely_is_never_signed(world, lambda_context):
    # Given a decompression bomb (facts past the pixel cap) and a file admission could not decode at all
    image_material(world, "mat_bomb", served=False, pixels=(30_000, 30_000))
    image_material(world, "mat_corrupt", served=False, pixels=None)
    for material_id in ("mat_bomb", "mat_corrupt"):
        # When the console asks for its image, Then it gets a reason, not a URL
        status, error = call("operator_api", image_event(material_id), world["operator"], lambda_context)
        assert status == 404 and error["error"]["code"] == "no_safe_image"


def test_copy_has_no_image_and_an_unknown_material_none_either(world, lambda_context):
    admitted_material(world, "mat_copy")
    status, error = call("operator_api", image_event("mat_copy"), world["operator"], lambda_context)
    assert status == 404 and error["error"]["code"] == "not_an_image"
    status, error = call("operator_api", image_event("mat_unknown"), world["operator"], lambda_context)
    assert status == 404 and error["error"]["code"] == "unknown_material"


def test_an_upload_form_posts_one_key_under_the_uploads_prefix_with_the_kinds_byte_cap(world, lambda_context):
    # When the console asks to upload a JPEG into food/burgers
    status, form = call("operator_api", load_event("api_upload_form.json"), world["operator"], lambda_context)
    # Then the form names the exact key admission watches, the declared type and the image cap
    assert status == 200
    assert form["key"] == "uploads/food/burgers/smash burger.jpg" == form["fields"]["key"]
    assert form["fields"]["Content-Type"] == "image/jpeg"
    assert form["max_bytes"] == 10 * 1024 * 1024 and form["expires_in"] == 600


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"size": 11 * 1024 * 1024}, "too_large"),  # past the image cap
        ({"filename": "menu.pdf", "content_type": "application/pdf"}, "invalid_request"),
        ({"filename": "burger.png"}, "invalid_request"),  # named PNG, declared JPEG
        ({"filename": "../../served/x.jpg"}, "invalid_request"),  # no escaping the prefix
        ({"business_line": "Food Line"}, "invalid_request"),
        ({"size": 0}, "invalid_request"),
    ],
)
def test_an_upload_form_is_refused_with_the_reason_admission_would_give(world, lambda_context, change, code):
    body = {**json.loads(load_event("api_upload_form.json")["body"]), **change}
    status, error = call(
        "operator_api", with_body(load_event("api_upload_form.json"), body), world["operator"], lambda_context
    )
    assert status == 400 and error["error"]["code"] == code


def test_a_console_operators_decision_is_recorded_under_their_sign_in(world, lambda_context):
    # Given a material under review and a call the Cognito authorizer let through for ana@example.com
    admitted_material(world)
    material_id = "mat_3f2a1b0c9d8e7f6a5b4c3d2e"
    stored = world["materials"].items[material_id]
    world["materials"].items[material_id] = stored.model_copy(update={"status": MaterialStatus.NEEDS_REVIEW})
    event = decision_event(material_id, {"decision": "reject", "comment": "off brand"})
    event["requestContext"]["authorizer"] = {
        "claims": {"sub": "0f1e", "cognito:username": "ana", "email": "ana@example.com"}
    }
    # When the decision is made
    status, material = call("operator_api", event, world["operator"], lambda_context)
    # Then the audit trail names the signed-in operator
    assert status == 200 and material["decisions"][-1]["by"] == "ana@example.com"


def models_event(limit: int | None = None) -> dict:
    event = load_event("api_list_creatives.json")
    event |= {"resource": "/v1/racing-models", "path": "/v1/racing-models"}
    query = {"limit": str(limit)} if limit else None
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    return event


def test_racing_models_show_the_served_model_and_the_latest_runs_with_their_outcome(world, lambda_context):
    # Given no model yet: select serves the constant prior, and the API says so
    status, empty = call("operator_api", models_event(), world["operator"], lambda_context)
    assert status == 200 and empty == {"name": "ctr", "active": None, "runs": []}
    # Given two retraining runs, the second promoted
    registry = world["models"]
    refused = {
        "outcome": "insufficient_data",
        "reason": "0 rows",
        "started_at": "2026-11-30T10:00:00Z",
        "finished_at": "2026-11-30T10:00:01Z",
    }
    promoted = {
        "outcome": "promoted",
        "reason": "won",
        "started_at": "2026-11-30T11:00:00Z",
        "finished_at": "2026-11-30T11:05:00Z",
        "challenger_version": "v2",
        "champion_value": 0.031,
        "challenger_value": 0.036,
        "win_probability": 0.93,
        "training_rows": 52000,
        "training_clicks": 1700,
    }
    registry.record_run("ctr", refused)
    registry.record_run("ctr", promoted)
    registry.promote(registry.store("ctr", "v2", b"onnx"), replacing=None, report=promoted)
    # When the console asks, Then it gets the served version and the runs newest first, with their OPE
    status, models = call("operator_api", models_event(limit=5), world["operator"], lambda_context)
    assert status == 200 and models["active"]["version"] == "v2"
    assert [r["outcome"] for r in models["runs"]] == ["promoted", "insufficient_data"]
    assert models["runs"][0]["win_probability"] == 0.93
    assert call("operator_api", models_event(limit=500), world["operator"], lambda_context)[0] == 400
