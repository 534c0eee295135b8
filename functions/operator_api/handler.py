"""Operator routes: materials with their reasons, creatives with racing stats, enabling/disabling creatives."""

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from creative import wiring
from creative.clock import iso, utc_now
from creative.http import new_resolver
from creative.materials import Material, MaterialStatus
from creative.operator import CreativePage, CreativeStats, CreativeStatusChange, MaterialPage, OperatorService

logger = Logger()
app = new_resolver(logger)

BusinessLine = Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
Limit = Annotated[int, Query(ge=1, le=200)]
NextToken = Annotated[str | None, Query(max_length=2048)]


def _service() -> OperatorService:
    return app.context["operator"]


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


def handle(event: dict[str, Any], context: LambdaContext, service: OperatorService) -> dict[str, Any]:
    app.append_context(operator=service)
    return app.resolve(event, context)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context, wiring.operator())
