"""The one declaration of Creative Engine's functions and the resources they touch.

The CDK stack builds every Lambda, trigger, environment variable and IAM grant from this list; the local
runtime serves what the synthesized template says, and the template is made from this list, so the two
cannot drift. Nothing here imports aws_cdk: it is plain data that tests and tools can read cheaply (the
one domain import is the racer's settings, whose defaults both racing functions carry).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from creative import materials
from creative.config import RacerSettings
from creative.tagging.events import EVENT_SOURCE as ADMISSION_EVENT_SOURCE
from creative.tagging.events import MATERIAL_ADMITTED

from infra.paths import BUILD_DIR, FUNCTIONS_DIR, LAYER_SOURCES_DIR

CREATIVE_LAYER_DIR = LAYER_SOURCES_DIR / "creative"
# Dependency layers: built from layers/<name>/requirements.txt into build/layers/<name>/python.
BUILT_LAYERS_DIR = BUILD_DIR / "layers"
DEPS_LAYER = "deps"  # every function carries it; FunctionSpec.layers names the others

STACK_NAME = "CreativeEngine"
SERVICE_NAME = "creative-engine"

# Logical names of the shared resources. Functions refer to these; the stack maps them to constructs.
Resource = Literal[
    "uploads_bucket",
    "assets_bucket",
    "upload_events_queue",
    "materials_table",
    "creatives_table",
    "racing_state_table",
    "impressions_table",
    "model_registry_table",
    "idempotency_table",
    "tags_table",
    "line_settings_table",
    "similarity_table",
    "material_events_bus",
    "tagging_queue",
]

UPLOAD_PREFIX = "uploads/"
# Images as users see them, upright and without metadata (admission writes them, select signs them).
SERVED_PREFIX = materials.SERVED_PREFIX
GENERATED_PREFIX = materials.GENERATED_PREFIX  # generated copy's provenance records
MODELS_PREFIX = "models/"
OBJECT_READ = ("s3:GetObject", "s3:GetObjectVersion")


@dataclass(frozen=True)
class ApiRoute:
    """A REST route. `api_key` routes sit behind a usage plan; `operator` routes use IAM auth on AWS."""

    method: Literal["GET", "POST", "PATCH", "PUT", "DELETE"]
    path: str
    auth: Literal["api_key", "operator"]


@dataclass(frozen=True)
class QueueTrigger:
    queue: Resource
    batch_size: int = 10
    max_batching_window_s: int = 1
    # At most this many concurrent invocations from the queue (2-1000). The cap belongs on the event source,
    # not in reserved concurrency: a throttled SQS batch goes back to the queue and counts as a receive, so
    # reserved concurrency below the pollers' scale would dead-letter messages that never ran.
    max_concurrency: int = 20


@dataclass(frozen=True)
class EventRoute:
    """Events of these detail types, published on `bus` by `source`, are delivered to `queue`."""

    bus: Resource
    source: str
    detail_types: tuple[str, ...]
    queue: Resource


@dataclass(frozen=True)
class ScheduleTrigger:
    expression: str  # EventBridge schedule expression, e.g. "rate(5 minutes)"
    # Lambda's own retries of a failed asynchronous run (0-2), and how old a run may be when it starts: a
    # long run is not retried blindly when the next scheduled one will do the same work.
    retries: int = 2
    max_event_age_s: int = 3600


Trigger = ApiRoute | QueueTrigger | ScheduleTrigger


@dataclass(frozen=True)
class Access:
    """An IAM grant: exactly these actions on one resource (for bucket objects, under one key prefix).

    Table actions apply to the table, and Query/Scan also to its indexes. `s3:ListBucket` applies to the
    bucket itself: without it S3 answers 403 instead of 404 for a missing key, which would turn "the object
    is gone" into an endless retry.
    """

    resource: Resource
    actions: tuple[str, ...]
    prefix: str | None = None  # buckets only


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # folder under functions/ and the function's logical name
    capability: str  # the CDK construct that owns it
    description: str
    config_model: str  # the class in creative.config that reads this function's environment at cold start
    triggers: tuple[Trigger, ...]
    access: tuple[Access, ...]
    # Environment variable -> resource whose physical name it carries.
    resource_env: dict[str, Resource] = field(default_factory=dict)
    # Literal environment variables (limits, tunables).
    env: dict[str, str] = field(default_factory=dict)
    # Extra layers beyond the shared `creative` and `deps` ones, by name (layers/<name>/requirements.txt).
    layers: tuple[str, ...] = ()
    memory_mb: int = 512
    timeout_s: int = 10
    # Concurrency kept for this function and capped at that (None: the account's shared pool). Deploys with
    # `-c creative:reservedConcurrency=false` leave it out, for accounts whose quota is too low to reserve.
    reserved_concurrency: int | None = None
    # Lambda SnapStart: the API invokes a published version through the `live` alias, restored from a
    # snapshot taken after the handler's init and its service's build (creative.wiring.prepare_snapshot),
    # so a new container skips both. For the request path, where a cold start is a late ad. Deploys with
    # `-c creative:snapStart=false` invoke $LATEST instead (no snapshot's cache and restore charges).
    snap_start: bool = False
    handler: str = "handler.lambda_handler"

    def __post_init__(self) -> None:
        # Only API routes invoke the live alias (infra.stack): a queue or a schedule would run $LATEST, which
        # SnapStart never snapshots.
        if self.snap_start and not all(isinstance(t, ApiRoute) for t in self.triggers):
            raise ValueError(f"{self.name}: SnapStart is for functions that only API routes invoke")

    @property
    def code_dir(self) -> Path:
        return FUNCTIONS_DIR / self.name


# Select and retraining must run the same racer: retraining scores policies as select would run them. Both
# carry the racer's defaults (RacerConfig's, through RacerSettings) in their environment, where an operator
# sees and tunes them; so does the operator API, whose asset labels weigh evidence with the racer's decay.
RACER_ENV = RacerSettings.default_environment()
# Where arms, impressions and CTR models live: select and retraining read the same stores.
RACING_STORES_ENV: dict[str, Resource] = {
    "CREATIVES_TABLE": "creatives_table",
    "RACING_STATE_TABLE": "racing_state_table",
    "IMPRESSIONS_TABLE": "impressions_table",
    "MODEL_REGISTRY_TABLE": "model_registry_table",
    "ASSETS_BUCKET": "assets_bucket",
}

# What the stack's own event bus carries, and where: a queue per consumer, so it batches, retries and
# dead-letters on its own.
EVENT_ROUTES: tuple[EventRoute, ...] = (
    EventRoute("material_events_bus", ADMISSION_EVENT_SOURCE, (MATERIAL_ADMITTED,), "tagging_queue"),
)

FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        name="admission",
        capability="admission",
        description="Admits or rejects each uploaded image and copy line; one material record each.",
        config_model="AdmissionConfig",
        triggers=(
            QueueTrigger(
                queue="upload_events_queue", batch_size=10, max_batching_window_s=2, max_concurrency=20
            ),
        ),
        access=(
            Access("uploads_bucket", (*OBJECT_READ, "s3:ListBucket"), UPLOAD_PREFIX),
            Access("uploads_bucket", ("s3:PutObject",), SERVED_PREFIX),
            Access("materials_table", ("dynamodb:GetItem", "dynamodb:PutItem")),
            Access(
                "idempotency_table",
                ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"),
            ),
            Access("material_events_bus", ("events:PutEvents",)),  # announces admitted materials
            # Each line's compliance list and quality thresholds.
            Access("line_settings_table", ("dynamodb:GetItem",)),
        ),
        resource_env={
            "MATERIALS_TABLE": "materials_table",
            "IDEMPOTENCY_TABLE": "idempotency_table",
            "MATERIAL_EVENTS_BUS": "material_events_bus",
            "LINE_SETTINGS_TABLE": "line_settings_table",
        },
        memory_mb=1024,
        timeout_s=60,
    ),
    FunctionSpec(
        name="tagging",
        capability="tagging",
        description=(
            "Tags each announced image and copy line (IAB categories, selling points, image facts) and runs "
            "the model quality checks: spam likeness and near-duplicates within the business line."
        ),
        config_model="TaggingConfig",
        triggers=(
            QueueTrigger(queue="tagging_queue", batch_size=10, max_batching_window_s=1, max_concurrency=10),
        ),
        access=(
            # Read (a batch's materials in one BatchGetItem), then written back whole and conditionally
            # (revision): tags, state, labels kept.
            Access("materials_table", ("dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem")),
            Access("tags_table", ("dynamodb:BatchWriteItem",)),
            # GetObject also allows HEAD (is the admitted version still the current one?); ListBucket
            # makes a deleted object a 404 rather than a 403.
            Access("uploads_bucket", (*OBJECT_READ, "s3:ListBucket"), UPLOAD_PREFIX),
            Access("assets_bucket", ("s3:GetObject", "s3:ListBucket"), MODELS_PREFIX),  # the three models
            # The near-duplicate index: a lookup is two BatchGetItems (buckets, then fingerprints); filing
            # and (stale) removal are one transaction each, of Put, Update and Delete actions; removal
            # first reads the keys the fingerprint was filed under.
            Access(
                "similarity_table",
                (
                    "dynamodb:BatchGetItem",
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                ),
            ),
            Access("line_settings_table", ("dynamodb:GetItem",)),  # each line's quality thresholds
        ),
        resource_env={
            "MATERIALS_TABLE": "materials_table",
            "TAGS_TABLE": "tags_table",
            "ASSETS_BUCKET": "assets_bucket",
            "SIMILARITY_TABLE": "similarity_table",
            "LINE_SETTINGS_TABLE": "line_settings_table",
        },
        # Two encoders in memory (about 600 MB resident); 2 GB also buys more than one vCPU.
        memory_mb=2048,
        timeout_s=120,
    ),
    FunctionSpec(
        name="compose_creatives",
        capability="composition",
        description="Composes admitted images and copy of each business line into bounded creatives.",
        config_model="CompositionConfig",
        triggers=(ScheduleTrigger(expression="rate(5 minutes)"),),
        access=(
            Access("materials_table", ("dynamodb:Query", "dynamodb:Scan")),
            # UpdateItem: a creative's tags follow its elements' (set_tags).
            Access("creatives_table", ("dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem")),
        ),
        resource_env={
            "MATERIALS_TABLE": "materials_table",
            "CREATIVES_TABLE": "creatives_table",
        },
        memory_mb=512,
        timeout_s=120,
    ),
    FunctionSpec(
        name="select",
        capability="racing_api",
        description="Chooses one creative per request by Thompson sampling and logs the impression.",
        config_model="SelectConfig",
        triggers=(ApiRoute("POST", "/v1/select", "api_key"),),
        access=(
            Access("creatives_table", ("dynamodb:Query",)),
            # Counters and learner statistics: the line's shards in one query, each impression's ADDs.
            Access("racing_state_table", ("dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:UpdateItem")),
            Access("impressions_table", ("dynamodb:PutItem",)),
            Access("uploads_bucket", OBJECT_READ, SERVED_PREFIX),  # signs URLs of served renditions only
            Access("model_registry_table", ("dynamodb:GetItem",)),  # the active CTR model's pointer
            # ListBucket: without it a missing artifact is a 403, which would read as "retry", not "gone".
            Access("assets_bucket", ("s3:GetObject", "s3:ListBucket"), MODELS_PREFIX),
            # Banned claims that filled phrases are checked against (read once a minute per line).
            Access("line_settings_table", ("dynamodb:GetItem",)),
        ),
        resource_env={**RACING_STORES_ENV, "LINE_SETTINGS_TABLE": "line_settings_table"},
        env=RACER_ENV,
        memory_mb=1024,
        timeout_s=5,
        snap_start=True,
    ),
    FunctionSpec(
        name="generate_copy",
        capability="copy_generation",
        description="Writes new headlines per business line from its best performers; admission judges them.",
        config_model="GenerationConfig",
        # Every 6 hours: copy wears out over days, and a line's review queue should see a handful of new
        # lines per window, not a flood. One run per window: a retry finds the window's file and stops.
        triggers=(ScheduleTrigger(expression="rate(6 hours)", retries=1, max_event_age_s=3600),),
        access=(
            Access("materials_table", ("dynamodb:Query", "dynamodb:Scan")),
            Access("creatives_table", ("dynamodb:Query",)),
            Access("racing_state_table", ("dynamodb:Query",)),  # the best performers' totals
            Access("line_settings_table", ("dynamodb:GetItem",)),  # compliance lists, checked before writing
            # Writes the copy file into uploads/ (its event starts admission); HeadObject finds a window
            # already written, and ListBucket makes a missing key a 404 rather than a 403.
            Access("uploads_bucket", ("s3:GetObject", "s3:PutObject", "s3:ListBucket"), UPLOAD_PREFIX),
            Access("uploads_bucket", ("s3:PutObject",), GENERATED_PREFIX),  # provenance records
            Access("assets_bucket", ("s3:GetObject", "s3:ListBucket"), MODELS_PREFIX),  # the generator
        ),
        resource_env={
            "MATERIALS_TABLE": "materials_table",
            "CREATIVES_TABLE": "creatives_table",
            "RACING_STATE_TABLE": "racing_state_table",
            "UPLOADS_BUCKET": "uploads_bucket",
            "LINE_SETTINGS_TABLE": "line_settings_table",
            "ASSETS_BUCKET": "assets_bucket",
        },
        layers=("generation",),
        # The 287 MB model in memory and onnxruntime's buffers; 2 GB also buys more than one vCPU.
        memory_mb=2048,
        timeout_s=600,
        reserved_concurrency=1,  # one run at a time: two would race for the same windows
    ),
    FunctionSpec(
        name="retrain_ctr",
        capability="retraining",
        description="Trains a challenger CTR model hourly; promotes it only if it beats the champion off-policy.",
        config_model="RetrainingConfig",
        # A failed 15-minute run is not retried: the next hourly run trains on the same rows and more.
        triggers=(ScheduleTrigger(expression="rate(1 hour)", retries=0, max_event_age_s=900),),
        access=(
            # The window's impressions, one Query per day and shard of the by_day index; never a Scan.
            Access("impressions_table", ("dynamodb:Query",)),
            Access("creatives_table", ("dynamodb:Query", "dynamodb:Scan")),
            Access("model_registry_table", ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query")),
            Access("assets_bucket", ("s3:GetObject", "s3:PutObject", "s3:ListBucket"), MODELS_PREFIX),
        ),
        resource_env=RACING_STORES_ENV,
        env=RACER_ENV,
        layers=("training",),
        memory_mb=2048,
        timeout_s=900,
        reserved_concurrency=1,  # one run at a time: two would train and judge the same rows
    ),
    FunctionSpec(
        name="feedback",
        capability="racing_api",
        description="Records a click once per impression: its counters and the online learner's update.",
        config_model="FeedbackConfig",
        triggers=(ApiRoute("POST", "/v1/feedback", "api_key"),),
        access=(
            Access("impressions_table", ("dynamodb:GetItem", "dynamodb:UpdateItem")),
            Access("racing_state_table", ("dynamodb:UpdateItem",)),
        ),
        resource_env={
            "RACING_STATE_TABLE": "racing_state_table",
            "IMPRESSIONS_TABLE": "impressions_table",
        },
        memory_mb=512,
        timeout_s=5,
        snap_start=True,
    ),
    FunctionSpec(
        name="operator_api",
        capability="operator_api",
        description="Operator reads and edits: materials with reasons and tags, creatives with racing stats.",
        config_model="OperatorConfig",
        env=RACER_ENV,
        triggers=(
            ApiRoute("GET", "/v1/materials", "operator"),
            ApiRoute("GET", "/v1/materials/{material_id}", "operator"),
            ApiRoute("GET", "/v1/materials/{material_id}/image", "operator"),
            ApiRoute("POST", "/v1/uploads", "operator"),
            ApiRoute("POST", "/v1/materials/{material_id}/tags", "operator"),
            ApiRoute("POST", "/v1/materials/{material_id}/decision", "operator"),
            ApiRoute("GET", "/v1/compliance/{business_line}", "operator"),
            ApiRoute("PUT", "/v1/compliance/{business_line}", "operator"),
            ApiRoute("GET", "/v1/compliance/{business_line}/versions", "operator"),
            ApiRoute("GET", "/v1/quality-policy/{business_line}", "operator"),
            ApiRoute("PUT", "/v1/quality-policy/{business_line}", "operator"),
            ApiRoute("GET", "/v1/racing-objective/{business_line}", "operator"),
            ApiRoute("PUT", "/v1/racing-objective/{business_line}", "operator"),
            ApiRoute("GET", "/v1/tags", "operator"),
            ApiRoute("GET", "/v1/tags/{tag}/materials", "operator"),
            ApiRoute("GET", "/v1/tag-labels", "operator"),
            ApiRoute("GET", "/v1/creatives", "operator"),
            ApiRoute("PATCH", "/v1/creatives/{creative_id}", "operator"),
            ApiRoute("GET", "/v1/recall-rules/{business_line}", "operator"),
            ApiRoute("PUT", "/v1/recall-rules/{business_line}", "operator"),
            ApiRoute("GET", "/v1/placements", "operator"),
            ApiRoute("GET", "/v1/phrase-banks/{business_line}", "operator"),
            ApiRoute("PUT", "/v1/phrase-banks/{business_line}", "operator"),
            ApiRoute("POST", "/v1/phrase-banks/{business_line}/preview", "operator"),
            ApiRoute("GET", "/v1/templates/{business_line}", "operator"),
            ApiRoute("PUT", "/v1/templates/{business_line}", "operator"),
            ApiRoute("GET", "/v1/asset-labels/{business_line}", "operator"),
            ApiRoute("GET", "/v1/racing-models", "operator"),
            ApiRoute("GET", "/v1/racing-timeline/{business_line}", "operator"),
        ),
        access=(
            # PutItem: tag edits write the material back conditionally (revision).
            Access(
                "materials_table", ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:PutItem")
            ),
            Access("creatives_table", ("dynamodb:Query", "dynamodb:Scan", "dynamodb:UpdateItem")),
            # Each listed creative's totals; a line's racing objective (read with the line, set on its item);
            # its recall rules and phrase bank (PutItem: saved whole, conditional on their version).
            Access(
                "racing_state_table",
                ("dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:UpdateItem", "dynamodb:PutItem"),
            ),
            Access("tags_table", ("dynamodb:Query", "dynamodb:BatchWriteItem")),
            # Compliance lists: read, and saved with their history in one transaction (PutItem on each).
            Access("line_settings_table", ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem")),
            # A material an operator admits that never went through the model checks is announced.
            Access("material_events_bus", ("events:PutEvents",)),
            Access("uploads_bucket", OBJECT_READ, UPLOAD_PREFIX),  # signs image URLs (originals, for review)
            Access("uploads_bucket", OBJECT_READ, SERVED_PREFIX),  # and of served renditions (thumbnails)
            # Signs browser upload forms (presigned POST): the upload is made with this role's grant.
            Access("uploads_bucket", ("s3:PutObject",), UPLOAD_PREFIX),
            # The tagger's vocabulary (tagger.json), to validate and name the tags operators add.
            Access("assets_bucket", ("s3:GetObject", "s3:ListBucket"), MODELS_PREFIX),
            # The active CTR model's pointer and the retraining runs' reports (read only).
            Access("model_registry_table", ("dynamodb:GetItem", "dynamodb:Query")),
            # The racing timeline: a window's impressions, one Query per day and shard of the by_day index
            # (read only; never a Scan).
            Access("impressions_table", ("dynamodb:Query",)),
        ),
        resource_env={
            "MATERIALS_TABLE": "materials_table",
            "CREATIVES_TABLE": "creatives_table",
            "RACING_STATE_TABLE": "racing_state_table",
            "TAGS_TABLE": "tags_table",
            "LINE_SETTINGS_TABLE": "line_settings_table",
            "MATERIAL_EVENTS_BUS": "material_events_bus",
            "ASSETS_BUCKET": "assets_bucket",
            "UPLOADS_BUCKET": "uploads_bucket",
            "MODEL_REGISTRY_TABLE": "model_registry_table",
            "IMPRESSIONS_TABLE": "impressions_table",
        },
        memory_mb=512,
        timeout_s=10,
    ),
)


def function_by_name(name: str) -> FunctionSpec:
    for spec in FUNCTIONS:
        if spec.name == name:
            return spec
    raise KeyError(name)


def extra_layer_names() -> list[str]:
    """The dependency layers beyond `deps` that some function lists, in a stable order."""
    return sorted({layer for spec in FUNCTIONS for layer in spec.layers})
