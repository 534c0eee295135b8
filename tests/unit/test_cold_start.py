"""A function's cold start: its service is built with the garbage collector paused, then frozen once, and
it builds only the pydantic models the function uses."""

import ast
import gc
from pathlib import Path

import creative
import pytest
from creative import wiring
from creative.deferred_model import DeferredModel
from creative.json_route import JsonRoute


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


def test_every_model_of_the_layer_defers_its_build_to_its_first_use():
    layer = Path(creative.__file__).parent
    eager = [
        f"{path.relative_to(layer)}:{node.name}"
        for path in sorted(layer.rglob("*.py"))
        if path.name != "deferred_model.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef)
        and any(isinstance(base, ast.Name) and base.id == "BaseModel" for base in node.bases)
    ]
    assert eager == [], "derive from creative.deferred_model.DeferredModel, not pydantic's BaseModel"

    class Offer(DeferredModel):
        price: float

    assert not Offer.__pydantic_complete__
    assert Offer.model_validate({"price": "9.5"}).price == 9.5
    assert Offer.__pydantic_complete__


def test_a_route_builds_its_request_and_response_models_when_it_is_declared():
    class Ask(DeferredModel):
        question: str

    class Reply(DeferredModel):
        answer: str

    assert not Ask.__pydantic_complete__ and not Reply.__pydantic_complete__
    JsonRoute("ask", "POST", "/v1/ask", Ask, Reply, summary="Ask")
    assert Ask.__pydantic_complete__ and Reply.__pydantic_complete__
