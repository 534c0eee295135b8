"""POST /v1/select: one creative per request, chosen by Thompson sampling, logged with its propensity."""

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from creative import wiring
from creative.clock import utc_now
from creative.json_route import JsonRoute
from creative.racing.schemas import SelectRequest, SelectResponse

if TYPE_CHECKING:  # built by wiring before the snapshot (SnapStart) or on the first request
    from creative.racing.service import RacingService

logger = Logger()
route = JsonRoute(
    "select",
    "POST",
    "/v1/select",
    SelectRequest,
    SelectResponse,
    summary="Choose one creative for a request",
    tags=("racing",),
)


def handle(event: dict[str, Any], context: LambdaContext, racing: "RacingService") -> dict[str, Any]:
    # The API key that called: the impression is that client's, and only it may report on it.
    return route.handle(
        event, lambda request, api_key_id: racing.select(request, utc_now(), api_key_id), logger
    )


# Under SnapStart the service is built before the snapshot, with the CTR model's runtime imported (its
# first request loads the promoted model), and each restored container reseeds.
wiring.prepare_snapshot(wiring.racing, also_import=("onnxruntime",))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context, wiring.racing())
