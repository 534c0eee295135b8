"""Architecture rules that keep the code easy to change: checked on the source, so they cannot rot."""

import ast
import re
from pathlib import Path

import pytest

from infra.catalog import FUNCTIONS
from infra.paths import CONSOLE_DIR, DOMAIN_PACKAGE_PARENT, FUNCTIONS_DIR

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


def _module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def _creative_imports(path: Path) -> set[str]:
    """The creative.* modules a file imports, at the top or inside a function (wiring imports lazily)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("creative")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("creative"):
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


# A module the layer carries before a capability serves it, each with the issue that wires it.
NOT_YET_SERVED = {"creative.inference.generator"}  # copy generation (issue 13)


def test_every_module_of_the_layer_is_reachable_from_a_function():
    # Given every module of the creative layer, and what the handlers import (transitively, lazily too)
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    reachable: set[str] = set()
    frontier = [name for spec in FUNCTIONS for name in _creative_imports(spec.code_dir / "handler.py")]
    while frontier:
        name = frontier.pop()
        if name in modules and name not in reachable:
            reachable.add(name)
            frontier += list(_creative_imports(modules[name]))
            parent = name.rpartition(".")[0]
            frontier += [parent] if parent else []
    # Then no module ships in every Lambda that no Lambda uses
    assert sorted(set(modules) - reachable - NOT_YET_SERVED) == []


CONSOLE_SCRIPTS = sorted(CONSOLE_DIR.rglob("*.js"))
# Markup from strings is how API data (a file name, a copy line, a tag) would become script in an operator's
# browser; the console builds elements and text nodes only (console/dom.js), and the CSP forbids eval.
MARKUP_SINKS = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function")


@pytest.mark.parametrize("script", CONSOLE_SCRIPTS, ids=lambda p: str(p.relative_to(CONSOLE_DIR)))
def test_the_console_never_turns_strings_into_markup_or_code(script):
    source = script.read_text()
    assert not [sink for sink in MARKUP_SINKS if sink in source]


def test_the_console_loads_nothing_from_another_origin():
    # No CDN: every script, style and font is served with the console (the CSP allows only 'self').
    for page in [*CONSOLE_DIR.rglob("*.html"), *CONSOLE_SCRIPTS]:
        assert "//cdn" not in page.read_text() and "https://unpkg" not in page.read_text()
        for src in re.findall(r"(?:src|href)=\"([^\"]+)\"", page.read_text()):
            assert not src.startswith(("http:", "https:", "//")), (page, src)


def _unseeded_generators(path: Path) -> list[str]:
    """`default_rng()` calls with no seed, by enclosing function: each draws its seed from the OS once."""
    found = []
    for function in ast.walk(ast.parse(path.read_text())):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            found += [
                f"{path.relative_to(PACKAGE)}:{function.name}"
                for call in ast.walk(function)
                if isinstance(call, ast.Call)
                and getattr(call.func, "attr", getattr(call.func, "id", None)) == "default_rng"
                and not call.args
                and not call.keywords
            ]
    return found


def test_only_wiring_makes_unseeded_generators_so_a_snapstart_restore_reseeds_them_all():
    # A generator seeded from the OS at a cold start is in the SnapStart snapshot: every restored container
    # would draw the same numbers, unless it is one wiring reseeds (creative.wiring._generator)
    unseeded = [found for path in sorted(PACKAGE.rglob("*.py")) for found in _unseeded_generators(path)]
    assert unseeded == ["wiring.py:_generator"]
