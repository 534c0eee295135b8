"""The candidate set of one request: pins first, then each strategy's top proposals up to its quota, then the
business line's newest fill what is left, de-duplicated and bounded by `max_candidates`. Every candidate keeps the names of the
strategies that proposed it, and the impression log records them: off-policy evaluation then knows what
operators forced in and kept out.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from creative.creatives import Creative
from creative.recall import strategies
from creative.recall.rules import RecallRules

PIN, TAG, HOT, BUSINESS_LINE = "pin", "tag", "hot", "business_line"


@dataclass(frozen=True)
class RecallRequest:
    business_line: str
    placement: str
    at: datetime
    category: str | None = None
    tags: frozenset[str] = frozenset()  # the request context's tags
    user_features: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Recalled:
    candidates: list[Creative]
    sources: dict[str, list[int]]  # strategy -> indexes into `candidates` it proposed

    def strategies_of(self, index: int) -> list[str]:
        return [name for name, indexes in self.sources.items() if index in indexes]


def recall(
    pool: Sequence[Creative],
    rules: RecallRules,
    request: RecallRequest,
    hot_ranking: Sequence[str],
    *,
    max_candidates: int,
) -> Recalled:
    """The bounded candidate set. A request whose context matches no rule still gets the line's newest.

    `hot_ranking` is `strategies.hot` over the whole pool, made once per read of the line's state (it
    depends on no request); recall keeps the eligible ones in its order."""
    allowed = strategies.eligible(pool, rules, request.placement, request.at)
    proposals: list[tuple[str, list[Creative], int]] = [
        (PIN, strategies.pinned(allowed, rules, request.placement, request.at), max_candidates),
        (TAG, strategies.by_tag(allowed, wanted_tags(rules, request), request.category), rules.quotas.tag),
        (HOT, _in_order(allowed, hot_ranking), rules.quotas.hot),
        (BUSINESS_LINE, strategies.newest(allowed), max_candidates),
    ]
    chosen: dict[str, int] = {}
    candidates: list[Creative] = []
    sources: dict[str, list[int]] = {}
    for name, proposed, quota in proposals:
        for creative in proposed[:quota]:  # each strategy proposes its top `quota`
            index = chosen.get(creative.creative_id)
            if index is None:
                if len(candidates) >= max_candidates:
                    continue
                index = chosen[creative.creative_id] = len(candidates)
                candidates.append(creative)
            sources.setdefault(name, []).append(index)
    return Recalled(candidates, {name: sorted(indexes) for name, indexes in sources.items()})


def recall_key(rules: RecallRules, request: RecallRequest) -> Hashable:
    """Everything of a request that `recall`'s result depends on, given the pool, rules and hot ranking:
    the placement, the category, the tags it wants (its own and those its user's features map to) and
    which timed rules are in force. Requests with equal keys get the same candidates, so select reuses
    one result while a read of the line lasts (other users, other features, later moments)."""
    in_force = tuple(
        index
        for index, rule in enumerate((*rules.pins, *rules.blocks, *rules.schedules))
        if (rule.starts_at is not None or rule.ends_at is not None) and rule.covers(request.at)
    )
    return request.placement, request.category, wanted_tags(rules, request), in_force


def wanted_tags(rules: RecallRules, request: RecallRequest) -> frozenset[str]:
    """The request's own tags and those the operator maps its user's features to."""
    return request.tags | rules.tags_for(dict(request.user_features))


def _in_order(allowed: Sequence[Creative], ranking: Sequence[str]) -> list[Creative]:
    by_id = {c.creative_id: c for c in allowed}
    return [by_id[cid] for cid in ranking if cid in by_id]
