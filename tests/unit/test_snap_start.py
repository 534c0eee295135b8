"""Lambda SnapStart (infra.catalog's `snap_start`): a SnapStart function's handler builds its service before
the snapshot, and every container restored from the snapshot draws random numbers of its own."""

import ast
import json
import os
import random
import sys

import pytest
import snapshot_restore_py
from creative import wiring

from infra.catalog import FUNCTIONS, FunctionSpec, ScheduleTrigger
from infra.paths import FUNCTIONS_DIR


@pytest.fixture
def hooks(monkeypatch) -> tuple[list, list]:
    """The runtime's registries, empty for the test: (before snapshot, after restore)."""
    before: list = []
    after: list = []
    monkeypatch.setattr(snapshot_restore_py, "_before_snapshot_registry", before)
    monkeypatch.setattr(snapshot_restore_py, "_after_restore_registry", after)
    return before, after


def test_preparing_a_snapshot_registers_the_build_before_it_and_the_reseed_after_a_restore(
    hooks, monkeypatch
):
    before, after = hooks
    built: list[str] = []
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    assert wiring.prepare_snapshot(lambda: built.append("service"), also_import=("colorsys",))
    # As the runtime runs them: the before-snapshot hooks at publish time, the after-restore ones per restore
    ((before_snapshot, args, kwargs),) = before
    before_snapshot(*args, **kwargs)
    assert built == ["service"] and "colorsys" in sys.modules
    assert [func for func, _, _ in after] == [wiring.reseed_after_restore]


def test_the_racer_draws_from_the_generator_a_restore_reseeds(monkeypatch):
    for name in ("CREATIVES_TABLE", "RACING_STATE_TABLE", "IMPRESSIONS_TABLE", "MODEL_REGISTRY_TABLE"):
        monkeypatch.setenv(name, name.lower())
    monkeypatch.setenv("ASSETS_BUCKET", "assets")
    monkeypatch.setenv("LINE_SETTINGS_TABLE", "line_settings")
    # Making the clients resolves credentials (from Lambda's endpoint when deployed); no call is made
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setattr(wiring, "_generators", [])
    monkeypatch.setattr(wiring, "_frozen_once", True)  # no gc.freeze in the test process
    racing = wiring.racing.__wrapped__()  # built as select builds it, without the per-process cache
    (generator,) = wiring._generators
    assert racing._rng is generator


def _prepared_factory(handler: ast.Module) -> str | None:
    """The wiring factory a handler module passes to `wiring.prepare_snapshot` at module level, if any."""
    for node in handler.body:
        call = node.value if isinstance(node, ast.Expr) else None
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "prepare_snapshot"
        ):
            (argument,) = call.args
            assert isinstance(argument, ast.Attribute)
            return argument.attr
    return None


def _served_factory(handler: ast.Module) -> str:
    """The wiring factory `lambda_handler` hands its service from."""
    (function,) = [n for n in handler.body if isinstance(n, ast.FunctionDef) and n.name == "lambda_handler"]
    calls = [
        n.func.attr
        for n in ast.walk(function)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and isinstance(n.func.value, ast.Name)
        and n.func.value.id == "wiring"
    ]
    (factory,) = calls
    return factory


def test_exactly_the_snap_start_functions_build_before_the_snapshot_what_they_serve():
    for spec in FUNCTIONS:
        handler = ast.parse((FUNCTIONS_DIR / spec.name / "handler.py").read_text())
        prepared = _prepared_factory(handler)
        if spec.snap_start:
            assert prepared == _served_factory(handler), spec.name
        else:
            assert prepared is None, f"{spec.name} is not a SnapStart function in the catalog"
    assert {spec.name for spec in FUNCTIONS if spec.snap_start} == {"select", "feedback"}


def _restored_draws(reseed: bool) -> list[float]:
    """A container restored from this process as it is now (a fork copies its memory, as a restore from
    one snapshot does): what its generators draw after the restore hooks (or none) ran."""
    snapshot_of_random = random.getstate()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the restored container
        try:
            # A fork reseeds the `random` module by itself (os.register_at_fork); a restore does not
            random.setstate(snapshot_of_random)
            if reseed:
                for func, args, kwargs in snapshot_restore_py.get_after_restore():
                    func(*args, **kwargs)
            draws = [float(g.random()) for g in wiring._generators] + [random.random()]
            os.write(write_end, json.dumps(draws).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        draws = json.loads(pipe.read())
    os.waitpid(pid, 0)
    return draws


def test_containers_restored_from_one_snapshot_draw_their_own_numbers(hooks, monkeypatch):
    monkeypatch.setattr(wiring, "_generators", [])
    select_generator = wiring._generator()  # as wiring.racing makes the racer's
    wiring.prepare_snapshot(lambda: None)
    # Without the hook every restored container would repeat the snapshot's draws: Thompson samples,
    # counter shards and retry jitter alike
    assert _restored_draws(reseed=False) == _restored_draws(reseed=False)
    first, second = _restored_draws(reseed=True), _restored_draws(reseed=True)
    assert len(first) == 2 and first[0] != second[0] and first[1] != second[1]
    # The generator is reseeded in place: what the service holds is the object wiring made
    assert wiring._generators == [select_generator]


def test_snap_start_is_refused_for_a_function_something_other_than_the_api_invokes():
    # The API's routes invoke the live alias; a schedule would run $LATEST, which has no snapshot
    with pytest.raises(ValueError, match="only API routes"):
        FunctionSpec(
            name="nightly",
            capability="racing_api",
            description="",
            config_model="SelectConfig",
            triggers=(ScheduleTrigger("rate(1 day)"),),
            access=(),
            snap_start=True,
        )
