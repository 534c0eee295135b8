"""Scheduled sweep: composes admitted images × headlines of every business line into creatives."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from creative import wiring
from creative.clock import iso, utc_now

logger = Logger()
metrics = Metrics()


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@event_parser(model=EventBridgeModel)
def lambda_handler(event: EventBridgeModel, context: LambdaContext) -> dict[str, Any]:
    reports = wiring.composition().compose_all(now=iso(utc_now()))
    created = sum(r.created for r in reports)
    metrics.add_metric("CreativesComposed", MetricUnit.Count, created)
    changed = [r.__dict__ for r in reports if r.created or r.retagged or r.disabled]
    # Bounded: the lines that changed, at most 20 of them; the metric counts them all.
    logger.info(
        "composition sweep",
        extra={"schedule": event.resources, "business_lines": len(reports), "changed": changed[:20]},
    )
    return {"business_lines": len(reports), "created": created}
