"""Functions share this process but not their environment, their modules, or Powertools' cold start."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from textwrap import dedent

import pytest
from local_runtime.functions import FunctionError, LocalFunction, lambda_environment


def write_function(root: Path, name: str, handler_source: str, **modules: str) -> Path:
    code_dir = root / name
    code_dir.mkdir(parents=True)
    (code_dir / "handler.py").write_text(dedent(handler_source))
    for module, source in modules.items():
        (code_dir / f"{module}.py").write_text(dedent(source))
    return code_dir


def local_function(
    code_dir: Path, variables: dict[str, str] | None = None, timeout_s: int = 10, layers=()
) -> LocalFunction:
    name = code_dir.name
    return LocalFunction(
        name=name,
        physical_name=f"Stack-{name}-XYZ",
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:Stack-{name}-XYZ",
        code_dir=code_dir,
        handler="handler.lambda_handler",
        memory_mb=512,
        timeout_s=timeout_s,
        environment=lambda_environment(
            function_variables=variables or {},
            physical_name=f"Stack-{name}-XYZ",
            memory_mb=512,
            code_dir=code_dir,
            handler="handler.lambda_handler",
            endpoint_url="http://127.0.0.1:1",
            region="us-east-1",
        ),
        layer_dirs=list(layers),
    )


ECHO_ENV = """
import os

def lambda_handler(event, context):
    return {k: os.environ.get(k) for k in event["names"]}
"""


def test_each_invocation_sees_only_its_function_environment(tmp_path, monkeypatch):
    # Given a developer shell with real AWS settings and two functions with different variables
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://real.example")
    first = local_function(
        write_function(tmp_path, "first", ECHO_ENV), {"TABLE": "t-1", "AWS_ENDPOINT_URL": "https://sneaky"}
    )
    second = local_function(write_function(tmp_path, "second", ECHO_ENV), {"TABLE": "t-2"})
    names = [
        "TABLE",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_LAMBDA_FUNCTION_NAME",
        "POWERTOOLS_TRACE_DISABLED",
    ]
    # When each is invoked
    seen_first = first.invoke({"names": names})
    seen_second = second.invoke({"names": names})
    # Then each saw its own variables, moto's endpoint and none of the shell's AWS settings
    assert seen_first == {
        "TABLE": "t-1",
        "AWS_PROFILE": None,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
        "AWS_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "Stack-first-XYZ",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    assert seen_second["TABLE"] == "t-2"
    # And the process environment is back as it was
    assert os.environ["AWS_PROFILE"] == "production" and "TABLE" not in os.environ


def test_functions_import_their_own_modules_and_layer_state(tmp_path):
    # Given two functions with a same-named helper module and a layer module holding a counter
    layer = tmp_path / "layer"
    (layer / "counter_layer").mkdir(parents=True)
    (layer / "counter_layer" / "__init__.py").write_text("calls = 0\n")
    source = """
    import helper
    import counter_layer

    def lambda_handler(event, context):
        counter_layer.calls += 1
        return {"helper": helper.WHO, "calls": counter_layer.calls}
    """
    first = local_function(write_function(tmp_path, "first", source, helper="WHO = 'first'"), layers=[layer])
    second = local_function(
        write_function(tmp_path, "second", source, helper="WHO = 'second'"), layers=[layer]
    )
    # When they are invoked in turn
    results = [first.invoke({}), second.invoke({}), first.invoke({})]
    # Then each got its own helper and its own copy of the layer, as separate Lambda containers would
    assert results == [
        {"helper": "first", "calls": 1},
        {"helper": "second", "calls": 1},
        {"helper": "first", "calls": 2},
    ]
    # And none of their modules leaked into this process
    assert "helper" not in sys.modules and "counter_layer" not in sys.modules


def test_context_is_lambda_like(tmp_path):
    # Given a function that reports its context
    source = """
    def lambda_handler(event, context):
        return {
            "name": context.function_name,
            "memory": context.memory_limit_in_mb,
            "arn": context.invoked_function_arn,
            "request_id": context.aws_request_id,
            "remaining": context.get_remaining_time_in_millis(),
            "log_group": context.log_group_name,
        }
    """
    function = local_function(write_function(tmp_path, "ctx", source), timeout_s=7)
    # When invoked twice
    first, second = function.invoke({}), function.invoke({})
    # Then the context names the deployed function and each call has its own request id
    assert (first["name"], first["memory"]) == ("Stack-ctx-XYZ", 512)
    assert (
        first["arn"].endswith(":function:Stack-ctx-XYZ") and first["log_group"] == "/aws/lambda/Stack-ctx-XYZ"
    )
    assert 0 < first["remaining"] <= 7000
    assert first["request_id"] != second["request_id"]


def test_powertools_cold_start_is_per_function(tmp_path):
    # Given two functions logging with Powertools
    source = """
    from aws_lambda_powertools.logging import logger as powertools_logger

    def lambda_handler(event, context):
        return powertools_logger._is_cold_start()
    """
    first = local_function(write_function(tmp_path, "first", source))
    second = local_function(write_function(tmp_path, "second", source))
    # When each is invoked twice, interleaved
    results = [first.invoke({}), second.invoke({}), first.invoke({}), second.invoke({})]
    # Then each one's first call is its cold start
    assert results == [True, True, False, False]


@pytest.mark.parametrize(
    ("source", "error_type"),
    [
        ("def lambda_handler(event, context):\n    raise ValueError('bad input')\n", "ValueError"),
        ("def lambda_handler(event, context):\n    return object()\n", "Runtime.MarshalError"),
        ("def lambda_handler(event, context):\n    return {1, 2}\n", "Runtime.MarshalError"),
        ("import does_not_exist\n", "ModuleNotFoundError"),
    ],
)
def test_failures_are_function_errors(tmp_path, source, error_type):
    # Given a handler that raises, returns what JSON cannot hold, or cannot be imported
    function = local_function(write_function(tmp_path, "failing", source))
    # When invoked, Then the caller gets a FunctionError of the kind Lambda would report
    with pytest.raises(FunctionError) as raised:
        function.invoke({})
    assert raised.value.error_type == error_type
    assert function.errors == 1


def test_a_call_longer_than_the_timeout_fails(tmp_path):
    # Given a function whose timeout is already over when it returns (0 s)
    function = local_function(
        write_function(tmp_path, "slow", "def lambda_handler(event, context):\n    return 1\n"), timeout_s=0
    )
    # When invoked, Then its result is thrown away as Lambda would, with a timeout error
    with pytest.raises(FunctionError) as raised:
        function.invoke({})
    assert raised.value.error_type == "Sandbox.Timedout"


def test_a_slow_cold_start_does_not_count_against_the_timeout(tmp_path):
    # Given a function whose module takes 1.2 s to import and whose handler is quick, with a 1 s timeout
    source = "import time\ntime.sleep(1.2)\n\ndef lambda_handler(event, context):\n    return 1\n"
    function = local_function(write_function(tmp_path, "slow_init", source), timeout_s=1)
    # When invoked cold, Then it answers: Lambda's init phase has its own limit, apart from the timeout
    assert function.invoke({}) == 1


def test_a_function_logs_to_its_file_after_an_earlier_runtime_closed_its_own(tmp_path, monkeypatch):
    import logging

    from local_runtime.functions import _service_logs_to

    # Given the service's logging handler still on a log file a runtime stopped earlier in this process closed
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "svc-closed-log")
    logger = logging.getLogger("svc-closed-log")
    earlier = (tmp_path / "earlier.log").open("a")
    handler = logging.StreamHandler(earlier)
    logger.addHandler(handler)
    earlier.close()
    try:
        # When a function of the next runtime logs during its invocation
        with (tmp_path / "now.log").open("a") as now, _service_logs_to(now):
            logger.warning("logged by the next runtime")
    finally:
        logger.removeHandler(handler)
    # Then the line is in its own log file (the closed one was not flushed, which raised)
    assert "logged by the next runtime" in (tmp_path / "now.log").read_text()
