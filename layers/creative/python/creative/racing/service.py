"""Racing: choose a creative per request, and learn from the clicks that come back."""

from __future__ import annotations

import itertools
import time
import uuid
from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, TypeVar

import numpy as np

from creative.clock import iso
from creative.creatives import Creative, CreativeStatus, creative_id_for
from creative.errors import NotFound
from creative.impressions import Impression
from creative.labels import fatigued
from creative.line_templates import TEMPLATE_SETTING, LineTemplate
from creative.phrase_banks import PhraseBank, ProductContext, RenderedPhrase, render_candidates
from creative.placements import phrase_slots_of
from creative.ports import ComplianceStore, CreativeRepository, ImpressionLog, ObjectStore, RacingStateStore
from creative.quality.compliance import ALL_LINES, ComplianceList
from creative.racing.active_model import ActiveModel
from creative.racing.elements import ElementChoice, ElementOdds
from creative.racing.features import CreativeFeatures
from creative.racing.learner import (
    CREATIVE,
    ELEMENT_TAG,
    LINE,
    CandidateStates,
    Decay,
    LearnerState,
    OnlineLearner,
    Scores,
    decayed_sums,
    floor_at_own_key,
    fuse,
    logit,
    pair_keys,
    sigmoid,
    user_terms,
)
from creative.racing.racer import POLICY_VERSION, ContextualRacer
from creative.racing.schemas import (
    CreativeElements,
    FeedbackRequest,
    FeedbackResponse,
    PhraseElement,
    SelectRequest,
    SelectResponse,
)
from creative.racing.state import (
    BASE_CLICKS,
    BASE_IMPRESSIONS,
    CREATIVE_IMPRESSIONS,
    CREATIVE_POSITIVES,
    ELEMENT_IMPRESSIONS,
    ELEMENT_POSITIVES,
    ELEMENTS_STATE,
    POSITIVE_EVENT,
    CounterTotals,
    LearnerDeltas,
    Objective,
    RacingState,
)
from creative.recall import strategies
from creative.recall.candidates import BUSINESS_LINE, Recalled, RecallRequest, recall, recall_key
from creative.recall.rules import RecallRules

RECALL_SETTING, PHRASES_SETTING = "recall", "phrases"  # the line's setting documents (RacingState.settings)
ELEMENT_MODEL_VERSION = "element-effects"  # what a line racing elements reports as its model
# A fatigued creative's posterior variance is multiplied by this: enough to re-explore it, not to favour it.
FATIGUE_VARIANCE_FACTOR = 2.0
MAX_ELEMENTS_PER_SLOT = 500  # the newest of each slot race; bounds the per-read work of a huge library
# A line's re-read (creatives and racing state) may take at most this share of a busy container's time: a
# read that takes longer keeps its result for read time / share instead of `cache_ttl_s`. On a laptop's moto
# the demo's 84-creative line took 0.3-0.6 s to read, and with a 2 s TTL its four lines' reads took more of
# moto's time than their writes; a DynamoDB read under 0.2 s leaves the TTL as it is.
MAX_READ_SHARE = 0.1
T = TypeVar("T")


class RacingService:
    """select: the line's active creatives and racing state (each cached per container for `cache_ttl_s`),
    recall of a bounded candidate set, the CTR model's prior, the online learner's evidence, one Thompson
    decision with an exact propensity; then a phrase per phrase slot of the placement, chosen on its own."""

    def __init__(
        self,
        creatives: CreativeRepository,
        state: RacingStateStore,
        impressions: ImpressionLog,
        images: ObjectStore,
        models: ActiveModel,
        racer: ContextualRacer,
        rng: np.random.Generator,
        *,
        max_candidates: int = 100,
        impression_ttl: timedelta = timedelta(days=30),
        image_url_ttl_s: int = 3600,
        cache_ttl_s: float = 2.0,
        compliance: ComplianceStore | None = None,
        max_phrase_chars: int = 90,
        compliance_ttl_s: float = 60.0,
        read_timer: Callable[[], float] = time.perf_counter,
    ):
        self._creatives = creatives
        self._state = state
        self._impressions = impressions
        self._images = images
        self._models = models
        self._racer = racer
        self._learner = OnlineLearner(racer.config.learner)
        self._decay = Decay(racer.config.half_life_hours * 3600.0)
        self._rng = rng
        self._max_candidates = max_candidates
        self._impression_ttl = impression_ttl
        self._image_url_ttl_s = image_url_ttl_s
        self._cache_ttl_s = cache_ttl_s
        self._read_timer = read_timer
        self._features: dict[tuple[str, str], CreativeFeatures] = {}
        # Each read of a line's state is numbered: the per-read caches below keep the number, not the view,
        # so an old view (every creative's learner state) is freed as soon as a new one replaces it.
        self._generations = itertools.count(1)
        # line -> (read at, expires at, its ACTIVE creatives, its state)
        self._cached: dict[str, tuple[float, float, list[Creative], LineView]] = {}
        self._compliance = compliance
        self._max_phrase_chars = max_phrase_chars
        self._compliance_ttl_s = compliance_ttl_s
        self._compliance_cache: dict[str, tuple[float, list[ComplianceList]]] = {}
        self._rendered: dict[tuple, list[RenderedPhrase]] = {}
        self._phrase_odds = PerRead(4096)  # rendering key -> the slot's phrase odds
        self._element_slots_of = PerRead(1000)  # (line, placement) -> its images and headlines
        self._personal = PerRead(4096)  # (line, placement, slot, user terms) -> the slot's odds for them
        # candidate ids -> their learner statistics as scoring reads them; ~100 KB each for 100 candidates
        self._candidate_states = PerRead(64)
        # (line, recall key) -> its candidates and their CTR features: the same list, the same objects
        self._recalled = PerRead(4096)

    def candidates(self, business_line: str) -> list[Creative]:
        """The line's active creatives, newest first: the pool recall draws each request's candidates from."""
        return _active_newest(self._creatives.for_business_line(business_line))

    def _line(self, business_line: str, at: float) -> tuple[list[Creative], LineView]:
        """Creatives and state, re-read once they are `cache_ttl_s` old (longer if reading took more than
        `MAX_READ_SHARE` of that): a warm container's select then reads nothing but the model pointer now and
        then. Staleness: a creative enabled or disabled, a recall rule or phrase saved, and the evidence of
        the last cache period reach this container up to that period later."""
        cached = self._cached.get(business_line)
        if cached is None or at >= cached[1] or at < cached[0]:
            started = self._read_timer()
            every = self._creatives.for_business_line(business_line)
            candidates = _active_newest(every)
            view = LineView.of(self._state.read(business_line), self._decay.scales(at))
            hot = strategies.hot(candidates, view.recent, prior_rate=float(sigmoid(view.base)))
            view = replace(
                view,
                hot=tuple(c.creative_id for c in hot),
                generation=next(self._generations),
                excluded_pairs=_disabled_pairs(every),
                shared_elements=_shared_elements(every)
                if self._learner.config.shared_element_keys
                else frozenset(),
            )
            ttl = self._cache_ttl_s
            if ttl > 0:  # a zero TTL (tests, evaluation replays) reads afresh for every request, however slow
                ttl = max(ttl, (self._read_timer() - started) / MAX_READ_SHARE)
            cached = (at, at + ttl, candidates, view)
            if len(self._cached) > 1000:
                self._cached.clear()
            self._cached[business_line] = cached
        return cached[2], cached[3]

    def forget(self, business_line: str) -> None:
        """Drops the line's cached candidates and state: the next select reads them afresh."""
        self._cached.pop(business_line, None)

    def _creative_features(self, creative: Creative) -> CreativeFeatures:
        key = (creative.creative_id, creative.updated_at)
        features = self._features.get(key)
        if features is None:
            if len(self._features) > 10_000:
                self._features.clear()
            features = self._features[key] = CreativeFeatures.of(creative)
        return features

    def select(self, request: SelectRequest, now: datetime, client_id: str | None = None) -> SelectResponse:
        at = now.timestamp()
        pool, view = self._line(request.business_line, at)
        # A pin is an operator's choice of whole creatives: element racing would mix their elements.
        pinned = view.template.racing == "elements" and strategies.pinned(
            pool, view.recall_rules, request.placement, now
        )
        if view.template.racing == "elements" and not pinned:
            return self._select_elements(request, pool, view, now, client_id)
        context = request.context
        recall_request = RecallRequest(
            business_line=request.business_line,
            placement=request.placement,
            at=now,
            category=context.category if context else None,
            tags=frozenset(context.tags) if context else frozenset(),
            user_features=request.user.features,
        )

        def make() -> tuple[Recalled, list[CreativeFeatures]]:
            made = recall(
                pool, view.recall_rules, recall_request, view.hot, max_candidates=self._max_candidates
            )
            return made, [self._creative_features(c) for c in made.candidates]

        key = (request.business_line, recall_key(view.recall_rules, recall_request))
        recalled, features = self._recalled.get(key, view.generation, make)
        candidates = recalled.candidates
        if not candidates:
            reason = (
                "has no active creatives" if not pool else f"blocks every creative on '{request.placement}'"
            )
            raise NotFound(f"business line '{request.business_line}' {reason}", code="no_active_creatives")
        model = self._models.current(at)
        user = request.user.features
        prior = model.predict(user, features, at)
        # The CTR model predicts clicks: it is the prior only for a line that optimises clicks.
        use_model = model.trained and view.objective == "ctr"
        posterior = self._posterior(user, candidates, view, prior, use_model, at)
        decision = self._racer.choose(posterior.mean, posterior.variance, self._rng)
        creative = candidates[decision.index]
        phrases = self._choose_phrases(request, view, at)
        combination = decision.propensity * float(np.prod([c.propensity for c in phrases.values()]))
        impression = Impression(
            impression_id="imp_" + uuid.uuid4().hex,
            creative_id=creative.creative_id,
            business_line=request.business_line,
            placement=request.placement,
            user_id=request.user.id,
            user_features=user,
            candidate_count=len(candidates),
            propensity=decision.propensity,
            element_propensities={slot: c.propensity for slot, c in phrases.items()},
            combination_propensity=combination,
            exploration_floor=self._racer.config.exploration_floor,
            policy_version=POLICY_VERSION,
            prior_ctr=float(prior[decision.index]),
            model_version=model.version,
            candidate_ids=[c.creative_id for c in candidates],
            recall_sources=recalled.sources,
            elements={slot: c.phrase.phrase_id for slot, c in phrases.items()},
            client_id=client_id,
            learner=posterior.deltas(
                decision.index,
                int(self._rng.integers(self._racer.config.counter_shards)),
                {slot: c.phrase.phrase_id for slot, c in phrases.items()},
            ),
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
            phrases=_phrase_elements(phrases),
            propensity=combination,
            creative_propensity=decision.propensity,
            element_propensities={slot: c.propensity for slot, c in phrases.items()},
            recall=recalled.strategies_of(decision.index),
            policy_version=POLICY_VERSION,
            model_version=model.version,
            predicted_ctr=float(prior[decision.index]),
            candidates=len(candidates),
        )

    def _select_elements(
        self,
        request: SelectRequest,
        pool: Sequence[Creative],
        view: LineView,
        now: datetime,
        client_id: str | None,
    ) -> SelectResponse:
        """Every slot chosen per element: an image and a headline from the line's eligible creatives, then
        the phrase slots; the combination is never stored. A pair an operator blocked, scheduled out or
        disabled as a creative is never served: such a draw is drawn again, and the pair's propensity is its
        probability given that (the product of the slots' divided by the mass of the pairs allowed)."""
        at = now.timestamp()
        slots = self._element_slots(request, pool, view, now)
        if slots is None:
            raise NotFound(
                f"business line '{request.business_line}' has no active creatives on '{request.placement}'",
                code="no_active_creatives",
            )
        terms = user_terms(request.user.features, self._racer.config.learner.max_terms)
        images = self._personal_odds(request, view, slots, "image", terms)
        headlines = self._personal_odds(request, view, slots, "headline", terms)
        excluded = slots.excluded_indexes
        allowed_mass = 1.0 - sum(
            float(images.probabilities[i] * headlines.probabilities[h]) for i, h in excluded
        )
        for _attempt in range(1000 if allowed_mass > 1e-9 else 0):
            image_index, image_propensity = images.draw(self._rng)
            headline_index, headline_propensity = headlines.draw(self._rng)
            if (image_index, headline_index) not in excluded:
                break
        else:  # every pair blocked, or what is allowed is too unlikely to draw: none to serve
            raise NotFound(
                f"business line '{request.business_line}' blocks every pair on '{request.placement}'",
                code="no_active_creatives",
            )
        image, headline = slots.image_of[image_index], slots.headline_of[headline_index]
        phrases = self._choose_phrases(request, view, at)
        propensities = {"image": image_propensity, "headline": headline_propensity}
        propensities |= {slot: c.propensity for slot, c in phrases.items()}
        elements = {"image": image.image_material_id, "headline": headline.copy_material_id}
        elements |= {slot: c.phrase.phrase_id for slot, c in phrases.items()}
        creative_propensity = image_propensity * headline_propensity / allowed_mass
        combination = creative_propensity * float(np.prod([c.propensity for c in phrases.values()]))
        # One logistic model of the whole combination: the line's rate plus the image's and the headline's
        # keys (main effects and their interactions with the user's features), all line-scoped.
        keys = pair_keys(
            terms, slots.image_tags[image_index] + slots.headline_tags[headline_index], self._learner.config
        )
        predicted = sigmoid(
            view.base + sum(view.line.weights.get(k.name, 0.0) for k in keys if k.scope == LINE)
        )
        line_steps: dict[str, float] = {}
        for key, step in zip(keys, self._learner.steps(keys, _EMPTY, view.line, predicted), strict=True):
            if key.scope == LINE:  # the creative keys' prior only damps the step: no creative to keep them
                line_steps[key.name] = round(line_steps.get(key.name, 0.0) + step, 9)
        creative_id = creative_id_for(image.image_material_id, headline.copy_material_id)
        impression = Impression(
            impression_id="imp_" + uuid.uuid4().hex,
            creative_id=creative_id,
            business_line=request.business_line,
            placement=request.placement,
            user_id=request.user.id,
            user_features=request.user.features,
            candidate_count=len(slots.image_of) * len(slots.headline_of),
            propensity=creative_propensity,
            element_propensities=propensities,
            combination_propensity=combination,
            exploration_floor=None,  # each slot has its own floor: the timeline's formula is per choice
            policy_version=POLICY_VERSION,
            prior_ctr=predicted,
            model_version=ELEMENT_MODEL_VERSION,
            recall_sources={slots.source: []},
            elements=elements,
            client_id=client_id,
            learner=LearnerDeltas(
                shard=int(self._rng.integers(self._racer.config.counter_shards)),
                epoch=self._decay.epoch(at),
                weight=self._decay.weight(at),
                predicted=round(predicted, 9),
                objective=view.objective,
                line_steps=line_steps,
                elements=elements,
                # The image's own item of the line: the line's element writes spread over its images (and
                # shards) instead of one hot item holding every element's statistics.
                state_id=f"{ELEMENTS_STATE}{request.business_line}:{image.image_material_id}",
            ),
            created_at=iso(now),
            expires_at=int((now + self._impression_ttl).timestamp()),
        )
        self._impressions.record(impression)
        return SelectResponse(
            impression_id=impression.impression_id,
            creative=CreativeElements(
                creative_id=creative_id,
                image_url=self._images.presigned_url(
                    image.image_bucket, image.image_key, image.image_version_id, self._image_url_ttl_s
                ),
                headline=headline.headline,
                image_material_id=image.image_material_id,
                copy_material_id=headline.copy_material_id,
            ),
            phrases=_phrase_elements(phrases),
            propensity=combination,
            creative_propensity=creative_propensity,
            element_propensities=propensities,
            racing="elements",
            recall=[slots.source],
            policy_version=POLICY_VERSION,
            model_version=ELEMENT_MODEL_VERSION,
            predicted_ctr=predicted,
            candidates=impression.candidate_count,
        )

    def _personal_odds(
        self, request: SelectRequest, view: LineView, slots: ElementSlots, slot: str, terms: list[str]
    ) -> ElementOdds:
        """A slot's odds for this user: the online learner's posterior of each element's effect (its main
        effect and its interactions with the user's features), Thompson probabilities with the racer's
        exploration floor. Made once per read of the line's state and set of user features: requests
        repeat feature values, so most selects only draw."""

        def make() -> ElementOdds:
            ids, tags = (
                (slots.image_ids, slots.image_tags)
                if slot == "image"
                else (slots.headline_ids, slots.headline_tags)
            )
            scores = self._learner.score_pairs(view.base, terms, tags, [_EMPTY] * len(ids), view.line)
            # No CTR model speaks for elements: the same allowance for what the keys miss as an untrained
            # model's in creative racing.
            variance = scores.variance + 1.0 / self._racer.config.untrained_prior_precision
            return ElementOdds.with_probabilities(ids, self._racer.probabilities(scores.mean, variance))

        # The slots' members are part of the key: a schedule starting within a read changes them.
        key = (request.business_line, request.placement, slot, tuple(terms), slots.members)
        return self._personal.get(key, view.generation, make)

    def _element_slots(
        self, request: SelectRequest, pool: Sequence[Creative], view: LineView, now: datetime
    ) -> ElementSlots | None:
        """The images and headlines this placement draws from, gathered once per read of the line's state
        (and again when a pin or schedule starts or ends within it)."""
        creatives = strategies.eligible(pool, view.recall_rules, request.placement, now)
        if not creatives:
            return None
        members = tuple(c.creative_id for c in creatives)

        def make() -> ElementSlots:
            kept = set(members)
            excluded = view.excluded_pairs | {
                (c.image_material_id, c.copy_material_id) for c in pool if c.creative_id not in kept
            }
            return ElementSlots.of(BUSINESS_LINE, members, creatives, frozenset(excluded))

        return self._element_slots_of.get(
            (request.business_line, request.placement, members), view.generation, make
        )

    def _choose_phrases(self, request: SelectRequest, view: LineView, at: float) -> dict[str, ElementChoice]:
        """A phrase for each phrase slot of the placement that the bank can fill for this request."""
        slots = phrase_slots_of(request.placement)
        if view.phrase_bank is None or not slots:
            return {}
        product = request.context.product if request.context else None
        compliance = self._compliance_lists(request.business_line, at)
        chosen = {}
        for slot in slots:
            key = self._rendering_key(request.business_line, view.phrase_bank, slot, product, compliance)
            rendered = self._rendered_phrases(key, view.phrase_bank, slot, product, compliance)
            if not rendered:
                continue
            # The odds change only with the line's state: made once per read and rendering, then drawn.
            odds = self._phrase_odds.get(
                key,
                view.generation,
                lambda rendered=rendered: ElementOdds.of(
                    [p.phrase_id for p in rendered],
                    view.elements,
                    prior_rate=float(sigmoid(view.base)),
                    exploration_floor=self._racer.config.exploration_floor,
                ),
            )
            index, propensity = odds.draw(self._rng)
            chosen[slot] = ElementChoice(rendered[index], propensity)
        return chosen

    @staticmethod
    def _rendering_key(
        business_line: str,
        bank: PhraseBank,
        slot: str,
        product: ProductContext | None,
        compliance: list[ComplianceList],
    ) -> tuple:
        """What a slot's rendered phrases depend on: a saved bank or compliance list has a new version, so
        a stale rendering is never used."""
        return (
            business_line,
            bank.version,
            slot,
            product.model_dump_json() if product else None,
            tuple((c.business_line, c.version) for c in compliance),
        )

    def _rendered_phrases(
        self,
        key: tuple,
        bank: PhraseBank,
        slot: str,
        product: ProductContext | None,
        compliance: list[ComplianceList],
    ) -> list[RenderedPhrase]:
        """The slot's servable phrases for this product, memoised by their rendering key: requests for the
        same product repeat."""
        rendered = self._rendered.get(key)
        if rendered is None:
            if len(self._rendered) > 4096:
                self._rendered.clear()
            rendered = self._rendered[key] = render_candidates(
                bank, slot, product, max_chars=self._max_phrase_chars, compliance=compliance
            )
        return rendered

    def _compliance_lists(self, business_line: str, at: float) -> list[ComplianceList]:
        """The line's and every line's compliance lists, re-read once `compliance_ttl_s` old: a claim banned
        now stops being served in filled phrases that much later (templates are checked when saved)."""
        if self._compliance is None:
            return []
        cached = self._compliance_cache.get(business_line)
        if cached is None or at >= cached[0] or at < cached[0] - self._compliance_ttl_s:
            lists = [self._compliance.current(business_line), self._compliance.current(ALL_LINES)]
            cached = self._compliance_cache[business_line] = (at + self._compliance_ttl_s, lists)
        return cached[1]

    def _posterior(
        self,
        user: Mapping[str, object],
        candidates: Sequence[Creative],
        view: LineView,
        prior: np.ndarray,
        trained: bool,
        at: float,
    ) -> Posterior:
        config = self._racer.config
        terms = user_terms(user, config.learner.max_terms)

        def make() -> CandidateStates:
            return CandidateStates.of(
                [view.creatives.get(c.creative_id, _EMPTY) for c in candidates],
                [view.learner_tags(c) for c in candidates],
                config.learner,
            )

        # Recall returns the same list request after request while the line's read lasts.
        prepared = self._candidate_states.get(tuple(c.creative_id for c in candidates), view.generation, make)
        scores = self._learner.score_candidates(view.base, terms, prepared, view.line)
        if trained:
            mean, variance = fuse(
                scores,
                view.base,
                logit(prior),
                config.model_prior_precision,
                config.learner.creative_precision,
            )
            variance = floor_at_own_key(variance, scores, config.learner)
        else:  # the constant prior knows nothing: the line's own rate, learned online, stands in
            # (its constant 1 / untrained_prior_precision never shrinks: scaled by posterior_scale s, every
            # draw's variance stays >= s / untrained_prior_precision + s / (creative_precision + I), no
            # narrower than the own-key floor f / (creative_precision + I) once I >= (f - s) x
            # untrained_prior_precision / s - creative_precision: I >= 13 with the defaults. Applied here
            # too, the floor cost 3.6% of expected CTR over the immediate-feedback loop's first 1,000
            # requests and 3.1% over 3,000 (tuning seeds 201-240, docs/racing.md), so it is not.)
            mean, variance = scores.mean, scores.variance + 1.0 / config.untrained_prior_precision
        if view.fatigued:  # worn out with exposure: its long-run evidence overstates it, so explore it anew
            variance = variance * np.array(
                [FATIGUE_VARIANCE_FACTOR if c.creative_id in view.fatigued else 1.0 for c in candidates]
            )
        if view.objective == "value_per_impression":  # rank by P(conversion) x the value a conversion brings
            mean = mean + np.log([view.value_per_conversion(c.creative_id) for c in candidates])
        return Posterior(
            self._learner,
            self._decay,
            at,
            terms,
            candidates,
            prepared.tag_lists,
            prepared.states,
            view.line,
            scores,
            mean,
            variance,
            view.objective,
        )


_EMPTY = LearnerState()


class PerRead:
    """A cache of what select derives from one read of a line's state (odds, element pools): an entry made
    from an older read is made again. It keeps the read's number, not the read, so a replaced line view
    is freed at once; `limit` entries at most (cleared whole when full)."""

    def __init__(self, limit: int):
        self._limit = limit
        self._entries: dict[Hashable, tuple[int, Any]] = {}

    def get(self, key: Hashable, generation: int, make: Callable[[], T]) -> T:
        entry = self._entries.get(key)
        if entry is None or entry[0] != generation:
            if len(self._entries) >= self._limit:
                self._entries.clear()
            entry = self._entries[key] = (generation, make())
        return entry[1]


def _phrase_elements(phrases: Mapping[str, ElementChoice]) -> list[PhraseElement]:
    return [
        PhraseElement(slot=slot, phrase_id=c.phrase.phrase_id, text=c.phrase.text, propensity=c.propensity)
        for slot, c in phrases.items()
    ]


def _active_newest(creatives: Sequence[Creative]) -> list[Creative]:
    active = [c for c in creatives if c.status is CreativeStatus.ACTIVE]
    return sorted(active, key=lambda c: c.created_at, reverse=True)


def _shared_elements(creatives: Sequence[Creative]) -> frozenset[str]:
    """The images and the headlines that appear in two or more of `creatives`, whatever their status: an
    element's evidence outlives a creative disabled or retired, and a new creative starts with it."""
    uses = Counter(e for c in creatives for e in {c.image_material_id, c.copy_material_id})
    return frozenset(element for element, count in uses.items() if count > 1)


def _disabled_pairs(creatives: Sequence[Creative]) -> frozenset[tuple[str, str]]:
    return frozenset(
        (c.image_material_id, c.copy_material_id) for c in creatives if c.status is not CreativeStatus.ACTIVE
    )


def element_tag(element_id: str) -> str:
    """An element as the learner's tag: its keys (main effect, and its interactions with user features) are
    line-scoped like any tag's, so they ride on the line's element items."""
    return ELEMENT_TAG + element_id


@dataclass(frozen=True)
class ElementSlots:
    """A line's images and headlines as elements, each slot with its odds; one creative stands for each
    element (where its image file or headline text is read from)."""

    source: str  # the recall strategy they came from: the whole eligible line
    members: tuple[str, ...]  # the creatives they were gathered from (a change means new odds)
    image_of: tuple[Creative, ...]
    headline_of: tuple[Creative, ...]
    excluded: frozenset[tuple[str, str]] = frozenset()  # (image, headline) pairs never to serve

    @cached_property
    def excluded_indexes(self) -> frozenset[tuple[int, int]]:
        """The excluded pairs whose image and headline are both in the slots, as (image, headline) indexes."""
        return frozenset(
            (self.image_index[i], self.headline_index[h])
            for i, h in self.excluded
            if i in self.image_index and h in self.headline_index
        )

    @cached_property
    def image_index(self) -> dict[str, int]:
        return {c.image_material_id: i for i, c in enumerate(self.image_of)}

    @cached_property
    def headline_index(self) -> dict[str, int]:
        return {c.copy_material_id: i for i, c in enumerate(self.headline_of)}

    @property
    def image_ids(self) -> list[str]:
        return [c.image_material_id for c in self.image_of]

    @property
    def headline_ids(self) -> list[str]:
        return [c.copy_material_id for c in self.headline_of]

    @cached_property
    def image_tags(self) -> list[tuple[str, ...]]:
        """Each image as the learner sees it: itself, and its own tags (shared with other elements)."""
        return [(element_tag(c.image_material_id), *c.element_tags.get("image", ())) for c in self.image_of]

    @cached_property
    def headline_tags(self) -> list[tuple[str, ...]]:
        return [
            (element_tag(c.copy_material_id), *c.element_tags.get("headline", ())) for c in self.headline_of
        ]

    @classmethod
    def of(
        cls,
        source: str,
        members: tuple[str, ...],
        creatives: Sequence[Creative],
        excluded: frozenset[tuple[str, str]] = frozenset(),
    ) -> ElementSlots:
        newest = sorted(creatives, key=lambda c: c.created_at, reverse=True)
        images: dict[str, Creative] = {}
        headlines: dict[str, Creative] = {}
        for creative in newest:  # each element stands for itself through its newest creative
            images.setdefault(creative.image_material_id, creative)
            headlines.setdefault(creative.copy_material_id, creative)
        return cls(
            source,
            members,
            tuple(images.values())[:MAX_ELEMENTS_PER_SLOT],
            tuple(headlines.values())[:MAX_ELEMENTS_PER_SLOT],
            excluded,
        )


@dataclass(frozen=True)
class LineView:
    """A line's racing state decayed to the moment it was read: what each select of the cache period uses."""

    base: float  # the rate of the line's positive event (click or conversion), log-odds
    line: LearnerState
    creatives: dict[str, LearnerState]
    objective: Objective = "ctr"
    totals: dict[str, CounterTotals] = field(default_factory=dict)
    # Decayed (impressions, positive events): per creative, and per phrase id.
    recent: dict[str, tuple[float, float]] = field(default_factory=dict)
    elements: dict[str, tuple[float, float]] = field(default_factory=dict)
    recall_rules: RecallRules = field(default_factory=lambda: RecallRules(business_line="default"))
    phrase_bank: PhraseBank | None = None
    template: LineTemplate = field(default_factory=lambda: LineTemplate(business_line="default"))
    hot: tuple[str, ...] = ()  # the line's creatives by recent rate (recall's hot strategy), made per read
    # Creatives whose recent rate fell clearly below their all-time rate (`creative.labels.fatigued`).
    fatigued: frozenset[str] = frozenset()
    generation: int = 0  # which read of the line's state this is (per container)
    # (image, headline) pairs of the line's creatives that are not active: element racing never serves them.
    excluded_pairs: frozenset[tuple[str, str]] = frozenset()
    # Images and headlines two or more of the line's creatives share (`LearnerConfig.shared_element_keys`).
    shared_elements: frozenset[str] = frozenset()

    def learner_tags(self, creative: Creative) -> list[str]:
        """The creative's tags and, for each of its elements the line's creatives share, the element's own."""
        shared = [
            element_tag(element)
            for element in (creative.image_material_id, creative.copy_material_id)
            if element in self.shared_elements
        ]
        return [*creative.tags, *shared] if shared else creative.tags

    @classmethod
    def of(cls, state: RacingState, scales: Mapping[int, float]) -> LineView:
        recent = {}
        for cid, raw in state.creatives.items():
            sums = decayed_sums(raw, scales, (CREATIVE_IMPRESSIONS, CREATIVE_POSITIVES))
            impressions = sums[CREATIVE_IMPRESSIONS].get("", 0.0)
            if impressions > 0:
                recent[cid] = (impressions, sums[CREATIVE_POSITIVES].get("", 0.0))
        sums = decayed_sums(state.line, scales, (ELEMENT_IMPRESSIONS, ELEMENT_POSITIVES))
        elements = {
            pid: (n, sums[ELEMENT_POSITIVES].get(pid, 0.0)) for pid, n in sums[ELEMENT_IMPRESSIONS].items()
        }
        positive = "clicks" if POSITIVE_EVENT[state.objective] == "click" else "conversions"
        worn = frozenset(
            cid
            for cid, (n, p) in recent.items()
            if (t := state.totals.get(cid)) and fatigued(n, p, t.impressions, getattr(t, positive))
        )
        return cls(
            base_logit(state.line, scales),
            LearnerState.read(state.line, scales),
            {cid: LearnerState.read(raw, scales) for cid, raw in state.creatives.items()},
            state.objective,
            state.totals,
            recent,
            elements,
            recall_rules_of(state),
            phrase_bank_of(state),
            template_of(state),
            fatigued=worn,
        )

    def value_per_conversion(self, creative_id: str, pseudo_conversions: float = 5.0) -> float:
        """The creative's mean conversion value, shrunk toward the line's (1 before any conversion)."""
        conversions = sum(t.conversions for t in self.totals.values())
        line_mean = sum(t.value for t in self.totals.values()) / conversions if conversions else 1.0
        own = self.totals.get(creative_id, CounterTotals())
        shrunk = (own.value + pseudo_conversions * line_mean) / (own.conversions + pseudo_conversions)
        return max(shrunk, 1e-6)


@dataclass(frozen=True)
class Posterior:
    learner: OnlineLearner
    decay: Decay
    at: float
    terms: list[str]
    candidates: Sequence[Creative]
    # Each candidate's tags as the learner sees them (`LineView.learner_tags`).
    tag_lists: Sequence[Sequence[str]]
    own: Sequence[LearnerState]
    line: LearnerState
    scores: Scores
    mean: np.ndarray
    variance: np.ndarray
    objective: Objective

    def deltas(self, index: int, shard: int, elements: Mapping[str, str] | None = None) -> LearnerDeltas:
        """The learner's serve-time update for the chosen candidate (keys that share a bucket add up)."""
        predicted = sigmoid(float(self.scores.mean[index]))
        keys = pair_keys(self.terms, self.tag_lists[index], self.learner.config)
        steps = self.learner.steps(keys, self.own[index], self.line, predicted)
        creative_steps: dict[str, float] = {}
        line_steps: dict[str, float] = {}
        for key, step in zip(keys, steps, strict=True):
            target = creative_steps if key.scope == CREATIVE else line_steps
            target[key.name] = round(target.get(key.name, 0.0) + step, 9)
        return LearnerDeltas(
            shard=shard,
            epoch=self.decay.epoch(self.at),
            weight=self.decay.weight(self.at),
            predicted=round(predicted, 9),
            objective=self.objective,
            creative_steps=creative_steps,
            line_steps=line_steps,
            elements=dict(elements or {}),
        )


def recall_rules_of(state: RacingState) -> RecallRules:
    """The line's saved recall rules, or the defaults (no pins, blocks or schedules)."""
    document = state.settings.get(RECALL_SETTING)
    return (
        RecallRules.model_validate(document) if document else RecallRules(business_line=state.business_line)
    )


def template_of(state: RacingState) -> LineTemplate:
    """The line's saved template, or the default (racing composed creatives)."""
    document = state.settings.get(TEMPLATE_SETTING)
    return (
        LineTemplate.model_validate(document) if document else LineTemplate(business_line=state.business_line)
    )


def phrase_bank_of(state: RacingState) -> PhraseBank | None:
    document = state.settings.get(PHRASES_SETTING)
    return PhraseBank.model_validate(document) if document else None


def base_logit(line: Mapping[str, float], scales: Mapping[int, float]) -> float:
    """The line's click rate from its decayed impressions and clicks, 2% a priori (50 pseudo-impressions)."""
    sums = decayed_sums(line, scales, (BASE_IMPRESSIONS, BASE_CLICKS))
    impressions, clicks = sums[BASE_IMPRESSIONS].get("", 0.0), sums[BASE_CLICKS].get("", 0.0)
    return float(logit((clicks + 1.0) / (impressions + 50.0)))


class FeedbackService:
    def __init__(self, impressions: ImpressionLog):
        self._impressions = impressions

    def record(
        self, request: FeedbackRequest, now: datetime, client_id: str | None = None
    ) -> FeedbackResponse:
        """Counts a click or a conversion once per impression; a repeat is acknowledged but not counted.
        Only the client the impression was served to may report on it."""
        try:
            outcome = self._impressions.record_event(
                request.impression_id,
                request.event,
                iso(now),
                int(now.timestamp()),
                request.value,
                client_id=client_id,
            )
        except NotFound as missing:
            raise NotFound(missing.message, code="unknown_impression") from None
        return FeedbackResponse(
            impression_id=outcome.impression.impression_id,
            creative_id=outcome.impression.creative_id,
            event=request.event,
            counted=outcome.counted,
        )
