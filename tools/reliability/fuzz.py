"""Every route of docs/openapi.json fuzzed on the local runtime with schemathesis: no answer is a 5xx, and
every answer matches the document (its status is documented, its body matches that status's schema, its
content type is the documented one).

Cases come from the document in both of schemathesis's modes: positive (valid by the schema) and negative
(violating it). Each request carries the route's real credentials (the racing API key or the operator's),
so the handlers behind the gateway are what gets fuzzed, not the gateway's 403.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from local_runtime.client import local_session
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from infra.paths import DOCS_DIR

OPENAPI_PATH = DOCS_DIR / "openapi.json"
SCHEMA_CHECKS = [response_schema_conformance, status_code_conformance, content_type_conformance]
_AUTH = {"authorization", "x-api-key"}
MAX_SAMPLES = 20  # failures kept verbatim for the reader of the report


@dataclass
class FuzzFigures:
    requests: int = 0
    server_errors: int = 0
    schema_violations: int = 0
    per_operation: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append(text)


def fuzz(runtime, *, examples_per_operation: int, seed: int = 0) -> FuzzFigures:
    """`examples_per_operation` cases per route and method in each mode (positive and negative)."""
    schema = schemathesis.openapi.from_path(str(OPENAPI_PATH))
    base_url = runtime.api_url.rstrip("/")
    session = local_session()
    figures = FuzzFigures()
    for result in schema.get_all_operations():
        operation = result.ok()
        headers = _credentials(runtime, operation)
        name = f"{operation.method.upper()} {operation.path}"
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz_operation(
                operation.as_strategy(generation_mode=mode),
                lambda case, name=name, headers=headers: _exercise(
                    case, name, base_url, session, headers, figures
                ),
                examples_per_operation,
                seed,
            )
    return figures


def _credentials(runtime, operation) -> dict[str, str]:
    schemes = {name for requirement in operation.definition.raw.get("security", []) for name in requirement}
    if "api_key" in schemes:
        return {"x-api-key": runtime.api_key}
    return {"Authorization": f"Bearer {runtime.operator_key}"}


def _fuzz_operation(strategy, exercise, examples: int, seed: int) -> None:
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=False,
        phases=[Phase.explicit, Phase.generate],  # failures are counted, never shrunk
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(case) -> None:
        exercise(case)

    run._hypothesis_internal_use_seed = seed  # reproducible runs
    run()


def _exercise(case, name: str, base_url: str, session: requests.Session, headers: dict, figures) -> None:
    # The generated credentials (an empty or random Authorization) give way to the real ones.
    case.headers = {**{k: v for k, v in (case.headers or {}).items() if k.lower() not in _AUTH}, **headers}
    try:
        response = case.call(base_url=base_url, session=session, timeout=30)
    except (
        requests.exceptions.InvalidHeader,
        requests.exceptions.InvalidURL,
        UnicodeEncodeError,
        ValueError,
    ):
        return  # a case no HTTP client can send (e.g. a newline in a header) never reaches the API
    figures.requests += 1
    figures.per_operation[name] = figures.per_operation.get(name, 0) + 1
    if response.status_code >= 500:
        figures.server_errors += 1
        figures.note(f"{name}: {response.status_code} for {case.as_curl_command()}: {response.text[:300]}")
    try:
        case.validate_response(response, checks=SCHEMA_CHECKS, excluded_checks=[not_a_server_error])
    except (Failure, FailureGroup) as failure:
        figures.schema_violations += 1
        figures.note(f"{name}: {response.status_code}: {str(failure)[:500]}")
