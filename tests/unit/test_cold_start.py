"""A function's cold start: its service is built with the garbage collector held off, then frozen once, and
it builds only the pydantic models the function uses."""

import ast
import gc
from pathlib import Path

import creative
import pytest
from creative import cold_start, wiring
from creative.deferred_model import DeferredModel
from creative.json_route import JsonRoute


@pytest.fixture
def freezes(monkeypatch) -> list[int]:
    calls: list[int] = []
    monkeypatch.setattr(wiring, "_frozen_once", False)
    monkeypatch.setattr(gc, "freeze", lambda: calls.append(1))
    return calls


def test_a_service_is_built_with_the_collector_held_and_it_resumes_after(freezes):
    seen: list[bool] = []
    build = wiring._cold_start(lambda: seen.append(cold_start.held()) or "service")
    assert not cold_start.held()
    assert build() == "service" and build() == "service"
    # Then each build ran held, the collector runs as usual after it, and only the first build froze
    assert seen == [True, True] and not cold_start.held() and gc.isenabled() and len(freezes) == 1


def test_a_failed_build_resumes_the_collector_unfrozen_and_one_disabled_elsewhere_stays_disabled(freezes):
    def broken() -> None:
        raise RuntimeError("no table")

    with pytest.raises(RuntimeError):
        wiring._cold_start(broken)()
    # A failed build froze nothing (not its traceback's frames): the next build that succeeds does
    assert not cold_start.held() and gc.isenabled() and freezes == []
    wiring._cold_start(lambda: None)()
    assert len(freezes) == 1
    gc.disable()
    try:
        wiring._cold_start(lambda: None)()
        assert not gc.isenabled()
    finally:
        gc.enable()


def _names_base_model(base: ast.expr) -> bool:
    """`BaseModel` however it is spelt: imported by name, or through its module (`pydantic.BaseModel`)."""
    return (isinstance(base, ast.Name) and base.id == "BaseModel") or (
        isinstance(base, ast.Attribute) and base.attr == "BaseModel"
    )


def test_every_model_of_the_layer_defers_its_build_to_its_first_use():
    layer = Path(creative.__file__).parent
    eager = [
        f"{path.relative_to(layer)}:{node.name}"
        for path in sorted(layer.rglob("*.py"))
        if path.name != "deferred_model.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef) and any(_names_base_model(base) for base in node.bases)
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


def test_the_session_looks_up_only_the_named_services_and_loads_the_same_models(monkeypatch, tmp_path):
    import json

    import botocore.exceptions
    from botocore.loaders import Loader
    from creative.adapters.botocore_session import NamedServicesLoader, session_for

    # A model in AWS_DATA_PATH shadows the shipped one, as with botocore's own loader
    shipped = Loader().load_service_model("dynamodb", "service-2")
    shadow = {**shipped, "metadata": {**shipped["metadata"], "serviceFullName": "Shadow DynamoDB"}}
    version_dir = tmp_path / "dynamodb" / shipped["metadata"]["apiVersion"]
    version_dir.mkdir(parents=True)
    (version_dir / "service-2.json").write_text(json.dumps(shadow))
    for name, value in {
        "AWS_DATA_PATH": str(tmp_path),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
    }.items():
        monkeypatch.setenv(name, value)

    session = session_for(["dynamodb", "s3", "no-such-service"])
    loader = session.get_component("data_loader")
    assert isinstance(loader, NamedServicesLoader)
    assert loader.list_available_services("service-2") == ["dynamodb", "s3"]
    assert loader.list_available_services("waiters-2") == ["dynamodb", "s3"]
    assert loader.list_available_services("no-such-model-9") == []

    assert (
        session.create_client("dynamodb").meta.service_model.metadata["serviceFullName"] == "Shadow DynamoDB"
    )
    # Elsewhere the shipped model, with its extras merged (S3 has some)
    assert loader.load_service_model("s3", "service-2") == Loader().load_service_model("s3", "service-2")
    with pytest.raises(botocore.exceptions.UnknownServiceError):
        session.create_client("sqs")  # a real service, not named: refused as a misspelt name would be


def test_wiring_names_every_service_it_makes_clients_for():
    made = {
        call.args[0].value
        for call in ast.walk(ast.parse(Path(wiring.__file__).read_text()))
        if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "_client"
    }
    assert made and made <= set(wiring.SERVICES), made - set(wiring.SERVICES)


HOLD_SCRIPT = """
import gc, json, sys
if sys.argv[1] == "held by another copy":
    gc.set_threshold(1_000_000, *gc.get_threshold()[1:])
default = gc.get_threshold()
import creative
held = gc.get_threshold()
from creative import wiring
if sys.argv[1] == "set by the application":
    gc.set_threshold(500, *gc.get_threshold()[1:])
def broken():
    raise RuntimeError("no table")
try:
    wiring._cold_start(broken)()
except RuntimeError:
    pass
print(json.dumps([default[0], held[0], gc.get_threshold()[0], gc.isenabled()]))
"""


@pytest.mark.parametrize(
    "case, in_lambda, held, after",
    [
        ("alone", True, cold_start.HELD_THRESHOLD, 700),  # held at import, released by a failed build
        ("held by another copy", True, cold_start.HELD_THRESHOLD, cold_start.DEFAULT_THRESHOLD),
        ("alone", False, 700, 700),
        ("set by the application", False, 700, 500),  # a build outside a Lambda leaves thresholds alone
    ],
)
def test_in_a_lambda_the_collector_is_held_from_the_package_import_until_a_service_is_built(
    case, in_lambda, held, after
):
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_FUNCTION_NAME"}
    if in_lambda:
        env["AWS_LAMBDA_FUNCTION_NAME"] = "select"
    run = subprocess.run(
        [sys.executable, "-c", HOLD_SCRIPT, case], env=env, capture_output=True, text=True, check=True
    )
    default, held_at_import, after_build, enabled = json.loads(run.stdout)
    assert default == (cold_start.HELD_THRESHOLD if case == "held by another copy" else 700)
    assert (held_at_import, after_build, enabled) == (held, after, True)
