"""What racing keeps per business line, and the write one impression and one click make to it.

Every creative's counters and learner statistics are spread over `counter_shards` items (an impression picks
one at random; its click goes to the same one). A hot creative's writes are split across shards; every
statistic is a sum, so the read side adds the shards up exactly (`merge`).

The line's shared statistics (tag keys and its base rate) are sums too, so they need no item of their own:
each impression adds its share to the item of the creative it showed, and the read sums them over every
creative of the line (`RacingState.of_items`). One UpdateItem per impression, on an item that holds only
what that creative's impressions touched: a shared line item would grow with every tag and feature of the
line, and DynamoDB bills each write by the size of the item it changes.

Statistics are raw, time-weighted counters named "<prefix><stem>@<epoch>" (`learner.Decay`): "lw:"/"li:" the
learner's weight and information per key, "bn:"/"bc:" the line's impressions and clicks (its base rate),
"cn:"/"cc:" the creative's own, "pn:"/"pc:" each phrase element's.
All-time impressions and clicks per creative are plain integers (reporting).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field

from creative.deferred_model import DeferredModel

BASE_IMPRESSIONS, BASE_CLICKS = "bn:", "bc:"  # bc: the line's positive events, whichever the objective
# A creative's own time-weighted impressions and positive events (recall's hot strategy, asset labels), and
# each phrase element's, keyed by phrase id (line-scoped: a phrase is shown with every creative).
CREATIVE_IMPRESSIONS, CREATIVE_POSITIVES = "cn:", "cc:"
ELEMENT_IMPRESSIONS, ELEMENT_POSITIVES = "pn:", "pc:"
# A line that races elements (`creative.line_templates`) counts on items of its own, "elements:<line>:<image>",
# sharded like a creative's: the combinations it serves are never stored, so they have no items.
ELEMENTS_STATE = "elements:"
TOTALS = ("impressions", "clicks", "conversions", "value")

# What a business line's racer optimises: clicks, conversions, or conversion value per impression.
Objective = Literal["ctr", "conversion_rate", "value_per_impression"]
POSITIVE_EVENT: dict[str, str] = {
    "ctr": "click",
    "conversion_rate": "conversion",
    "value_per_impression": "conversion",
}


@dataclass(frozen=True)
class CounterTotals:
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0
    value: float = 0.0

    @classmethod
    def of(cls, merged: Mapping[str, float]) -> CounterTotals:
        return cls(
            int(merged.get("impressions", 0)),
            int(merged.get("clicks", 0)),
            int(merged.get("conversions", 0)),
            round(float(merged.get("value", 0.0)), 6),
        )


@dataclass(frozen=True)
class RacingState:
    """One business line's racing state, shards summed."""

    business_line: str
    creatives: dict[str, dict[str, float]] = field(default_factory=dict)  # id -> raw statistics
    totals: dict[str, CounterTotals] = field(default_factory=dict)
    line: dict[str, float] = field(default_factory=dict)  # raw statistics of the line's shared keys
    objective: Objective = "ctr"
    # The line's racing settings operators save (recall rules, phrase bank): name -> document, read with
    # the state so that select needs no other read.
    settings: dict[str, dict] = field(default_factory=dict)


def line_scoped(name: str) -> bool:
    """Whether a statistic belongs to the line (its base rate, tag keys) rather than to one creative."""
    prefix = name[:3]
    if prefix in (BASE_IMPRESSIONS, BASE_CLICKS, ELEMENT_IMPRESSIONS, ELEMENT_POSITIVES):
        return True
    return prefix in ("lw:", "li:") and name.startswith(("t:", "tu:"), 3)


def of_items(
    business_line: str,
    items: Mapping[str, Mapping[str, float]],
    objective: Objective = "ctr",
    settings: Mapping[str, dict] | None = None,
) -> RacingState:
    """A line's state from its creatives' items (shards already merged): each creative keeps its own
    statistics and totals; the line-scoped ones are summed over every creative, as if on one line item."""
    creatives: dict[str, dict[str, float]] = {}
    totals: dict[str, CounterTotals] = {}
    line: dict[str, float] = {}
    for creative_id, merged in items.items():
        own: dict[str, float] = {}
        for name, value in merged.items():
            if name in TOTALS:
                continue
            if line_scoped(name):
                line[name] = line.get(name, 0.0) + value
            else:
                own[name] = value
        if creative_id.startswith(ELEMENTS_STATE):
            continue  # only line-scoped statistics: it is no creative
        creatives[creative_id] = own
        totals[creative_id] = CounterTotals.of(merged)
    return RacingState(business_line, creatives, totals, line, objective, dict(settings or {}))


def merge(shards: Iterable[Mapping[str, float]]) -> dict[str, float]:
    merged: dict[str, float] = {}
    for shard in shards:
        for name, value in shard.items():
            merged[name] = merged.get(name, 0.0) + float(value)
    return merged


class LearnerDeltas(DeferredModel):
    """What an impression's serve-time update wrote, so its click can write the other half."""

    shard: int = Field(ge=0)
    epoch: int
    weight: float  # the time weight of the impression's moment
    predicted: float  # the online estimate of its positive event's probability, which the update used
    objective: Objective = "ctr"  # which event completes the update: a click, or a conversion
    creative_steps: dict[str, float] = Field(default_factory=dict)  # key stem -> step
    line_steps: dict[str, float] = Field(default_factory=dict)
    elements: dict[str, str] = Field(default_factory=dict)  # slot -> the element id shown in it
    # The item counted on, when not the creative's own: "elements:<line>:<image>" for a line racing elements.
    state_id: str | None = None


@dataclass(frozen=True)
class StateWrite:
    """ADDs to one shard item: statistic name -> amount (the adapter also bumps the integer totals)."""

    values: dict[str, float]
    stale: list[str]  # names of the same stems two epochs back: removed in the same write


def _name(prefix: str, stem: str, epoch: int) -> str:
    return f"{prefix}{stem}@{epoch}"


def serve_writes(deltas: LearnerDeltas) -> StateWrite:
    """The impression's write to its creative's shard: every key as if the positive event (a click, or a
    conversion) never came, and one impression on the line's base rate."""
    p, w, e = deltas.predicted, deltas.weight, deltas.epoch
    curvature = round(p * (1.0 - p) * w, 9)
    values = {_name(BASE_IMPRESSIONS, "", e): w}
    if deltas.state_id is None:
        values[_name(CREATIVE_IMPRESSIONS, "", e)] = w
    values |= {_name(ELEMENT_IMPRESSIONS, element, e): w for element in deltas.elements.values()}
    for stem, step in (deltas.creative_steps | deltas.line_steps).items():
        values[_name("lw:", stem, e)] = round(-step * p * w, 9)
        values[_name("li:", stem, e)] = curvature
    return StateWrite(values, _stale(values, e))


def event_writes(deltas: LearnerDeltas, event: str) -> StateWrite:
    """The write of a click or a conversion: the other half of each key's step when it is the event the
    line optimises, nothing for the learner otherwise."""
    if POSITIVE_EVENT[deltas.objective] != event:
        return StateWrite({}, [])
    return click_writes(deltas)


def click_writes(deltas: LearnerDeltas) -> StateWrite:
    """The write of the positive event: the other half of each key's step, one event on the base rate."""
    w, e = deltas.weight, deltas.epoch
    values = {_name(BASE_CLICKS, "", e): w}
    if deltas.state_id is None:
        values[_name(CREATIVE_POSITIVES, "", e)] = w
    values |= {_name(ELEMENT_POSITIVES, element, e): w for element in deltas.elements.values()}
    for stem, step in (deltas.creative_steps | deltas.line_steps).items():
        values[_name("lw:", stem, e)] = round(step * w, 9)
    return StateWrite(values, [])


def _stale(values: Mapping[str, float], epoch: int) -> list[str]:
    suffix = f"@{epoch}"
    return sorted({name[: -len(suffix)] + f"@{epoch - 2}" for name in values if name.endswith(suffix)})
