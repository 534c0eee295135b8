"""Shared builders of test data: creatives, logged impressions and a logged world. Tests import these, never
each other."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from creative.admission.limits import AdmissionLimits
from creative.admission.service import Admission
from creative.creatives import Creative
from creative.racing.active_model import ActiveModel
from creative.racing.features import CreativeFeatures, LoggedImpression
from creative.racing.racer import ContextualRacer, RacerConfig
from creative.racing.schemas import FeedbackRequest, SelectRequest, UserContext
from creative.racing.service import FeedbackService, RacingService
from in_memory.adapters import (
    InMemoryComplianceLists,
    InMemoryCreativeRepository,
    InMemoryImpressionLog,
    InMemoryMaterialEvents,
    InMemoryModelRegistry,
    InMemoryObjectStore,
    InMemoryQualityPolicies,
    InMemoryRacingState,
)

# The logged world's three days of traffic start here.
WORLD_START = datetime(2026, 11, 20, tzinfo=UTC)
CATEGORIES = ("shoes", "bags", "watches", "coats")


def creative(i: int, line: str = "food", impressions: int = 0, clicks: int = 0, **kw) -> Creative:
    return Creative(
        creative_id=f"cr_{i}",
        business_line=line,
        category="coffee",
        image_material_id=f"mat_img{i}",
        copy_material_id=f"mat_copy{i}",
        image_bucket="b",
        image_key=f"uploads/{line}/coffee/{i}.png",
        headline=f"Headline {i}",
        impressions=impressions,
        clicks=clicks,
        created_at=f"2026-11-25T00:{i // 60:02d}:{i % 60:02d}.000000Z",
        updated_at="2026-11-25T00:00:00.000000Z",
        **kw,
    )


CTR_CREATIVES = [
    CreativeFeatures(
        f"cr_{i}", "fashion", ("shoes", "bags")[i % 2], (f"t{i % 3}",), (f"img{i}", f"copy{i}"), 0.0
    )
    for i in range(6)
]


def logged_rows(n: int = 6000, seed: int = 0) -> list[LoggedImpression]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        gender, creative = ("f", "m")[rng.integers(2)], CTR_CREATIVES[rng.integers(6)]
        ctr = 0.15 if (gender == "f") == (creative.category == "shoes") else 0.02
        user = {"gender": gender, "age": int(rng.integers(18, 70))}
        if rng.random() < 0.2:
            del user["age"]  # missing numeric features stay missing (NaN), not zero
        out.append(LoggedImpression(user, creative, 3600.0 * rng.uniform(0, 48), bool(rng.random() < ctr)))
    return out


def catalogue() -> list[Creative]:
    return [
        Creative(
            creative_id=f"cr_{i}",
            business_line="fashion",
            category=CATEGORIES[i % 4],
            image_material_id=f"img_{i}",
            copy_material_id=f"copy_{i}",
            image_bucket="b",
            image_key=f"uploads/fashion/{i}.png",
            headline=f"Headline {i}",
            created_at="2026-11-19T00:00:00.000000Z",
            updated_at="2026-11-19T00:00:00.000000Z",
        )
        for i in range(8)
    ]


def true_ctr(gender: str, category: str, *, informative: bool) -> float:
    """Women click shoes and bags, men watches and coats: only a contextual model can see it."""
    if not informative:
        return 0.05
    return 0.12 if (gender == "f") == (category in ("shoes", "bags")) else 0.02


def logged_world(*, informative: bool = True, requests: int = 4000, seed: int = 5):
    """Three days of traffic served by the live racer (constant prior) with clicks from `true_ctr`."""
    creatives = InMemoryCreativeRepository()
    creatives.put_new(catalogue())
    state = InMemoryRacingState()
    log = InMemoryImpressionLog(creatives, state)
    registry = InMemoryModelRegistry()
    racing = RacingService(
        creatives,
        state,
        log,
        InMemoryObjectStore(),
        ActiveModel(registry),
        ContextualRacer(RacerConfig(exploration_floor=0.5)),  # a log off-policy evaluation can read
        np.random.default_rng(seed),
        cache_ttl_s=0.0,
    )
    feedback = FeedbackService(log)
    rng = np.random.default_rng(seed + 1)
    for n in range(requests):
        at = WORLD_START + timedelta(seconds=n * (3 * 86400 - 7200) / requests)
        gender = "f" if rng.random() < 0.5 else "m"
        request = SelectRequest(
            business_line="fashion",
            placement="feed",
            user=UserContext(id=f"u{n % 500}", features={"gender": gender}),
        )
        served = racing.select(request, at)
        category = creatives.items[served.creative.creative_id].category
        if rng.random() < true_ctr(gender, category, informative=informative):
            feedback.record(FeedbackRequest(impression_id=served.impression_id, event="click"), at)
    return creatives, log, registry


@dataclass(frozen=True)
class RacingWorld:
    """Select and feedback over in-memory stores holding the given creatives."""

    creatives: InMemoryCreativeRepository
    log: InMemoryImpressionLog
    racing: RacingService
    feedback: FeedbackService
    state: InMemoryRacingState


def racing_world(*creatives: Creative, racer: ContextualRacer | None = None, seed: int = 0) -> RacingWorld:
    repository = InMemoryCreativeRepository()
    repository.put_new(creatives)
    state = InMemoryRacingState()
    log = InMemoryImpressionLog(repository, state)
    racing = RacingService(
        repository,
        state,
        log,
        InMemoryObjectStore(),
        ActiveModel(InMemoryModelRegistry()),
        racer or ContextualRacer(),
        np.random.default_rng(seed),
        cache_ttl_s=0.0,
    )
    return RacingWorld(repository, log, racing, FeedbackService(log), state)


def admission_over(
    store, repo, limits: AdmissionLimits | None = None, events=None, policies=None
) -> Admission:
    """Admission over in-memory fakes: these objects, this repository, no compliance list, default policy
    unless `policies` says otherwise."""
    return Admission(
        store,
        repo,
        limits or AdmissionLimits(),
        events or InMemoryMaterialEvents(),
        compliance=InMemoryComplianceLists(),
        policies=policies or InMemoryQualityPolicies(),
    )
