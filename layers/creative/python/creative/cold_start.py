"""The garbage collector while a Lambda starts.

A function's cold start makes about 110,000 objects that live as long as its container (select: its
imports and its service), and the collector, which runs every 700 new container objects, scans them again
and again while they are made. In a Lambda (AWS_LAMBDA_FUNCTION_NAME set), importing this package holds the
collector off until the function has built its service: `creative.wiring` then releases it and freezes
what the start made. Elsewhere (tests, tools, evaluations) nothing changes. What a handler imports before
this package (Powertools) is still collected as usual.
"""

from __future__ import annotations

import gc
import os

_THRESHOLDS = gc.get_threshold()
# New container objects before the first collection while held: far above what a start makes, so a
# function that never builds a service is still collected, just later.
HELD_THRESHOLD = 1_000_000


def hold_in_lambda() -> None:
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        gc.set_threshold(HELD_THRESHOLD, *_THRESHOLDS[1:])


def release() -> None:
    gc.set_threshold(*_THRESHOLDS)
