"""A layer module with per-process state: each function must see its own count, as on AWS."""

_calls = 0


def count_call() -> int:
    global _calls
    _calls += 1
    return _calls
