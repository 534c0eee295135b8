"""POST /v1/select: one creative per request, chosen by Thompson sampling, logged with its propensity."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from creative import wiring
from creative.clock import utc_now
from creative.http import new_resolver
from creative.racing.schemas import SelectRequest, SelectResponse
from creative.racing.service import RacingService

logger = Logger()
app = new_resolver(logger)


@app.post("/v1/select", summary="Choose one creative for a request", tags=["racing"])
def select(request: SelectRequest) -> SelectResponse:
    racing: RacingService = app.context["racing"]
    # The API key that called: the impression is that client's, and only it may report on it.
    return racing.select(request, utc_now(), client_id=app.current_event.request_context.identity.api_key_id)


def handle(event: dict[str, Any], context: LambdaContext, racing: RacingService) -> dict[str, Any]:
    app.append_context(racing=racing)
    return app.resolve(event, context)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context, wiring.racing())
