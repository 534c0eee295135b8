"""The garbage collector while a Lambda starts.

Select's cold start leaves about 128,000 objects that live as long as its container (its imports and
its service, as gc counts them frozen), and the collector, which runs every 700 new container objects,
scans them again and again while they are made. In a Lambda (AWS_LAMBDA_FUNCTION_NAME set), importing this
package holds the collector off until a service is built: `creative.wiring` then releases it, whether the
build succeeded or not, and freezes what the start made. What a handler imports before this package
(Powertools) is collected as usual.

The local runtime sets the variable too, and its functions share one process, each with its own copy of
this package: whichever copy builds first releases the hold, and a copy imported while it is held neither
holds again nor takes the held threshold for the default. Tests, tools and evaluations do not set it.
(Reading the environment at import is a deliberate exception to the house rule against it: the hold
must start before the handler's imports, and only the package's own import comes earlier.)
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


def hold_in_lambda() -> None:
    global _threshold_before_hold
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and not held():
        first, *older = gc.get_threshold()
        _threshold_before_hold = first
        gc.set_threshold(HELD_THRESHOLD, *older)


def release() -> None:
    """Ends the hold, if there is one; otherwise leaves the thresholds as they are."""
    if held():
        _, *older = gc.get_threshold()
        gc.set_threshold(_threshold_before_hold or DEFAULT_THRESHOLD, *older)
