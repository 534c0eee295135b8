"""The racer (Thompson sampling with a model prior) and the select/feedback services, with fakes."""

from datetime import UTC, datetime

import numpy as np
import pytest
from creative.creatives import Creative, CreativeStatus
from creative.errors import NotFound
from creative.racing.racer import (
    ArmClock,
    ArmEvidence,
    ContextualRacer,
    RacerConfig,
    segment_of,
    thompson_probabilities,
)
from creative.racing.schemas import FeedbackRequest, SelectRequest, UserContext

from tests.factories import creative, racing_world

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def exact_win_probabilities(alpha: list[float], beta: list[float]) -> np.ndarray:
    """P(arm i has the largest posterior sample) = integral of f_i(x) * prod_j!=i F_j(x), by scipy."""
    from scipy import integrate, stats

    posteriors = [stats.beta(a, b) for a, b in zip(alpha, beta, strict=True)]

    def win(i: int) -> float:
        others = [p for j, p in enumerate(posteriors) if j != i]
        integrand = lambda x: posteriors[i].pdf(x) * np.prod([p.cdf(x) for p in others])  # noqa: E731
        return integrate.quad(integrand, 0, 1, limit=400, points=[p.mean() for p in posteriors])[0]

    return np.array([win(i) for i in range(len(posteriors))])


@pytest.mark.parametrize(
    "alpha, beta",
    [
        ([1.0, 2.0, 3.0], [20.0, 19.0, 18.0]),  # cold start: wide, skewed posteriors
        ([25.0, 21.0, 6.0, 6.0], [177.0, 181.0, 56.0, 76.0]),  # a favourite and a rare arm
        ([500.0, 520.0, 2.0], [9500.0, 9480.0, 40.0]),  # two narrow arms close together, one wide
    ],
)
def test_thompson_probabilities_match_exact_integration(alpha, beta):
    # Given Beta posteriors, and their win probabilities by adaptive integration
    exact = exact_win_probabilities(alpha, beta)
    # When the racer computes them on its grid
    computed = thompson_probabilities(np.array(alpha), np.array(beta), 128)
    # Then they agree to within half a percentage point and form a distribution
    assert np.abs(computed - exact).max() < 0.005
    assert computed.sum() == pytest.approx(1.0)


def test_logged_propensities_match_empirical_choice_frequencies():
    # Given a racer with a floor, five candidates with mixed evidence, and its stated distribution
    racer = ContextualRacer(RacerConfig(prior_strength=20, exploration_floor=0.1))
    prior = np.array([0.05, 0.04, 0.02, 0.05, 0.03])
    impressions, clicks = np.array([200.0, 100, 0, 50, 400]), np.array([14.0, 3, 0, 2, 9])
    stated = racer.probabilities(prior, impressions, clicks)
    # When it decides many times
    rng = np.random.default_rng(3)
    decisions = [racer.choose(prior, impressions, clicks, rng) for _ in range(20000)]
    frequencies = np.bincount([d.index for d in decisions], minlength=5) / len(decisions)
    # Then each logged propensity is the probability of its choice, and choices follow it (4 sd bounds)
    assert all(d.propensity == pytest.approx(stated[d.index]) for d in decisions[:200])
    assert np.all(np.abs(frequencies - stated) < 4 * np.sqrt(stated * (1 - stated) / len(decisions)))


def test_the_exploration_floor_bounds_every_propensity():
    # Given one creative that dominates on evidence
    racer = ContextualRacer(RacerConfig(exploration_floor=0.05))
    prior = np.full(10, 0.02)
    impressions, clicks = np.full(10, 5000.0), np.full(10, 50.0)
    clicks[0] = 900.0
    # When the racer computes its distribution
    probabilities = racer.probabilities(prior, impressions, clicks)
    # Then even the losers keep floor / K, and the winner takes the rest
    assert probabilities.min() >= 0.05 / 10 - 1e-12
    assert probabilities[0] > 0.94


def test_a_new_creative_starts_from_its_predicted_ctr():
    # Given no evidence, the posterior mean is the model's prediction
    racer = ContextualRacer(RacerConfig(prior_strength=20))
    alpha, beta = racer.posterior(np.array([0.08, 0.01]), np.zeros(2), np.zeros(2))
    assert (alpha / (alpha + beta)) == pytest.approx([0.08, 0.01])
    # And with evidence it moves to the observed CTR
    alpha, beta = racer.posterior(np.array([0.08]), np.array([10000.0]), np.array([300.0]))
    assert alpha[0] / (alpha[0] + beta[0]) == pytest.approx(0.03, abs=0.001)


def test_counts_decay_with_the_half_life_across_epochs():
    # Given a 1-hour half-life clock and events one hour apart, one of them across an epoch boundary
    clock = ArmClock(half_life_s=3600.0)
    start = clock.epoch_s * 100 - 1800.0  # half an hour before an epoch starts
    counters: dict[str, float] = {}
    for t in (start, start + 3600.0):
        key = clock.key("all", t, "ctr-1")
        counters[key] = counters.get(key, 0.0) + clock.weight(t)
    # When they are read one hour after the last event
    decayed, under_current_model = clock.reader("all", "ctr-1", start + 7200.0).read(counters)
    # Then each counts 2**-(age in half-lives)
    assert decayed == pytest.approx(0.25 + 0.5) and under_current_model == decayed
    assert len(counters) == 2  # the two events landed in different epochs
    # And another segment, or another model's share, reads apart
    assert clock.reader("gender=f", "ctr-1", start + 7200.0).read(counters) == (0.0, 0.0)
    assert clock.reader("all", "ctr-2", start + 7200.0).read(counters) == (pytest.approx(0.75), 0.0)


def test_only_the_current_models_clicks_are_rescaled_to_the_user():
    # Given an arm with 1,000 impressions under an old model (40 clicks) and 1,000 under the current one,
    # whose predictions over those impressions summed to 30 clicks, of which 45 came
    evidence = ArmEvidence(
        impressions=np.array([2000.0]),
        clicks=np.array([85.0]),
        model_impressions=np.array([1000.0]),
        model_clicks=np.array([45.0]),
        model_expected=np.array([30.0]),
    )
    # When a user the current model rates at 1% is scored (its average was 3%)
    credited = evidence.credited_clicks(np.array([0.01]))
    # Then the old model's 40 clicks count as they are and the current one's 45 x (0.01 / 0.03)
    assert credited[0] == pytest.approx(40.0 + 45.0 / 3.0)


def test_segments_split_arms_only_on_the_configured_features():
    assert segment_of({"gender": "f", "age": 30}, ()) == "all"
    assert segment_of({"gender": "f", "age": 30}, ("gender",)) == "gender=f"
    assert segment_of({}, ("gender",)) == "gender="


def racing_with(*creatives: Creative):
    world = racing_world(*creatives, racer=ContextualRacer(RacerConfig(segment_by=("device",))))
    return world.racing, world.feedback, world.creatives, world.log


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
    assert impression.candidate_ids == ["cr_2", "cr_1"] and impression.segment == "device=ios"
    assert impression.model_version == "constant" and response.model_version == "constant"
    assert impression.expires_at == int(NOW.timestamp()) + 30 * 86400
    chosen = repo.items[response.creative.creative_id]
    assert chosen.impressions == 1
    assert chosen.arm_impressions == {impression.arm_key: impression.arm_weight}
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
    assert repo.items["cr_1"].arm_clicks == repo.items["cr_1"].arm_impressions


def test_click_on_unknown_impression_is_not_found():
    _, feedback, _, _ = racing_with(creative(1))
    with pytest.raises(NotFound) as error:
        feedback.record(FeedbackRequest(impression_id="imp_nope", event="click"), NOW)
    assert error.value.code == "unknown_impression"


def test_a_late_click_updates_the_arm_and_time_weight_of_its_impression():
    # Given an impression served two days ago in one segment
    racing, feedback, repo, log = racing_with(creative(1))
    served_at = datetime(2026, 11, 23, 12, tzinfo=UTC)
    impression = log.items[racing.select(select_request(), served_at).impression_id]
    # When its click arrives now, after another impression in the same segment
    racing.select(select_request(), NOW)
    feedback.record(FeedbackRequest(impression_id=impression.impression_id, event="click"), NOW)
    # Then the click carries the old impression's weight, on the old impression's arm
    arm = repo.items["cr_1"]
    assert arm.arm_clicks == {impression.arm_key: impression.arm_weight}
    reader = racing._racer.clock.reader("device=ios", "constant", NOW.timestamp())
    assert reader.read(arm.arm_clicks)[0] == pytest.approx(2 ** (-48 / 72), rel=1e-5)
