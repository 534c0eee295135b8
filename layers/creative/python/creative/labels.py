"""Per-asset labels: which image, headline, phrase or creative works, against the others of its slot in the
same business line, and why.

PENDING: no impressions yet. LEARNING: fewer than `min_impressions`, or no other asset of the slot to
compare with yet. Otherwise, from each asset's Beta posterior of its recent rate (impressions and positive
events weighted by the racer's decay) against the slot's pooled rate:
LOW when P(rate < pooled) >= `confidence`; BEST when P(rate > pooled) >= `confidence` and the asset ranks in
the slot's top `best_share`; GOOD otherwise. Fatigue: an asset whose recent rate has fallen below
`fatigue_ratio` of its all-time rate, with `confidence`, is flagged (its own exposure wore it out).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import Field

from creative.deferred_model import DeferredModel
from creative.impressions import BetaPosterior


class AssetLabel(StrEnum):
    PENDING = "PENDING"
    LEARNING = "LEARNING"
    LOW = "LOW"
    GOOD = "GOOD"
    BEST = "BEST"


@dataclass(frozen=True)
class LabelRules:
    """Every threshold of the labels, in one place."""

    min_impressions: float = 200.0
    confidence: float = 0.9
    best_share: float = 0.2  # BEST only within the slot's top fifth (at least the top asset)
    fatigue_ratio: float = 0.75
    min_lifetime_impressions: float = 1000.0
    prior_impressions: float = 20.0  # the slot's pooled rate counts as this many impressions of each asset


LABEL_RULES = LabelRules()


@dataclass(frozen=True)
class AssetEvidence:
    slot: str  # "image", "headline", "phrase", "cta" or "creative"
    asset_id: str
    name: str  # what an operator recognises: the headline, the phrase, the image's key
    impressions: float  # recent, time-weighted
    positives: float
    lifetime_impressions: float | None = None  # all-time counts, where kept (fatigue)
    lifetime_positives: float | None = None
    tags: tuple[str, ...] = ()
    tag_effects: tuple[tuple[str, float, float], ...] = ()  # (tag, log-odds, sd), from the online learner


class TagEffect(DeferredModel):
    tag: str
    log_odds: float = Field(description="Against the line's rate, for every user (the tag's main effect).")
    sd: float = Field(
        description="Its posterior standard deviation: an effect within about 2 sd of 0 is noise."
    )


class AssetPerformance(DeferredModel):
    slot: str
    asset_id: str
    name: str
    label: AssetLabel
    why: str
    impressions: float = Field(description="Recent impressions, weighted by the racer's decay.")
    positives: float
    # Only for assets past LEARNING (judged against the others of their slot):
    rate: float | None = Field(
        default=None, description="Posterior mean of the recent rate of the line's objective event."
    )
    interval95: tuple[float, float] | None = None
    rank: int | None = Field(default=None, description="1 = best of its slot among assets past LEARNING.")
    of: int | None = None
    probability_above_slot: float | None = None
    fatigued: bool = False
    tags: list[str] = Field(default_factory=list)
    tag_effects: list[TagEffect] = Field(
        default_factory=list,
        description="The asset's tags by what the online learner has learned each is worth on this line, "
        "largest first: the tags that explain its label.",
    )


def label_slot(assets: Sequence[AssetEvidence], rules: LabelRules = LABEL_RULES) -> list[AssetPerformance]:
    """Labels for the assets of one slot of one line."""
    shown = sum(a.impressions for a in assets)
    pooled = (sum(a.positives for a in assets) + 0.5) / (shown + 1.0) if shown else 0.0
    judged = [a for a in assets if a.impressions >= rules.min_impressions]
    posteriors = {
        a.asset_id: BetaPosterior.shrunk_to(a.impressions, a.positives, pooled, rules.prior_impressions)
        for a in judged
    }
    order = sorted(judged, key=lambda a: posteriors[a.asset_id].mean, reverse=True)
    ranks = {a.asset_id: i + 1 for i, a in enumerate(order)}
    best_ranks = max(1, math.floor(len(order) * rules.best_share))
    results = []
    for asset in assets:
        fatigued = _fatigued(asset, rules)
        performance = AssetPerformance(
            slot=asset.slot,
            asset_id=asset.asset_id,
            name=asset.name,
            label=AssetLabel.LEARNING,
            why="",
            impressions=round(asset.impressions, 2),
            positives=round(asset.positives, 2),
            fatigued=fatigued,
            tags=list(asset.tags),
            tag_effects=[
                TagEffect(tag=tag, log_odds=round(w, 4), sd=round(sd, 4))
                for tag, w, sd in sorted(asset.tag_effects, key=lambda e: abs(e[1]), reverse=True)
            ],
        )
        if asset.impressions <= 0:
            performance.label, performance.why = AssetLabel.PENDING, "no impressions yet"
        elif asset.asset_id not in posteriors:
            performance.why = (
                f"{asset.impressions:,.0f} of the {rules.min_impressions:,.0f} impressions a label needs"
            )
        elif len(judged) < 2:
            performance.why = "no other asset of this slot has enough impressions to compare with yet"
        else:
            _judge(
                performance,
                posteriors[asset.asset_id],
                pooled,
                ranks[asset.asset_id],
                len(order),
                best_ranks,
                rules,
            )
        clear = [e for e in performance.tag_effects if abs(e.log_odds) > 2 * e.sd]
        if clear and performance.label not in (AssetLabel.PENDING, AssetLabel.LEARNING):
            performance.why += "; " + ", ".join(f"{e.tag} {e.log_odds:+.2f} log-odds" for e in clear[:3])
        results.append(performance)
    return results


def _judge(
    performance: AssetPerformance,
    posterior: BetaPosterior,
    pooled: float,
    rank: int,
    of: int,
    best_ranks: int,
    rules: LabelRules,
) -> None:
    """LOW, GOOD or BEST against the slot's pooled rate, with the figures that decide it."""
    mean, above = posterior.mean, 1.0 - posterior.probability_below(pooled)
    if 1.0 - above >= rules.confidence:
        performance.label = AssetLabel.LOW
    elif above >= rules.confidence and rank <= best_ranks:
        performance.label = AssetLabel.BEST
    else:
        performance.label = AssetLabel.GOOD
    low, high = posterior.interval95()
    performance.why = (
        f"{performance.impressions:,.0f} recent impressions, rate {mean:.2%} ({low:.2%}-{high:.2%}), "
        f"rank {rank} of {of}, P(above the slot's {pooled:.2%}) = {above:.2f}"
    )
    if performance.fatigued:
        performance.why += "; fatigued: its recent rate fell below its all-time rate"
    performance.rate, performance.interval95 = round(mean, 6), (round(low, 6), round(high, 6))
    performance.rank, performance.of, performance.probability_above_slot = rank, of, round(above, 4)


def _fatigued(asset: AssetEvidence, rules: LabelRules) -> bool:
    if asset.lifetime_impressions is None or asset.lifetime_positives is None:
        return False
    return fatigued(
        asset.impressions, asset.positives, asset.lifetime_impressions, asset.lifetime_positives, rules
    )


def fatigued(
    impressions: float,
    positives: float,
    lifetime_impressions: float,
    lifetime_positives: float,
    rules: LabelRules = LABEL_RULES,
) -> bool:
    """Whether the recent rate (time-weighted) has fallen below `fatigue_ratio` of the all-time rate with
    probability `confidence`: the asset wears out with exposure. Labels flag it; select widens it."""
    if lifetime_impressions < rules.min_lifetime_impressions or impressions < rules.min_impressions:
        return False
    lifetime = lifetime_positives / lifetime_impressions
    recent = BetaPosterior.shrunk_to(impressions, positives, lifetime, rules.prior_impressions)
    return recent.probability_below(rules.fatigue_ratio * lifetime) >= rules.confidence


def label_assets(assets: Sequence[AssetEvidence], rules: LabelRules = LABEL_RULES) -> list[AssetPerformance]:
    """Labels for every slot: each asset is judged against the others of its own slot."""
    slots: dict[str, list[AssetEvidence]] = {}
    for asset in assets:
        slots.setdefault(asset.slot, []).append(asset)
    return [result for slot_assets in slots.values() for result in label_slot(slot_assets, rules)]
