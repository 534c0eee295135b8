"""The docs name only what exists: every file, module, function and constant they quote in backticks.

A doc that drifted from the code is worse than none; this finds the drift when the code moves, not when a
reader trips on it. Numbers cannot be checked this way, so docs name the constant that holds one.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

from infra.paths import DOCS_DIR, DOMAIN_PACKAGE_PARENT, LAYER_SOURCES_DIR, REPO_ROOT, TOOLS_DIR

DOCS = sorted(
    [REPO_ROOT / "README.md", *DOCS_DIR.glob("*.md"), *LAYER_SOURCES_DIR.glob("*/requirements.txt")]
)
# Top-level folders of this repository: a quoted path starting with one of these must exist.
REPO_FOLDERS = {p.name for p in REPO_ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")} - {
    "build",
    "out",
    "cdk.out",
}
# Packages a quoted dotted name may start with, and where their sources are.
PACKAGE_ROOTS = {"creative": DOMAIN_PACKAGE_PARENT, "infra": REPO_ROOT} | {
    p.name: TOOLS_DIR for p in TOOLS_DIR.iterdir() if (p / "__init__.py").is_file()
}
BACKTICKED = re.compile(r"`([^`\n]+)`")
CONSTANT = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
CALL = re.compile(r"^([a-z_][a-z0-9_]*)\(\)$")
DOTTED = re.compile(r"^([a-z_][a-z0-9_]*)(\.[A-Za-z_][A-Za-z0-9_]*)+$")


def quoted(doc: Path) -> list[str]:
    text = doc.read_text()
    if doc.suffix == ".txt":  # requirements files: only their comments are prose, and they quote nothing
        comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
        return [word.strip("()") for line in comments for word in line.split() if "/" in word or "()" in word]
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # code blocks are examples, not references
    return [span.strip() for span in BACKTICKED.findall(text)]


@cache
def python_sources() -> str:
    files = [*REPO_ROOT.glob("functions/**/*.py"), *REPO_ROOT.glob("infra/**/*.py")]
    files += [
        *DOMAIN_PACKAGE_PARENT.glob("**/*.py"),
        *TOOLS_DIR.glob("**/*.py"),
        *REPO_ROOT.glob("tests/**/*.py"),
    ]
    return "\n".join(p.read_text() for p in files) + (REPO_ROOT / "Makefile").read_text()


@cache
def defined_functions() -> set[str]:
    return set(re.findall(r"^\s*(?:async\s+)?def\s+(\w+)", python_sources(), flags=re.MULTILINE))


def module_file(dotted: str) -> Path | None:
    root = PACKAGE_ROOTS.get(dotted.split(".")[0])
    if root is None:
        return None
    base = root.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def top_level_names(path: Path) -> dict[str, set[str]]:
    """Names a module defines, each with the names defined in it (a class's methods and attributes)."""
    names: dict[str, set[str]] = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names[node.name] = set()
        elif isinstance(node, ast.ClassDef):
            members = {n.name for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
            members |= {
                t.id
                for n in node.body
                if isinstance(n, ast.Assign)
                for t in n.targets
                if isinstance(t, ast.Name)
            }
            members |= {
                n.target.id
                for n in node.body
                if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
            }
            names[node.name] = members
        elif isinstance(node, ast.Assign):
            names |= {t.id: set() for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = set()
        elif isinstance(node, ast.ImportFrom):
            names |= {(a.asname or a.name): set() for a in node.names}
    return names


def missing_function(reference: str) -> str | None:
    name = CALL.match(reference).group(1)
    if reference == "rate()":  # EventBridge's schedule expression, not a function of ours
        return None
    return None if name in defined_functions() else f"no function {name}()"


def missing_file(reference: str) -> str | None:
    path = reference.split("#")[0].split(":")[0].rstrip("/")
    first = path.split("/")[0]
    domain = DOMAIN_PACKAGE_PARENT / "creative"
    if first in REPO_FOLDERS:
        where, shown = REPO_ROOT / path, path
    elif first in PACKAGE_ROOTS:
        where, shown = PACKAGE_ROOTS[first] / path, path
    elif first and (domain / first).is_dir():  # relative to the domain package, e.g. `racing/racer.py`
        where, shown = domain / path, f"creative/{path}"
    else:
        return None  # S3 keys, /tmp paths, URLs: not files of this repository
    return None if where.exists() else f"no file {shown}"


def missing_dotted(reference: str) -> str | None:
    parts = reference.split(".")
    for split in range(len(parts), 0, -1):
        path = module_file(".".join(parts[:split]))
        if path is None:
            continue
        rest = parts[split:]
        if not rest:
            return None
        names = top_level_names(path)
        if rest[0] not in names:
            if path.name == "__init__.py":
                return f"no module {reference}"
            return f"{'.'.join(parts[:split])} defines no {rest[0]}"
        if len(rest) > 1 and names[rest[0]] and rest[1] not in names[rest[0]]:
            return f"{'.'.join(parts[: split + 1])} has no {rest[1]}"
        return None
    return f"no module {reference}"


def missing(reference: str) -> str | None:
    """Why a quoted reference names nothing that exists, or None when it does (or is not a reference)."""
    reference = reference.rstrip(".,:;")
    if CALL.match(reference):
        return missing_function(reference)
    if CONSTANT.match(reference):
        return None if re.search(rf"\b{reference}\b", python_sources()) else f"no constant {reference}"
    if "/" in reference and " " not in reference and not re.search(r"[<>*{}$]", reference):
        return missing_file(reference)
    if DOTTED.match(reference) and reference.split(".")[0] in PACKAGE_ROOTS:
        return missing_dotted(reference)
    return None


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_file_module_function_and_constant_a_doc_quotes_exists(doc: Path) -> None:
    problems = sorted({f"`{ref}`: {why}" for ref in quoted(doc) if (why := missing(ref))})
    assert not problems, "\n".join(problems)


def test_the_check_catches_what_does_not_exist() -> None:
    assert missing("tools/stack_build/synth.py") is None
    assert missing("creative.racing.racer.ContextualRacer") is None
    assert missing("MAX_RECEIVE_COUNT") is None
    assert missing("infra/build_deps_layer.py") == "no file infra/build_deps_layer.py"
    assert missing("creative.racing.contextual") == "no module creative.racing.contextual"
    assert missing("creative.racing.racer.NoSuchRacer") == "creative.racing.racer defines no NoSuchRacer"
    absent = "NO_SUCH_" + "CONSTANT"  # spelled in two parts, so this file does not define it
    assert missing(absent) == f"no constant {absent}"
    assert missing("build_nothing()") == "no function build_nothing()"
    assert missing("models/manifest.json") is None  # an S3 key, not a repository file
    assert missing("racing/racer.py") is None  # relative to the domain package
    assert missing("racing/contextual.py") == "no file creative/racing/contextual.py"
