"""POST /v1/feedback: a click or a conversion (with its value) on an impression, counted once."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from creative import wiring
from creative.clock import utc_now
from creative.http import new_resolver
from creative.racing.schemas import FeedbackRequest, FeedbackResponse
from creative.racing.service import FeedbackService

logger = Logger()
app = new_resolver(logger)


@app.post(
    "/v1/feedback",
    summary="Report a click or a conversion (with its value) on an impression",
    tags=["racing"],
)
def feedback(request: FeedbackRequest) -> FeedbackResponse:
    service: FeedbackService = app.context["feedback"]
    return service.record(request, utc_now(), client_id=app.current_event.request_context.identity.api_key_id)


def handle(event: dict[str, Any], context: LambdaContext, service: FeedbackService) -> dict[str, Any]:
    app.append_context(feedback=service)
    return app.resolve(event, context)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context, wiring.feedback())
