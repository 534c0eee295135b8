"""POST /v1/feedback: a click or a conversion (with its value) on an impression, counted once."""

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from creative import wiring
from creative.clock import utc_now
from creative.json_route import JsonRoute
from creative.racing.schemas import FeedbackRequest, FeedbackResponse

if TYPE_CHECKING:  # built by wiring before the snapshot (SnapStart) or on the first request
    from creative.racing.service import FeedbackService

logger = Logger()
route = JsonRoute(
    "feedback",
    "POST",
    "/v1/feedback",
    FeedbackRequest,
    FeedbackResponse,
    summary="Report a click or a conversion (with its value) on an impression",
    tags=("racing",),
)


def handle(event: dict[str, Any], context: LambdaContext, service: "FeedbackService") -> dict[str, Any]:
    # Only the API key the impression was served to may report on it.
    return route.handle(
        event, lambda request, api_key_id: service.record(request, utc_now(), api_key_id), logger
    )


# Under SnapStart the service is built before the snapshot, and each restored container reseeds.
wiring.prepare_snapshot(wiring.feedback)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context, wiring.feedback())
