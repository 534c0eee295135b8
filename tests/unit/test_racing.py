"""Thompson sampling and the select/feedback services, with in-memory fakes."""

from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pytest
from creative.creatives import Creative, CreativeStatus
from creative.errors import NotFound
from creative.racing.models import FeedbackRequest, SelectRequest, UserContext
from creative.racing.service import FeedbackService, RacingService
from creative.racing.thompson import ArmState, ThompsonSampler

from tests.fakes import FakeCreativeRepository, FakeImpressionLog, FakeObjectStore

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def creative(i: int, line: str = "food", impressions: int = 0, clicks: int = 0, **kw) -> Creative:
    return Creative(
        creative_id=f"cr_{i}",
        business_line=line,
        category="coffee",
        image_material_id=f"mat_img{i}",
        copy_material_id=f"mat_copy{i}",
        image_bucket="b",
        image_key=f"uploads/{line}/coffee/{i}.png",
        headline=f"Headline {i}",
        impressions=impressions,
        clicks=clicks,
        created_at=f"2026-11-25T00:00:0{i}.000000Z",
        updated_at="2026-11-25T00:00:00.000000Z",
        **kw,
    )


def test_propensity_matches_empirical_choice_frequency():
    # Given three arms with different evidence
    arms = [ArmState("a", 100, 10), ArmState("b", 100, 12), ArmState("c", 30, 2)]
    sampler = ThompsonSampler(draws=2000)
    rng = np.random.default_rng(7)
    # When the sampler chooses many times
    choices = [sampler.choose(arms, rng) for _ in range(3000)]
    frequency = Counter(c.arm_id for c in choices)
    # Then each arm's mean reported propensity agrees with how often it was chosen
    for arm_id in "abc":
        reported = np.mean([c.propensity for c in choices if c.arm_id == arm_id])
        observed = frequency[arm_id] / len(choices)
        assert abs(reported - observed) < 0.03, (arm_id, reported, observed)


def test_propensity_is_positive_with_a_stated_error():
    choice = ThompsonSampler(draws=500).choose([ArmState("only", 0, 0)], np.random.default_rng(1))
    assert choice.propensity == 1.0 and choice.propensity_stderr == 0.0
    choice = ThompsonSampler(draws=500).choose(
        [ArmState("x", 5, 1), ArmState("y", 5, 1)], np.random.default_rng(2)
    )
    assert 0 < choice.propensity < 1 and 0 < choice.propensity_stderr < 0.05


def test_sampler_concentrates_on_the_better_arm():
    arms = [ArmState("good", 1000, 100), ArmState("bad", 1000, 20)]
    rng = np.random.default_rng(3)
    picks = Counter(ThompsonSampler(draws=10).choose(arms, rng).arm_id for _ in range(500))
    assert picks["good"] > 490


def racing_with(*creatives: Creative):
    repo = FakeCreativeRepository()
    repo.put_new(creatives)
    log = FakeImpressionLog(repo)
    racing = RacingService(repo, log, FakeObjectStore(), ThompsonSampler(draws=200), np.random.default_rng(0))
    return racing, FeedbackService(log), repo, log


def select_request(line: str = "food") -> SelectRequest:
    return SelectRequest(
        business_line=line, placement="home_feed", user=UserContext(id="u1", features={"device": "ios"})
    )


def test_select_logs_the_impression_with_propensity_and_counts_it():
    racing, _, repo, log = racing_with(creative(1), creative(2))
    response = racing.select(select_request(), NOW)
    impression = log.items[response.impression_id]
    assert impression.propensity == response.propensity and 0 < response.propensity <= 1
    assert impression.user_features == {"device": "ios"} and impression.candidate_count == 2
    assert impression.expires_at == int(NOW.timestamp()) + 30 * 86400
    assert repo.items[response.creative.creative_id].impressions == 1
    assert response.creative.image_url.startswith("https://b.example/uploads/food/coffee/")


def test_select_skips_disabled_creatives_and_other_lines():
    racing, _, _, _ = racing_with(
        creative(1, status=CreativeStatus.DISABLED), creative(2), creative(3, line="travel")
    )
    assert {racing.select(select_request(), NOW).creative.creative_id for _ in range(20)} == {"cr_2"}


def test_select_without_creatives_is_not_found():
    racing, _, _, _ = racing_with(creative(1, line="travel"))
    with pytest.raises(NotFound) as error:
        racing.select(select_request("food"), NOW)
    assert error.value.code == "no_active_creatives"


def test_a_click_counts_once_per_impression():
    racing, feedback, repo, _ = racing_with(creative(1))
    impression_id = racing.select(select_request(), NOW).impression_id
    first = feedback.record(FeedbackRequest(impression_id=impression_id, event="click"), NOW)
    second = feedback.record(FeedbackRequest(impression_id=impression_id, event="click"), NOW)
    assert first.counted and not second.counted
    assert repo.items["cr_1"].clicks == 1


def test_click_on_unknown_impression_is_not_found():
    _, feedback, _, _ = racing_with(creative(1))
    with pytest.raises(NotFound) as error:
        feedback.record(FeedbackRequest(impression_id="imp_nope", event="click"), NOW)
    assert error.value.code == "unknown_impression"
