"""Scheduled retraining: a challenger CTR model is trained and promoted only if it beats the champion."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from creative import wiring
from creative.racing.retraining import RetrainingOutcome

logger = Logger()
metrics = Metrics()


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@event_parser(model=EventBridgeModel)
def lambda_handler(event: EventBridgeModel, context: LambdaContext) -> dict[str, Any]:
    # The event's own time, not the clock: a retried event trains on the same window and changes nothing.
    report = wiring.retraining().run(event.time)
    metrics.add_metric(
        "ChallengerPromoted", MetricUnit.Count, int(report.outcome is RetrainingOutcome.PROMOTED)
    )
    logger.info("retraining run", extra={"report": report.model_dump(mode="json")})
    return report.model_dump(mode="json")
