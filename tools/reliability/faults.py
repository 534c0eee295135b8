"""AWS faults injected under the handlers, on the local runtime: no upload event is dropped.

A WSGI middleware in front of moto answers some of the handlers' DynamoDB and S3 calls as AWS does when
it throttles or fails (400 ThrottlingException, 500 InternalServerError, 503 SlowDown, 500 InternalError),
so the adapters see real botocore errors after botocore's own retries. Uploads go in while it does:

- "doomed" uploads fail every S3 read: each must end in the dead-letter queue after the redrive limit, and
  the admission log must name it;
- the other uploads fail some reads and writes: each must end with a material record (retried by SQS as a
  batch item failure, or by botocore).

Then the faults stop, the dead-letter queue is redriven into the upload queue, and every upload must have
its record: events_lost = uploads without one.

`lost_answers` holds back the answers of select's writes after they landed (past its client's read timeout,
so the SDK retries them): the creative's counter must still equal the impressions logged.
"""

from __future__ import annotations

import dataclasses
import io
import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from demo.image_files import package_file
from local_runtime.queues import LONG_POLL_S
from PIL import Image

# Short enough that five receives take seconds, not the stack's six minutes (set on the local queue only).
VISIBILITY_TIMEOUT_S = 1
LINE = "faults"
DOOMED_PREFIX = f"uploads/{LINE}/doomed/"
PHOTOS = ("astronaut.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "camera.png", "coins.png")

_DYNAMODB_ERRORS = (
    (400, "ThrottlingException", "Rate of requests exceeds the allowed throughput."),
    (
        400,
        "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput was exceeded.",
    ),
    (500, "InternalServerError", "Internal server error"),
)
_S3_ERRORS = (
    (503, "SlowDown", "Please reduce your request rate."),
    (500, "InternalError", "We encountered an internal error."),
)


@dataclass(frozen=True)
class FaultRule:
    """Fail this share of the calls that match: DynamoDB `operations` on `table`, or S3 reads under `key_prefix`."""

    probability: float
    table: str | None = None
    operations: tuple[str, ...] = ()
    bucket: str | None = None
    key_prefix: str = ""
    # > 0: not an error but a lost answer: the call reaches moto (the write lands) and its answer is held
    # back this long, past the caller's read timeout.
    late_answer_s: float = 0.0


class FaultInjector:
    """WSGI middleware in front of moto; `injected` counts the faults it answered, by error code."""

    def __init__(self, app: Any, rules: list[FaultRule], seed: int = 0) -> None:
        self._app = app
        self._rules = list(rules)
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.enabled = True
        self.injected: Counter[str] = Counter()

    def __call__(self, environ: dict, start_response: Any) -> Any:
        if self.enabled:
            fault = self._fault_for(environ)
            if fault is not None:
                return fault(start_response)
        return self._app(environ, start_response)

    def _fault_for(self, environ: dict) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("DynamoDB_"):
            tables = _tables_named(json.loads(_peek_body(environ) or b"{}"))
            operation = target.split(".", 1)[1]
            for rule in self._rules:
                if rule.table in tables and operation in rule.operations and self._draw(rule):
                    if rule.late_answer_s:
                        return self._late_answer(environ, rule.late_answer_s)
                    return self._dynamodb_error()
            return None
        if environ["REQUEST_METHOD"] in ("GET", "HEAD"):
            path = environ.get("PATH_INFO", "")
            for rule in self._rules:
                if rule.bucket and path.startswith(f"/{rule.bucket}/{rule.key_prefix}") and self._draw(rule):
                    return self._s3_error(environ["REQUEST_METHOD"])
        return None

    def _draw(self, rule: FaultRule) -> bool:
        with self._lock:
            return self._random.random() < rule.probability

    def _choice(self, errors):
        with self._lock:
            status, code, message = self._random.choice(errors)
            self.injected[code] += 1
        return status, code, message

    def _late_answer(self, environ: dict, delay_s: float) -> Any:
        with self._lock:
            self.injected["LateAnswer"] += 1

        def answer(start_response: Any) -> Any:
            body = self._app(environ, start_response)
            time.sleep(delay_s)
            return body

        return answer

    def _dynamodb_error(self) -> Any:
        status, code, message = self._choice(_DYNAMODB_ERRORS)
        body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}).encode()
        return _respond(status, "application/x-amz-json-1.0", body)

    def _s3_error(self, method: str) -> Any:
        status, code, message = self._choice(_S3_ERRORS)
        body = f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
        return _respond(status, "application/xml", b"" if method == "HEAD" else body.encode())


def _tables_named(request: dict) -> set[str]:
    """The tables a DynamoDB request touches (a transaction names one per item)."""
    tables = {request["TableName"]} if "TableName" in request else set()
    for item in request.get("TransactItems", []):
        tables |= {action["TableName"] for action in item.values() if "TableName" in action}
    return tables


def _peek_body(environ: dict) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _respond(status: int, content_type: str, body: bytes) -> Any:
    reasons = {400: "Bad Request", 500: "Internal Server Error", 503: "Service Unavailable"}

    def answer(start_response: Any) -> list[bytes]:
        start_response(
            f"{status} {reasons[status]}",
            [
                ("Content-Type", content_type),
                ("Content-Length", str(len(body))),
                ("x-amzn-RequestId", "fault"),
            ],
        )
        return [body]

    return answer


@dataclass(frozen=True)
class FaultFigures:
    uploads: int
    faults_injected: int
    faults_by_code: dict[str, int]
    dead_lettered: int
    dead_lettered_then_redriven: int
    events_lost: int
    doomed_logged: int  # doomed uploads the admission log names in a failure line
    seconds: float


def uploads(count: int, doomed: int) -> dict[str, bytes]:
    """`count` distinct real files (photos that scikit-image ships, copy lines), `doomed` of them doomed."""
    files: dict[str, bytes] = {}
    for n in range(count):
        if n % 2 == 0:
            name = PHOTOS[(n // 2) % len(PHOTOS)]
            data, suffix = _photo_variant(name, n), "png"
        else:
            data, suffix = f"Fault-tolerant offer number {n}\nRetried, never dropped {n}\n".encode(), "txt"
        prefix = DOOMED_PREFIX if n < doomed else f"uploads/{LINE}/retried/"
        files[f"{prefix}file-{n}.{suffix}"] = data
    return files


def _photo_variant(name: str, n: int) -> bytes:
    image = Image.open(package_file("skimage", "data", name)).convert("RGB")
    width, height = image.size
    cropped = image.crop((n % 7, n % 5, width - n % 3, height - n % 4))  # distinct bytes, same photo
    buffer = io.BytesIO()
    cropped.save(buffer, "PNG")
    return buffer.getvalue()


def storm(
    runtime, *, count: int, doomed: int, probability: float, log_dir: Path, timeout_s: float = 900
) -> FaultFigures:
    started = time.monotonic()
    outputs = runtime.outputs
    sqs, s3 = runtime.client("sqs"), runtime.client("s3")
    queue_url, dlq_url = outputs["UploadEventsQueueUrl"], outputs["UploadEventsDlqUrl"]
    _shorten_visibility(runtime, sqs, queue_url)
    bucket = outputs["UploadsBucketName"]
    rules = [
        FaultRule(1.0, bucket=bucket, key_prefix=DOOMED_PREFIX),
        FaultRule(probability, bucket=bucket, key_prefix=f"uploads/{LINE}/"),
        FaultRule(probability, table=outputs["MaterialsTableName"], operations=("GetItem", "PutItem")),
        FaultRule(
            probability / 2,
            table=outputs["IdempotencyTableName"],
            operations=("GetItem", "PutItem", "UpdateItem", "DeleteItem"),
        ),
    ]
    injectors: list[FaultInjector] = []

    def install(app: Any) -> FaultInjector:
        injectors.append(FaultInjector(app, rules))
        return injectors[0]

    runtime.intercept_aws(install)
    injector = injectors[0]
    files = uploads(count, doomed)
    for key, data in files.items():
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    deadline = started + timeout_s
    # Every upload event is either handled (a record) or in the dead-letter queue: the upload queue is empty.
    _wait_for(lambda: _queue_depth(sqs, queue_url) == 0 and _queue_depth(sqs, dlq_url) >= doomed, deadline)
    injector.enabled = False
    dead_lettered = _queue_depth(sqs, dlq_url)
    redriven = redrive(sqs, dlq_url, queue_url)
    _wait_for(lambda: set(files) <= _recorded_keys(runtime), deadline)
    recorded = _recorded_keys(runtime)
    doomed_keys = [k for k in files if k.startswith(DOOMED_PREFIX)]
    admission_log = (log_dir / "admission.log").read_text() if (log_dir / "admission.log").exists() else ""
    return FaultFigures(
        uploads=len(files),
        faults_injected=sum(injector.injected.values()),
        faults_by_code=dict(injector.injected),
        dead_lettered=dead_lettered,
        dead_lettered_then_redriven=sum(1 for key in redriven if key in recorded),
        events_lost=len(set(files) - recorded),
        doomed_logged=sum(1 for k in doomed_keys if _logged_failure(admission_log, k)),
        seconds=round(time.monotonic() - started, 1),
    )


def redrive(sqs: Any, dlq_url: str, source_url: str) -> list[str]:
    """Moves every message of the dead-letter queue back to its source queue (what the console's "start
    DLQ redrive" does); returns the upload keys of the messages moved."""
    moved = []
    while True:
        messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            return moved
        for message in messages:
            sqs.send_message(QueueUrl=source_url, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved.append(unquote_plus(json.loads(message["Body"])["detail"]["object"]["key"]))


def _shorten_visibility(runtime, sqs: Any, queue_url: str) -> None:
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": str(VISIBILITY_TIMEOUT_S)})
    for poller in runtime.pollers:
        if poller.source.url == queue_url:
            poller.source = dataclasses.replace(poller.source, visibility_timeout_s=VISIBILITY_TIMEOUT_S)
    # A receive already long-polling took the old timeout with it: let it end before anything is sent.
    time.sleep(LONG_POLL_S + 0.5)


def _recorded_keys(runtime) -> set[str]:
    """Upload keys of the line that have a material record with a status, read from the table itself (the
    operator API would wait behind an admission run that is backing off)."""
    from creative.adapters.dynamodb_items import from_item

    pages = (
        runtime.client("dynamodb")
        .get_paginator("scan")
        .paginate(
            TableName=runtime.outputs["MaterialsTableName"],
            FilterExpression="business_line = :line AND attribute_exists(#status)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":line": {"S": LINE}},
        )
    )
    return {from_item(item)["source"]["key"] for page in pages for item in page["Items"]}


def _queue_depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def _wait_for(condition, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


def _logged_failure(log: str, key: str) -> bool:
    """A WARNING or ERROR line of the function's log names the upload."""
    return any(
        key in line and ('"level":"WARNING"' in line or '"level":"ERROR"' in line)
        for line in log.splitlines()
    )


@dataclass(frozen=True)
class LostAnswerFigures:
    selects_answered: int  # 200s the client got (after retrying 503s)
    impressions_counted: int  # the creative's counter, moved by these selects
    impressions_logged: int  # rows in the impressions table, added by these selects
    late_answers: int


def lost_answers(
    runtime, line, *, selects: int, probability: float, late_answer_s: float
) -> LostAnswerFigures:
    """Selects whose writes land while their answers come too late: counters must still equal the log."""
    from reliability.load import RacingClient, logged_impressions
    from reliability.stack import creative_counters

    rules = [
        FaultRule(
            probability,
            table=runtime.outputs["RacingStateTableName"],
            operations=("UpdateItem", "TransactWriteItems"),
            late_answer_s=late_answer_s,
        )
    ]
    injectors: list[FaultInjector] = []
    runtime.intercept_aws(lambda app: injectors.append(FaultInjector(app, rules, seed=1)) or injectors[0])
    client = RacingClient(runtime)
    counted_before, _ = creative_counters(runtime, line)
    logged_before = logged_impressions(runtime, line)
    answered = 0
    for n in range(selects):
        body = {"business_line": line.business_line, "placement": "feed", "user": {"id": f"late{n}"}}
        answered += client.post("/v1/select", body).status_code == 200
    injectors[0].enabled = False
    counted_after, _ = creative_counters(runtime, line)
    return LostAnswerFigures(
        selects_answered=answered,
        impressions_counted=counted_after - counted_before,
        impressions_logged=logged_impressions(runtime, line) - logged_before,
        late_answers=injectors[0].injected["LateAnswer"],
    )
