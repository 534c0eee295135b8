"""Builds each function's service from its configuration: the one place adapters meet domain code.

Clients are created on first use (not at import), so importing a handler reads no environment and opens
no connection; a warm Lambda reuses what its cold start built.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache, wraps
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.config import Config

from creative import cold_start

# Each factory imports the adapters and services it builds, so a function's cold start pays for nothing else.
if TYPE_CHECKING:
    import botocore.session
    import numpy as np
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

    from creative.admission.service import Admission
    from creative.composition import Composition
    from creative.generation.service import CopyGeneration
    from creative.operator import OperatorService
    from creative.racing.retraining import RetrainingService
    from creative.racing.service import FeedbackService, RacingService
    from creative.tagging.service import Tagging
    from creative.tagging.vocabulary import TagVocabulary

T = TypeVar("T")
_frozen_once = False
# Every random generator a factory below made: a SnapStart restore reseeds them (reseed_after_restore).
_generators: list[np.random.Generator] = []


def _cold_start(build: Callable[[], T]) -> Callable[[], T]:
    """Builds a service with the garbage collector held off, then freezes what the cold start made.

    Select's build imports the domain, numpy and botocore and loads two service models: it leaves ~110,000
    objects that live as long as the container. The collector, triggered by allocation counts, ran 107
    times while they were made, 92-99 ms of the build here. Frozen (gc.freeze), they stay out of every later
    scan, which spares warm requests too. Once per process: a Lambda container builds one service, while
    a test session or the local runtime builds many, and each freeze would keep pending garbage for good
    (admission builds its idempotency store first, so only that is frozen there). The hold
    (`creative.cold_start`) ends after the build, whether it succeeded or not, and so does the one a Lambda
    started at the package's import. (Handlers import only what their module level names, so most of a
    cold start happens in here.)"""

    @wraps(build)
    def built() -> T:
        global _frozen_once
        cold_start.hold()
        try:
            service = build()
            if not _frozen_once:  # a failed build's leftovers (its traceback's frames) are not kept
                _frozen_once = True
                gc.freeze()
            return service
        finally:
            cold_start.release()

    return built


# API paths fail fast: a call that hangs costs at most (connect + read) x 2 attempts + one backoff (< 1 s) =
# 4 s, so select and feedback (5 s) answer 503 (a TransientError) themselves, before their timeout and API
# Gateway's 29 s. The SDK's standard retry mode backs off on throttling. (A read timeout is retried too, so
# an ADD whose answer was lost may count twice: 1 s is far above DynamoDB's latency, which keeps that rare.)
# `total_max_attempts` counts the first attempt; botocore's `max_attempts` counts retries only (2 meant 3
# attempts, 4.5 s before any backoff) and is rewritten in place in this dict by the first client made.
API_CLIENT = Config(
    connect_timeout=0.5, read_timeout=1.0, retries={"mode": "standard", "total_max_attempts": 2}
)
# The local runtime's moto answers in milliseconds when idle but can take seconds on a loaded laptop; only
# it sets this variable, so deployed functions keep the bounds above.
LOCAL_READ_TIMEOUT_ENV = "CREATIVE_LOCAL_READ_TIMEOUT_S"


@cache
def api_client() -> Config:
    import os

    local = os.environ.get(LOCAL_READ_TIMEOUT_ENV)
    return API_CLIENT.merge(Config(read_timeout=float(local))) if local else API_CLIENT


# Batch paths (queues, schedules) have minutes: patient retries, and a bounded wait per call.
BATCH_CLIENT = Config(
    connect_timeout=2, read_timeout=10, retries={"mode": "standard", "total_max_attempts": 6}
)


# Every service the factories below make clients for: the session looks up no other (botocore_session).
SERVICES = ("dynamodb", "events", "s3")


@cache
def _session() -> botocore.session.Session:
    """One session per cold start: its clients share credentials and the loaded service data."""
    from creative.adapters.botocore_session import session_for

    return session_for(SERVICES)


def _client(service: str, config: Config) -> Any:
    # botocore directly: boto3's import adds ~0.3 s to a cold start and nothing these adapters use.
    # Region, credentials and AWS_ENDPOINT_URL come from the environment, as with boto3.
    return _session().create_client(service, config=config)


def _generator() -> np.random.Generator:
    import numpy as np

    generator = np.random.default_rng()
    _generators.append(generator)
    return generator


def prepare_snapshot(build: Callable[[], Any], *, also_import: tuple[str, ...] = ()) -> bool:
    """Under Lambda SnapStart (infra.catalog's `snap_start`): `build` the function's service before the
    snapshot, and import `also_import` (what its first request would otherwise import), so every container
    restored from it starts with them; and give each restored container randomness of its own.

    The build makes no call to AWS: a connection pooled before the snapshot would be stale after a restore,
    and its first call would wait out a read timeout. (Making the clients does fetch the function's
    credentials; botocore refreshes them when they expire, also in a container restored from an old snapshot.)
    Registered by the handler's module, as the runtime requires. The hooks' module ships with Lambda's
    Python runtimes (and in the dev dependencies, for tests); where it is absent nothing is registered and
    the service is built on the first request, as without SnapStart. Without SnapStart the runtime never
    calls the hooks. True when they were registered."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False

    def before_snapshot() -> None:
        import importlib

        build()
        for module in also_import:
            importlib.import_module(module)

    register_before_snapshot(before_snapshot)
    register_after_restore(reseed_after_restore)
    return True


def reseed_after_restore() -> None:
    """Every container restored from one snapshot holds the same generator states: without new seeds they
    would all make the same Thompson draws and pick the same counter shards, request for request, and back
    off from throttling in step (botocore's retry jitter and the adapters' draw from the `random` module).
    Each generator is reseeded in place from the OS, so whoever holds it draws fresh numbers; its
    `seed_seq` stays the snapshot's, so nothing may `spawn` from it. (uuid4, for impression ids, reads the
    OS's entropy on every call and needs nothing.)"""
    import random

    random.seed()
    for generator in _generators:
        generator.bit_generator.state = type(generator.bit_generator)().state


@cache
@_cold_start
def admission() -> Admission:
    from creative.adapters.dynamodb_line_settings import DynamoComplianceLists, DynamoQualityPolicies
    from creative.adapters.dynamodb_materials import DynamoMaterialRepository
    from creative.adapters.eventbridge import EventBridgeMaterialEvents
    from creative.adapters.s3 import S3ObjectStore
    from creative.admission.service import Admission
    from creative.config import AdmissionConfig

    config = AdmissionConfig.from_env()
    return Admission(
        S3ObjectStore(_client("s3", BATCH_CLIENT)),
        DynamoMaterialRepository(_client("dynamodb", BATCH_CLIENT), config.materials_table),
        config.limits,
        EventBridgeMaterialEvents(_client("events", BATCH_CLIENT), config.material_events_bus),
        compliance=DynamoComplianceLists(_client("dynamodb", BATCH_CLIENT), config.line_settings_table),
        policies=DynamoQualityPolicies(_client("dynamodb", BATCH_CLIENT), config.line_settings_table),
    )


@cache
@_cold_start
def tagging() -> Tagging:
    """Loads the taggers on the cold start: the three artifacts are fetched from the assets bucket into
    /tmp (verified by sha256, reused while the container lives)."""
    from pathlib import Path

    from creative.adapters.dynamodb_line_settings import DynamoQualityPolicies
    from creative.adapters.dynamodb_materials import DynamoMaterialRepository
    from creative.adapters.dynamodb_similarity_index import DynamoSimilarityIndex
    from creative.adapters.dynamodb_tag_index import DynamoTagIndex
    from creative.adapters.model_files import model_directories
    from creative.adapters.s3 import S3ObjectStore
    from creative.config import TaggingConfig
    from creative.quality.near_duplicates import NearDuplicates
    from creative.tagging.service import Tagging
    from creative.tagging.taggers import IMAGE_MODEL_ARTIFACT, TAGGER_ARTIFACT, TEXT_ENCODER_ARTIFACT, Taggers

    config = TaggingConfig.from_env()
    s3 = _client("s3", BATCH_CLIENT)
    dynamodb = _client("dynamodb", BATCH_CLIENT)
    cache_root = Path(config.model_cache_dir)
    directories = model_directories(
        s3, config.assets_bucket, [TAGGER_ARTIFACT, TEXT_ENCODER_ARTIFACT, IMAGE_MODEL_ARTIFACT], cache_root
    )
    taggers = Taggers(*directories, max_pixels=config.limits.max_image_pixels)
    return Tagging(
        DynamoMaterialRepository(dynamodb, config.materials_table),
        S3ObjectStore(s3),
        DynamoTagIndex(dynamodb, config.tags_table),
        taggers,
        NearDuplicates(DynamoSimilarityIndex(dynamodb, config.similarity_table), taggers.spaces),
        DynamoQualityPolicies(dynamodb, config.line_settings_table),
        max_image_bytes=config.limits.max_image_bytes,
    )


@cache
@_cold_start
def composition() -> Composition:
    from creative.adapters.dynamodb_creatives import DynamoCreativeRepository
    from creative.adapters.dynamodb_materials import DynamoMaterialRepository
    from creative.composition import Composition
    from creative.config import CompositionConfig

    config = CompositionConfig.from_env()
    dynamodb = _client("dynamodb", BATCH_CLIENT)
    return Composition(
        DynamoMaterialRepository(dynamodb, config.materials_table),
        DynamoCreativeRepository(dynamodb, config.creatives_table),
        cap=config.max_creatives_per_business_line,
    )


@cache
@_cold_start
def racing() -> RacingService:
    from creative.adapters.dynamodb_creatives import DynamoCreativeRepository
    from creative.adapters.dynamodb_impressions import DynamoImpressionLog
    from creative.adapters.dynamodb_line_settings import DynamoComplianceLists
    from creative.adapters.dynamodb_racing_state import DynamoRacingState
    from creative.adapters.model_registry import DynamoModelRegistry
    from creative.adapters.s3 import S3ObjectStore
    from creative.config import SelectConfig
    from creative.racing.active_model import ActiveModel
    from creative.racing.racer import ContextualRacer
    from creative.racing.service import RacingService

    config = SelectConfig.from_env()
    dynamodb = _client("dynamodb", api_client())
    s3 = _client("s3", api_client())
    registry = DynamoModelRegistry(dynamodb, config.model_registry_table, s3, config.assets_bucket)
    state = DynamoRacingState(dynamodb, config.racing_state_table)
    return RacingService(
        DynamoCreativeRepository(dynamodb, config.creatives_table),
        state,
        DynamoImpressionLog(dynamodb, config.impressions_table, state),
        S3ObjectStore(s3),
        ActiveModel(registry, refresh_s=config.model_refresh_seconds),
        ContextualRacer(config.racer_config()),
        _generator(),
        max_candidates=config.max_candidates,
        impression_ttl=timedelta(days=config.impression_ttl_days),
        cache_ttl_s=config.cache_ttl_seconds,
        compliance=DynamoComplianceLists(dynamodb, config.line_settings_table),
        max_phrase_chars=config.max_phrase_chars,
    )


@cache
@_cold_start
def feedback() -> FeedbackService:
    from creative.adapters.dynamodb_impressions import DynamoImpressionLog
    from creative.adapters.dynamodb_racing_state import DynamoRacingState
    from creative.config import FeedbackConfig
    from creative.racing.service import FeedbackService

    config = FeedbackConfig.from_env()
    dynamodb = _client("dynamodb", api_client())
    state = DynamoRacingState(dynamodb, config.racing_state_table)
    return FeedbackService(DynamoImpressionLog(dynamodb, config.impressions_table, state))


@cache
@_cold_start
def operator() -> OperatorService:
    from creative.adapters.dynamodb_creatives import DynamoCreativeRepository
    from creative.adapters.dynamodb_impressions import DynamoImpressionLog
    from creative.adapters.dynamodb_line_settings import DynamoComplianceLists, DynamoQualityPolicies
    from creative.adapters.dynamodb_materials import DynamoMaterialRepository
    from creative.adapters.dynamodb_racing_state import DynamoRacingState
    from creative.adapters.dynamodb_tag_index import DynamoTagIndex
    from creative.adapters.eventbridge import EventBridgeMaterialEvents
    from creative.adapters.model_registry import DynamoModelRegistry
    from creative.adapters.s3 import S3ObjectStore
    from creative.config import OperatorConfig
    from creative.operator import OperatorService

    config = OperatorConfig.from_env()
    dynamodb = _client("dynamodb", api_client())
    s3 = _client("s3", api_client())

    @cache
    def vocabulary() -> TagVocabulary:
        from pathlib import Path

        from creative.adapters.model_files import model_directory
        from creative.tagging.taggers import TAGGER_ARTIFACT
        from creative.tagging.vocabulary import TagVocabulary

        return TagVocabulary.read(
            model_directory(s3, config.assets_bucket, TAGGER_ARTIFACT, Path(config.model_cache_dir))
        )

    state = DynamoRacingState(dynamodb, config.racing_state_table)
    return OperatorService(
        DynamoMaterialRepository(dynamodb, config.materials_table),
        DynamoCreativeRepository(dynamodb, config.creatives_table),
        S3ObjectStore(s3),
        DynamoTagIndex(dynamodb, config.tags_table),
        vocabulary,
        DynamoComplianceLists(dynamodb, config.line_settings_table),
        EventBridgeMaterialEvents(_client("events", api_client()), config.material_events_bus),
        DynamoQualityPolicies(dynamodb, config.line_settings_table),
        state,
        uploads_bucket=config.uploads_bucket,
        limits=config.limits,
        models=DynamoModelRegistry(dynamodb, config.model_registry_table, s3, config.assets_bucket),
        # Read only: the racing timeline's Queries of the by_day index (the log is never written here).
        impressions=DynamoImpressionLog(dynamodb, config.impressions_table, state),
        racer=config.racer_config(),
    )


@cache
@_cold_start
def retraining() -> RetrainingService:
    """Imports LightGBM (through training): only the retraining function's package carries it."""
    from creative.adapters.dynamodb_creatives import DynamoCreativeRepository
    from creative.adapters.dynamodb_impressions import DynamoImpressionLog
    from creative.adapters.dynamodb_racing_state import DynamoRacingState
    from creative.adapters.model_registry import DynamoModelRegistry
    from creative.config import RetrainingConfig
    from creative.racing.ctr_training import train_ctr_model
    from creative.racing.racer import ContextualRacer
    from creative.racing.retraining import RetrainingRules, RetrainingService

    config = RetrainingConfig.from_env()
    dynamodb = _client("dynamodb", BATCH_CLIENT)
    return RetrainingService(
        DynamoImpressionLog(
            dynamodb, config.impressions_table, DynamoRacingState(dynamodb, config.racing_state_table)
        ),
        DynamoCreativeRepository(dynamodb, config.creatives_table),
        DynamoModelRegistry(
            dynamodb, config.model_registry_table, _client("s3", BATCH_CLIENT), config.assets_bucket
        ),
        ContextualRacer(config.racer_config()),
        RetrainingRules(
            window=timedelta(days=config.window_days),
            holdout=timedelta(hours=config.holdout_hours),
            min_training_rows=config.min_training_rows,
            min_training_clicks=config.min_training_clicks,
            min_holdout_rows=config.min_holdout_rows,
            min_win_probability=config.min_win_probability,
        ),
        train_ctr_model,
    )


@cache
@_cold_start
def copy_generation() -> CopyGeneration:
    """Imports onnxruntime-genai only when a line needs new copy: the generator's layer carries it."""
    from pathlib import Path

    from creative.adapters.dynamodb_creatives import DynamoCreativeRepository
    from creative.adapters.dynamodb_line_settings import DynamoComplianceLists
    from creative.adapters.dynamodb_materials import DynamoMaterialRepository
    from creative.adapters.dynamodb_racing_state import DynamoRacingState
    from creative.adapters.model_files import model_directory
    from creative.adapters.s3 import S3ObjectStore
    from creative.config import GenerationConfig
    from creative.generation.service import CopyGeneration, GenerationRules

    config = GenerationConfig.from_env()
    dynamodb = _client("dynamodb", BATCH_CLIENT)
    s3 = _client("s3", BATCH_CLIENT)

    @cache
    def writer():
        from creative.generation.smollm import GENERATOR_ARTIFACT, SmolLMCopyWriter

        return SmolLMCopyWriter.load(
            model_directory(s3, config.assets_bucket, GENERATOR_ARTIFACT, Path(config.model_cache_dir))
        )

    return CopyGeneration(
        DynamoMaterialRepository(dynamodb, config.materials_table),
        DynamoCreativeRepository(dynamodb, config.creatives_table),
        DynamoRacingState(dynamodb, config.racing_state_table),
        S3ObjectStore(s3),
        writer,
        uploads_bucket=config.uploads_bucket,
        rules=GenerationRules(
            per_line_cap=config.per_line_cap,
            max_pending_review=config.max_pending_review,
            window_hours=config.window_hours,
        ),
        compliance=DynamoComplianceLists(dynamodb, config.line_settings_table),
    )


@dataclass(frozen=True)
class Idempotency:
    """Where Powertools keeps idempotency records, and how a record's key is taken from the event."""

    persistence: DynamoDBPersistenceLayer
    config: IdempotencyConfig


@cache
@_cold_start
def admission_idempotency() -> Idempotency:
    """What makes one object version's admission happen once.

    Imported here, not at module top: the API functions share this module and need none of it.
    """
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

    from creative.config import AdmissionConfig

    config = AdmissionConfig.from_env()
    return Idempotency(
        # The SDK client configured as every other batch client (Powertools' default waits 60 s per read).
        persistence=DynamoDBPersistenceLayer(table_name=config.idempotency_table, boto_config=BATCH_CLIENT),
        config=IdempotencyConfig(
            event_key_jmespath="[bucket, key, version_id, etag]",
            expires_after_seconds=7 * 24 * 3600,
        ),
    )
