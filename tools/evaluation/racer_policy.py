"""Our racer in the simulator: the same select, feedback and retraining services the Lambdas run.

Only the storage differs: the in-memory adapters stand in for DynamoDB and S3. The simulator's candidate
sets become ACTIVE creatives (arrivals are composed in, retirements disabled), each request is a select at
the simulated time, clicks are feedback calls when they arrive, and retraining runs on the hour like the
scheduled function (every `retrain_every_hours`, a documented concession to the simulator's run time).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
from creative.clock import iso
from creative.creatives import Creative, CreativeStatus
from creative.racing.active_model import ActiveModel
from creative.racing.ctr_training import train_ctr_model
from creative.racing.racer import ContextualRacer, RacerConfig
from creative.racing.retraining import RetrainingRules, RetrainingService
from creative.racing.schemas import FeedbackRequest, SelectRequest, UserContext
from creative.racing.service import FeedbackService, RacingService
from in_memory.adapters import (
    InMemoryCreativeRepository,
    InMemoryImpressionLog,
    InMemoryModelRegistry,
    InMemoryObjectStore,
    InMemoryRacingState,
)

from evaluation.movielens_traffic import Decision, Feedback, Request

# The simulator's traffic is a few hundred requests an hour, so the production rules (two weeks, a day's
# holdout) are scaled down to hours; the gate itself (paired bootstrap, 0.8) is the production one.
SIMULATOR_RULES = RetrainingRules(
    window=timedelta(days=3),
    holdout=timedelta(hours=6),
    attribution_delay=timedelta(hours=2),
    min_training_rows=1500,
    min_training_clicks=40,
    min_holdout_rows=400,
    max_holdout_rows=2500,
    bootstrap_resamples=300,
)


def _at(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


class RacerPolicy:
    def __init__(
        self,
        *,
        config: RacerConfig | None = None,
        rules: RetrainingRules = SIMULATOR_RULES,
        retrain_every_hours: int = 6,
        seed: int = 0,
        name: str = "racer",
    ):
        self.name = name
        self._creatives = InMemoryCreativeRepository()
        state = InMemoryRacingState()
        self._log = InMemoryImpressionLog(self._creatives, state)
        self._registry = InMemoryModelRegistry()
        racer = ContextualRacer(config or RacerConfig())
        self._select = RacingService(
            self._creatives,
            state,
            self._log,
            InMemoryObjectStore(),
            ActiveModel(self._registry, refresh_s=0),
            racer,
            np.random.default_rng(seed),
            # A minute of simulated time (about seven requests) between state reads: select in production
            # reads every two seconds, which at a few hundred requests a second is far staler.
            cache_ttl_s=60.0,
        )
        self._feedback = FeedbackService(self._log)
        self._retraining = RetrainingService(
            self._log, self._creatives, self._registry, racer, rules, train_ctr_model, seed=seed
        )
        self._retrain_every_hours = retrain_every_hours
        self._hours = 0
        self._impression_of: dict[str, str] = {}
        self._active: set[str] = set()
        self.retraining_reports: list[dict] = []

    def _sync_catalogue(self, request: Request) -> None:
        """The request's candidates are what composition made ACTIVE; everything else was retired."""
        wanted = {c.creative_id for c in request.candidates}
        if wanted == self._active:
            return
        now = iso(_at(request.at))
        self._creatives.put_new(
            [
                Creative(
                    creative_id=c.creative_id,
                    business_line=request.business_line,
                    category=c.category,
                    image_material_id=f"img_{c.creative_id}",
                    copy_material_id=f"copy_{c.creative_id}",
                    image_bucket="simulated",
                    image_key=f"uploads/{request.business_line}/{c.creative_id}.png",
                    headline=c.creative_id,
                    tags=list(c.tags),
                    created_at=iso(_at(c.created_at)),
                    updated_at=iso(_at(c.created_at)),
                )
                for c in request.candidates
                if c.creative_id not in self._active
            ]
        )
        for creative_id in self._active - wanted:
            self._creatives.set_status(creative_id, CreativeStatus.DISABLED, now)
        self._active = wanted
        # The simulator's candidate set is exact: a retired creative must not be served from a cache.
        self._select.forget(request.business_line)

    def choose(self, request: Request) -> Decision:
        self._sync_catalogue(request)
        response = self._select.select(
            SelectRequest(
                business_line=request.business_line,
                placement="simulated",
                user=UserContext(id=request.user_id, features=request.user),
            ),
            _at(request.at),
        )
        self._impression_of[request.request_id] = response.impression_id
        chosen = response.creative.creative_id
        index = next(i for i, c in enumerate(request.candidates) if c.creative_id == chosen)
        return Decision(index=index, propensity=response.propensity)

    def feedback(self, events: Sequence[Feedback]) -> None:
        # Non-clicks need no call: the impression was counted when it was served.
        for event in events:
            if event.clicked:
                impression_id = self._impression_of[event.request.request_id]
                self._feedback.record(
                    FeedbackRequest(impression_id=impression_id, event="click"), _at(event.arrived_at)
                )

    def end_of_hour(self, now: float) -> None:
        self._hours += 1
        if self._hours % self._retrain_every_hours == 0:
            report = self._retraining.run(_at(now))
            self.retraining_reports.append(report.model_dump(mode="json"))
