"""GET /v1/racing-timeline/{business_line} over real-shaped API Gateway events, the log behind in-memory fakes."""

import json

import pytest
from creative.clock import utc_now
from creative.operator import OperatorService
from creative.racing.schemas import FeedbackRequest, SelectRequest, UserContext
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

TIMELINE = "/v1/racing-timeline/{business_line}"


def operator_over(racing, *, with_log: bool = True) -> OperatorService:
    return OperatorService(
        InMemoryMaterialRepository(),
        racing.creatives,
        InMemoryObjectStore(),
        InMemoryTagIndex(),
        lambda: TagVocabulary({}, "t"),
        InMemoryComplianceLists(),
        InMemoryMaterialEvents(),
        InMemoryQualityPolicies(),
        racing.state,
        impressions=racing.log if with_log else None,
    )


@pytest.fixture
def world():
    racing = racing_world(creative(1), creative(2), creative(3, line="travel"))
    return racing, operator_over(racing)


def get(operator, ctx, line: str, **query) -> tuple[int, dict]:
    event = line_route_event("GET", TIMELINE, line)
    event["queryStringParameters"] = {k: str(v) for k, v in query.items()} or None
    event["multiValueQueryStringParameters"] = {k: [str(v)] for k, v in query.items()} or None
    response = load_handler("operator_api").handle(event, ctx, operator)
    return response["statusCode"], json.loads(response["body"])


def test_selects_and_a_click_show_in_the_current_hour_and_the_creatives_posterior(world, lambda_context):
    racing, operator = world
    # Given five selects on the line and a click on the first
    served = [
        racing.racing.select(
            SelectRequest(business_line="food", placement="feed", user=UserContext(id=f"u{n}")), utc_now()
        )
        for n in range(5)
    ]
    racing.feedback.record(FeedbackRequest(impression_id=served[0].impression_id, event="click"), utc_now())
    # When the operator asks for the line's last 6 hours
    status, timeline = get(operator, lambda_context, "food", hours=6)
    # Then the current hour holds them, with the racer's CTR and the uniform estimate beside it
    assert status == 200 and timeline["hours"] == 6 and len(timeline["hourly"]) == 6
    current = next(
        h for h in reversed(timeline["hourly"]) if h["impressions"]
    )  # the last (or, past :00, the one before)
    assert (current["impressions"], current["clicks"], current["ctr"]) == (5, 1, 0.2)
    assert current["uniform_ctr_estimate"] is not None and current["uniform_count"] == 5
    assert current["model_versions"] == {"constant": 5}
    assert timeline["truncated"] is False and timeline["impressions_read"] == 5
    # And each shown creative has its cumulative posterior with a 90% interval
    clicked = served[0].creative.creative_id
    series = {c["creative_id"]: c for c in timeline["creatives"]}
    point = series[clicked]["points"][-1]
    low, high = point["posterior_interval"]
    assert (
        point["clicks"] == 1 and low < point["posterior_mean"] < high and timeline["posterior_level"] == 0.9
    )
    # And one creative can be asked for by id
    status, one = get(operator, lambda_context, "food", hours=1, creative_id=clicked)
    assert status == 200 and [c["creative_id"] for c in one["creatives"]] == [clicked]


def test_a_line_without_traffic_has_empty_hours_not_an_error(world, lambda_context):
    _, operator = world
    status, timeline = get(operator, lambda_context, "food")
    assert status == 200 and timeline["hours"] == 24 and timeline["totals"]["impressions"] == 0
    assert timeline["creatives"] == [] and all(h["ctr"] is None for h in timeline["hourly"])


@pytest.mark.parametrize("hours", ["0", "169", "-3", "1.5", "a day"])
def test_hours_that_are_not_a_whole_number_from_1_to_168_are_400_with_the_field(world, lambda_context, hours):
    _, operator = world
    status, error = get(operator, lambda_context, "food", hours=hours)
    assert status == 400 and error["error"]["code"] == "invalid_request"
    assert error["error"]["details"][0]["location"] == ["query", "hours"]


def test_an_unknown_line_a_foreign_creative_and_a_malformed_line_are_refused_with_a_reason(
    world, lambda_context
):
    _, operator = world
    status, error = get(operator, lambda_context, "garden")
    assert status == 404 and error["error"]["code"] == "unknown_business_line"
    assert "has no creatives" in error["error"]["message"]
    status, error = get(operator, lambda_context, "food", creative_id="cr_3")
    assert status == 404 and error["error"]["code"] == "unknown_creative"
    status, error = get(operator, lambda_context, "Food!")
    assert status == 400 and error["error"]["details"][0]["location"] == ["path", "business_line"]


def test_a_service_without_the_impression_log_says_it_draws_no_timeline(lambda_context):
    racing = racing_world(creative(1))
    status, error = get(operator_over(racing, with_log=False), lambda_context, "food")
    assert status == 400 and error["error"]["code"] == "timeline_disabled"
