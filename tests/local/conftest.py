"""Fixtures of the local runtime's tests: a moto server, and the tiny stack deployed or served."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from local_runtime.moto_server import MotoEndpoint, MotoServer
from local_runtime.runtime import LocalRuntime

from tests.local import tiny_stack


@pytest.fixture(scope="module")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def aws(moto_server: MotoServer) -> Iterator[MotoEndpoint]:
    """A moto endpoint that starts empty for each test."""
    assert moto_server.endpoint is not None
    yield moto_server.endpoint
    moto_server.endpoint.reset()


@pytest.fixture(scope="module")
def tiny_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_stack.write_assembly(tmp_path_factory.mktemp("tiny-cdk.out"))


@pytest.fixture(scope="module")
def tiny_runtime(tiny_assembly: Path) -> Iterator[LocalRuntime]:
    with LocalRuntime(
        assembly_dir=tiny_assembly,
        stack_name=tiny_stack.STACK_NAME,
        code_dir_for=tiny_stack.code_dir_for,
        layer_dirs=(tiny_stack.LAYER_DIR,),
    ) as runtime:
        yield runtime


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # moto warns once per resource type its CloudFormation skips; deploy.py fills those in and logs it.
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning"))
