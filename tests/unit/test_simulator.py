"""The MovieLens simulator: parsing, click model calibration, common random numbers, delays, references.

Most tests run on a small MovieLens-shaped data set written inline in recbole's atomic format, so they
need neither the network nor the wheel; the calibration on the real data runs when the wheel is cached.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest
from evaluation import click_model, movielens
from evaluation.movielens_traffic import (
    HOUR,
    START,
    Decision,
    FeaturesOracle,
    Feedback,
    Oracle,
    Request,
    TrafficConfig,
    _drift_shift,
    build_traffic,
    metrics,
    run,
    run_immediate,
)
from evaluation.peers import (
    USER_FIELDS,
    ContextFreeThompson,
    MabwiserLinUCB,
    MabwiserThompson,
    Uniform,
    UserOneHot,
    VowpalCbAdf,
)

SMALL = TrafficConfig(
    days=2, requests_per_hour=40, initial_creatives=20, arrivals_per_day=6, drift_at_day=1.0
)
GENRES = ("Action", "Comedy", "Drama", "Romance", "Sci-Fi")
OCCUPATIONS = ("student", "engineer", "writer")


def atomic(header: str, rows: list[str]) -> str:
    return "\n".join([header, *rows]) + "\n"


def synthetic_movielens(users: int = 60, movies: int = 70, seed: int = 0) -> movielens.MovieLens:
    """Every user rates every movie; women like Romance and men Action more, as a known signal."""
    rng = np.random.default_rng(seed)
    user_rows = [
        f"{u + 1}\t{int(rng.integers(15, 70))}\t{'F' if u % 2 else 'M'}\t{OCCUPATIONS[u % 3]}\t0000{u}"
        for u in range(users)
    ]
    genres = [tuple(rng.choice(GENRES, size=1 + int(rng.integers(2)), replace=False)) for _ in range(movies)]
    item_rows = [f"{i + 1}\tMovie {i + 1}\t{1950 + i}\t{' '.join(g)}" for i, g in enumerate(genres)]
    quality = rng.normal(0, 0.7, movies)
    inter_rows = []
    for u in range(users):
        for i in range(movies):
            taste = 1.0 if ("Romance" in genres[i]) == bool(u % 2) else 0.0
            stars = int(np.clip(np.round(3 + quality[i] + taste + rng.normal(0, 0.8)), 1, 5))
            inter_rows.append(f"{u + 1}\t{i + 1}\t{stars}\t{880000000 + u * movies + i}")
    return movielens.parse(
        atomic("user_id:token\titem_id:token\trating:float\ttimestamp:float", inter_rows),
        atomic("user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token", user_rows),
        atomic("item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq", item_rows),
    )


@pytest.fixture(scope="module")
def small_world():
    data = synthetic_movielens()
    model = click_model.fit(data)
    return data, model, build_traffic(data, model, seed=7, config=SMALL)


class Recorder:
    """Always shows the candidate at a fixed position and records everything the simulator tells it."""

    def __init__(self, position: int = 0):
        self.name = f"fixed_{position}"
        self.position = position
        self.seen: list[Request] = []
        self.delivered: list[tuple[float, Feedback]] = []  # (hour boundary it was delivered at, event)
        self._batch: list[Feedback] = []

    def choose(self, request: Request) -> Decision:
        self.seen.append(request)
        return Decision(min(self.position, len(request.candidates) - 1), None)

    def feedback(self, events: Sequence[Feedback]) -> None:
        self._batch.extend(events)

    def end_of_hour(self, now: float) -> None:
        self.delivered.extend((now, e) for e in self._batch)
        self._batch = []


def test_parse_reads_recbole_atomic_files():
    # Given three atomic files in recbole's format, one movie without a release year
    inter = atomic(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float", ["1\t10\t4\t1", "2\t11\t2\t2"]
    )
    users = atomic(
        "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token",
        ["1\t24\tM\ttechnician\t85711", "2\t56\tF\tother\t94043"],
    )
    items = atomic(
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq",
        ["10\tToy Story\t1995\tAnimation Children's Comedy", "11\tUntitled\t\tDrama"],
    )

    # When they are parsed
    data = movielens.parse(inter, users, items)

    # Then users carry bucketed ages, movies multi-label genres, and ratings point at both by index
    assert [u.age_bucket for u in data.users] == ["18-24", "56+"]
    assert data.movies[0].genres == ("Animation", "Children's", "Comedy")
    assert data.movies[0].title == "Toy Story" and data.movies[1].year is None
    assert data.rating_user.tolist() == [0, 1] and data.rating_movie.tolist() == [0, 1]
    assert data.rating.tolist() == [4.0, 2.0]


def test_click_model_meets_its_calibration_targets_and_learns_the_planted_signal(small_world):
    # Given a click model fitted on ratings where women prefer Romance
    data, model, _ = small_world

    # Then its calibration figures are at their targets
    calibration = model.calibration
    assert calibration["mean_ctr"] == pytest.approx(click_model.MEAN_CTR, abs=5e-4)
    assert calibration["median_user_spread_p90_p10"] == pytest.approx(click_model.SPREAD_P90_P10, rel=0.02)
    # And a woman is more likely than a man to click a Romance-only movie, learnt from the ratings
    romance = [i for i, m in enumerate(data.movies) if m.genres == ("Romance",)]
    women = np.array([i for i, u in enumerate(data.users) if u.gender == "F"])
    men = np.array([i for i, u in enumerate(data.users) if u.gender == "M"])
    assert model.p(women, np.array(romance)).mean() > 1.3 * model.p(men, np.array(romance)).mean()


def test_every_policy_gets_the_same_traffic_and_the_same_dice(small_world):
    # Given the same seed built twice, and two policies that show different positions
    data, model, traffic = small_world
    again = build_traffic(data, model, seed=7, config=SMALL)
    first, third = Recorder(0), Recorder(2)

    # When both run
    run(first, traffic)
    run(third, again)

    # Then they saw the same users at the same times with the same candidates
    assert [(r.request_id, r.at, r.user_id, r.candidates) for r in first.seen] == [
        (r.request_id, r.at, r.user_id, r.candidates) for r in third.seen
    ]
    # And the pre-drawn uniforms and probabilities behind every click are identical
    assert np.array_equal(traffic.click_draw, again.click_draw)
    assert np.array_equal(traffic.delay_s, again.delay_s)
    assert np.array_equal(np.isnan(traffic.p), np.isnan(again.p))
    assert np.allclose(np.nan_to_num(traffic.p), np.nan_to_num(again.p))
    # And a different seed is different traffic
    other = build_traffic(data, model, seed=8, config=SMALL)
    assert [r.user_id for r in other.requests] != [r.user_id for r in traffic.requests]


def test_noise_features_add_user_attributes_and_change_nothing_else(small_world):
    # Given the same seed with five noise features
    data, model, traffic = small_world
    noisy = build_traffic(data, model, seed=7, config=replace(SMALL, noise_features=5))

    # Then the users, times, candidates and dice are those of the clean traffic
    assert [(r.user_id, r.at, r.candidates) for r in noisy.requests] == [
        (r.user_id, r.at, r.candidates) for r in traffic.requests
    ]
    assert np.array_equal(noisy.click_draw, traffic.click_draw)
    assert np.allclose(np.nan_to_num(noisy.p), np.nan_to_num(traffic.p))
    # And each user carries the same five extra values on every request, with 2, 4, ... 32 levels
    extra: dict[str, dict] = {}
    for clean, request in zip(traffic.requests, noisy.requests, strict=True):
        added = {k: v for k, v in request.user.items() if k not in clean.user}
        assert sorted(added) == [f"noise_{k}" for k in range(5)]
        assert extra.setdefault(request.user_id, added) == added
    assert all(0 <= v < 2 ** (k + 1) for added in extra.values() for k, v in enumerate(added.values()))
    assert len({added["noise_4"] for added in extra.values()}) > 2


def test_traffic_has_cold_start_arrivals_retirements_and_drift(small_world):
    # Given the small traffic
    _, _, traffic = small_world

    # Then creatives arrive after the first day and some of the first ones retire
    arrived = [c for c in traffic.creatives.values() if c.arrived_mid_run]
    assert len(arrived) == SMALL.arrivals_per_day and all(c.created_at >= START + 24 * HOUR for c in arrived)
    assert sum(c.retired_at < np.inf for c in traffic.creatives.values()) == SMALL.retirements_per_day
    assert traffic.candidate_count.min() < traffic.candidate_count.max()
    # And the drift moves the rising genres' movies up after it starts
    rising = set(traffic.drift["rising"])
    assert rising and not rising & set(traffic.drift["falling"])


def test_delayed_feedback_arrives_after_its_impression_at_the_next_hour_and_for_the_right_request(
    small_world,
):
    # Given a policy that records what is delivered and when
    _, _, traffic = small_world
    policy = Recorder(1)

    # When it runs
    run(policy, traffic)

    # Then every event is delivered at the first hour boundary after it arrived, after its impression
    window = traffic.config.attribution_window_s
    for delivered_at, event in policy.delivered:
        assert event.request.at < event.arrived_at <= delivered_at < event.arrived_at + HOUR
        row = traffic.row_of[event.request.request_id]
        clicked = traffic.click_draw[row, event.index] < traffic.p[row, event.index]
        delay = traffic.delay_s[row, event.index]
        # And it carries the click drawn for that request and position, at that request's time plus delay
        assert event.clicked == (clicked and delay <= window)
        expected_arrival = event.request.at + (delay if event.clicked else window)
        assert event.arrived_at == pytest.approx(expected_arrival)
    # And each request is answered at most once; only the last hours' are still pending at the end
    ids = [e.request.request_id for _, e in policy.delivered]
    assert len(ids) == len(set(ids))
    answered = set(ids)
    last = START + traffic.hours * HOUR
    assert all(r.request_id in answered for r in traffic.requests if r.at + window < last - HOUR)
    assert any(e.clicked for _, e in policy.delivered)


class CountsOutcomesBeforeChoosing(Recorder):
    """A Recorder that also notes, at each choice, how many outcomes it had been told of."""

    def __init__(self, position: int):
        super().__init__(position)
        self.told_before_choosing: list[int] = []

    def choose(self, request: Request) -> Decision:
        self.told_before_choosing.append(len(self._batch))
        return super().choose(request)


def test_the_immediate_loop_feeds_each_outcome_back_before_the_next_choice(small_world):
    # Given a policy that records what it is told, on the first 300 requests of the small traffic
    _, _, traffic = small_world
    policy = CountsOutcomesBeforeChoosing(2)

    # When the loop runs as a client over HTTP would (outcome at once, no scheduled hook)
    shown = run_immediate(policy, traffic, 300)

    # Then each choice comes after every earlier request's outcome, and no hour ends
    assert policy.told_before_choosing == list(range(300)) and policy.delivered == []
    for row, event in enumerate(policy._batch):
        assert event.request is policy.seen[row] is traffic.requests[row] and event.index == 2
        # And the outcome is the common random numbers' click for that request, at its own time
        assert event.clicked == (traffic.click_draw[row, 2] < traffic.p[row, 2])
        assert event.arrived_at == event.request.at and shown[row] == traffic.p[row, 2]
    assert any(e.clicked for e in policy._batch) and not all(e.clicked for e in policy._batch)


def test_uniform_policy_ctr_is_close_to_the_mean_click_probability(small_world):
    # Given the uniform policy
    _, _, traffic = small_world

    # When it runs
    result = metrics(run(Uniform(seed=3), traffic), traffic)

    # Then its realised CTR is within 4 standard errors of the mean p of what it showed
    n = len(traffic.requests)
    p = result["expected_ctr"]
    assert abs(result["ctr"] - p) < 4 * np.sqrt(p * (1 - p) / n)
    # And what it showed is, on average, the mean p over all candidates
    assert p == pytest.approx(float(np.nanmean(traffic.p, axis=1).mean()), rel=0.15)
    assert result["propensity_logged_share"] == 1.0 and result["candidates_covered_share"] == 1.0


def test_oracle_has_zero_regret_and_others_do_not(small_world):
    # Given the oracle and a fixed-position policy
    _, _, traffic = small_world

    # When both run
    oracle = metrics(run(Oracle(traffic), traffic), traffic)
    fixed = metrics(run(Recorder(0), traffic), traffic)

    # Then the oracle has no regret and the best expected CTR
    assert oracle["regret"] == 0.0
    assert fixed["regret"] > 0.0 and fixed["expected_ctr"] < oracle["expected_ctr"]


def test_the_features_oracle_ranks_by_all_but_the_individual_taste(small_world):
    # Given the traffic of the small world, whose users also have an individual taste no feature exposes
    data, model, traffic = small_world
    users = {f"u{u.user_id}": i for i, u in enumerate(data.users)}
    row = 17
    request = traffic.requests[row]
    movies = np.array([traffic.creatives[c.creative_id].movie for c in request.candidates])
    parts = model.affinity.parts(np.array([users[request.user_id]]), movies)
    drifted = request.at >= traffic.drift["at"]
    shift = np.array(
        [
            0.0 if not drifted else _drift_shift(traffic.creatives[c.creative_id], traffic.drift)
            for c in request.candidates
        ]
    )

    # Then its logit is the true one without the individual stage
    expected = model.alpha + model.beta * (parts["item"][0] + parts["demographic"][0]) + shift
    np.testing.assert_allclose(traffic.features_logit[row, : len(movies)], expected, rtol=1e-9)
    full = model.alpha + model.beta * (sum(parts.values())[0]) + shift
    np.testing.assert_allclose(traffic.p[row, : len(movies)], 1 / (1 + np.exp(-full)), rtol=1e-9)

    # And running it lands between a fixed position and the oracle
    features = metrics(run(FeaturesOracle(traffic), traffic), traffic)
    oracle = metrics(run(Oracle(traffic), traffic), traffic)
    fixed = metrics(run(Recorder(0), traffic), traffic)
    assert fixed["expected_ctr"] < features["expected_ctr"] < oracle["expected_ctr"]
    assert features["regret"] > 0.0


@pytest.mark.parametrize(
    "make",
    [
        lambda data: Uniform(1),
        lambda data: ContextFreeThompson(1),
        lambda data: MabwiserThompson(1),
        lambda data: MabwiserLinUCB(1, UserOneHot(vocabulary(data))),
        lambda data: VowpalCbAdf(1, "squarecb"),
    ],
    ids=["uniform", "ts", "mabwiser_ts", "mabwiser_linucb", "vw_squarecb"],
)
def test_each_peer_runs_on_the_protocol_and_logs_what_it_can(small_world, make):
    # Given a peer
    data, _, traffic = small_world
    policy = make(data)

    # When it runs on the traffic
    log = run(policy, traffic)

    # Then it logs a propensity in (0, 1] on every decision, or none at all (MABWiser exposes none)
    logged = log.propensity[~np.isnan(log.propensity)]
    assert len(logged) in (0, len(log.propensity))
    assert ((logged > 0) & (logged <= 1)).all()
    assert len(logged) == 0 or policy.name not in ("mabwiser_ts", "mabwiser_linucb")


def test_vowpal_wabbit_learns_from_the_feedback_it_is_given(small_world):
    # Given VW that has been told, 300 times, that only one creative gets clicks
    _, _, traffic = small_world
    policy = VowpalCbAdf(1, "epsilon")
    favourite = 3
    events = []
    for row in range(300):
        request = replace(traffic.requests[0], request_id=f"x{row}")
        decision = policy.choose(request)
        events.append(Feedback(request, decision.index, decision.index == favourite, request.at + 1))
    policy.feedback(events)

    # When it chooses again
    policy.choose(traffic.requests[0])

    # Then its distribution puts the greedy mass on that creative
    assert int(np.argmax(policy.last_distribution)) == favourite
    assert policy.last_distribution.sum() == pytest.approx(1.0)


def vocabulary(data: movielens.MovieLens) -> dict[str, list[str]]:
    return {name: sorted({str(u.features()[name]) for u in data.users}) for name in USER_FIELDS}
