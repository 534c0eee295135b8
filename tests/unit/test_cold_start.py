"""A function's cold start: its service is built with the garbage collector paused, then frozen once."""

import gc

import pytest
from creative import wiring


@pytest.fixture
def freezes(monkeypatch) -> list[int]:
    calls: list[int] = []
    monkeypatch.setattr(wiring, "_frozen_once", False)
    monkeypatch.setattr(gc, "freeze", lambda: calls.append(1))
    return calls


def test_a_service_is_built_with_the_collector_paused_and_it_resumes_after(freezes):
    seen: list[bool] = []
    build = wiring._cold_start(lambda: seen.append(gc.isenabled()) or "service")
    assert gc.isenabled()
    assert build() == "service" and build() == "service"
    # Then each build ran paused, the collector runs again after it, and only the first build froze
    assert seen == [False, False] and gc.isenabled() and len(freezes) == 1


def test_a_failed_build_resumes_the_collector_unfrozen_and_one_paused_elsewhere_stays_paused(freezes):
    def broken() -> None:
        raise RuntimeError("no table")

    with pytest.raises(RuntimeError):
        wiring._cold_start(broken)()
    # A failed build froze nothing (not its traceback's frames): the next build that succeeds does
    assert gc.isenabled() and freezes == []
    wiring._cold_start(lambda: None)()
    assert len(freezes) == 1
    gc.disable()
    try:
        wiring._cold_start(lambda: None)()
        assert not gc.isenabled()
    finally:
        gc.enable()
