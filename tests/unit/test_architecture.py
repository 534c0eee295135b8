"""Architecture rules that keep the code easy to change: checked on the source, so they cannot rot."""

import ast
from pathlib import Path

import pytest

from infra.catalog import FUNCTIONS
from infra.paths import DOMAIN_PACKAGE_PARENT, FUNCTIONS_DIR

PACKAGE = DOMAIN_PACKAGE_PARENT / "creative"
AWS_SDK = {"boto3", "botocore"}
# Only adapters talk to AWS; wiring builds them from config.
ALLOWED_AWS = {PACKAGE / "adapters", PACKAGE / "wiring.py"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def domain_modules() -> list[Path]:
    return [
        p
        for p in sorted(PACKAGE.rglob("*.py"))
        if not any(p == allowed or allowed in p.parents for allowed in ALLOWED_AWS)
    ]


@pytest.mark.parametrize("module", domain_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_domain_modules_import_no_aws_sdk(module):
    assert not imported_roots(module) & AWS_SDK


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda s: s.name)
def test_handlers_are_thin_and_never_touch_the_sdk(spec):
    handler = spec.code_dir / "handler.py"
    assert handler.is_file()
    assert not imported_roots(handler) & AWS_SDK
    assert "os.environ" not in handler.read_text()


def test_every_function_folder_is_declared():
    folders = {p.name for p in FUNCTIONS_DIR.iterdir() if p.is_dir() and not p.name.startswith("__")}
    assert folders == {spec.name for spec in FUNCTIONS}
