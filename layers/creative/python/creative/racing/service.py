"""Racing: choose a creative per request, and learn from the clicks that come back."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import numpy as np

from creative.clock import iso
from creative.creatives import Creative, CreativeStatus
from creative.errors import NotFound
from creative.impressions import Impression
from creative.ports import CreativeRepository, ImpressionLog, ObjectStore
from creative.racing.active_model import ActiveModel
from creative.racing.features import CreativeFeatures
from creative.racing.racer import POLICY_VERSION, ContextualRacer, segment_of
from creative.racing.schemas import (
    CreativeElements,
    FeedbackRequest,
    FeedbackResponse,
    SelectRequest,
    SelectResponse,
)


class RacingService:
    def __init__(
        self,
        creatives: CreativeRepository,
        impressions: ImpressionLog,
        images: ObjectStore,
        models: ActiveModel,
        racer: ContextualRacer,
        rng: np.random.Generator,
        *,
        max_candidates: int = 100,
        impression_ttl: timedelta = timedelta(days=30),
        image_url_ttl_s: int = 3600,
    ):
        self._creatives = creatives
        self._impressions = impressions
        self._images = images
        self._models = models
        self._racer = racer
        self._rng = rng
        self._max_candidates = max_candidates
        self._impression_ttl = impression_ttl
        self._image_url_ttl_s = image_url_ttl_s
        self._features: dict[tuple[str, str], CreativeFeatures] = {}

    def candidates(self, business_line: str) -> list[Creative]:
        active = [
            c for c in self._creatives.for_business_line(business_line) if c.status is CreativeStatus.ACTIVE
        ]
        return sorted(active, key=lambda c: c.created_at, reverse=True)[: self._max_candidates]

    def _creative_features(self, creative: Creative) -> CreativeFeatures:
        key = (creative.creative_id, creative.updated_at)
        features = self._features.get(key)
        if features is None:
            if len(self._features) > 10_000:
                self._features.clear()
            features = self._features[key] = CreativeFeatures.of(creative)
        return features

    def select(self, request: SelectRequest, now: datetime) -> SelectResponse:
        candidates = self.candidates(request.business_line)
        if not candidates:
            raise NotFound(
                f"business line '{request.business_line}' has no active creatives",
                code="no_active_creatives",
            )
        at = now.timestamp()
        model = self._models.current(at)
        user = request.user.features
        prior = model.predict(user, [self._creative_features(c) for c in candidates], at)
        clock = self._racer.clock
        segment = segment_of(user, self._racer.config.segment_by)
        evidence = clock.reader(segment, model.version, at).evidence(candidates)
        strength = None if model.trained else self._racer.config.untrained_prior_strength
        decision = self._racer.choose(
            prior, evidence.impressions, evidence.credited_clicks(prior), self._rng, prior_strength=strength
        )
        creative = candidates[decision.index]
        impression = Impression(
            impression_id="imp_" + uuid.uuid4().hex,
            creative_id=creative.creative_id,
            business_line=request.business_line,
            placement=request.placement,
            user_id=request.user.id,
            user_features=user,
            candidate_count=len(candidates),
            propensity=decision.propensity,
            policy_version=POLICY_VERSION,
            arm_key=clock.key(segment, at, model.version),
            arm_weight=clock.weight(at),
            segment=segment,
            prior_ctr=float(prior[decision.index]),
            model_version=model.version,
            candidate_ids=[c.creative_id for c in candidates],
            created_at=iso(now),
            expires_at=int((now + self._impression_ttl).timestamp()),
        )
        self._impressions.record(impression)
        return SelectResponse(
            impression_id=impression.impression_id,
            creative=CreativeElements(
                creative_id=creative.creative_id,
                image_url=self._images.presigned_url(
                    creative.image_bucket,
                    creative.image_key,
                    creative.image_version_id,
                    self._image_url_ttl_s,
                ),
                headline=creative.headline,
                image_material_id=creative.image_material_id,
                copy_material_id=creative.copy_material_id,
            ),
            propensity=decision.propensity,
            policy_version=POLICY_VERSION,
            model_version=model.version,
            predicted_ctr=float(prior[decision.index]),
            candidates=len(candidates),
        )


class FeedbackService:
    def __init__(self, impressions: ImpressionLog):
        self._impressions = impressions

    def record(self, request: FeedbackRequest, now: datetime) -> FeedbackResponse:
        """Counts a click once per impression; a repeat is acknowledged but not counted again."""
        try:
            outcome = self._impressions.record_click(request.impression_id, iso(now), int(now.timestamp()))
        except NotFound as missing:
            raise NotFound(missing.message, code="unknown_impression") from None
        return FeedbackResponse(
            impression_id=outcome.impression.impression_id,
            creative_id=outcome.impression.creative_id,
            event=request.event,
            counted=outcome.counted,
        )
