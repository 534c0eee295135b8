"""A business line's racing, hour by hour, read back from the impression log.

Per hour: the racer's observed CTR; the CTR a uniform-random choice among the same candidates would have had,
estimated off-policy from the logged propensities (inverse propensity scoring: each impression stands for
1 / (candidate_count x propensity) impressions of the uniform policy); and the CTR model versions that scored
the choices. Per creative: its impressions, clicks and the Beta posterior of its CTR, cumulative from the
window's start, at every hour since it was first shown in the window.

The exploration floor's share of the choices: the racer samples from the floor already mixed into the
Thompson probabilities (`creative.racing.racer`), so no impression says the floor chose it; each logs the
floor it was drawn with, and (floor / candidate_count) / propensity is the probability the floor alone drew
it. Their mean is the floor's expected share. (The floor draws uniformly: what it earns is what the
uniform line estimates.)

A click counts in the hour of its impression, whenever it arrived: the latest hours fill in as clicks come.
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import Field

from creative.clock import iso, parse_iso
from creative.creatives import Creative, CreativeStatus
from creative.deferred_model import DeferredModel
from creative.errors import InvalidRequest, NotFound
from creative.impressions import BetaPosterior, Impression
from creative.ports import CreativeRepository, ImpressionLog

HOUR = timedelta(hours=1)
POSTERIOR_LEVEL = 0.90  # the creatives' credible intervals: 90%, central
NO_MODEL_VERSION = "unrecorded"  # impressions logged before select recorded its model version


@dataclass(frozen=True)
class TimelineLimits:
    """What one request may cost. The impression log is indexed by day, not by line: it filters out the
    other lines' impressions, which still cost read time (a busy line elsewhere can make a quiet one's read
    hit `read_budget_s`) but do not count toward `max_impressions`."""

    max_hours: int = 168  # a week
    max_impressions: int = 20_000  # of the line, read; past it the answer says `truncated`
    read_budget_s: float = 6.0  # the operator function has 10 s: stop reading in time to answer
    max_creatives: int = 50  # per-creative series in one answer, the most shown first


class HourRates(DeferredModel):
    """The racer's observed CTR and the uniform policy's estimated CTR over one hour (or the whole window)."""

    start: str = Field(description="Start of the hour (UTC, ISO-8601); it runs to the next hour.")
    impressions: int
    clicks: int
    ctr: float | None = Field(description="The racer's observed CTR: clicks / impressions; null: none shown.")
    uniform_ctr_estimate: float | None = Field(
        description="An estimate, not an observation: the CTR a uniform-random choice among the same "
        "candidates would have had, by inverse propensity scoring (mean of clicked x (1 / candidate_count) / "
        "propensity). Unbiased, but noisy at low traffic: see `uniform_stderr`."
    )
    uniform_stderr: float | None = Field(
        description="Standard error of the estimate (null below 2 impressions)."
    )
    uniform_count: int = Field(
        description="Impressions the estimate averages: those with a positive propensity."
    )
    floor_share: float | None = Field(
        default=None,
        description="Expected share of the choices the exploration floor drew (uniformly): the mean over "
        "impressions that logged their floor of (floor / candidate_count) / propensity; null: none logged it.",
    )
    model_versions: dict[str, int] = Field(
        description="CTR model version that scored the choices -> impressions ('constant': the prior, before "
        f"any model was promoted; '{NO_MODEL_VERSION}': not logged)."
    )


class PosteriorPoint(DeferredModel):
    hour: str = Field(description="Start of the hour; the counts are cumulative to its end.")
    impressions: int
    clicks: int
    posterior_mean: float = Field(description="Mean of the Beta posterior of the CTR (uniform prior).")
    posterior_interval: tuple[float, float] = Field(
        description="Central credible interval at `posterior_level` (normal approximation, clipped to [0, 1])."
    )


class CreativeTimeline(DeferredModel):
    creative_id: str
    headline: str | None = Field(description="Null when the creative no longer exists.")
    status: CreativeStatus | None
    impressions: int = Field(description="Shown in the window.")
    clicks: int
    points: list[PosteriorPoint] = Field(
        description="One per hour from the first hour it was shown in the window, cumulative from the window's start."
    )


class RacingTimeline(DeferredModel):
    """A business line's racing per hour: the racer's CTR against the uniform policy's (estimated off-policy)
    the exploration floor's expected share of the choices and the model versions that scored them; each shown
    creative's posterior CTR over time."""

    business_line: str
    hours: int
    start: str = Field(description="Start of the first hour bucket (UTC).")
    end: str = Field(description="When the window was read (the last hour is partial).")
    posterior_level: float = POSTERIOR_LEVEL
    impressions_read: int = Field(description="The line's impressions read from the log.")
    truncated: bool = Field(
        description="True when the read stopped early (`truncated_by`): hours before `complete_from` are "
        "partial. Ask for fewer hours."
    )
    truncated_by: Literal["max_impressions", "read_budget"] | None = None
    complete_from: str = Field(
        description="Counts from here to `end` are complete (newest days are read first)."
    )
    totals: HourRates = Field(description="The whole window, as one bucket.")
    hourly: list[HourRates]
    creatives: list[CreativeTimeline]
    creatives_left_out: int = Field(
        description="Creatives shown in the window but left out of `creatives` (the most shown are kept)."
    )


@dataclass
class _Read:
    impressions: list[Impression] = field(default_factory=list)  # the line's
    truncated_by: Literal["max_impressions", "read_budget"] | None = None
    complete_from: datetime | None = None


class RacingTimelines:
    def __init__(
        self,
        creatives: CreativeRepository,
        impressions: ImpressionLog,
        limits: TimelineLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._creatives = creatives
        self._impressions = impressions
        self.limits = limits or TimelineLimits()
        self._clock = clock

    def timeline(
        self, business_line: str, hours: int, *, now: datetime, creative_id: str | None = None
    ) -> RacingTimeline:
        """The last `hours` hour buckets (the current one, partial, included) of the line's racing; with
        `creative_id`, that creative's series only."""
        if not 1 <= hours <= self.limits.max_hours:
            raise InvalidRequest(
                f"hours must be a whole number from 1 to {self.limits.max_hours}",
                code="invalid_hours",
                details={"hours": hours},
            )
        known = {c.creative_id: c for c in self._creatives.for_business_line(business_line)}
        if not known:
            raise NotFound(
                f"business line '{business_line}' has no creatives: upload images and copy for it first",
                code="unknown_business_line",
            )
        if creative_id is not None and creative_id not in known:
            raise NotFound(
                f"creative '{creative_id}' is not a creative of '{business_line}'", code="unknown_creative"
            )
        start = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - (hours - 1) * HOUR
        read = self._read(business_line, start, now)
        buckets = [start + i * HOUR for i in range(hours)]
        by_hour: dict[int, list[Impression]] = defaultdict(list)
        for impression in read.impressions:
            by_hour[(parse_iso(impression.created_at) - start) // HOUR].append(impression)
        shown = Counter(i.creative_id for i in read.impressions)
        hourly: dict[str, dict[int, tuple[int, int]]] = defaultdict(
            dict
        )  # creative -> hour -> (shown, clicked)
        for hour, impressions in by_hour.items():
            for impression in impressions:
                n, clicked = hourly[impression.creative_id].get(hour, (0, 0))
                hourly[impression.creative_id][hour] = (n + 1, clicked + (impression.clicked_at is not None))
        if creative_id is not None:
            chosen = [creative_id]
        else:
            chosen = [cid for cid, _ in shown.most_common(self.limits.max_creatives)]
        return RacingTimeline(
            business_line=business_line,
            hours=hours,
            start=iso(start),
            end=iso(now),
            impressions_read=len(read.impressions),
            truncated=read.truncated_by is not None,
            truncated_by=read.truncated_by,
            complete_from=iso(read.complete_from or start),
            totals=hour_rates(iso(start), read.impressions),
            hourly=[hour_rates(iso(b), by_hour.get(i, [])) for i, b in enumerate(buckets)],
            creatives=[_creative_timeline(cid, known.get(cid), buckets, hourly[cid]) for cid in chosen],
            creatives_left_out=len(set(shown) - set(chosen)) if creative_id is None else 0,
        )

    def _read(self, business_line: str, start: datetime, end: datetime) -> _Read:
        """The line's impressions of [start, end), newest day first, so a read cut short by the limits keeps
        the latest hours complete."""
        result = _Read()
        deadline = self._clock() + self.limits.read_budget_s
        chunk_end = end
        while chunk_end > start:
            day = (chunk_end - timedelta(microseconds=1)).date()
            chunk_start = max(start, datetime(day.year, day.month, day.day, tzinfo=UTC))
            for impression in self._impressions.since(
                iso(chunk_start), iso(chunk_end), business_line=business_line
            ):
                if len(result.impressions) >= self.limits.max_impressions:
                    result.truncated_by = "max_impressions"
                elif self._clock() > deadline:
                    result.truncated_by = "read_budget"
                if result.truncated_by:
                    result.complete_from = chunk_end
                    return result
                result.impressions.append(impression)
            chunk_end = chunk_start
        return result


def hour_rates(start: str, impressions: Iterable[Impression]) -> HourRates:
    """Observed CTR and the uniform policy's IPS estimate over these impressions."""
    shown = clicks = 0
    weights: list[float] = []
    floor_shares: list[float] = []
    versions: Counter[str] = Counter()
    for impression in impressions:
        clicked = impression.clicked_at is not None
        shown += 1
        clicks += clicked
        versions[impression.model_version or NO_MODEL_VERSION] += 1
        if impression.propensity > 0 and impression.candidate_count > 0:
            weights.append(clicked / (impression.candidate_count * impression.propensity))
            if impression.exploration_floor is not None:
                floor = impression.exploration_floor / impression.candidate_count
                floor_shares.append(min(1.0, floor / impression.propensity))
    estimate = stderr = None
    if weights:
        estimate = sum(weights) / len(weights)
        if len(weights) > 1:
            variance = sum((w - estimate) ** 2 for w in weights) / (len(weights) - 1)
            stderr = round(math.sqrt(variance / len(weights)), 6)
        estimate = round(estimate, 6)
    return HourRates(
        start=start,
        impressions=shown,
        clicks=clicks,
        ctr=round(clicks / shown, 6) if shown else None,
        uniform_ctr_estimate=estimate,
        uniform_stderr=stderr,
        uniform_count=len(weights),
        floor_share=round(sum(floor_shares) / len(floor_shares), 6) if floor_shares else None,
        model_versions=dict(versions),
    )


def _creative_timeline(
    creative_id: str, creative: Creative | None, buckets: list[datetime], counts: dict[int, tuple[int, int]]
) -> CreativeTimeline:
    points: list[PosteriorPoint] = []
    shown = clicks = 0
    for i, bucket in enumerate(buckets):
        n, clicked = counts.get(i, (0, 0))
        shown, clicks = shown + n, clicks + clicked
        if not shown:
            continue  # not shown yet: a prior-only point would say nothing
        posterior = BetaPosterior.of(shown, clicks)
        low, high = posterior.interval(POSTERIOR_LEVEL)
        points.append(
            PosteriorPoint(
                hour=iso(bucket),
                impressions=shown,
                clicks=clicks,
                posterior_mean=round(posterior.mean, 6),
                posterior_interval=(round(low, 6), round(high, 6)),
            )
        )
    return CreativeTimeline(
        creative_id=creative_id,
        headline=creative.headline if creative else None,
        status=creative.status if creative else None,
        impressions=shown,
        clicks=clicks,
        points=points,
    )
