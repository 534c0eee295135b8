"""Semi-synthetic traffic on MovieLens users and movies, and the loop that runs a policy on it.

Every policy sees the same traffic for a seed: the same users at the same times, the same candidate sets and
the same pre-drawn uniforms for clicks and click delays (common random numbers), so the differences between
policies are theirs, not the dice's. A click on candidate j of request r happens iff
`click_draw[r, j] < p[r, j]`; its delay is `delay_s[r, j]`, whoever shows it.

Time runs in hours, as the scheduled functions do: requests are chosen one by one; at each hour boundary
the policy receives the feedback that has arrived by then (`Policy.feedback`) and then its scheduled batch
update (`Policy.end_of_hour`). A click is delivered at the first hour boundary after it happens; an
impression without a click is delivered as a non-click at the first boundary after its attribution window
has closed (a click later than the window is also delivered as a non-click: the log never sees it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from evaluation.click_model import ClickModel, catalogue, sigmoid, user_activity
from evaluation.movielens import MovieLens

HOUR = 3600.0
DAY = 24 * HOUR
START = 1_709_510_400.0  # Monday 2024-03-04 00:00 UTC; only hours of the day matter
BUSINESS_LINE = "movies"
# A candidate is "covered" when the policy gives it at least this share of the uniform probability 1/K,
# i.e. its inverse-propensity weight is at most 10 times the uniform's.
COVERAGE_FLOOR_OF_UNIFORM = 0.1


@dataclass(frozen=True)
class Candidate:
    creative_id: str
    category: str
    tags: tuple[str, ...]
    created_at: float  # epoch s


@dataclass(frozen=True)
class Request:
    request_id: str
    at: float
    user_id: str
    user: dict[str, str | int | float]
    business_line: str
    candidates: tuple[Candidate, ...]


@dataclass(frozen=True)
class Decision:
    index: int
    propensity: float | None  # None when the library does not expose it


@dataclass(frozen=True)
class Feedback:
    request: Request
    index: int
    clicked: bool
    arrived_at: float


class Policy(Protocol):
    """What the simulator drives. A policy may also set `last_distribution` (its probabilities over the
    candidates of the last `choose`) so that the share of candidates it keeps covered can be reported."""

    name: str

    def choose(self, request: Request) -> Decision: ...

    # Clicks as they arrive (delayed); non-clicks once the attribution window has passed.
    def feedback(self, events: Sequence[Feedback]) -> None: ...

    def end_of_hour(self, now: float) -> None: ...  # the scheduled batch update / retrain hook


@dataclass(frozen=True)
class TrafficConfig:
    days: int = 5
    requests_per_hour: int = 400
    diurnal_amplitude: float = 0.5  # volume x (1 + a cos(2 pi (hour - 20) / 24)): peak at 20:00
    initial_creatives: int = 30
    arrivals_per_day: int = 8  # new creatives at random times from day 2 on (cold start)
    retirements_per_day: int = 4  # initial creatives switched off at random times from day 2 on
    click_delay_mean_s: float = 20 * 60
    attribution_window_s: float = 2 * HOUR
    drift_at_day: float = 2.0  # the start of day 3
    drift_logit: float = 0.5  # x1.6 on the odds of the rising genres' movies, /1.6 for the falling ones
    drift_genres_each_way: int = 2
    # Extra user features that say nothing about clicks (the noise ablation): each user holds a fixed random
    # value of noise_0 .. noise_{k-1}, with 2, 4, 8, 16, 32 ... values.
    noise_features: int = 0


QUICK = TrafficConfig(days=2, requests_per_hour=120, drift_at_day=1.5)


@dataclass(frozen=True)
class CreativeInfo:
    creative_id: str
    movie: int  # index into MovieLens.movies
    title: str
    genres: tuple[str, ...]
    created_at: float
    retired_at: float
    arrived_mid_run: bool


@dataclass
class Traffic:
    seed: int
    config: TrafficConfig
    requests: list[Request]
    hour_bounds: np.ndarray  # hour h holds requests hour_bounds[h] : hour_bounds[h + 1]
    p: np.ndarray  # (requests, max candidates) true click probability, NaN past a request's candidates
    click_draw: np.ndarray
    delay_s: np.ndarray
    candidate_count: np.ndarray
    creatives: dict[str, CreativeInfo]
    drift: dict
    # (requests, max candidates) the true logit without the individual stage: what the user's features, the
    # creative and the drift determine (NaN past a request's candidates); `FeaturesOracle` ranks by it
    features_logit: np.ndarray
    row_of: dict[str, int] = field(default_factory=dict)

    @property
    def hours(self) -> int:
        return len(self.hour_bounds) - 1

    def oracle_index(self, row: int) -> int:
        return int(np.nanargmax(self.p[row]))


def candidate_of(info: CreativeInfo, year: int | None) -> Candidate:
    decade = f"decade_{year // 10 * 10}s" if year else "decade_unknown"
    return Candidate(info.creative_id, info.genres[0], (*info.genres, decade), info.created_at)


def _creatives(data: MovieLens, config: TrafficConfig, rng: np.random.Generator) -> dict[str, CreativeInfo]:
    later_days = config.days - 1
    arrivals = config.arrivals_per_day * later_days
    movies = rng.choice(catalogue(data), size=config.initial_creatives + arrivals, replace=False)
    created = np.concatenate(
        [
            START - rng.uniform(0, 7 * DAY, config.initial_creatives),
            np.sort(START + DAY + rng.uniform(0, later_days * DAY, arrivals)),
        ]
    )
    retired = np.full(len(movies), np.inf)
    retiring = rng.choice(
        config.initial_creatives, size=config.retirements_per_day * later_days, replace=False
    )
    retired[retiring] = START + DAY + rng.uniform(0, later_days * DAY, len(retiring))
    infos = {}
    for k, movie in enumerate(movies):
        m = data.movies[movie]
        creative_id = f"ml-{m.item_id}"
        infos[creative_id] = CreativeInfo(
            creative_id,
            int(movie),
            m.title,
            m.genres,
            float(created[k]),
            float(retired[k]),
            arrived_mid_run=k >= config.initial_creatives,
        )
    return infos


def _request_times(config: TrafficConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    hours = np.arange(config.days * 24)
    shape = 1 + config.diurnal_amplitude * np.cos(2 * np.pi * ((hours % 24) - 20) / 24)
    counts = np.maximum(1, np.round(config.requests_per_hour * shape)).astype(int)
    times = np.concatenate(
        [np.sort(START + h * HOUR + rng.uniform(0, HOUR, n)) for h, n in zip(hours, counts, strict=True)]
    )
    return times, np.concatenate([[0], np.cumsum(counts)])


def _drift(data: MovieLens, creatives: dict[str, CreativeInfo], config: TrafficConfig, rng) -> dict:
    """Genres whose appeal rises or falls from drift_at_day on, drawn among genres of >= 10% of the pool."""
    counts: dict[str, int] = {}
    for info in creatives.values():
        for g in info.genres:
            counts[g] = counts.get(g, 0) + 1
    common = sorted(g for g, n in counts.items() if n >= 0.1 * len(creatives))
    picked = rng.choice(common, size=2 * config.drift_genres_each_way, replace=False).tolist()
    rising, falling = picked[: config.drift_genres_each_way], picked[config.drift_genres_each_way :]
    return {
        "at": START + config.drift_at_day * DAY,
        "logit": config.drift_logit,
        "rising": sorted(rising),
        "falling": sorted(falling),
        "rule": "logit += drift_logit * (1[movie has a rising genre] - 1[movie has a falling genre])",
    }


def _drift_shift(info: CreativeInfo, drift: dict) -> float:
    rising = any(g in drift["rising"] for g in info.genres)
    falling = any(g in drift["falling"] for g in info.genres)
    return drift["logit"] * (float(rising) - float(falling))


def build_traffic(data: MovieLens, model: ClickModel, seed: int, config: TrafficConfig) -> Traffic:
    # spawn(7)'s first six children are spawn(6)'s: the noise stream changes none of the others.
    pool_rng, time_rng, user_rng, click_rng, delay_rng, drift_rng, noise_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(7)
    )
    creatives = _creatives(data, config, pool_rng)
    drift = _drift(data, creatives, config, drift_rng)
    times, hour_bounds = _request_times(config, time_rng)
    users = user_rng.choice(len(data.users), size=len(times), p=user_activity(data))

    ordered = sorted(creatives.values(), key=lambda c: (-c.created_at, c.creative_id))  # newest first
    movies = np.array([c.movie for c in ordered])
    column = {c.creative_id: k for k, c in enumerate(ordered)}
    parts = model.affinity.parts(np.arange(len(data.users)), movies)  # users x pool, per stage
    seen_logit = model.alpha + model.beta * (parts["item"] + parts["demographic"])  # no individual taste
    logit = seen_logit + model.beta * parts["individual"]  # `model.logit`, its stages computed once
    shift = np.array([_drift_shift(c, drift) for c in ordered])
    candidates = {c.creative_id: candidate_of(c, data.movies[c.movie].year) for c in ordered}

    width = len(ordered)
    p = np.full((len(times), width), np.nan)
    features_logit = np.full((len(times), width), np.nan)
    counts = np.zeros(len(times), dtype=int)
    noise = noise_rng.integers(
        0, 2 ** np.arange(1, config.noise_features + 1), (len(data.users), config.noise_features)
    )
    requests: list[Request] = []
    active_key, active = None, ()
    for r, (at, u) in enumerate(zip(times, users, strict=True)):
        live = tuple(c.creative_id for c in ordered if c.created_at <= at < c.retired_at)
        if live != active_key:
            active_key, active = live, tuple(candidates[c] for c in live)
        cols = np.array([column[c] for c in live])
        p[r, : len(live)] = sigmoid(logit[u, cols] + shift[cols] * (at >= drift["at"]))
        features_logit[r, : len(live)] = seen_logit[u, cols] + shift[cols] * (at >= drift["at"])
        counts[r] = len(live)
        user = data.users[u]
        features = user.features() | {f"noise_{k}": int(v) for k, v in enumerate(noise[u])}
        requests.append(
            Request(f"s{seed}-r{r:07d}", float(at), f"u{user.user_id}", features, BUSINESS_LINE, active)
        )
    click_draw = click_rng.random(p.shape)
    delay_s = delay_rng.exponential(config.click_delay_mean_s, p.shape)
    traffic = Traffic(
        seed, config, requests, hour_bounds, p, click_draw, delay_s, counts, creatives, drift, features_logit
    )
    traffic.row_of = {req.request_id: r for r, req in enumerate(requests)}
    return traffic


@dataclass
class RunLog:
    policy: str
    chosen: np.ndarray
    propensity: np.ndarray  # NaN when the policy logged none
    covered_share: np.ndarray  # share of candidates at >= the coverage floor; NaN when not exposed
    choose_seconds: float
    seconds: float


def _outcome(traffic: Traffic, row: int, index: int, request: Request) -> tuple[int, Feedback]:
    """The hour boundary (index) at which the feedback for this impression is delivered, and the feedback."""
    window = traffic.config.attribution_window_s
    delay = traffic.delay_s[row, index]
    clicked = bool(traffic.click_draw[row, index] < traffic.p[row, index]) and delay <= window
    arrived = request.at + (delay if clicked else window)
    boundary = math.ceil((arrived - START) / HOUR)
    return boundary, Feedback(request, index, clicked, float(arrived))


def _covered_share(policy: Policy, k: int) -> float:
    distribution = getattr(policy, "last_distribution", None)
    if distribution is None or len(distribution) != k:
        return math.nan
    return float(np.mean(np.asarray(distribution) >= COVERAGE_FLOOR_OF_UNIFORM / k))


def run(policy: Policy, traffic: Traffic) -> RunLog:
    n = len(traffic.requests)
    chosen = np.zeros(n, dtype=int)
    propensity = np.full(n, np.nan)
    covered = np.full(n, np.nan)
    pending: dict[int, list[Feedback]] = {}
    choose_seconds = 0.0
    started = time.perf_counter()
    for hour in range(traffic.hours):
        for row in range(traffic.hour_bounds[hour], traffic.hour_bounds[hour + 1]):
            request = traffic.requests[row]
            tick = time.perf_counter()
            decision = policy.choose(request)
            choose_seconds += time.perf_counter() - tick
            if not 0 <= decision.index < len(request.candidates):
                raise ValueError(f"{policy.name} chose {decision.index} among {len(request.candidates)}")
            chosen[row] = decision.index
            if decision.propensity is not None:
                propensity[row] = decision.propensity
            covered[row] = _covered_share(policy, len(request.candidates))
            boundary, event = _outcome(traffic, row, decision.index, request)
            pending.setdefault(boundary, []).append(event)
        events = sorted(pending.pop(hour + 1, []), key=lambda e: e.arrived_at)
        if events:
            policy.feedback(events)
        policy.end_of_hour(START + (hour + 1) * HOUR)
    return RunLog(policy.name, chosen, propensity, covered, choose_seconds, time.perf_counter() - started)


def run_immediate(policy: Policy, traffic: Traffic, requests: int) -> np.ndarray:
    """The first `requests` requests as a client loop over HTTP would send them: each impression's outcome
    (the same common random numbers, no delay, no attribution window) is fed back before the next choice,
    and no scheduled hook runs (no retraining). Returns the true click probability of what was shown."""
    shown = np.empty(min(requests, len(traffic.requests)))
    for row in range(len(shown)):
        request = traffic.requests[row]
        index = policy.choose(request).index
        if not 0 <= index < len(request.candidates):
            raise ValueError(f"{policy.name} chose {index} among {len(request.candidates)}")
        shown[row] = traffic.p[row, index]
        clicked = bool(traffic.click_draw[row, index] < shown[row])
        policy.feedback([Feedback(request, index, clicked, float(request.at))])
    return shown


class Oracle:
    """Knows the true click probability of every candidate: the regret reference, not a peer."""

    name = "oracle"

    def __init__(self, traffic: Traffic):
        self._traffic = traffic

    def choose(self, request: Request) -> Decision:
        return Decision(self._traffic.oracle_index(self._traffic.row_of[request.request_id]), 1.0)

    def feedback(self, events: Sequence[Feedback]) -> None:
        pass

    def end_of_hour(self, now: float) -> None:
        pass


class FeaturesOracle(Oracle):
    """Knows every effect the user's features, the creative and the drift carry, exactly, but not the user's
    individual taste (the click model's last stage, which no feature exposes): the ceiling of any policy that
    sees what the peers see. It shows the candidate with the highest such logit."""

    name = "oracle_features"

    def choose(self, request: Request) -> Decision:
        row = self._traffic.row_of[request.request_id]
        return Decision(int(np.nanargmax(self._traffic.features_logit[row])), 1.0)


def metrics(log: RunLog, traffic: Traffic) -> dict:
    rows = np.arange(len(log.chosen))
    p_chosen = traffic.p[rows, log.chosen]
    clicked = traffic.click_draw[rows, log.chosen] < p_chosen
    p_best = np.nanmax(traffic.p, axis=1)
    first_day = slice(0, int(traffic.hour_bounds[24]) if traffic.hours >= 24 else len(rows))
    after_drift = np.array([r.at >= traffic.drift["at"] for r in traffic.requests])
    logged = log.propensity[~np.isnan(log.propensity)]
    regret_by_hour = np.cumsum(p_best - p_chosen)[traffic.hour_bounds[1:] - 1]
    clicks_by_hour = np.add.reduceat(clicked.astype(float), traffic.hour_bounds[:-1])
    return {
        "ctr": float(clicked.mean()),
        "expected_ctr": float(p_chosen.mean()),
        "regret": float(np.sum(p_best - p_chosen)),
        "regret_per_1000": float(np.mean(p_best - p_chosen) * 1000),
        "first_day_ctr": float(clicked[first_day].mean()),
        "first_day_expected_ctr": float(p_chosen[first_day].mean()),
        "after_drift_expected_ctr": float(p_chosen[after_drift].mean()) if after_drift.any() else math.nan,
        "new_creative_share": _new_creative_share(log.chosen, traffic),
        "propensity_logged_share": float(len(logged) / len(rows)),
        "propensity_min": float(logged.min()) if len(logged) else math.nan,
        "propensity_p5": float(np.quantile(logged, 0.05)) if len(logged) else math.nan,
        "candidates_covered_share": float(np.nanmean(log.covered_share))
        if not np.isnan(log.covered_share).all()
        else math.nan,
        "ms_per_choose": log.choose_seconds / len(rows) * 1000,
        "seconds": log.seconds,
        "hourly": {
            "cumulative_regret": [round(float(x), 3) for x in regret_by_hour],
            "ctr": [
                round(float(c / n), 5)
                for c, n in zip(clicks_by_hour, np.diff(traffic.hour_bounds), strict=True)
            ],
        },
    }


def _new_creative_share(chosen: np.ndarray, traffic: Traffic) -> float:
    """Share of impressions that went to creatives which arrived mid-run, in their first 24 hours."""
    young = 0
    for row, index in enumerate(chosen):
        request = traffic.requests[row]
        candidate = request.candidates[index]
        info = traffic.creatives[candidate.creative_id]
        young += info.arrived_mid_run and request.at - info.created_at < DAY
    return young / len(chosen)


def traffic_summary(traffic: Traffic) -> dict:
    uniform = np.nanmean(traffic.p, axis=1)
    return {
        "seed": traffic.seed,
        "requests": len(traffic.requests),
        "hours": traffic.hours,
        "creatives": len(traffic.creatives),
        "arrived_mid_run": sum(c.arrived_mid_run for c in traffic.creatives.values()),
        "candidates_min": int(traffic.candidate_count.min()),
        "candidates_max": int(traffic.candidate_count.max()),
        "uniform_expected_ctr": float(uniform.mean()),
        "oracle_expected_ctr": float(np.nanmax(traffic.p, axis=1).mean()),
        "drift": {k: v for k, v in traffic.drift.items() if k != "at"}
        | {"at_hour": (traffic.drift["at"] - START) / HOUR},
    }
