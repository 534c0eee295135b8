"""The racer (Thompson sampling on log-odds with a model prior and the online learner's evidence) and the
select/feedback services, with in-memory stores."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from creative.creatives import Creative, CreativeStatus
from creative.errors import NotFound
from creative.racing.learner import (
    Decay,
    LearnerConfig,
    LearnerState,
    OnlineLearner,
    floor_at_own_key,
    fuse,
    learner_tags,
    number_bin,
    pair_keys,
    sigmoid,
    user_terms,
)
from creative.racing.racer import ContextualRacer, RacerConfig, gaussian_thompson_probabilities
from creative.racing.schemas import FeedbackRequest, SelectRequest, UserContext
from creative.racing.service import MAX_READ_SHARE, RECALL_SETTING, element_tag
from creative.racing.state import LearnerDeltas, click_writes, of_items, serve_writes
from creative.recall.rules import CreativeRule, RecallRules

from tests.factories import creative, racing_world

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def exact_gaussian_win_probabilities(mean: list[float], sd: list[float]) -> np.ndarray:
    """P(arm i has the largest draw) = integral of phi_i(x) * prod_j!=i Phi_j(x), by scipy."""
    from scipy import integrate, stats

    arms = [stats.norm(m, s) for m, s in zip(mean, sd, strict=True)]

    def win(i: int) -> float:
        others = [a for j, a in enumerate(arms) if j != i]
        integrand = lambda x: arms[i].pdf(x) * np.prod([a.cdf(x) for a in others])  # noqa: E731
        low = min(m - 10 * s for m, s in zip(mean, sd, strict=True))
        high = max(m + 10 * s for m, s in zip(mean, sd, strict=True))
        return integrate.quad(integrand, low, high, limit=800, points=sorted(mean))[0]

    return np.array([win(i) for i in range(len(arms))])


@pytest.mark.parametrize(
    "mean, sd",
    [
        ([-3.5, -3.4, -3.0], [0.05, 0.05, 0.6]),  # two narrow arms close together, one wide newcomer
        ([-2.0, -2.1, -2.5, -4.0], [0.3, 0.2, 1.0, 0.1]),  # a favourite and a hopeless arm
        ([-3.0, -3.0], [0.4, 0.4]),  # a tie
    ],
)
def test_thompson_probabilities_match_exact_integration(mean, sd):
    exact = exact_gaussian_win_probabilities(mean, sd)
    computed = gaussian_thompson_probabilities(np.array(mean), np.array(sd), 128)
    assert np.abs(computed - exact).max() < 0.005
    assert computed.sum() == pytest.approx(1.0)


def test_logged_propensities_match_empirical_choice_frequencies():
    # Given a racer with a floor, five candidates and its stated distribution
    racer = ContextualRacer(RacerConfig(exploration_floor=0.1))
    mean, variance = np.array([-3.0, -3.2, -3.9, -2.9, -3.5]), np.array([2.0, 1.0, 8.0, 4.0, 0.5])
    stated = racer.probabilities(mean, variance)
    # When it decides many times
    rng = np.random.default_rng(3)
    decisions = [racer.choose(mean, variance, rng) for _ in range(20000)]
    frequencies = np.bincount([d.index for d in decisions], minlength=5) / len(decisions)
    # Then each logged propensity is the probability of its choice, and choices follow it (4 sd bounds)
    assert all(d.propensity == pytest.approx(stated[d.index]) for d in decisions[:200])
    assert np.all(np.abs(frequencies - stated) < 4 * np.sqrt(stated * (1 - stated) / len(decisions)))


def test_the_exploration_floor_bounds_every_propensity():
    racer = ContextualRacer(RacerConfig(exploration_floor=0.05))
    mean, variance = np.full(10, -4.0), np.full(10, 0.01)
    mean[0] = -2.0
    probabilities = racer.probabilities(mean, variance)
    assert probabilities.min() >= 0.05 / 10 - 1e-12
    assert probabilities[0] > 0.94


def test_a_new_creative_starts_from_the_models_prediction_and_evidence_moves_it():
    learner = OnlineLearner()
    terms = user_terms({"gender": "f"}, 16)
    keys = [pair_keys(terms, ["shoes"], learner.config)]
    empty = LearnerState()
    base = -3.5
    # Given no evidence, the fused mean is the model's prediction
    scores = learner.score(base, keys, [empty], empty)
    mean, variance = fuse(scores, base, np.array([-2.0]), 10.0)
    assert mean[0] == pytest.approx(-2.0) and variance[0] == pytest.approx(0.1)
    # When 3,000 impressions at the base rate and their clicks teach the learner (3% observed)
    own, line = LearnerState(), LearnerState()
    rng = np.random.default_rng(0)
    for _ in range(3000):
        learner.learn(base, keys[0], own, line, clicked=rng.random() < 0.03)
    # Then the online estimate is near the observed 3%, and it outweighs the model's 12% prior
    scores = learner.score(base, keys, [own], line)
    assert sigmoid(scores.mean[0]) == pytest.approx(0.03, abs=0.01)
    mean, _ = fuse(scores, base, np.array([-2.0]), 10.0)
    assert sigmoid(mean[0]) < 0.05


def test_the_models_prior_fades_as_the_creative_gathers_its_own_evidence():
    # Evidence is the learner's alone, whichever model was live when it came: a promotion cannot make
    # old clicks count twice. The model speaks for the creative until the creative speaks for itself.
    learner = OnlineLearner()
    keys = [pair_keys(user_terms({"gender": "f"}, 16), [], learner.config)]
    own, line, base = LearnerState(), LearnerState(), -3.5
    rng = np.random.default_rng(1)
    for _ in range(1000):  # a creative that really converts at 3%, against a model that says 20%
        learner.learn(base, keys[0], own, line, clicked=rng.random() < 0.03)
    scores = learner.score(base, keys, [own], line)
    model = np.array([float(np.log(0.2 / 0.8))])
    unfaded, _ = fuse(scores, base, model, 10.0)
    faded, _ = fuse(scores, base, model, 10.0, learner.config.creative_precision)
    # Then with the fade the posterior sits near what was observed; without it the model still drags it up
    assert sigmoid(faded[0]) < 0.04 < sigmoid(unfaded[0])


def test_a_creative_with_an_unlucky_start_is_drawn_no_narrower_than_its_own_impressions_allow():
    # A leader shown 4,000 times and a creative shown 300 times that clicked at 3% so far, both seen by
    # users of 96 feature combinations: the summed per-key variance, scaled for the draw, would tell the
    # racer it knows the newcomer's rate far better than 300 impressions can.
    learner = OnlineLearner()
    rng = np.random.default_rng(0)
    users = [
        {"gender": g, "age": a, "occupation": o, "zip": z}
        for g in "fm"
        for a in ("18", "25", "35")
        for o in "abcd"
        for z in "wxyz"
    ]
    line, states, base = LearnerState(), [LearnerState(), LearnerState()], -3.2
    for index, shown, rate in ((0, 4000, 0.05), (1, 300, 0.03)):
        for _ in range(shown):
            keys = pair_keys(user_terms(users[rng.integers(len(users))], 16), [], learner.config)
            learner.learn(base, keys, states[index], line, clicked=rng.random() < rate)
    keys = [pair_keys(user_terms(users[0], 16), [], learner.config)] * 2
    scores = learner.score(base, keys, states, line)
    mean, variance = fuse(scores, base, np.full(2, base), 0.1, learner.config.creative_precision)
    own_variance = 1.0 / (learner.config.creative_precision + scores.own_information)
    unfloored = replace(learner.config, own_key_floor=0.0)
    floored = replace(learner.config, own_key_floor=1.0)
    scale = floored.posterior_scale
    # Without the floor the newcomer is drawn far narrower than its own key's posterior
    assert (floor_at_own_key(variance, scores, unfloored) == variance).all()
    assert variance[1] * scale < own_variance[1] / 3
    # With it, no draw is narrower than context-free Thompson sampling's on the creative's own key
    widened = floor_at_own_key(variance, scores, floored)
    assert (widened * scale >= own_variance * (1 - 1e-12)).all() and (widened >= variance).all()
    # And the newcomer keeps a real chance to be shown again
    before = ContextualRacer(RacerConfig(learner=unfloored)).probabilities(mean, variance)[1]
    after = ContextualRacer(RacerConfig(learner=floored)).probabilities(mean, widened)[1]
    assert after > 1.5 * before


def test_the_serve_and_click_halves_add_up_to_the_textbook_step():
    deltas = LearnerDeltas(
        shard=1, epoch=7, weight=2.0, predicted=0.04, creative_steps={"c": 0.1}, line_steps={"t:a": 0.02}
    )
    serve, click = serve_writes(deltas), click_writes(deltas)
    # w += s (y - p) with y = 1, times the time weight; information += p (1 - p) once
    for stem, step in (("c", 0.1), ("t:a", 0.02)):
        total = serve.values[f"lw:{stem}@7"] + click.values[f"lw:{stem}@7"]
        assert total == pytest.approx(step * (1 - 0.04) * 2.0)
        assert serve.values[f"li:{stem}@7"] == pytest.approx(0.04 * 0.96 * 2.0)
    assert serve.values["bn:@7"] == 2.0 and click.values["bc:@7"] == 2.0
    # And the serve write drops the same stems two epochs back (bounded items)
    assert {"lw:c@5", "li:t:a@5", "bn:@5"} <= set(serve.stale)


def test_the_lines_statistics_are_the_sum_over_its_creatives_items():
    # Given two creatives sharing a tag and a phrase, each shown once (one write each, on its own item)
    items = {}
    for creative_id, step in (("cr_1", 0.1), ("cr_2", 0.3)):
        deltas = LearnerDeltas(
            shard=0,
            epoch=7,
            weight=1.0,
            predicted=0.5,
            creative_steps={"c": step},
            line_steps={"t:a": step},
            elements={"phrase": "ph_0123456789abcdef"},
        )
        items[creative_id] = serve_writes(deltas).values | {"impressions": 1}
    state = of_items("food", items)
    # Then each creative keeps its own key and its own impressions; the tag key, the base rate and the
    # phrase's impressions are the line's, summed
    assert state.creatives["cr_1"] == {
        "lw:c@7": pytest.approx(-0.05),
        "li:c@7": pytest.approx(0.25),
        "cn:@7": 1.0,
    }
    assert state.line["lw:t:a@7"] == pytest.approx(-0.05 - 0.15)
    assert state.line["li:t:a@7"] == pytest.approx(0.5) and state.line["bn:@7"] == 2.0
    assert state.line["pn:ph_0123456789abcdef@7"] == 2.0
    assert state.totals["cr_2"].impressions == 1


def test_statistics_decay_with_the_half_life_across_epochs():
    decay = Decay(half_life_s=3600.0)
    start = decay.epoch_s * 100 - 1800.0  # half an hour before an epoch starts
    counters: dict[str, float] = {}
    for t in (start, start + 3600.0):
        name = f"li:c@{decay.epoch(t)}"
        counters[name] = counters.get(name, 0.0) + decay.weight(t)
    assert len(counters) == 2  # the two events landed in different epochs
    state = LearnerState.read(counters, decay.scales(start + 7200.0))
    assert state.information["c"] == pytest.approx(0.25 + 0.5)


def test_keys_are_bounded_whatever_features_callers_send():
    config = LearnerConfig(creative_buckets=8, line_buckets=16, max_terms=3)
    user = {f"f{i}": f"value-{i}" * 40 for i in range(50)}
    keys = pair_keys(user_terms(user, config.max_terms), [f"tag{i}" for i in range(30)], config)
    creative_names = {k.name for k in keys if k.scope == "creative"}
    line_names = {k.name for k in keys if k.scope == "line"}
    assert len(creative_names) <= 1 + 8 and len(line_names) <= 2 * 16
    assert all(len(k.name) <= 8 for k in keys)


def test_numbers_bring_their_bin_and_integers_their_value_too():
    terms = user_terms({"age": 34, "city": 7, "score": 0.731, "vip": True, "device": "ios"}, 16)
    # An integer from 10 on brings its value and its bin, a smaller one its value alone (a bin would hold
    # few others), a float its bin alone; other values are "name=value"
    assert terms == ["age=34", "age~31.5", "city=7", "device=ios", "score~0.63", "vip=true"]
    # Users of nearby ages share a bin, far apart they do not
    assert user_terms({"age": 33}, 16)[1] == user_terms({"age": 38}, 16)[1] != user_terms({"age": 41}, 16)[1]


@pytest.mark.parametrize(
    ("value", "bin_name"),
    [
        (31.4, "25"),
        (31.5, "31.5"),  # an edge opens its bin
        (39.99, "31.5"),
        (40, "40"),
        (25, "25"),
        (49.999, "40"),
        (50, "50"),
        (63, "63"),
        (79, "63"),
        (80, "80"),
        (99.99999, "80"),
        (100, "100"),
        (1000.0, "1000"),  # exact decades, which log10 may round below
        (0.1, "0.1"),
        (0.3, "0.25"),
        (0.00123, "0.001"),
        (1e-9, "1e-09"),
        (5e-310, "5e-310"),  # floats this small still have bins of their own
        (10**15, "1e+15"),
        (0, "0"),
        (-0.0, "0"),
        (-3, "-2.5"),
    ],
)
def test_a_number_falls_in_the_r10_bin_whose_edge_is_at_or_below_it(value: float, bin_name: str):
    assert number_bin(value) == bin_name


def test_a_request_brings_at_most_max_terms_terms_and_never_a_value_without_its_bin():
    # 20 integers from 10 on bring two terms each: the first eight fill the sixteen
    assert len(user_terms({f"f{i:02d}": 10 + i for i in range(20)}, 16)) == 16
    # When the sixteenth term would be an integer's value, its bin cannot follow: the feature is left out
    terms = user_terms({"a": "x", **{f"n{i}": 10 + i for i in range(10)}}, 16)
    assert terms[-2:] == ["n6=16", "n6~16"] and len(terms) == 15


def test_a_pair_reads_at_most_max_tags_tags_element_tags_first_so_one_write_stays_bounded():
    config = LearnerConfig()
    tags = [f"iab:{i:02d}" for i in range(20)] + ["el:mat_img", "el:mat_copy", "iab:00"]
    assert learner_tags(tags, config.max_tags) == (
        "el:mat_copy",
        "el:mat_img",
        "iab:00",
        "iab:01",
        "iab:02",
        "iab:03",
    )
    terms = user_terms({f"f{i:02d}": i for i in range(20)}, config.max_terms)
    keys = pair_keys(terms, tags, config)
    # Its own key and six tags', each alone and crossed with 16 terms: the keys of those six alone
    assert len(keys) == (1 + 6) * (1 + 16) == 119
    assert keys == pair_keys(
        terms, ["el:mat_copy", "el:mat_img", "iab:00", "iab:01", "iab:02", "iab:03"], config
    )
    # A creative within the bound reads every tag it has
    assert learner_tags(["b", "a", "b"], config.max_tags) == ("a", "b")


# --- select and feedback ---


def racing_with(*creatives: Creative, **racer):
    world = racing_world(*creatives, racer=ContextualRacer(RacerConfig(**racer)) if racer else None)
    return world.racing, world.feedback, world.state, world.log


def select_request(line: str = "food", user: str = "u1") -> SelectRequest:
    return SelectRequest(
        business_line=line, placement="home_feed", user=UserContext(id=user, features={"device": "ios"})
    )


def test_select_logs_the_impression_with_propensity_and_the_learners_update():
    racing, _, state, log = racing_with(creative(1), creative(2))
    response = racing.select(select_request(), NOW)
    impression = log.items[response.impression_id]
    assert impression.propensity == response.propensity and 0 < response.propensity <= 1
    assert impression.user_features == {"device": "ios"} and impression.candidate_count == 2
    assert impression.candidate_ids == ["cr_2", "cr_1"]
    assert impression.model_version == "constant" and response.model_version == "constant"
    assert impression.expires_at == int(NOW.timestamp()) + 30 * 86400
    deltas = impression.learner
    assert deltas is not None and "c" in deltas.creative_steps and 0 < deltas.predicted < 1
    totals = state.totals([response.creative.creative_id])[response.creative.creative_id]
    assert (totals.impressions, totals.clicks) == (1, 0)
    assert response.creative.image_url.startswith("https://b.example/uploads/food/coffee/")


def test_only_the_client_an_impression_was_served_to_may_report_on_it():
    racing, feedback, _, log = racing_with(creative(1))
    served = racing.select(select_request(), NOW, client_id="key-web")
    assert log.items[served.impression_id].client_id == "key-web"
    click = FeedbackRequest(impression_id=served.impression_id, event="click")
    # Another key's report is refused as if the impression did not exist, and counts nothing
    for other in ("key-app", None):
        with pytest.raises(NotFound) as error:
            feedback.record(click, NOW, client_id=other)
        assert error.value.code == "unknown_impression"
    assert feedback.record(click, NOW, client_id="key-web").counted is True


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


def test_a_click_counts_once_per_impression_and_completes_the_learners_step():
    racing, feedback, state, log = racing_with(creative(1))
    impression_id = racing.select(select_request(), NOW).impression_id
    before = dict(state.read("food").creatives["cr_1"])
    first = feedback.record(FeedbackRequest(impression_id=impression_id, event="click"), NOW)
    second = feedback.record(FeedbackRequest(impression_id=impression_id, event="click"), NOW)
    assert first.counted and not second.counted
    assert state.totals(["cr_1"])["cr_1"].clicks == 1
    deltas = log.items[impression_id].learner
    epoch = deltas.epoch
    after = state.read("food").creatives["cr_1"][f"lw:c@{epoch}"]
    assert after - before[f"lw:c@{epoch}"] == pytest.approx(deltas.creative_steps["c"] * deltas.weight)


def test_click_on_unknown_impression_is_not_found():
    _, feedback, _, _ = racing_with(creative(1))
    with pytest.raises(NotFound) as error:
        feedback.record(FeedbackRequest(impression_id="imp_nope", event="click"), NOW)
    assert error.value.code == "unknown_impression"


def test_a_late_click_carries_the_time_weight_of_its_impression():
    racing, feedback, state, log = racing_with(creative(1))
    served_at = NOW - timedelta(days=2)
    impression = log.items[racing.select(select_request(), served_at).impression_id]
    feedback.record(FeedbackRequest(impression_id=impression.impression_id, event="click"), NOW)
    base_clicks = {k: v for k, v in state.read("food").line.items() if k.startswith("bc:")}
    assert base_clicks == {f"bc:@{impression.learner.epoch}": impression.learner.weight}


def test_counters_spread_over_shards_sum_exactly_on_read():
    racing, feedback, state, log = racing_with(creative(1), counter_shards=4)
    served = [racing.select(select_request(user=f"u{i}"), NOW) for i in range(200)]
    for response in served[:50]:
        feedback.record(FeedbackRequest(impression_id=response.impression_id, event="click"), NOW)
    shards = {shard for (state_id, shard) in state.items if state_id == "cr_1"}
    assert len(shards) == 4  # a hot creative's writes land on every shard
    totals = state.totals(["cr_1"])["cr_1"]
    assert (totals.impressions, totals.clicks) == (200, 50)
    assert state.read("food").totals["cr_1"] == totals


def test_a_warm_select_reads_the_state_once_per_cache_period():
    world = racing_world(creative(1), creative(2))
    racing = world.racing
    racing._cache_ttl_s = 2.0
    for i in range(10):
        racing.select(select_request(), NOW + timedelta(milliseconds=100 * i))
    assert world.state.reads == 1
    racing.select(select_request(), NOW + timedelta(seconds=3))
    assert world.state.reads == 2


def test_a_slow_read_of_the_line_is_kept_until_reading_is_a_small_share_of_the_time():
    # Given a line cached for 2 s whose read takes 1 s (a laptop's moto, or a very large line)
    world = racing_world(creative(1), creative(2))
    racing = world.racing
    racing._cache_ttl_s = 2.0
    timer = iter([0.0, 1.0, 50.0, 50.01, 80.0, 80.01])
    racing._read_timer = lambda: next(timer)
    racing.select(select_request(), NOW)
    # Then the read is kept for its duration / MAX_READ_SHARE (10 s), not for 2 s
    racing.select(select_request(), NOW + timedelta(seconds=9.9))
    assert world.state.reads == 1 and MAX_READ_SHARE == 0.1
    racing.select(select_request(), NOW + timedelta(seconds=10))
    assert world.state.reads == 2
    # And once a read is fast again (10 ms), the next one comes after the 2 s TTL
    racing.select(select_request(), NOW + timedelta(seconds=11.9))
    assert world.state.reads == 2
    racing.select(select_request(), NOW + timedelta(seconds=12))
    assert world.state.reads == 3


def test_warm_selects_score_the_read_they_were_cached_with_and_the_next_read_afresh():
    # Given a line read once per 2 s, whose newer creative is clicked every time it is shown (so recall's
    # hot and newest orders agree, and every request sees the same candidate list)
    world = racing_world(creative(1), creative(2))
    racing = world.racing
    racing._cache_ttl_s = 2.0

    def chance_of_newer(response) -> float:
        p = response.creative_propensity
        return p if response.creative.creative_id == "cr_2" else 1.0 - p

    first = chance_of_newer(racing.select(select_request(), NOW))
    for i in range(300):
        served = racing.select(select_request(user=f"u{i}"), NOW + timedelta(milliseconds=i))
        if served.creative.creative_id == "cr_2":
            world.feedback.record(FeedbackRequest(impression_id=served.impression_id, event="click"), NOW)
    # Then within the read, requests are scored on what it held
    assert first == pytest.approx(0.5, abs=0.05)
    assert chance_of_newer(racing.select(select_request(), NOW + timedelta(seconds=1))) == first
    # And the next read brings the clicks to the next request's scores
    assert chance_of_newer(racing.select(select_request(), NOW + timedelta(seconds=3))) > 0.9


def test_a_pin_that_starts_within_a_read_of_the_line_is_recalled_from_its_start():
    # Given a line read once an hour, with a pin of its older creative that starts in ten minutes
    world = racing_world(creative(1), creative(2))
    racing = world.racing
    racing._cache_ttl_s = 3600.0
    pin = CreativeRule(creative_id="cr_1", starts_at=NOW + timedelta(minutes=10))
    rules = RecallRules(business_line="food", pins=[pin])
    world.state.save_setting("food", RECALL_SETTING, rules.model_dump(mode="json"), expected_version=0)
    before = racing.select(select_request(), NOW)
    after = racing.select(select_request(), NOW + timedelta(minutes=11))
    # Then, the read still cached, the request before the start recalls no pin and the one after it does
    assert world.state.reads == 1
    assert "pin" not in world.log.items[before.impression_id].recall_sources
    assert world.log.items[after.impression_id].recall_sources["pin"] == [0]


def test_the_racer_learns_an_interaction_and_shrinks_a_noise_feature():
    # Given two creatives: women click the first at 8% and men at 1%, the reverse for the second; every
    # user also carries a coin-flip feature that says nothing
    racing, feedback, _, _ = racing_with(creative(1), creative(2))
    rng = np.random.default_rng(5)
    shown_right = []
    for i in range(4000):
        gender = "f" if rng.random() < 0.5 else "m"
        features = {"gender": gender, "coin": str(rng.integers(2))}
        request = SelectRequest(
            business_line="food", placement="feed", user=UserContext(id=f"u{i}", features=features)
        )
        at = NOW + timedelta(seconds=30 * i)
        response = racing.select(request, at)
        best = "cr_1" if gender == "f" else "cr_2"
        shown_right.append(response.creative.creative_id == best)
        ctr = 0.08 if response.creative.creative_id == best else 0.01
        if rng.random() < ctr:
            feedback.record(FeedbackRequest(impression_id=response.impression_id, event="click"), at)
    # Then by the last thousand requests it shows each user the creative that suits them
    assert np.mean(shown_right[-1000:]) > 0.8


def test_the_racer_learns_from_a_number_what_users_of_nearby_values_prefer():
    # Given two creatives whose appeal moves with the user's age, sent as a number: at 18 the first draws 8%
    # and the second 1%, at 75 the reverse, linearly on the log-odds between (the second is better from 47)
    racing, feedback, _, _ = racing_with(creative(1), creative(2))
    rng = np.random.default_rng(5)
    shown_right = []
    for i in range(4000):
        age = int(rng.integers(18, 76))
        young = (75 - age) / 57
        logit_1, logit_2 = (
            np.log(0.01 / 0.99) + (np.log(0.08 / 0.92) - np.log(0.01 / 0.99)) * x for x in (young, 1 - young)
        )
        request = SelectRequest(
            business_line="food", placement="feed", user=UserContext(id=f"u{i}", features={"age": age})
        )
        at = NOW + timedelta(seconds=30 * i)
        response = racing.select(request, at)
        first = response.creative.creative_id == "cr_1"
        shown_right.append(first == (logit_1 > logit_2))
        if rng.random() < sigmoid(logit_1 if first else logit_2):
            feedback.record(FeedbackRequest(impression_id=response.impression_id, event="click"), at)
    # Then by the last thousand requests it shows more users the creative that suits their age than chance
    # does: each age alone is seen some 70 times in all, too few to learn from (with a key per age, as
    # before numbers had bins, this stayed at 0.52), each bin of ages some 500 times (0.635 here). Near 47
    # the two creatives are close, and an interaction's prior is strong, so this is far from all.
    assert np.mean(shown_right[-1000:]) > 0.6


def test_scoring_a_request_at_once_sums_what_each_pairs_keys_sum():
    learner = OnlineLearner()
    rng = np.random.default_rng(2)
    own = [LearnerState(), LearnerState(), LearnerState()]
    line = LearnerState()
    # Element tags (a line racing elements) have their own prior families: the fast sum must follow them too.
    tag_lists = [["shoes", "sale"], ["bags", "el:mat_img1"], ["shoes", "shoes", "new", "el:mat_copy2"]]
    terms = user_terms({"gender": "f", "age": 1}, 16)
    keys = [pair_keys(terms, tags, learner.config) for tags in tag_lists]
    for step in range(300):  # some evidence on every family
        i = int(rng.integers(3))
        learned_terms = user_terms({"gender": "fm"[rng.integers(2)], "age": int(rng.integers(3))}, 16)
        learner.learn(
            -3.0, pair_keys(learned_terms, tag_lists[i], learner.config), own[i], line, rng.random() < 0.1
        )
        if step % 50 == 49:  # and scored between updates: what the fast sum keeps per state follows them
            generic = learner.score(-3.0, keys, own, line)
            fast = learner.score_pairs(-3.0, terms, tag_lists, own, line)
            for a, b in zip(
                (generic.mean, generic.variance, generic.prior_variance),
                (fast.mean, fast.variance, fast.prior_variance),
                strict=True,
            ):
                assert np.allclose(a, b)


def test_conversions_are_counted_once_with_their_value():
    racing, feedback, state, _ = racing_with(creative(1))
    impression_id = racing.select(select_request(), NOW).impression_id
    first = feedback.record(FeedbackRequest(impression_id=impression_id, event="conversion", value=42.5), NOW)
    again = feedback.record(FeedbackRequest(impression_id=impression_id, event="conversion", value=42.5), NOW)
    click = feedback.record(FeedbackRequest(impression_id=impression_id, event="click"), NOW)
    assert first.counted and not again.counted and click.counted
    totals = state.totals(["cr_1"])["cr_1"]
    assert (totals.impressions, totals.clicks, totals.conversions, totals.value) == (1, 1, 1, 42.5)


def test_a_value_is_for_conversions_only():
    with pytest.raises(ValueError, match="conversions only"):
        FeedbackRequest(impression_id="imp_1", event="click", value=3.0)


@pytest.mark.parametrize("objective, completes", [("ctr", "click"), ("conversion_rate", "conversion")])
def test_the_learner_learns_the_event_its_line_optimises(objective, completes):
    racing, feedback, state, log = racing_with(creative(1))
    state.set_objective("food", objective)
    impression_id = racing.select(select_request(), NOW).impression_id
    deltas = log.items[impression_id].learner
    assert deltas.objective == objective
    name = f"lw:c@{deltas.epoch}"
    served = state.read("food").creatives["cr_1"][name]
    for event in ("click", "conversion"):
        feedback.record(FeedbackRequest(impression_id=impression_id, event=event), NOW)
        moved = state.read("food").creatives["cr_1"][name] - served
        if event == completes:
            assert moved == pytest.approx(deltas.creative_steps["c"] * deltas.weight)
            served += moved
        else:
            assert moved == 0.0


def test_a_line_that_optimises_value_prefers_the_creative_whose_conversions_are_worth_more():
    # Given two creatives converting at the same rate, one worth 10 a conversion and the other 100
    racing, feedback, state, _ = racing_with(creative(1), creative(2), exploration_floor=0.02)
    state.set_objective("food", "value_per_impression")
    rng = np.random.default_rng(7)
    chosen = []
    for i in range(3000):
        at = NOW + timedelta(seconds=10 * i)
        response = racing.select(select_request(user=f"u{i}"), at)
        chosen.append(response.creative.creative_id)
        if rng.random() < 0.05:
            value = 100.0 if response.creative.creative_id == "cr_2" else 10.0
            feedback.record(
                FeedbackRequest(impression_id=response.impression_id, event="conversion", value=value), at
            )
    # Then it ends up serving the valuable one
    assert chosen[-500:].count("cr_2") / 500 > 0.8


def test_extra_features_split_the_interaction_prior_instead_of_adding_to_it():
    # Given one creative with a tag, scored for a user with 4 features and for one with 12
    learner = OnlineLearner(LearnerConfig(reference_terms=4))
    empty = [LearnerState()]

    def prior_variance(features: int) -> float:
        terms = user_terms({f"f{i}": "x" for i in range(features)}, 16)
        return float(learner.score_pairs(-3.0, terms, [["t"]], empty, LearnerState()).prior_variance[0])

    config = learner.config
    own_keys = 1 / config.creative_precision + 1 / config.tag_precision
    # Then up to the reference every feature adds its crosses' prior variance, past it the total stays put
    assert prior_variance(2) < prior_variance(4)
    assert prior_variance(12) == pytest.approx(prior_variance(4))
    assert prior_variance(4) - own_keys == pytest.approx(
        4 / config.creative_x_user_precision + 4 / config.tag_x_user_precision
    )


def test_a_creative_worn_out_with_exposure_is_flagged_and_explored_anew():
    from creative.racing.state import StateWrite

    w = racing_world(creative(1), creative(2), seed=5)
    at = datetime(2026, 11, 30, 12, tzinfo=UTC)
    decay = w.racing._decay
    epoch, weight = decay.epoch(at.timestamp()), decay.weight(at.timestamp())
    # Both: 3,000 impressions in all at 10%; recently cr_1 at 1% and cr_2 still at 10% (400 each).
    for cid, recent_clicks in (("cr_1", 4.0), ("cr_2", 40.0)):
        recent = {f"cn:@{epoch}": 400.0 * weight, f"cc:@{epoch}": recent_clicks * weight}
        w.state.apply(cid, "food", 0, StateWrite(recent, []), {"impressions": 3000, "clicks": 300})
    _, view = w.racing._line("food", at.timestamp())
    assert view.fatigued == frozenset({"cr_1"})

    pool = w.racing.candidates("food")
    prior = np.full(len(pool), 0.02)
    posterior = w.racing._posterior({}, pool, view, prior, False, at.timestamp())
    same = w.racing._posterior({}, pool, replace(view, fatigued=frozenset()), prior, False, at.timestamp())
    index = {c.creative_id: i for i, c in enumerate(pool)}
    assert posterior.variance[index["cr_1"]] == pytest.approx(2.0 * same.variance[index["cr_1"]])
    assert posterior.variance[index["cr_2"]] == pytest.approx(same.variance[index["cr_2"]])


def _element_key(element_id: str) -> str:
    """The line-scope stem of an element's main-effect key."""
    return pair_keys([], [element_tag(element_id)], LearnerConfig())[1].name


@pytest.mark.parametrize("shared_keys", [True, False])
def test_what_one_creative_teaches_about_its_image_reaches_the_creatives_that_share_the_image(shared_keys):
    # Given creative 1, and two disabled creatives: 2 shows creative 1's image with another headline, 3 has
    # an image of its own
    shares_image = creative(2, status=CreativeStatus.DISABLED).model_copy(
        update={"image_material_id": "mat_img1"}
    )
    world = racing_world(
        creative(1),
        shares_image,
        creative(3, status=CreativeStatus.DISABLED),
        racer=ContextualRacer(RacerConfig(learner=LearnerConfig(shared_element_keys=shared_keys))),
    )
    at = NOW
    # When creative 1 is served 150 times and clicked every time, then disabled while 2 and 3 are enabled
    for _ in range(150):
        at += timedelta(seconds=1)
        served = world.racing.select(select_request(), at)
        world.feedback.record(FeedbackRequest(impression_id=served.impression_id, event="click"), at)
        # Only the shared image has element keys; no headline is shared
        writes = world.log.items[served.impression_id].learner.line_steps
        assert (_element_key("mat_img1") in writes) == shared_keys
        assert not any(_element_key(f"mat_copy{n}") in writes for n in (1, 2, 3))
    world.creatives.set_status("cr_1", CreativeStatus.DISABLED, "2026-11-25T13:00:00.000000Z")
    for other in ("cr_2", "cr_3"):
        world.creatives.set_status(other, CreativeStatus.ACTIVE, "2026-11-25T13:00:00.000000Z")
    served = world.racing.select(select_request(), at + timedelta(seconds=1))

    # Then creative 2, which shares the image, starts ahead of creative 3, though neither has been shown
    p_second = served.propensity if served.creative.creative_id == "cr_2" else 1.0 - served.propensity
    if shared_keys:
        assert p_second > 0.9
    else:  # each creative learns alone: nothing sets them apart
        assert p_second == pytest.approx(0.5)
