"""Recall strategies. Each takes the line's eligible creatives and what it needs from the request, and
returns creatives in its own order of preference; `candidates.recall` merges them under quotas."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from creative.creatives import Creative
from creative.recall.rules import CreativeRule, RecallRules


def eligible(pool: Sequence[Creative], rules: RecallRules, placement: str, at: datetime) -> list[Creative]:
    """The creatives no block excludes and no schedule keeps out at this moment on this placement."""
    blocked = _applying(rules.blocks, placement, at)
    scheduled = {rule.creative_id for rule in rules.schedules}
    in_schedule = _applying(rules.schedules, placement, at)
    return [
        c
        for c in pool
        if c.creative_id not in blocked and (c.creative_id not in scheduled or c.creative_id in in_schedule)
    ]


def pinned(pool: Sequence[Creative], rules: RecallRules, placement: str, at: datetime) -> list[Creative]:
    """Creatives an operator pinned here and now, in the order of the pins."""
    by_id = {c.creative_id: c for c in pool}
    order = [r.creative_id for r in rules.pins if r.applies(placement, at)]
    return [by_id[cid] for cid in dict.fromkeys(order) if cid in by_id]


def by_tag(pool: Sequence[Creative], wanted_tags: Iterable[str], category: str | None) -> list[Creative]:
    """Creatives of the request's category or sharing its tags: most shared tags first (the category counts
    as one), newest first among equals. Nothing when the request names neither."""
    wanted = set(wanted_tags)
    if not wanted and not category:
        return []
    scored = []
    for creative in pool:
        overlap = len(wanted.intersection(creative.tags)) + (
            category is not None and creative.category == category
        )
        if overlap:
            scored.append((overlap, creative.created_at, creative))
    scored.sort(key=lambda row: (row[0], row[1]), reverse=True)
    return [creative for _, _, creative in scored]


def hot(
    pool: Sequence[Creative],
    recent: Mapping[str, tuple[float, float]],
    *,
    prior_rate: float,
    prior_impressions: float = 50.0,
) -> list[Creative]:
    """Creatives with recent evidence, by posterior mean of their recent rate (impressions and positive
    events weighted by the racer's decay, so the last day weighs most), shrunk toward the line's rate."""
    ranked = []
    for creative in pool:
        impressions, positives = recent.get(creative.creative_id, (0.0, 0.0))
        if impressions <= 0:
            continue
        rate = (positives + prior_rate * prior_impressions) / (impressions + prior_impressions)
        ranked.append((rate, creative.created_at, creative))
    ranked.sort(key=lambda row: (row[0], row[1]), reverse=True)
    return [creative for _, _, creative in ranked]


def newest(pool: Sequence[Creative]) -> list[Creative]:
    """The business line's strategy: every eligible creative, newest first (what fills the set)."""
    return sorted(pool, key=lambda c: c.created_at, reverse=True)


def _applying(rules: Sequence[CreativeRule], placement: str, at: datetime) -> set[str]:
    return {rule.creative_id for rule in rules if rule.applies(placement, at)}
