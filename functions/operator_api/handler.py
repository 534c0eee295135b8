"""Operator routes: materials with their reasons, creatives with racing stats, enabling/disabling creatives."""

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from creative import wiring
from creative.clock import iso, utc_now
from creative.http import new_resolver
from creative.line_templates import LineTemplate, LineTemplateChange
from creative.materials import Material, MaterialStatus
from creative.operator import (
    ComplianceChange,
    ComplianceVersions,
    CreativePage,
    CreativeStats,
    CreativeStatusChange,
    LineObjective,
    MaterialImage,
    MaterialPage,
    OperatorService,
    PolicyChange,
    QualityPolicyView,
    RacingModels,
    RacingObjective,
    ReviewDecision,
    TagChange,
    TaggedMaterialPage,
    TagLabelPage,
    TagVocabularyPage,
)
from creative.phrase_banks import PhraseBank
from creative.placements import PLACEMENTS, PlacementSpec
from creative.quality.compliance import ComplianceList
from creative.racing_settings import (
    AssetLabelPage,
    PhraseBankChange,
    PhrasePreviewPage,
    PhrasePreviewRequest,
    RacingSettings,
    RecallRulesChange,
)
from creative.racing_timeline import RacingTimeline, TimelineLimits
from creative.recall.rules import RecallRules
from creative.tags import TAG_ID_PATTERN
from creative.upload_forms import UploadForm, UploadRequest

logger = Logger()
app = new_resolver(logger)

BusinessLine = Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
LineOrAll = Annotated[str, Path(pattern=r"^(\*|[a-z0-9][a-z0-9_-]{0,62})$")]  # "*": the list for every line
Line = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
Limit = Annotated[int, Query(ge=1, le=200)]
NextToken = Annotated[str | None, Query(max_length=2048)]


def _service() -> OperatorService:
    return app.context["operator"]


def _settings() -> RacingSettings:
    return _service().racing_settings


@app.get(
    "/v1/materials",
    summary="List materials (by business line and status, or by content hash)",
    tags=["operator"],
)
def list_materials(
    business_line: BusinessLine = None,
    status: Annotated[MaterialStatus | None, Query()] = None,
    content_hash: Annotated[str | None, Query(pattern=r"^[0-9a-f]{64}$")] = None,
    limit: Limit = 50,
    next_token: NextToken = None,
) -> MaterialPage:
    return _service().list_materials(
        business_line=business_line,
        status=status,
        limit=limit,
        next_token=next_token,
        content_hash=content_hash,
    )


@app.get("/v1/materials/<material_id>", summary="One material with its rejection reasons", tags=["operator"])
def get_material(material_id: Annotated[str, Path(max_length=128)]) -> Material:
    return _service().get_material(material_id)


@app.get(
    "/v1/materials/<material_id>/image",
    summary="A short-lived signed URL of a material's image (its served rendition, else the upload)",
    tags=["operator"],
)
def material_image(material_id: Annotated[str, Path(max_length=128)]) -> MaterialImage:
    return _service().material_image(material_id)


@app.post(
    "/v1/uploads",
    summary="A presigned POST that uploads one file into the uploads prefix (admission then runs on it)",
    tags=["operator"],
)
def upload_form(request: UploadRequest) -> UploadForm:
    return _service().upload_form(request)


@app.post(
    "/v1/materials/<material_id>/tags",
    summary="Add or remove tags of a material (kept as operator labels the tagger never undoes)",
    tags=["operator"],
)
def change_tags(material_id: Annotated[str, Path(max_length=128)], change: TagChange) -> Material:
    return _service().change_tags(material_id, change, by=_operator(), now=iso(utc_now()))


@app.post(
    "/v1/materials/<material_id>/decision",
    summary="Admit or reject a material, with a comment (kept in its audit trail)",
    tags=["operator"],
)
def decide(material_id: Annotated[str, Path(max_length=128)], decision: ReviewDecision) -> Material:
    return _service().decide(material_id, decision, by=_operator(), now=iso(utc_now()))


@app.get("/v1/compliance/<business_line>", summary="A business line's compliance list", tags=["operator"])
def get_compliance(business_line: LineOrAll) -> ComplianceList:
    return _service().compliance(business_line)


@app.put(
    "/v1/compliance/<business_line>",
    summary="Save a business line's compliance list as its next version ('*': every line)",
    tags=["operator"],
)
def save_compliance(business_line: LineOrAll, change: ComplianceChange) -> ComplianceList:
    return _service().save_compliance(business_line, change, by=_operator(), now=iso(utc_now()))


@app.get(
    "/v1/compliance/<business_line>/versions",
    summary="Every saved version of a business line's compliance list, newest first",
    tags=["operator"],
)
def compliance_versions(business_line: LineOrAll) -> ComplianceVersions:
    return _service().compliance_versions(business_line)


@app.get(
    "/v1/quality-policy/<business_line>",
    summary="A business line's quality thresholds: its overrides and the effective policy",
    tags=["operator"],
)
def get_quality_policy(business_line: Line) -> QualityPolicyView:
    return _service().quality_policy(business_line)


@app.put(
    "/v1/quality-policy/<business_line>",
    summary="Replace a business line's threshold overrides (e.g. its spam cut-offs)",
    tags=["operator"],
)
def save_quality_policy(business_line: Line, change: PolicyChange) -> QualityPolicyView:
    return _service().save_quality_policy(business_line, change, by=_operator(), now=iso(utc_now()))


@app.get(
    "/v1/racing-objective/<business_line>",
    summary="What a business line's racer optimises: clicks, conversions or conversion value",
    tags=["operator"],
)
def get_racing_objective(business_line: Line) -> LineObjective:
    return _service().racing_objective(business_line)


@app.put(
    "/v1/racing-objective/<business_line>",
    summary="Choose what a business line's racer optimises",
    tags=["operator"],
)
def set_racing_objective(business_line: Line, change: RacingObjective) -> LineObjective:
    return _service().set_racing_objective(business_line, change)


@app.get("/v1/tags", summary="Every tag the system can give, with its name", tags=["operator"])
def list_tags() -> TagVocabularyPage:
    return _service().vocabulary()


@app.get(
    "/v1/tags/<tag>/materials",
    summary="The materials of a business line that carry a tag (the tag index recall reads)",
    tags=["operator"],
)
def tagged_materials(
    tag: Annotated[str, Path(pattern=TAG_ID_PATTERN)],
    business_line: Annotated[str, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")],
    limit: Limit = 100,
    next_token: NextToken = None,
) -> TaggedMaterialPage:
    return _service().tagged_materials(business_line, tag, limit=limit, next_token=next_token)


@app.get(
    "/v1/tag-labels", summary="Operator tag labels: the training data of the next tagger", tags=["operator"]
)
def tag_labels(limit: Limit = 100, next_token: NextToken = None) -> TagLabelPage:
    return _service().tag_labels(limit=limit, next_token=next_token)


def _operator() -> str:
    """Who is calling: the console user the Cognito authorizer verified, else the IAM principal API Gateway
    authenticated (locally, the operator key's user)."""
    context = app.current_event.request_context
    claims = (context.authorizer.claims if context.authorizer else None) or {}
    identity = context.identity
    return (
        claims.get("email")
        or claims.get("cognito:username")
        or (identity.user_arn if identity else None)
        or "operator"
    )


@app.get("/v1/creatives", summary="Creatives with impressions, clicks, CTR and posterior", tags=["operator"])
def list_creatives(
    business_line: BusinessLine = None, limit: Limit = 100, next_token: NextToken = None
) -> CreativePage:
    return _service().list_creatives(business_line=business_line, limit=limit, next_token=next_token)


@app.patch("/v1/creatives/<creative_id>", summary="Enable or disable a creative", tags=["operator"])
def set_creative_status(
    creative_id: Annotated[str, Path(max_length=128)], change: CreativeStatusChange
) -> CreativeStats:
    return _service().set_creative_status(creative_id, change, now=iso(utc_now()))


@app.get(
    "/v1/recall-rules/<business_line>",
    summary="The line's recall rules: pins, blocks, schedules, user features mapped to tags, quotas",
    tags=["recall"],
)
def get_recall_rules(business_line: Line) -> RecallRules:
    return _settings().recall_rules(business_line)


@app.put(
    "/v1/recall-rules/<business_line>",
    summary="Replace the line's recall rules (conditional on the version read); select applies them within seconds",
    tags=["recall"],
)
def put_recall_rules(business_line: Line, change: RecallRulesChange) -> RecallRules:
    return _settings().save_recall_rules(business_line, change, by=_operator(), now=iso(utc_now()))


@app.get(
    "/v1/placements",
    summary="Placements: the image shapes each accepts and its slots (image, headline, phrase, cta)",
    tags=["phrases"],
)
def list_placements() -> dict[str, PlacementSpec]:
    return PLACEMENTS


@app.get("/v1/phrase-banks/<business_line>", summary="The line's phrase bank", tags=["phrases"])
def get_phrase_bank(business_line: Line) -> PhraseBank:
    return _settings().phrase_bank(business_line)


@app.put(
    "/v1/phrase-banks/<business_line>",
    summary="Replace the line's phrase bank (conditional on the version read)",
    tags=["phrases"],
)
def put_phrase_bank(business_line: Line, change: PhraseBankChange) -> PhraseBank:
    return _settings().save_phrase_bank(business_line, change, by=_operator(), now=iso(utc_now()))


@app.post(
    "/v1/phrase-banks/<business_line>/preview",
    summary="Each phrase filled for a product, and why it would not be served",
    tags=["phrases"],
)
def preview_phrases(business_line: Line, request: PhrasePreviewRequest) -> PhrasePreviewPage:
    return _settings().preview(business_line, request)


@app.get(
    "/v1/templates/<business_line>",
    summary="The line's creative template: race composed creatives, or every slot per element",
    tags=["templates"],
)
def get_template(business_line: Line) -> LineTemplate:
    return _settings().template(business_line)


@app.put(
    "/v1/templates/<business_line>",
    summary="Replace the line's creative template (conditional on the version read)",
    tags=["templates"],
)
def put_template(business_line: Line, change: LineTemplateChange) -> LineTemplate:
    return _settings().save_template(business_line, change, by=_operator(), now=iso(utc_now()))


@app.get(
    "/v1/asset-labels/<business_line>",
    summary="PENDING / LEARNING / LOW / GOOD / BEST per image, headline, phrase and creative, with the why",
    tags=["labels"],
)
def asset_labels(business_line: Line) -> AssetLabelPage:
    return _settings().asset_labels(business_line, utc_now())


@app.get(
    "/v1/racing-models",
    summary="The CTR model select serves and the latest retraining runs with their off-policy outcome",
    tags=["operator"],
)
def racing_models(limit: Annotated[int, Query(ge=1, le=100)] = 20) -> RacingModels:
    return _service().racing_models(limit=limit)


@app.get(
    "/v1/racing-timeline/<business_line>",
    summary="A line's racing per hour: the racer's CTR against the uniform policy's (an off-policy estimate), "
    "the model versions serving, and each creative's posterior CTR with its 90% interval",
    tags=["operator"],
)
def racing_timeline(
    business_line: Line,
    hours: Annotated[int, Query(ge=1, le=TimelineLimits.max_hours)] = 24,
    creative_id: Annotated[str | None, Query(max_length=128)] = None,
) -> RacingTimeline:
    return _service().racing_timeline(business_line, hours, now=utc_now(), creative_id=creative_id)


def handle(event: dict[str, Any], context: LambdaContext, service: OperatorService) -> dict[str, Any]:
    app.append_context(operator=service)
    return app.resolve(event, context)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context, wiring.operator())
