"""The garbage collector while a function starts: held off while the start makes what lives on.

Select's cold start leaves about 128,000 objects that live as long as its container (its imports and
its service, as gc counts them frozen), and the collector, which runs every 700 new container objects,
scans them again and again while they are made. A hold raises that count to HELD_THRESHOLD: every service
build holds it (`creative.wiring`, which then freezes what the start made), and in a Lambda
(AWS_LAMBDA_FUNCTION_NAME set) importing this package holds it already, so the handler's imports are
covered too. What a handler imports before this package (Powertools) is collected as usual. A hold never
touches whether the collector is enabled: one disabled elsewhere stays disabled.

The local runtime sets the variable too, and its functions share one process, each with its own copy of
this package: a copy that finds the collector held does not hold again, and ends the hold with CPython's
default. (Reading the environment at import is a deliberate exception to the house rule against it: the
hold must start before the handler's imports, and only the package's own import comes earlier.)
"""

from __future__ import annotations

import gc
import os

# New container objects before the first collection while held: far above what a start makes, so a
# function that never builds a service is still collected, just later.
HELD_THRESHOLD = 1_000_000
DEFAULT_THRESHOLD = 700  # CPython's, restored when another copy of this package made the hold

_threshold_before_hold: int | None = None


def held() -> bool:
    return gc.get_threshold()[0] == HELD_THRESHOLD


def hold() -> None:
    global _threshold_before_hold
    if not held():
        first, *older = gc.get_threshold()
        _threshold_before_hold = first
        gc.set_threshold(HELD_THRESHOLD, *older)


def hold_in_lambda() -> None:
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        hold()


def release() -> None:
    """Ends the hold, if there is one; otherwise leaves the thresholds as they are."""
    if held():
        _, *older = gc.get_threshold()
        gc.set_threshold(_threshold_before_hold or DEFAULT_THRESHOLD, *older)
