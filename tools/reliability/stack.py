"""The local runtime as the reliability runs use it: started once, with one business line of exactly one
creative, admitted, tagged and composed through the real flow (an upload, the queues, the schedule)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from demo import image_files

# One photo and one copy line: composition makes exactly one creative of them.
SEED_PHOTO = "chelsea.png"
SEED_COPY = b"Nap-tested beds for every cat\n"
HTTP_TIMEOUT_S = 30


@dataclass(frozen=True)
class SeededLine:
    business_line: str
    creative_id: str


@contextmanager
def running_stack(log_dir: Path | None = None) -> Iterator:
    from local_runtime.runtime import LocalRuntime
    from stack_build.synth import synthesize

    synthesize()  # cached: only when a source changed since the last synthesis
    with LocalRuntime(log_dir=log_dir) as runtime:
        yield runtime


def operator(runtime, method: str, path: str, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {runtime.operator_key}"}
    return requests.request(
        method, runtime.api_url.rstrip("/") + path, headers=headers, timeout=HTTP_TIMEOUT_S, **kwargs
    )


def seed_one_creative(runtime, business_line: str) -> SeededLine:
    """Uploads one photo and one copy line of `business_line` and composes them into its only creative."""
    s3 = runtime.client("s3")
    bucket = runtime.outputs["UploadsBucketName"]
    s3.put_object(
        Bucket=bucket, Key=f"uploads/{business_line}/cats/cat.png", Body=image_files.photo_bytes(SEED_PHOTO)
    )
    s3.put_object(Bucket=bucket, Key=f"uploads/{business_line}/cats/copy.txt", Body=SEED_COPY)
    runtime.drain_queues(timeout=180)
    runtime.fire_schedule("compose_creatives")
    listed = operator(runtime, "GET", "/v1/creatives", params={"business_line": business_line})
    listed.raise_for_status()
    items = listed.json()["items"]
    if len(items) != 1:
        raise RuntimeError(f"expected one creative in {business_line}, found {len(items)}: {items}")
    return SeededLine(business_line, items[0]["creative_id"])


def creative_counters(runtime, line: SeededLine) -> tuple[int, int]:
    """(impressions, clicks) of the line's creative, as the operator API reports them."""
    listed = operator(runtime, "GET", "/v1/creatives", params={"business_line": line.business_line})
    listed.raise_for_status()
    stats = {c["creative_id"]: c for c in listed.json()["items"]}[line.creative_id]
    return stats["impressions"], stats["clicks"]
