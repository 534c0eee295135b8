"""Generates docs/openapi.json from the API handlers themselves (Powertools' OpenAPI from the route models).

Each API function has its own resolver; their schemas are merged into one document for the one REST API.
`python tools/scripts/generate_openapi.py --check` fails when the committed document has drifted from the code.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys

from creative.api_errors import ErrorResponse

from infra.catalog import FUNCTIONS, ApiRoute
from infra.paths import DOCS_DIR, FUNCTIONS_DIR, REPO_ROOT

OPENAPI_PATH = DOCS_DIR / "openapi.json"


def _resolver(function_name: str):
    path = FUNCTIONS_DIR / function_name / "handler.py"
    spec = importlib.util.spec_from_file_location(f"openapi_{function_name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # A function serving one JSON route (select, feedback) has no resolver of its own: its route makes one.
    return module.route.documented(module.logger) if hasattr(module, "route") else module.app


SECURITY_SCHEMES = {
    "api_key": {"type": "apiKey", "in": "header", "name": "x-api-key"},
    "sigv4": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "AWS IAM (SigV4) on AWS; locally `Bearer <operator key>` printed by `creative local up`.",
    },
}
ERROR_STATUSES = {
    "400": "The request does not match the API schema",
    "403": "Missing or invalid credentials (API Gateway)",
    "404": "Unknown resource",
    "409": "Conflicting concurrent change (e.g. the creative was removed while being served)",
    "429": "Throttled by the usage plan (API Gateway)",
    "500": "Unexpected failure; logged, no details returned",
    "503": "A dependency is unavailable or busy; retry",
}


def _document_errors_and_auth(operation: dict, route: ApiRoute) -> None:
    """Powertools documents validation failures as 422; this API answers 400 with ErrorResponse."""
    operation["responses"].pop("422", None)
    for status, description in ERROR_STATUSES.items():
        operation["responses"][status] = {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
        }
    operation["security"] = [{"api_key": []}] if route.auth == "api_key" else [{"sigv4": []}]


def build_openapi() -> dict:
    document: dict = {
        "openapi": "3.1.0",
        "info": {
            "title": "Creative Engine API",
            "version": "1.0.0",
            "description": "Racing routes (select, feedback) need an API key (x-api-key); operator routes use IAM auth.",
        },
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": SECURITY_SCHEMES},
    }
    for spec in FUNCTIONS:
        routes = {(t.method.lower(), t.path): t for t in spec.triggers if isinstance(t, ApiRoute)}
        if not routes:
            continue
        schema = json.loads(_resolver(spec.name).get_openapi_json_schema(title="x", version="x"))
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                _document_errors_and_auth(operation, routes[(method, path)])
            document["paths"].setdefault(path, {}).update(operations)
        document["components"]["schemas"].update(schema.get("components", {}).get("schemas", {}))
    schemas = document["components"]["schemas"]
    for powertools_default in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(powertools_default, None)
    error_schema = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas["ErrorResponse"] = error_schema
    document["paths"] = dict(sorted(document["paths"].items()))
    document["components"]["schemas"] = dict(sorted(document["components"]["schemas"].items()))
    return document


def render() -> str:
    return json.dumps(build_openapi(), indent=2, sort_keys=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if docs/openapi.json is out of date")
    args = parser.parse_args()
    rendered = render()
    if args.check:
        if not OPENAPI_PATH.exists() or OPENAPI_PATH.read_text() != rendered:
            print("docs/openapi.json is out of date: run `make openapi`", file=sys.stderr)
            return 1
        return 0
    OPENAPI_PATH.write_text(rendered)
    print(f"wrote {OPENAPI_PATH.relative_to(REPO_ROOT)} ({len(rendered)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
