"""Scheduled copy generation: new headlines for every business line that has admitted copy, written as an
upload so admission, tagging and review judge them like any other copy."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from creative import wiring

logger = Logger()
metrics = Metrics()


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@event_parser(model=EventBridgeModel)
def lambda_handler(event: EventBridgeModel, context: LambdaContext) -> dict[str, Any]:
    # The window comes from the schedule's own time, so a retry of the same event names the same window.
    reports = wiring.copy_generation().run(event.time, lambda: context.get_remaining_time_in_millis() / 1000)
    written = sum(len(r.written) for r in reports)
    metrics.add_metric("CopyLinesGenerated", MetricUnit.Count, written)
    outcomes: dict[str, int] = {}
    for report in reports:
        outcomes[report.outcome] = outcomes.get(report.outcome, 0) + 1
    # Bounded: counts per outcome and the first 20 lines that got copy.
    logger.info(
        "copy generation",
        extra={
            "outcomes": outcomes,
            "written": [
                {"line": r.business_line, "key": r.key, "lines": len(r.written)} for r in reports if r.written
            ][:20],
        },
    )
    return {"business_lines": len(reports), "written": written, "outcomes": outcomes}
