"""The racing timeline over an in-memory impression log: hourly CTR, the uniform policy's off-policy estimate,
model versions, the creatives' posterior over time, and the limits on what one request reads."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from creative.clock import iso
from creative.errors import InvalidRequest, NotFound
from creative.impressions import Impression
from creative.racing_timeline import NO_MODEL_VERSION, POSTERIOR_LEVEL, RacingTimelines, TimelineLimits
from in_memory.adapters import InMemoryCreativeRepository, InMemoryImpressionLog

from tests.factories import creative

NOW = datetime(2026, 11, 30, 15, 20, tzinfo=UTC)  # the current hour bucket starts at 15:00
HOUR = timedelta(hours=1)


class Log:
    """An in-memory log of a few lines' creatives, and a helper that logs one impression."""

    def __init__(self, *creatives):
        self.creatives = InMemoryCreativeRepository()
        self.creatives.put_new(
            creatives or [creative(1), creative(2), creative(3), creative(9, line="travel")]
        )
        self.log = InMemoryImpressionLog(self.creatives)
        self.count = 0

    def impression(
        self,
        at: datetime,
        creative_id: str = "cr_1",
        *,
        clicked: bool = False,
        propensity: float = 0.5,
        candidates: int = 2,
        line: str = "food",
        model_version: str | None = "constant",
        floor: float | None = None,
    ) -> None:
        self.count += 1
        self.log.record(
            Impression(
                impression_id=f"imp_{self.count}",
                creative_id=creative_id,
                business_line=line,
                placement="feed",
                user_id="u",
                candidate_count=candidates,
                propensity=propensity,
                policy_version="racer-v2",
                model_version=model_version,
                exploration_floor=floor,
                created_at=iso(at),
                expires_at=int((at + timedelta(days=30)).timestamp()),
                clicked_at=iso(at + timedelta(seconds=5)) if clicked else None,
            )
        )

    def timelines(self, limits: TimelineLimits | None = None, clock=None) -> RacingTimelines:
        kwargs = {"clock": clock} if clock else {}
        return RacingTimelines(self.creatives, self.log, limits, **kwargs)


def test_each_hour_has_the_racers_ctr_the_uniform_estimate_and_the_model_versions():
    # Given three impressions two hours ago (one clicked, chosen with propensity 0.25 among 2 candidates),
    # one this hour scored by a trained model, and impressions of another line and before the window
    world = Log()
    two_ago = NOW.replace(minute=5) - 2 * HOUR
    world.impression(two_ago, clicked=True, propensity=0.25, candidates=2)
    world.impression(two_ago + timedelta(minutes=10), "cr_2", propensity=0.75, candidates=2)
    world.impression(
        two_ago + timedelta(minutes=50), "cr_2", propensity=0.75, candidates=2, model_version=None
    )
    world.impression(
        NOW - timedelta(minutes=1), clicked=True, propensity=0.5, candidates=4, model_version="m7"
    )
    world.impression(NOW - timedelta(minutes=1), "cr_9", clicked=True, line="travel")
    world.impression(NOW - 3 * HOUR, clicked=True)  # 12:20: before the first bucket (13:00)
    # When the operator asks for the last 3 hours
    timeline = world.timelines().timeline("food", 3, now=NOW)
    # Then there are three hour buckets, the current (partial) one last
    assert timeline.start == "2026-11-30T13:00:00.000000Z" and timeline.end == iso(NOW)
    assert [h.start[11:16] for h in timeline.hourly] == ["13:00", "14:00", "15:00"]
    first, empty, current = timeline.hourly
    # And each hour has the racer's observed CTR ...
    assert (first.impressions, first.clicks, first.ctr) == (3, 1, pytest.approx(1 / 3))
    # ... and the uniform policy's IPS estimate: clicked x (1 / candidates) / propensity, averaged
    assert first.uniform_ctr_estimate == pytest.approx((1 * 0.5 / 0.25) / 3)  # = 2/3
    assert first.uniform_count == 3 and first.uniform_stderr is not None
    assert current.uniform_ctr_estimate == pytest.approx(1 * 0.25 / 0.5) and current.uniform_stderr is None
    # ... and the model versions that scored its choices
    assert first.model_versions == {"constant": 2, NO_MODEL_VERSION: 1}
    assert current.model_versions == {"m7": 1}
    # An hour without traffic says so rather than inventing a rate
    assert (empty.impressions, empty.ctr, empty.uniform_ctr_estimate, empty.model_versions) == (
        0,
        None,
        None,
        {},
    )
    # And the totals are the window's; nothing was cut short; the other line's impression was not read
    assert (timeline.totals.impressions, timeline.totals.clicks) == (4, 2)
    assert timeline.impressions_read == 4 and not timeline.truncated and timeline.truncated_by is None
    assert timeline.complete_from == timeline.start


def test_the_uniform_estimate_recovers_the_uniform_policys_ctr_from_a_skewed_log():
    # Given a policy that mostly shows the weakest of three creatives (true CTRs 2%, 5%, 20%)
    world = Log()
    rng = np.random.default_rng(7)
    ctrs, policy = [0.02, 0.05, 0.20], [0.7, 0.2, 0.1]
    start = NOW.replace(minute=0)
    for n in range(6000):
        index = int(rng.choice(3, p=policy))
        world.impression(
            start + timedelta(seconds=n * 0.1),
            f"cr_{index + 1}",
            clicked=bool(rng.random() < ctrs[index]),
            propensity=policy[index],
            candidates=3,
        )
    # When its timeline is read
    hour = world.timelines().timeline("food", 1, now=NOW).hourly[0]
    # Then the racer's CTR is the policy's (4.4%) and the estimate is the uniform choice's (9%), within noise
    assert hour.ctr == pytest.approx(0.044, abs=0.01)
    assert abs(hour.uniform_ctr_estimate - np.mean(ctrs)) < 3 * hour.uniform_stderr
    assert hour.uniform_stderr < 0.01


def test_each_creatives_posterior_is_cumulative_from_its_first_hour_with_a_90_percent_interval():
    # Given cr_1 shown in the first and third hours, cr_2 only in the second
    world = Log()
    start = NOW.replace(minute=0) - 2 * HOUR
    world.impression(start, "cr_1", clicked=True)
    world.impression(start + timedelta(minutes=30), "cr_1")
    world.impression(start + HOUR, "cr_2")
    world.impression(start + 2 * HOUR, "cr_1")
    world.impression(start + 2 * HOUR, "cr_1", clicked=True)
    # When the timeline is read
    timeline = world.timelines().timeline("food", 3, now=NOW)
    series = {c.creative_id: c for c in timeline.creatives}
    # Then the most shown creative comes first, with its headline and status, and unshown ones are absent
    assert [c.creative_id for c in timeline.creatives] == [
        "cr_1",
        "cr_2",
    ] and timeline.creatives_left_out == 0
    assert series["cr_1"].headline == "Headline 1" and series["cr_1"].status == "ACTIVE"
    # And cr_1's counts accumulate hour by hour (an hour without impressions repeats the last point)
    points = series["cr_1"].points
    assert [(p.impressions, p.clicks) for p in points] == [(2, 1), (2, 1), (4, 2)]
    assert (series["cr_1"].impressions, series["cr_1"].clicks) == (4, 2)
    # With the Beta posterior's mean and 90% interval (uniform prior) at each hour: 2 clicks in 4 is
    # Beta(3, 3), mean 0.5 and sd sqrt(9 / (36 x 7)) = 0.18898, so 0.5 -/+ 1.64485 x 0.18898
    assert timeline.posterior_level == POSTERIOR_LEVEL == 0.9
    assert points[-1].posterior_mean == pytest.approx(0.5, abs=1e-6)
    assert points[-1].posterior_interval == pytest.approx((0.18915, 0.81085), abs=1e-5)
    # And cr_2's series starts in the hour it was first shown
    assert [p.hour[11:16] for p in series["cr_2"].points] == ["14:00", "15:00"]


def test_one_creative_can_be_asked_for_and_a_long_tail_is_left_out_and_counted():
    world = Log(*[creative(i) for i in range(1, 6)])
    for i in range(1, 6):
        for _ in range(i):
            world.impression(NOW - timedelta(minutes=1), f"cr_{i}")
    # With at most two series per answer, the two most shown creatives are kept and the rest counted
    limited = world.timelines(TimelineLimits(max_creatives=2)).timeline("food", 1, now=NOW)
    assert [c.creative_id for c in limited.creatives] == ["cr_5", "cr_4"] and limited.creatives_left_out == 3
    # Asking for one creative gives its series only, even one never shown (no points, nothing invented)
    one = world.timelines(TimelineLimits(max_creatives=2)).timeline("food", 1, now=NOW, creative_id="cr_1")
    assert [c.creative_id for c in one.creatives] == ["cr_1"] and one.creatives[0].points[0].impressions == 1
    world.creatives.put_new([creative(7)])
    unseen = world.timelines().timeline("food", 1, now=NOW, creative_id="cr_7")
    assert unseen.creatives[0].points == [] and unseen.creatives[0].impressions == 0


def test_a_read_past_the_impression_cap_says_truncated_and_keeps_the_newest_day_whole():
    # Given 4 impressions yesterday and 3 today, and a cap of 5 impressions per read
    world = Log()
    for minutes in (10, 20, 30, 40):
        world.impression(NOW - timedelta(days=1) + timedelta(minutes=minutes))
    for minutes in (1, 2, 3):
        world.impression(NOW - timedelta(minutes=minutes), clicked=True)
    timeline = world.timelines(TimelineLimits(max_impressions=5)).timeline("food", 48, now=NOW)
    # Then the answer says it was cut short, by what, and from when its counts are complete
    assert timeline.truncated and timeline.truncated_by == "max_impressions"
    assert timeline.impressions_read == 5
    assert timeline.complete_from == "2026-11-30T00:00:00.000000Z"
    # And today, read first, is all there
    assert sum(h.impressions for h in timeline.hourly if h.start >= timeline.complete_from) == 3


def test_other_lines_impressions_do_not_count_toward_the_cap():
    # Given a busy travel line and 3 food impressions, and a cap of 5 impressions per read
    world = Log()
    for minutes in range(1, 11):
        world.impression(NOW - timedelta(minutes=minutes), "cr_9", line="travel")
    for minutes in (11, 12, 13):
        world.impression(NOW - timedelta(minutes=minutes))
    timeline = world.timelines(TimelineLimits(max_impressions=5)).timeline("food", 2, now=NOW)
    # Then food's timeline is whole: travel's 10 were not read for it
    assert not timeline.truncated and timeline.impressions_read == 3 and timeline.totals.impressions == 3


def test_a_read_past_its_time_budget_stops_and_says_so():
    world = Log()
    for minutes in (1, 2, 3):
        world.impression(NOW - timedelta(minutes=minutes))
    ticks = iter([0.0, 0.1, 99.0, 99.0, 99.0])  # the third impression is read after the budget ran out
    timeline = world.timelines(TimelineLimits(read_budget_s=1.0), clock=lambda: next(ticks)).timeline(
        "food", 2, now=NOW
    )
    assert timeline.truncated and timeline.truncated_by == "read_budget" and timeline.impressions_read == 1
    assert timeline.complete_from == iso(NOW)  # not even the current day is complete


@pytest.mark.parametrize("hours", [0, -1, 169])
def test_hours_outside_one_to_the_maximum_are_refused_with_the_limit(hours):
    with pytest.raises(InvalidRequest, match="from 1 to 168") as refused:
        Log().timelines().timeline("food", hours, now=NOW)
    assert refused.value.code == "invalid_hours"


def test_an_unknown_line_or_another_lines_creative_is_not_found():
    timelines = Log().timelines()
    with pytest.raises(NotFound, match="has no creatives") as unknown:
        timelines.timeline("garden", 24, now=NOW)
    assert unknown.value.code == "unknown_business_line"
    with pytest.raises(NotFound) as foreign:
        timelines.timeline("food", 24, now=NOW, creative_id="cr_9")
    assert foreign.value.code == "unknown_creative"


def test_the_floors_share_is_the_mean_probability_that_the_floor_alone_drew_each_choice():
    world = Log()
    start = NOW.replace(minute=0)
    # Floor 0.1 over 4 candidates: 0.025 each. A choice drawn with probability 0.05 was the floor's with
    # probability 0.5, one drawn with 0.8 with probability 0.03125; an impression without its floor counts not.
    world.impression(start, propensity=0.05, candidates=4, floor=0.1)
    world.impression(start + timedelta(minutes=1), propensity=0.8, candidates=4, floor=0.1)
    world.impression(start + timedelta(minutes=2), propensity=0.8, candidates=4)
    hour = world.timelines().timeline("food", 1, now=NOW).hourly[0]
    assert hour.floor_share == pytest.approx((0.5 + 0.03125) / 2)
    # Impressions logged without their floor (before it was logged, or by element racing) give no share
    world.impression(start, "cr_9", propensity=0.5, candidates=2, line="travel")
    travel = world.timelines().timeline("travel", 1, now=NOW).totals
    assert travel.impressions == 1 and travel.floor_share is None
