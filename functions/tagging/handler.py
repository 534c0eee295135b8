"""Tagging: "Material Admitted" events (EventBridge bus -> SQS) -> tags on each material and the tag index.

The batch is tagged together (copy lines share one encoder batch). A record whose material was tagged,
skipped or found untaggable succeeds; one whose write or read failed is reported as a batch item failure,
and when the models cannot load every record is, so SQS retries them and at last dead-letters them.
"""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from creative import wiring
from creative.clock import iso, utc_now
from creative.tagging.events import MaterialAdmitted
from creative.tagging.service import TaggingOutcome
from pydantic import ValidationError

logger = Logger()
metrics = Metrics()


def material_ids(records: list[dict[str, Any]]) -> tuple[dict[str, str], list[str]]:
    """message id -> material id for each well-formed record, and the ids of malformed ones (which no
    retry can fix: they are acknowledged with a log line)."""
    found, malformed = {}, []
    for record in records:
        try:
            event = EventBridgeModel.model_validate_json(record["body"])
            found[record["messageId"]] = MaterialAdmitted.model_validate(event.detail).material_id
        except (ValidationError, ValueError, KeyError):
            malformed.append(record.get("messageId", "?"))
    return found, malformed


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    found, malformed = material_ids(event.get("Records", []))
    if malformed:
        logger.error("malformed tagging events acknowledged", extra={"message_ids": malformed[:20]})
    try:
        results = wiring.tagging().tag(list(found.values()), now=iso(utc_now()))
    except Exception:
        logger.exception("tagging batch failed; every record goes back to the queue")
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in found]}
    for outcome in TaggingOutcome:
        metrics.add_metric(f"Materials{outcome.title().replace('_', '')}", MetricUnit.Count, 0)
    for result in results:
        metrics.add_metric(f"Materials{result.outcome.title().replace('_', '')}", MetricUnit.Count, 1)
    judged = [r.status for r in results if r.outcome in (TaggingOutcome.TAGGED, TaggingOutcome.UNTAGGABLE)]
    metrics.add_metric("MaterialsSentToReview", MetricUnit.Count, judged.count("NEEDS_REVIEW"))
    metrics.add_metric("MaterialsRejectedByModelChecks", MetricUnit.Count, judged.count("REJECTED"))
    logger.info(
        "tagged materials",
        extra={
            "results": [
                {"id": r.material_id, "outcome": r.outcome, "status": r.status, "tags": len(r.tags)}
                for r in results[:20]
            ]
        },
    )
    return {"batchItemFailures": []}
