"""Operator routes for recall rules, phrase banks and asset labels, over real-shaped API Gateway events."""

import json

import pytest
from creative.creatives import CreativeStatus
from creative.operator import OperatorService
from creative.quality.compliance import ComplianceList
from creative.tagging.vocabulary import TagVocabulary
from in_memory.adapters import (
    InMemoryComplianceLists,
    InMemoryMaterialEvents,
    InMemoryMaterialRepository,
    InMemoryObjectStore,
    InMemoryQualityPolicies,
    InMemoryTagIndex,
)

from tests.conftest import line_route_event, load_handler
from tests.factories import creative, racing_world


@pytest.fixture
def world():
    racing = racing_world(creative(1), creative(2), creative(3), creative(4, line="travel"))
    racing.creatives.set_status("cr_3", CreativeStatus.DISABLED, "2026-11-30T00:00:00Z")
    compliance = InMemoryComplianceLists(ComplianceList(business_line="*", banned_claims=["miracle cure"]))
    operator = OperatorService(
        InMemoryMaterialRepository(),
        racing.creatives,
        InMemoryObjectStore(),
        InMemoryTagIndex(),
        lambda: TagVocabulary({}, "t"),
        compliance,
        InMemoryMaterialEvents(),
        InMemoryQualityPolicies(),
        racing.state,
    )
    return racing, operator


def call(operator, ctx, *args, **kw) -> tuple[int, dict]:
    response = load_handler("operator_api").handle(line_route_event(*args, **kw), ctx, operator)
    return response["statusCode"], json.loads(response["body"])


RECALL = "/v1/recall-rules/{business_line}"
PHRASES = "/v1/phrase-banks/{business_line}"


def test_recall_rules_round_trip_and_select_applies_them(world, lambda_context):
    racing, operator = world
    status, empty = call(operator, lambda_context, "GET", RECALL, "food")
    assert status == 200 and empty["version"] == 0 and empty["pins"] == []
    change = {"expected_version": 0, "pins": [{"creative_id": "cr_1"}], "blocks": [{"creative_id": "cr_2"}]}
    status, saved = call(operator, lambda_context, "PUT", RECALL, "food", change)
    assert status == 200 and saved["version"] == 1 and saved["updated_by"]
    status, read = call(operator, lambda_context, "GET", RECALL, "food")
    assert read["pins"][0]["creative_id"] == "cr_1" and read["version"] == 1
    # Select reads them with the line's state: cr_2 is out, cr_1 pinned first
    from datetime import UTC, datetime

    from creative.racing.schemas import SelectRequest, UserContext

    served = racing.racing.select(
        SelectRequest(business_line="food", placement="home_feed", user=UserContext(id="u")),
        datetime.now(UTC),
    )
    assert racing.log.items[served.impression_id].candidate_ids == ["cr_1"]
    # A stale save is a conflict and changes nothing
    status, error = call(operator, lambda_context, "PUT", RECALL, "food", {**change, "pins": []})
    assert status == 409 and error["error"]["code"] == "version_conflict"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"pins": [{"creative_id": "cr_3"}]}, "creative_not_active"),  # disabled
        ({"pins": [{"creative_id": "cr_4"}]}, "unknown_creative"),  # another line's
        ({"blocks": [{"creative_id": "cr_999"}]}, "unknown_creative"),
        (
            {
                "schedules": [
                    {
                        "creative_id": "cr_1",
                        "starts_at": "2026-12-01T00:00:00Z",
                        "ends_at": "2026-12-03T00:00:00Z",
                    },
                    {"creative_id": "cr_1", "starts_at": "2026-12-02T00:00:00Z"},
                ]
            },
            "invalid_recall_rules",
        ),
        ({"pins": [{"creative_id": "cr_1"}], "blocks": [{"creative_id": "cr_1"}]}, "invalid_recall_rules"),
        ({"quotas": {"tag": -1}}, "invalid_request"),
        ({"pins": [{"creative_id": "cr_1", "placements": ["no spaces allowed"]}]}, "invalid_request"),
    ],
)
def test_bad_recall_rules_are_4xx_with_the_reason_and_nothing_is_stored(world, lambda_context, change, code):
    _, operator = world
    status, error = call(operator, lambda_context, "PUT", RECALL, "food", {"expected_version": 0, **change})
    assert status == 400 and error["error"]["code"] == code and error["error"]["message"]
    assert call(operator, lambda_context, "GET", RECALL, "food")[1]["version"] == 0


def test_phrase_banks_are_saved_previewed_and_refused_with_reasons(world, lambda_context):
    _, operator = world
    bank = {
        "expected_version": 0,
        "phrases": [
            {"text": "Only {price} in {city}"},
            {"text": "Order now", "slot": "cta"},
            {"text": "Old line", "status": "DISABLED"},
        ],
    }
    status, saved = call(operator, lambda_context, "PUT", PHRASES, "food", bank)
    assert status == 200 and saved["version"] == 1
    assert all(p["phrase_id"].startswith("ph_") for p in saved["phrases"])
    status, preview = call(
        operator,
        lambda_context,
        "POST",
        PHRASES + "/preview",
        "food",
        {"product": {"price": 3, "city": "Oslo"}},
    )
    by_text = {p["template"]: p for p in preview["items"]}
    assert by_text["Only {price} in {city}"]["text"] == "Only $3 in Oslo" and by_text["Order now"]["servable"]
    assert by_text["Old line"]["reason"] == "disabled"
    status, partial = call(
        operator, lambda_context, "POST", PHRASES + "/preview", "food", {"product": {"price": 3}}
    )
    assert partial["items"][0]["reason"] == "no value for {city}" and partial["items"][0]["text"] is None
    # A city the caller sends that makes a banned claim is not served; an unknown field is a 400
    hostile = {"product": {"price": 3, "city": "Miracle Cure"}}
    status, refused = call(operator, lambda_context, "POST", PHRASES + "/preview", "food", hostile)
    assert (
        status == 200
        and not refused["items"][0]["servable"]
        and "banned claim" in refused["items"][0]["reason"]
    )
    extra = {"product": {"price": 3}, "price": 1}
    assert call(operator, lambda_context, "POST", PHRASES + "/preview", "food", extra)[0] == 400


@pytest.mark.parametrize(
    ("phrases", "code", "words"),
    [
        ([{"text": "Only {prize}"}], "invalid_request", "unknown slot"),
        ([{"text": "x" * 95}], "phrase_not_servable", "over the limit"),
        ([{"text": "A miracle cure for {city}"}], "phrase_not_servable", "banned claim"),
        ([{"text": "Same"}, {"text": "Same"}], "invalid_phrase_bank", "twice"),
    ],
)
def test_bad_phrases_are_4xx_and_nothing_is_stored(world, lambda_context, phrases, code, words):
    _, operator = world
    status, error = call(
        operator, lambda_context, "PUT", PHRASES, "food", {"expected_version": 0, "phrases": phrases}
    )
    assert status == 400 and error["error"]["code"] == code and words in json.dumps(error)
    assert call(operator, lambda_context, "GET", PHRASES, "food")[1]["version"] == 0


def test_asset_labels_list_every_slot_with_a_why(world, lambda_context):
    racing, operator = world
    call(
        operator,
        lambda_context,
        "PUT",
        PHRASES,
        "food",
        {"expected_version": 0, "phrases": [{"text": "Fresh"}]},
    )
    from datetime import UTC, datetime

    from creative.racing.schemas import SelectRequest, UserContext

    served = racing.racing.select(
        SelectRequest(business_line="food", placement="home_feed", user=UserContext(id="u")),
        datetime.now(UTC),
    )
    status, page = call(operator, lambda_context, "GET", "/v1/asset-labels/{business_line}", "food")
    assert status == 200 and page["objective"] == "ctr"
    slots = {(row["slot"], row["asset_id"]): row for row in page["items"]}
    assert {slot for slot, _ in slots} == {"creative", "image", "headline", "phrase"}
    shown = slots[("creative", served.creative.creative_id)]
    assert shown["label"] == "LEARNING" and shown["impressions"] > 0 and shown["why"]
    assert slots[("phrase", served.phrases[0].phrase_id)]["label"] == "LEARNING"
    assert {row["label"] for row in page["items"]} <= {"PENDING", "LEARNING"}


def test_placements_declare_their_slots(world, lambda_context):
    _, operator = world
    event = line_route_event("GET", "/v1/placements", "food")
    event["pathParameters"] = None
    response = load_handler("operator_api").handle(event, lambda_context, operator)
    placements = json.loads(response["body"])
    assert response["statusCode"] == 200
    assert placements["home_feed"]["slots"] == ["image", "headline", "phrase", "cta"]
    assert placements["banner"]["min_aspect"] == 2.0


TEMPLATES = "/v1/templates/{business_line}"


def test_a_template_switches_a_line_to_element_racing_and_labels_count_its_elements(world, lambda_context):
    racing, operator = world
    status, default = call(operator, lambda_context, "GET", TEMPLATES, "food")
    assert status == 200 and default["racing"] == "creatives" and default["version"] == 0
    status, saved = call(
        operator, lambda_context, "PUT", TEMPLATES, "food", {"expected_version": 0, "racing": "elements"}
    )
    assert status == 200 and saved["version"] == 1 and saved["racing"] == "elements"
    # A stale version is refused and changes nothing.
    status, refused = call(
        operator, lambda_context, "PUT", TEMPLATES, "food", {"expected_version": 0, "racing": "creatives"}
    )
    assert status == 409 and refused["error"]["code"] == "version_conflict"
    status, bad = call(
        operator, lambda_context, "PUT", TEMPLATES, "food", {"expected_version": 1, "racing": "bogus"}
    )
    assert status == 400 and "racing" in json.dumps(bad)
    assert call(operator, lambda_context, "GET", TEMPLATES, "food")[1]["racing"] == "elements"

    from datetime import UTC, datetime

    from creative.racing.schemas import SelectRequest, UserContext

    served = racing.racing.select(
        SelectRequest(business_line="food", placement="banner", user=UserContext(id="u")), datetime.now(UTC)
    )
    assert served.racing == "elements" and set(served.element_propensities) == {"image", "headline"}
    status, page = call(operator, lambda_context, "GET", "/v1/asset-labels/{business_line}", "food")
    slots = {(row["slot"], row["asset_id"]): row for row in page["items"]}
    assert slots[("image", served.creative.image_material_id)]["impressions"] > 0
    assert slots[("headline", served.creative.copy_material_id)]["impressions"] > 0


def test_asset_labels_weigh_evidence_with_the_racers_decay():
    from datetime import UTC, datetime, timedelta

    from creative.config import OperatorConfig
    from creative.racing.racer import RacerConfig
    from creative.racing.schemas import SelectRequest, UserContext
    from creative.racing_settings import RacingSettings

    # Given one impression served ten hours ago
    racing = racing_world(creative(1))
    served_at = datetime(2026, 11, 30, 8, tzinfo=UTC)
    racing.racing.select(
        SelectRequest(business_line="food", placement="feed", user=UserContext(id="u")), served_at
    )

    def impressions_seen(racer: RacerConfig | None) -> float:
        settings = RacingSettings(racing.creatives, racing.state, InMemoryComplianceLists(), racer=racer)
        page = settings.asset_labels("food", served_at + timedelta(hours=10))
        return next(r.impressions for r in page.items if r.slot == "creative" and r.asset_id == "cr_1")

    # When labels are read with the default half-life (72 h) and with a racer tuned to a 1-hour half-life
    # Then the impression counts as 2^(-10/72) = 0.91 of one, and as 2^-10 = 0.001 of one
    assert impressions_seen(None) == pytest.approx(0.908, abs=0.01)
    assert impressions_seen(RacerConfig(half_life_hours=1.0)) == pytest.approx(0.001, abs=0.001)
    # And the operator API's configuration reads the racer's tuning from the same environment names
    environment = {"RACER_HALF_LIFE_HOURS": "1"} | {
        name: "x"
        for name in [
            "UPLOADS_BUCKET",
            "MODEL_REGISTRY_TABLE",
            "MATERIALS_TABLE",
            "CREATIVES_TABLE",
            "RACING_STATE_TABLE",
            "IMPRESSIONS_TABLE",
            "TAGS_TABLE",
            "LINE_SETTINGS_TABLE",
            "MATERIAL_EVENTS_BUS",
            "ASSETS_BUCKET",
        ]
    }
    assert OperatorConfig.model_validate(environment).racer_config().half_life_hours == 1.0
    # And so does the draw's own-key floor, which 0 turns off
    floor_off = OperatorConfig.model_validate(environment | {"RACER_OWN_KEY_FLOOR": "0"}).racer_config()
    assert floor_off.learner.own_key_floor == 0.0
    assert OperatorConfig.model_validate(environment).racer_config().learner.own_key_floor > 0
