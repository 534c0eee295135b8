"""Admission: S3 upload events (via EventBridge → SQS) → one material record per image or copy line.

A record whose object was admitted or rejected succeeds; a transient failure is reported as a batch item
failure, so SQS retries only that message and dead-letters it after the redrive limit.
"""

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from creative import wiring
from creative.admission.service import AdmissionResult
from creative.clock import iso, utc_now
from creative.uploads import UploadedObject

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)
# A record is started only with this much of the 60 s timeout left (a quarter, for the largest record
# allowed: a 10 MB image read, decoded and checked; not measured at that size): the rest of a slow batch is
# reported as failures, so SQS redelivers just those instead of the whole batch timing out and
# redelivering everything until it dead-letters.
RESERVE_MS = 15_000


class OutOfTime(Exception):
    """Not started: the function would time out before this record is done."""


@cache
def admit_once():
    """Admission of one object version, at most once: a replayed event gets the stored result back."""
    idempotency = wiring.admission_idempotency()

    @idempotent_function(
        data_keyword_argument="upload",
        persistence_store=idempotency.persistence,
        config=idempotency.config,
        output_serializer=PydanticSerializer(model=AdmissionResult),
    )
    def admit(upload: UploadedObject) -> AdmissionResult:
        result = wiring.admission().admit(upload, now=iso(utc_now()))
        # Counted here, inside the idempotent call, so a replay does not count the same materials twice.
        metrics.add_metric("MaterialsAdmitted", MetricUnit.Count, len(result.admitted))
        metrics.add_metric("MaterialsRejected", MetricUnit.Count, len(result.rejected))
        return result

    return admit


def admit_record(record: SQSRecord, lambda_context: LambdaContext | None = None) -> None:
    if lambda_context is not None and lambda_context.get_remaining_time_in_millis() < RESERVE_MS:
        raise OutOfTime(f"{lambda_context.get_remaining_time_in_millis()} ms left; retried in the next batch")
    event = S3EventNotificationEventBridgeModel.model_validate_json(record.body)
    obj = event.detail.object
    upload = UploadedObject.from_event(event.detail.bucket.name, obj.key, obj.size, obj.etag, obj.version_id)
    try:
        result = admit_once()(upload=upload)
    except Exception as error:
        # The batch processor only reports the message id back to SQS; this line is what says which upload
        # is being retried (and, after the redrive limit, dead-lettered) and why.
        logger.warning(
            "upload not admitted; SQS retries it, then dead-letters it",
            extra={
                "upload": upload.model_dump(),
                "message_id": record.message_id,
                "receive_count": record.attributes.approximate_receive_count,
                "error": f"{type(error).__name__}: {error}"[:500],
            },
        )
        raise
    logger.info("admitted upload", extra={"upload": upload.model_dump(), "result": result.log_summary()})


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    wiring.admission_idempotency().config.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=admit_record, processor=processor, context=context
    )
