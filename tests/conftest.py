import importlib.util
import json
import os
import sys
from types import ModuleType, SimpleNamespace

import pytest

from infra.paths import EVENTS_DIR, REPO_ROOT

EVENTS = EVENTS_DIR
# CDK's jsii runs on the machine's Node 20 (what the Makefile also sets): its warning banner is noise here.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def load_event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def line_route_event(method: str, route: str, line: str, body: dict | None = None) -> dict:
    """An API Gateway event of an operator route on a business line: `route` as the catalog declares it,
    e.g. "/v1/recall-rules/{business_line}"."""
    event = load_event("api_get_material.json")
    event |= {
        "resource": route,
        "path": route.replace("{business_line}", line),
        "httpMethod": method,
        "pathParameters": {"business_line": line},
        "body": json.dumps(body) if body is not None else None,
    }
    event["requestContext"] = {**event["requestContext"], "resourcePath": route, "httpMethod": method}
    return event


def load_handler(function_name: str) -> ModuleType:
    """Imports functions/<name>/handler.py under a unique module name, as the Lambda runtime would."""
    module_name = f"handler_{function_name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(
        module_name, REPO_ROOT / "functions" / function_name / "handler.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def lambda_context():
    return SimpleNamespace(
        function_name="test-fn",
        memory_limit_in_mb=512,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:test-fn",
        aws_request_id="req-1",
        get_remaining_time_in_millis=lambda: 30_000,
    )
