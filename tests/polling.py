"""Waiting on the local runtime for something that becomes true within a bound, not at a known moment."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(
    fetch: Callable[[], T],
    done: Callable[[T], bool],
    *,
    first_after: float,
    timeout: float = 15.0,
    every: float = 1.0,
) -> T:
    """Waits `first_after` seconds, then fetches every `every` seconds until `done` holds or `timeout` more
    seconds have passed; returns the last value fetched, for the caller to assert on."""
    time.sleep(first_after)
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(every)


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    """Checks `condition` every 50 ms until it holds; fails the test if it has not within `timeout` seconds."""
    if not poll(condition, bool, first_after=0, timeout=timeout, every=0.05):
        raise AssertionError("condition not reached")
