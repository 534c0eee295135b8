"""Retraining: a challenger is promoted only when it beats the champion off-policy, and never broken."""

import copy
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest
from creative.errors import CorruptModel
from creative.racing.active_model import CTR_MODEL, ActiveModel
from creative.racing.ctr_model import OnnxCtrModel
from creative.racing.ctr_training import train_ctr_model
from creative.racing.features import CreativeFeatures
from creative.racing.learner import LearnerConfig
from creative.racing.racer import ContextualRacer, RacerConfig
from creative.racing.retraining import RetrainingOutcome, RetrainingRules, RetrainingService
from creative.racing.schemas import SelectRequest, UserContext
from creative.racing.service import RacingService
from in_memory.adapters import (
    InMemoryModelRegistry,
    InMemoryObjectStore,
)

from tests.factories import WORLD_START, logged_world

NOW = WORLD_START + timedelta(days=3)
RULES = RetrainingRules(
    window=timedelta(days=7),
    holdout=timedelta(hours=24),
    min_training_rows=1000,
    min_training_clicks=30,
    min_holdout_rows=300,
    bootstrap_resamples=300,
)


def retraining(creatives, log, registry, rules: RetrainingRules = RULES) -> RetrainingService:
    return RetrainingService(
        creatives=creatives,
        impressions=log,
        registry=registry,
        racer=ContextualRacer(),
        rules=rules,
        trainer=train_ctr_model,
    )


@pytest.fixture(scope="module")
def informative_world():
    return logged_world(informative=True)


def test_a_challenger_that_learns_the_context_is_promoted(informative_world):
    creatives, log, _ = informative_world
    registry = InMemoryModelRegistry()
    # When retraining runs with no champion (the live policy is the constant prior)
    report = retraining(creatives, log, registry).run(NOW)
    # Then the challenger wins off-policy and the pointer moves to it
    assert report.outcome is RetrainingOutcome.PROMOTED, report.reason
    assert report.challenger_value > report.champion_value and report.win_probability >= 0.8
    active = registry.active(CTR_MODEL)
    assert active.version == report.challenger_version
    # And the promoted model predicts the interaction it was trained on
    model = OnnxCtrModel(registry.read(active))
    shoes = CreativeFeatures.of(creatives.items["cr_0"])
    watches = CreativeFeatures.of(creatives.items["cr_2"])
    women = model.predict({"gender": "f"}, [shoes, watches], NOW.timestamp())
    men = model.predict({"gender": "m"}, [shoes, watches], NOW.timestamp())
    assert women[0] > women[1] and men[1] > men[0]
    assert registry.runs(CTR_MODEL)[0]["outcome"] == "promoted"


def test_the_same_run_twice_changes_nothing_the_second_time(informative_world):
    creatives, log, _ = informative_world
    registry = InMemoryModelRegistry()
    first = retraining(creatives, log, registry).run(NOW)
    # When the same scheduled event is delivered again
    second = retraining(creatives, log, registry).run(NOW)
    # Then the same data trains the same model, which is already live, and the first report is kept
    assert first.outcome is RetrainingOutcome.PROMOTED
    assert second.outcome is RetrainingOutcome.ALREADY_ACTIVE
    assert registry.active(CTR_MODEL).version == first.challenger_version
    assert [r["outcome"] for r in registry.runs(CTR_MODEL)] == ["promoted"]


def test_a_challenger_that_cannot_beat_the_champion_is_not_promoted():
    # Given logs in which no feature predicts clicks
    creatives, log, registry = logged_world(informative=False, requests=3000, seed=9)
    # When retraining runs
    report = retraining(creatives, log, registry).run(NOW)
    # Then the champion (here: the constant prior) stays
    assert report.outcome is RetrainingOutcome.CHAMPION_KEPT, report.reason
    assert registry.active(CTR_MODEL) is None


def test_too_little_data_leaves_the_champion_in_place(informative_world):
    creatives, log, _ = informative_world
    registry = InMemoryModelRegistry()
    strict = RetrainingRules(min_training_rows=1_000_000)
    report = retraining(creatives, log, registry, strict).run(NOW)
    assert report.outcome is RetrainingOutcome.INSUFFICIENT_DATA
    assert "need 1000000 rows" in report.reason and registry.active(CTR_MODEL) is None


class CorruptingRegistry(InMemoryModelRegistry):
    """Stores a flipped byte: what a truncated upload or bit rot would leave behind."""

    def store(self, name, version, artifact):
        ref = super().store(name, version, artifact)
        data = bytearray(self.artifacts[ref.key])
        data[len(data) // 2] ^= 0xFF
        self.artifacts[ref.key] = bytes(data)
        return ref


def test_a_corrupt_artifact_is_never_promoted(informative_world):
    creatives, log, _ = informative_world
    registry = CorruptingRegistry()
    report = retraining(creatives, log, registry).run(NOW)
    assert report.outcome is RetrainingOutcome.CORRUPT_ARTIFACT
    assert "sha256" in report.reason and registry.active(CTR_MODEL) is None


class RacedRegistry(InMemoryModelRegistry):
    """Another run promotes its model between this run's read of the champion and its own promotion."""

    def promote(self, ref, *, replacing, report):
        self.pointers[ref.name] = type(ref)(ref.name, "other", "models/ctr/other.onnx", "0" * 64, 1)
        return super().promote(ref, replacing=replacing, report=report)


def test_a_promotion_that_lost_a_race_does_not_overwrite_the_winner(informative_world):
    creatives, log, _ = informative_world
    registry = RacedRegistry()
    report = retraining(creatives, log, registry).run(NOW)
    assert report.outcome is RetrainingOutcome.PROMOTION_RACED
    assert registry.active(CTR_MODEL).version == "other"


def test_select_under_a_promoted_model_draws_each_creative_no_narrower_than_its_own_key(informative_world):
    # Given the world's learner state after 4,000 requests and a model promoted on its log
    creatives, log, _ = informative_world
    registry = InMemoryModelRegistry()
    retraining(creatives, log, registry).run(NOW)

    def logged_propensities(own_key_floor: float) -> list[float]:
        world_creatives, world_log = copy.deepcopy((creatives, log))
        learner = LearnerConfig(own_key_floor=own_key_floor)
        racing = RacingService(
            world_creatives,
            world_log.state,
            world_log,
            InMemoryObjectStore(),
            ActiveModel(registry),
            ContextualRacer(RacerConfig(learner=learner)),
            np.random.default_rng(0),
            cache_ttl_s=0.0,
        )
        request = SelectRequest(
            business_line="fashion", placement="feed", user=UserContext(id="u1", features={"gender": "f"})
        )
        served = [racing.select(request, NOW) for _ in range(40)]
        assert {s.model_version for s in served} == {registry.active(CTR_MODEL).version}
        return [s.propensity for s in served]

    # When select runs with the floor off, at its default and wide
    off, default, wide = (np.mean(logged_propensities(f)) for f in (0.0, LearnerConfig().own_key_floor, 10.0))
    # Then the floored draws spread the choice: what was logged was less certain (0.64, 0.57, 0.17)
    assert wide < default - 0.1 and default < off - 0.02


def test_select_keeps_its_model_when_a_promoted_artifact_is_corrupt(informative_world):
    # Given select following a registry whose promoted artifact fails its hash
    creatives, log, _ = informative_world
    registry = InMemoryModelRegistry()
    retraining(creatives, log, registry).run(NOW)
    active = registry.active(CTR_MODEL)
    registry.artifacts[active.key] = registry.artifacts[active.key][:-10]
    models = ActiveModel(registry, refresh_s=0)
    # When it refreshes
    model = models.current(NOW.timestamp())
    # Then it keeps serving the constant prior instead of failing, and does not retry the bad artifact
    assert model.version == "constant"
    assert models.current(NOW.timestamp() + 1).version == "constant"


def test_the_onnx_export_refuses_an_artifact_that_does_not_load():
    with pytest.raises(CorruptModel):
        OnnxCtrModel(b"not an onnx model")


def test_an_evaluation_that_cannot_be_computed_leaves_the_champion(informative_world):
    # Given a held-out log with an impossible propensity (a corrupt row: 0 makes the weights infinite)
    creatives, log, _ = informative_world
    newest = max(log.items.values(), key=lambda i: i.created_at if i.created_at < "2026-11-22T23" else "")
    original = newest.propensity
    newest.propensity = 0.0
    registry = InMemoryModelRegistry()
    try:
        report = retraining(creatives, log, registry).run(NOW)
    finally:
        newest.propensity = original
    # Then the run reports the failed evaluation and promotes nothing
    assert report.outcome is RetrainingOutcome.EVALUATION_FAILED
    assert "propensit" in report.reason and registry.active(CTR_MODEL) is None


def test_a_champion_whose_artifact_is_gone_does_not_block_promotion(informative_world):
    # Given a registry whose active model's artifact was deleted
    creatives, log, _ = informative_world
    registry = InMemoryModelRegistry()
    lost = registry.store(CTR_MODEL, "ctr-lost", b"whatever")
    registry.promote(lost, replacing=None, report={})
    del registry.artifacts[lost.key]
    # When retraining runs, the challenger is judged against the constant prior and replaces the pointer
    report = retraining(creatives, log, registry).run(NOW)
    assert report.outcome is RetrainingOutcome.PROMOTED, report.reason
    assert registry.active(CTR_MODEL).version == report.challenger_version


class UnavailableRegistry(InMemoryModelRegistry):
    def active(self, name):
        raise TimeoutError("the registry table did not answer")


def test_select_keeps_serving_when_the_registry_is_unavailable():
    models = ActiveModel(UnavailableRegistry(), refresh_s=0)
    assert models.current(NOW.timestamp()).version == "constant"


def test_the_holdout_is_sized_by_the_traffic_so_a_busy_line_gets_a_model_within_hours(informative_world):
    creatives, log, _ = informative_world
    # Given the first 36 hours of the log (about 55 impressions an hour): a fixed 24-hour holdout would leave
    # 660 rows to train on, under the 1,000 required
    first_hours = WORLD_START + timedelta(hours=36)
    rules = RetrainingRules(
        min_training_rows=1000, min_training_clicks=30, min_holdout_rows=300, bootstrap_resamples=200
    )
    # When retraining runs then, with a 24-hour cap on the holdout's age
    report = retraining(creatives, log, InMemoryModelRegistry(), rules).run(first_hours)
    # Then the holdout is the latest fifth of the settled rows, not the whole day, and training goes ahead
    settled = report.training_rows + report.holdout_rows
    assert report.holdout_rows == pytest.approx(max(0.2 * settled, 300), abs=2)
    assert report.outcome is not RetrainingOutcome.INSUFFICIENT_DATA, report.reason


def test_a_late_click_never_changes_a_runs_training_set(informative_world):
    creatives, log, _ = informative_world
    registry = InMemoryModelRegistry()
    first = retraining(creatives, log, registry).run(NOW)
    # When a click on an old, unclicked impression arrives after its attribution window
    late = next(i for i in sorted(log.items.values(), key=lambda i: i.created_at) if i.clicked_at is None)
    late.clicked_at = (NOW - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    try:
        # Then the same run sees the same rows and labels
        again = retraining(creatives, log, InMemoryModelRegistry()).run(NOW)
        assert (again.training_rows, again.training_clicks) == (first.training_rows, first.training_clicks)
        assert again.challenger_version == first.challenger_version
    finally:
        late.clicked_at = None


def test_training_takes_the_newest_rows_up_to_its_cap(informative_world):
    creatives, log, _ = informative_world
    capped = replace(RULES, max_training_rows=1200)
    report = retraining(creatives, log, InMemoryModelRegistry(), capped).run(NOW)
    uncapped = retraining(creatives, log, InMemoryModelRegistry()).run(NOW)
    assert uncapped.training_rows > 1200 and report.training_rows == 1200
    assert report.holdout_rows == uncapped.holdout_rows  # the cap never eats into the holdout
