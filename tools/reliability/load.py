"""Concurrent selects and clicks on one creative over HTTP: no impression lost, no click counted twice.

Selects go out from a pool of threads; then every impression's click goes out at once, each a second time
too (a client retrying), shuffled, so duplicates race their originals. The counters the operator API shows
must equal the distinct events: impressions = selects answered 200, clicks = distinct impressions clicked.
"""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests
from local_runtime.client import local_session

from reliability.stack import HTTP_TIMEOUT_S, SeededLine, creative_counters

WORKERS = 32
# Statuses a client retries (the API's own "retry" answers); anything else is a failed run.
RETRYABLE = frozenset({429, 503})
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class LoadFigures:
    selects_sent: int
    impressions_counted: int
    concurrent_feedback_sent: int  # distinct clicks, each sent twice concurrently
    concurrent_feedback_counted: int
    feedback_calls: int  # every call, duplicates included
    counted_true: int  # calls answered {"counted": true}: at most one per distinct click
    impressions_logged: int  # rows in the impressions table for the line's creative
    retried: dict[str, int]  # answers 429/503 the client retried, by path


class RacingClient:
    """One requests.Session per thread (a Session is not thread-safe), with the racing API key."""

    def __init__(self, runtime) -> None:
        self._base = runtime.api_url.rstrip("/")
        self._headers = {"x-api-key": runtime.api_key}
        self._local = threading.local()
        self._lock = threading.Lock()
        self.retried: dict[str, int] = {}

    def post(self, path: str, body: dict) -> requests.Response:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = local_session()
        for _ in range(MAX_ATTEMPTS):
            response = session.post(
                self._base + path, json=body, headers=self._headers, timeout=HTTP_TIMEOUT_S
            )
            if response.status_code not in RETRYABLE:
                return response
            with self._lock:
                self.retried[path] = self.retried.get(path, 0) + 1
        return response


def race(runtime, line: SeededLine, *, selects: int, clicks: int, seed: int = 0) -> LoadFigures:
    if clicks > selects:
        raise ValueError("each click needs its own impression")
    client = RacingClient(runtime)
    before_impressions, before_clicks = creative_counters(runtime, line)

    def select(n: int) -> dict:
        body = {"business_line": line.business_line, "placement": "feed", "user": {"id": f"u{n}"}}
        response = client.post("/v1/select", body)
        if response.status_code != 200:
            raise RuntimeError(f"select answered {response.status_code}: {response.text}")
        return response.json()

    with ThreadPoolExecutor(WORKERS) as pool:
        served = list(pool.map(select, range(selects)))
    if {s["creative"]["creative_id"] for s in served} != {line.creative_id}:
        raise RuntimeError("a select served something else than the line's one creative")

    impression_ids = [s["impression_id"] for s in served[:clicks]]
    calls = impression_ids * 2
    random.Random(seed).shuffle(calls)

    def click(impression_id: str) -> bool:
        response = client.post("/v1/feedback", {"impression_id": impression_id, "event": "click"})
        if response.status_code != 200:
            raise RuntimeError(f"feedback answered {response.status_code}: {response.text}")
        return bool(response.json()["counted"])

    with ThreadPoolExecutor(WORKERS) as pool:
        counted_true = sum(pool.map(click, calls))
    impressions, clicks_counted = creative_counters(runtime, line)
    return LoadFigures(
        selects_sent=selects,
        impressions_counted=impressions - before_impressions,
        concurrent_feedback_sent=clicks,
        concurrent_feedback_counted=clicks_counted - before_clicks,
        feedback_calls=len(calls),
        counted_true=counted_true,
        impressions_logged=logged_impressions(runtime, line),
        retried=dict(client.retried),
    )


def logged_impressions(runtime, line: SeededLine) -> int:
    pages = (
        runtime.client("dynamodb")
        .get_paginator("scan")
        .paginate(
            TableName=runtime.outputs["ImpressionsTableName"],
            FilterExpression="creative_id = :creative",
            ExpressionAttributeValues={":creative": {"S": line.creative_id}},
            Select="COUNT",
        )
    )
    return sum(page["Count"] for page in pages)
