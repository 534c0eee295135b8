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


def exact_win_probabilities(arms: list[ArmState]) -> list[float]:
    """P(arm i has the largest posterior sample) = integral of f_i(x) * prod_j!=i F_j(x), by quadrature."""
    from scipy import integrate, stats

    posteriors = [stats.beta(1 + a.clicks, 1 + a.impressions - a.clicks) for a in arms]

    def win(i: int) -> float:
        others = [p for j, p in enumerate(posteriors) if j != i]
        integrand = lambda x: posteriors[i].pdf(x) * np.prod([p.cdf(x) for p in others])  # noqa: E731
        return integrate.quad(integrand, 0, 1, limit=200, points=[p.mean() for p in posteriors])[0]

    return [win(i) for i in range(len(arms))]


def test_propensity_is_unbiased_against_exact_quadrature():
    # Given arms from a clear favourite to a rare one, and their exact win probabilities
    arms = [ArmState("a", 200, 24), ArmState("b", 200, 20), ArmState("c", 60, 5), ArmState("rare", 80, 5)]
    exact = dict(zip(["a", "b", "c", "rare"], exact_win_probabilities(arms), strict=True))
    assert 0.01 < exact["rare"] < 0.1
    # (few draws per decision, so an estimator biased by O(1/draws) would show)
    sampler, rng = ThompsonSampler(draws=100), np.random.default_rng(11)
    # When the sampler decides many times
    choices = [sampler.choose(arms, rng) for _ in range(8000)]
    # Then, per arm, the propensity it reports when it picks that arm averages to the exact probability
    # (the estimate is independent of the decision), and the arm is picked that often
    for arm_id, p in exact.items():
        reported = [c.propensity for c in choices if c.arm_id == arm_id]
        assert abs(np.mean(reported) - p) < 4 * np.sqrt(p * (1 - p) / 100 / len(reported)), arm_id
        assert abs(len(reported) / len(choices) - p) < 4 * np.sqrt(p * (1 - p) / len(choices)), arm_id


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
