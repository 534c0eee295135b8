"""EventBridge schedule rules, played locally: fire a rule's target on demand, or every rate() period.

On demand is the default, so a demo or a test decides when composition runs instead of a clock.
The event is the "Scheduled Event" EventBridge sends (or the target's constant Input, if it has one).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from local_runtime.functions import FunctionError, LocalFunction

log = logging.getLogger(__name__)

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_SECONDS_PER_UNIT = {"minute": 60, "hour": 3600, "day": 86400}


def scheduled_event(rule_arn: str, account_id: str, region: str, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def rate_seconds(expression: str) -> int | None:
    """The period of a rate() expression in seconds; None for cron(), which fires only on demand here."""
    match = _RATE.match(expression.strip())
    if match is None:
        return None
    return int(match.group(1)) * _SECONDS_PER_UNIT[match.group(2).rstrip("s")]


@dataclass
class Schedule:
    function: LocalFunction
    rule_arn: str
    expression: str
    account_id: str
    region: str
    enabled: bool = True
    constant_input: str | None = None

    def fire(self) -> Any:
        """Invoke the target once, now; returns its result or raises FunctionError."""
        event = (
            json.loads(self.constant_input)
            if self.constant_input
            else scheduled_event(self.rule_arn, self.account_id, self.region)
        )
        return self.function.invoke(event)


class PeriodicFiring:
    """Fires every enabled rate() schedule on its period, on one background thread."""

    def __init__(self, schedules: list[Schedule]) -> None:
        self._due = {id(s): (s, rate_seconds(s.expression)) for s in schedules if s.enabled}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="schedules", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        next_at = {key: time.monotonic() + period for key, (_, period) in self._due.items() if period}
        while not self._stop.wait(1):
            for key, at in list(next_at.items()):
                if time.monotonic() < at:
                    continue
                schedule, period = self._due[key]
                next_at[key] = at + period
                try:
                    schedule.fire()
                except FunctionError as error:
                    log.error("scheduled %s failed: %s", schedule.function.name, error)
