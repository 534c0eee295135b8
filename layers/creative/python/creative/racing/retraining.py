"""Scheduled retraining: train a challenger CTR model on logged impressions, promote it only if it wins.

The challenger and the champion are compared as policies, not as classifiers: each model's prior policy
(the racer's choice probabilities with that model as the prior at the racer's own prior precision, and no
online evidence: what select does with the model for a line it knows nothing else about) is evaluated
off-policy on a held-out recent window of the log, with the propensities the live racer recorded. The
challenger is promoted only when the paired bootstrap says it beats the champion with the configured
probability. Too little data, a failed evaluation or an artifact that does not load back exactly leaves the
champion in place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np

from creative.clock import iso, parse_iso, utc_now
from creative.creatives import Creative
from creative.deferred_model import DeferredModel
from creative.errors import CorruptModel, NotFound
from creative.impressions import Impression
from creative.ports import CreativeRepository, ImpressionLog, ModelRef, ModelRegistry
from creative.racing import ope
from creative.racing.active_model import CTR_MODEL
from creative.racing.ctr_model import ConstantCtrModel, CtrModel, OnnxCtrModel
from creative.racing.features import CreativeFeatures, LoggedImpression
from creative.racing.learner import logit
from creative.racing.racer import ContextualRacer

if TYPE_CHECKING:  # training imports lightgbm; only the retraining function's wiring passes it in
    from creative.racing.ctr_training import TrainedCtrModel

logger = logging.getLogger(__name__)


class RetrainingOutcome(StrEnum):
    PROMOTED = "promoted"
    CHAMPION_KEPT = "champion_kept"  # the challenger did not win
    ALREADY_ACTIVE = "already_active"  # the same data trained the model that is already live
    INSUFFICIENT_DATA = "insufficient_data"
    EVALUATION_FAILED = "evaluation_failed"
    CORRUPT_ARTIFACT = "corrupt_artifact"
    PROMOTION_RACED = "promotion_raced"  # another run moved the pointer first


class RetrainingReport(DeferredModel):
    outcome: RetrainingOutcome
    reason: str
    started_at: str
    finished_at: str
    champion_version: str | None = None
    challenger_version: str | None = None
    training_rows: int = 0
    training_clicks: int = 0
    holdout_rows: int = 0
    holdout_clicks: int = 0
    method: str = "dr"
    champion_value: float | None = None
    challenger_value: float | None = None
    win_probability: float | None = None
    metrics: dict[str, float] = {}


@dataclass(frozen=True)
class RetrainingRules:
    window: timedelta = timedelta(days=14)
    # The holdout is the most recent settled impressions, sized by the traffic rather than by the clock:
    # `holdout_share` of the window's rows, at least `min_holdout_rows` and at most `max_holdout_rows` (and
    # never older than `holdout`). A line with 400 requests an hour has its first model in about 7 hours.
    holdout: timedelta = timedelta(hours=24)
    holdout_share: float = 0.2
    # An impression is settled once this long has passed: its label is then whether it was clicked within
    # it. A later click counts for the learner and the reports, never for training, so a retried run sees
    # the same rows and labels whatever arrived in between.
    attribution_delay: timedelta = timedelta(hours=1)
    min_training_rows: int = 2000
    min_training_clicks: int = 50
    min_holdout_rows: int = 500
    max_holdout_rows: int = 20_000
    # The newest this many rows before the holdout are trained on: a busy fortnight must not outgrow the
    # function's memory and 15 minutes (the cap is not measured at scale yet; lower it if runs near either).
    max_training_rows: int = 1_000_000
    min_win_probability: float = 0.8
    bootstrap_resamples: int = 500
    # How confident the judged policies are in their model (log-odds precision): confident enough that the
    # model's ranking decides, as it would for a new creative. The live prior is weaker (online evidence
    # takes over quickly), and a policy that barely uses the model could not tell two models apart.
    evaluation_precision: float = 10.0
    # DR's importance weights are clipped here (None: unclipped). The live racer grows confident, so the
    # arms a judged policy favours were often logged at the exploration floor (propensity ~0.01 / K): one
    # click there carries a weight in the thousands, and the gate's estimates swung to -0.41 and +0.69 CTR
    # on the simulator. A gate that noisy keeps whatever champion it has.
    max_importance_weight: float | None = 20.0


Trainer = Callable[[Sequence[LoggedImpression]], "TrainedCtrModel"]


class RetrainingService:
    def __init__(
        self,
        impressions: ImpressionLog,
        creatives: CreativeRepository,
        registry: ModelRegistry,
        racer: ContextualRacer,
        rules: RetrainingRules,
        trainer: Trainer,
        *,
        seed: int = 0,
    ):
        self._impressions = impressions
        self._creatives = creatives
        self._registry = registry
        self._judge = racer
        self._judge_precision = rules.evaluation_precision
        self._rules = rules
        self._train = trainer
        self._seed = seed

    def run(self, now: datetime) -> RetrainingReport:
        started = iso(now)
        report = self._run(now, started)
        report.finished_at = iso(utc_now())
        self._registry.record_run(CTR_MODEL, report.model_dump(mode="json"))
        logger.info("retraining %s: %s", report.outcome, report.reason)
        return report

    def _run(self, now: datetime, started: str) -> RetrainingReport:
        rules = self._rules
        features = {c.creative_id: CreativeFeatures.of(c) for c in _all_creatives(self._creatives)}
        settled = (now - rules.attribution_delay).timestamp()
        logged = sorted(
            (
                _settled(i, rules.attribution_delay)
                for i in self._impressions.since(iso(now - rules.window), iso(now))
                if i.creative_id in features and parse_iso(i.created_at).timestamp() < settled
            ),
            # A scan returns rows in no particular order; training and the holdout cut must not depend on it.
            key=lambda i: (i.created_at, i.impression_id),
        )
        cut = _holdout_start(logged, rules, now)
        training = [_row(i, features) for i in logged[max(0, cut - rules.max_training_rows) : cut]]
        holdout = [i for i in logged[cut:] if _replayable(i, features)]
        clicks = sum(r.clicked for r in training)
        report = RetrainingReport(
            outcome=RetrainingOutcome.INSUFFICIENT_DATA,
            reason="",
            started_at=started,
            finished_at=started,
            training_rows=len(training),
            training_clicks=clicks,
            holdout_rows=len(holdout),
            holdout_clicks=sum(i.clicked_at is not None for i in holdout),
        )
        if len(training) < rules.min_training_rows or clicks < rules.min_training_clicks:
            report.reason = (
                f"{len(training)} training rows with {clicks} clicks; need {rules.min_training_rows} rows "
                f"and {rules.min_training_clicks} clicks"
            )
            return report
        if len(holdout) < rules.min_holdout_rows:
            report.reason = f"{len(holdout)} held-out impressions; need {rules.min_holdout_rows}"
            return report
        return self._challenge(report, training, holdout, features)

    def _challenge(
        self,
        report: RetrainingReport,
        training: list[LoggedImpression],
        holdout: list[Impression],
        features: dict[str, CreativeFeatures],
    ) -> RetrainingReport:
        champion_ref = self._registry.active(CTR_MODEL)
        trained = self._train(training)
        report.challenger_version = trained.version
        report.champion_version = champion_ref.version if champion_ref else None
        report.metrics = dict(trained.metrics)
        if champion_ref is not None and champion_ref.version == trained.version:
            report.outcome, report.reason = RetrainingOutcome.ALREADY_ACTIVE, "the champion is this model"
            return report
        try:
            challenger_ref = self._registry.store(CTR_MODEL, trained.version, trained.artifact)
            challenger = _load_exactly(
                self._registry, challenger_ref, trained.scorer(), holdout[:50], features
            )
        except CorruptModel as exc:
            report.outcome, report.reason = RetrainingOutcome.CORRUPT_ARTIFACT, str(exc)
            return report
        champion = self._champion(champion_ref)
        try:
            self._evaluate(report, champion, challenger, holdout, features)
        except (ValueError, FloatingPointError) as exc:
            report.outcome, report.reason = RetrainingOutcome.EVALUATION_FAILED, str(exc)
            return report
        if report.win_probability < self._rules.min_win_probability:
            report.outcome = RetrainingOutcome.CHAMPION_KEPT
            report.reason = (
                f"challenger beats the champion with probability {report.win_probability:.2f}; "
                f"promotion needs {self._rules.min_win_probability:.2f}"
            )
            return report
        if not self._registry.promote(
            challenger_ref, replacing=champion_ref, report=report.model_dump(mode="json")
        ):
            report.outcome, report.reason = (
                RetrainingOutcome.PROMOTION_RACED,
                "the active model changed meanwhile",
            )
            return report
        report.outcome = RetrainingOutcome.PROMOTED
        report.reason = f"challenger wins with probability {report.win_probability:.2f}"
        return report

    def _champion(self, ref: ModelRef | None) -> CtrModel:
        """The champion to beat. One whose artifact is gone or broken is not being served (select keeps
        what it had), so the challenger is judged against the constant prior rather than blocked forever;
        promotion still replaces exactly that pointer."""
        if ref is None:
            return ConstantCtrModel()
        try:
            return OnnxCtrModel(self._registry.read(ref))
        except (CorruptModel, NotFound) as exc:
            logger.error("champion %s is unusable (%s); judging against the constant prior", ref.version, exc)
            return ConstantCtrModel()

    def _evaluate(
        self,
        report: RetrainingReport,
        champion: CtrModel,
        challenger: CtrModel,
        holdout: list[Impression],
        features: dict[str, CreativeFeatures],
    ) -> None:
        log, champion_dist, champion_q = self._policy_on_log(champion, holdout, features)
        _, challenger_dist, challenger_q = self._policy_on_log(challenger, holdout, features)
        # One reward model for both, so neither policy is scored by its own optimism.
        q_hat = 0.5 * (champion_q + challenger_q)
        champion_value, challenger_value, win = ope.improvement_probability(
            log,
            champion_dist,
            challenger_dist,
            q_hat,
            method="dr",
            n_boot=self._rules.bootstrap_resamples,
            max_weight=self._rules.max_importance_weight,
            rng=np.random.default_rng(self._seed),
        )
        report.champion_value, report.challenger_value, report.win_probability = (
            champion_value,
            challenger_value,
            win,
        )

    def _policy_on_log(
        self, model: CtrModel, holdout: list[Impression], features: dict[str, CreativeFeatures]
    ) -> tuple[ope.BanditLog, np.ndarray, np.ndarray]:
        """The model's prior policy on every held-out context, padded to the largest candidate set."""
        width = max(len(i.candidate_ids) for i in holdout)
        dist = np.zeros((len(holdout), width))
        q_hat = np.zeros((len(holdout), width))
        actions = np.empty(len(holdout), dtype=np.int64)
        for row, impression in enumerate(holdout):
            candidates = [features[c] for c in impression.candidate_ids]
            at = parse_iso(impression.created_at).timestamp()
            prior = model.predict(impression.user_features, candidates, at)
            k = len(candidates)
            dist[row, :k] = self._judge.probabilities(logit(prior), np.full(k, 1.0 / self._judge_precision))
            q_hat[row, :k] = prior
            actions[row] = impression.candidate_ids.index(impression.creative_id)
        log = ope.BanditLog(
            actions=actions,
            rewards=np.array([i.clicked_at is not None for i in holdout], dtype=np.float64),
            propensities=np.array([i.propensity for i in holdout]),
        )
        return log, dist, q_hat


def _settled(impression: Impression, attribution: timedelta) -> Impression:
    """The impression as its label settled: a click after the attribution window is no click here."""
    if impression.clicked_at is None:
        return impression
    if parse_iso(impression.clicked_at) - parse_iso(impression.created_at) <= attribution:
        return impression
    return impression.model_copy(update={"clicked_at": None})


def _holdout_start(logged: list[Impression], rules: RetrainingRules, now: datetime) -> int:
    """Where the holdout begins in the time-sorted rows: the latest `holdout_share` of them, within
    [min_holdout_rows, max_holdout_rows] and no older than `rules.holdout`."""
    wanted = min(max(int(len(logged) * rules.holdout_share), rules.min_holdout_rows), rules.max_holdout_rows)
    start = max(len(logged) - wanted, 0)
    oldest = iso(now - rules.holdout)
    while start < len(logged) and logged[start].created_at < oldest:
        start += 1
    return start


def _all_creatives(repository: CreativeRepository) -> list[Creative]:
    creatives, token = [], None
    while True:
        page = repository.list(business_line=None, limit=500, next_token=token)
        creatives.extend(page.items)
        if not (token := page.next_token):
            return creatives


def _row(impression: Impression, features: dict[str, CreativeFeatures]) -> LoggedImpression:
    return LoggedImpression(
        user=impression.user_features,
        creative=features[impression.creative_id],
        shown_at=parse_iso(impression.created_at).timestamp(),
        clicked=impression.clicked_at is not None,
        propensity=impression.propensity,
    )


def _replayable(impression: Impression, features: dict[str, CreativeFeatures]) -> bool:
    """Off-policy evaluation needs the whole candidate set the live racer chose from."""
    ids = impression.candidate_ids
    return bool(ids) and impression.creative_id in ids and all(c in features for c in ids)


def _load_exactly(
    registry: ModelRegistry,
    ref: ModelRef,
    trained: CtrModel,
    sample: list[Impression],
    features: dict[str, CreativeFeatures],
) -> CtrModel:
    """Reads the stored artifact back through the registry (hash checked) and checks it scores alike."""
    loaded = OnnxCtrModel(registry.read(ref))
    for impression in sample:
        candidates = [features[c] for c in impression.candidate_ids]
        at = parse_iso(impression.created_at).timestamp()
        expected = trained.predict(impression.user_features, candidates, at)
        if not np.allclose(loaded.predict(impression.user_features, candidates, at), expected, atol=1e-6):
            raise CorruptModel(f"the stored artifact {ref.key} scores differently from the trained model")
    return loaded
