"""Bytecode in the layers: a Lambda cold start then loads compiled modules instead of compiling each one.

Lambda's code and layers are read-only, so CPython cannot cache the bytecode it compiles: a layer shipped
without `__pycache__` compiles every module it imports on every cold start. Measured on select (`make
bench`, `select_cold_import`): about 1.0 s from source against about 0.4 s from bytecode.

The runtime is Python 3.13 and this build host may have another version, whose bytecode 3.13 ignores (its
magic number differs). So the bytecode comes from Pyodide's CPython 3.13 (WebAssembly, pinned from npm
and run by the Node.js the CDK needs anyway): bytecode is the same on every platform. Files are compiled
hash-based and unchecked, so the zip's timestamps cannot invalidate them.

What is compiled: the whole `creative` layer (staged under build/layers/creative), and in `deps` the
modules loaded by the cold start of a function someone waits on (`waited_on`: not the scheduled ones):
importing its handler and building what its first invocation builds (`cold_start_files`, measured in a
fresh interpreter of this virtualenv, whose packages are the layer's). The rest of `deps` stays source
only: compiling all of it (~14 MB) would put `retrain_ctr` over Lambda's 250 MB (docs/deploy.md). A
module imported only later compiles on its first import, as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterable
from pathlib import Path

from infra import catalog
from infra.catalog import BUILT_LAYERS_DIR, CREATIVE_LAYER_DIR, FUNCTIONS, FunctionSpec, ScheduleTrigger
from infra.paths import BUILD_DIR, FUNCTIONS_DIR

PYODIDE_VERSION = "0.28.3"  # CPython 3.13.2: the python3.13 runtime's bytecode (magic number 3571)
PYODIDE_DIR = BUILD_DIR / "pyodide"
COMPILER = Path(__file__).with_name("compile_bytecode.mjs")
STAGED_CREATIVE_LAYER = BUILT_LAYERS_DIR / "creative"
CACHE_DIR = "__pycache__"

# Imports a function's handler in a fresh interpreter, builds what its first invocation builds (the wiring
# calls in its source, with placeholder resource names and AWS pointed at a closed local port: a wiring that
# reads from AWS fails there, fast, and what it imported until then counts) and prints every module file
# loaded by then.
_LIST_IMPORTS = """
import importlib.util, json, os, re, sys
os.environ.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="us-east-1")
os.environ.update(AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_MAX_ATTEMPTS="1")
os.environ.update(json.loads(sys.argv[2]))
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
from creative import wiring
for name in sorted(set(re.findall(r"wiring\\.(\\w+)\\(", open(sys.argv[1]).read()))):
    try:
        getattr(wiring, name)()
    except Exception as exc:
        print(f"{name}: {type(exc).__name__}", file=sys.stderr)
print(json.dumps(sorted({getattr(m, "__file__", None) or "" for m in list(sys.modules.values())} - {""})))
"""


def pyodide() -> Path:
    """Pyodide's files, installed under build/pyodide once (npm)."""
    manifest = PYODIDE_DIR / "node_modules" / "pyodide" / "package.json"
    if not manifest.is_file() or json.loads(manifest.read_text())["version"] != PYODIDE_VERSION:
        PYODIDE_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--prefix", str(PYODIDE_DIR), "--no-save", "--no-package-lock", "--no-audit",
             "--no-fund", f"pyodide@{PYODIDE_VERSION}"],
            check=True,
        )  # fmt: skip
    return manifest.parent


def compile_files(root: Path, relative_paths: Iterable[str], python_version: str) -> int:
    """Compile the files (relative to root) for that Python; returns how many were compiled."""
    paths = sorted(set(relative_paths))
    if not paths:
        return 0
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as listing:
        listing.write("\n".join(paths))
        listing.flush()
        result = subprocess.run(
            ["node", str(COMPILER), str(pyodide()), str(root.resolve()), listing.name, python_version],
            check=True,
            capture_output=True,
            text=True,
        )
    compiled = int(result.stdout.split()[0])
    if compiled != len(paths):
        raise SystemExit(f"compiled {compiled} of {len(paths)} files under {root}")
    return compiled


def cold_start_files(site_packages_roots: Iterable[Path]) -> dict[Path, list[str]]:
    """Per root: the .py files (relative to it) that the cold start of a function someone waits on loads."""
    roots = [Path(root).resolve() for root in site_packages_roots]
    found: dict[Path, set[str]] = {root: set() for root in roots}
    env = {**os.environ, "PYTHONPATH": str(CREATIVE_LAYER_DIR / "python")}
    for spec in filter(waited_on, FUNCTIONS):
        handler = FUNCTIONS_DIR / spec.name / "handler.py"
        placeholders = {name: f"placeholder-{name.lower()}" for name in spec.resource_env} | spec.env
        output = subprocess.run(
            [sys.executable, "-c", _LIST_IMPORTS, str(handler), json.dumps(placeholders)],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        ).stdout
        for file in json.loads(output):
            path = Path(file).resolve()
            for root in roots:
                if path.suffix == ".py" and path.is_relative_to(root):
                    found[root].add(str(path.relative_to(root)))
    return {root: sorted(files) for root, files in found.items()}


def waited_on(spec: FunctionSpec) -> bool:
    """A function some request or upload waits on: not one that only runs on a schedule (retraining, copy
    generation), whose cold starts delay no one; their imports (scipy's numpy, protobuf) would cost
    `retrain_ctr` the last of its headroom under Lambda's size limit."""
    return not all(isinstance(trigger, ScheduleTrigger) for trigger in spec.triggers)


def compile_layer_if_stale(site_packages: Path, layer_stamp: Path, python_version: str) -> int:
    """Compile the layer's cold-start modules (those this virtualenv's handlers import, where the layer has
    the same file) unless the layer, that list and the compiler are what the last run compiled; returns
    how many files were compiled.

    Listing the imports starts an interpreter per function (about 8 s in all), so the stamp also keeps a
    digest of what decides the list (the layer, the handlers, the creative package, the catalog, this build
    code); when that is unchanged, nothing is listed."""
    stamp = bytecode_stamp(layer_stamp)
    recorded = (
        dict(zip(("inputs", "list"), stamp.read_text().split(), strict=False)) if stamp.is_file() else {}
    )
    inputs = hashlib.sha256(layer_stamp.read_bytes())
    for tree in (FUNCTIONS_DIR, CREATIVE_LAYER_DIR / "python", Path(__file__).parent):
        inputs.update(_tree_fingerprint(tree, python_version).encode())
    inputs.update(Path(catalog.__file__).read_bytes())
    if inputs.hexdigest() == recorded.get("inputs"):
        return 0
    venv = Path(sysconfig.get_paths()["purelib"]).resolve()
    present = [
        relative for relative in cold_start_files([venv])[venv] if (site_packages / relative).is_file()
    ]
    listed = hashlib.sha256(f"{python_version}|{COMPILER.read_text()}|{PYODIDE_VERSION}".encode())
    listed.update(layer_stamp.read_bytes() + "\n".join(present).encode())
    compiled = 0
    if listed.hexdigest() != recorded.get("list"):  # else only what decides the list changed, not the list
        stamp.unlink(missing_ok=True)
        remove_bytecode(site_packages)
        compiled = compile_files(site_packages, present, python_version)
        print(
            f"{site_packages.parent.name} layer: {compiled} cold-start modules compiled for {python_version}"
        )
    stamp.write_text(f"{inputs.hexdigest()} {listed.hexdigest()}")
    return compiled


def bytecode_stamp(layer_stamp: Path) -> Path:
    """Beside the layer's own stamp; a rebuild of the layer removes it (its bytecode went with it)."""
    return layer_stamp.with_name(layer_stamp.stem + ".bytecode.stamp")


def stage_creative_layer(python_version: str) -> Path:
    """build/layers/creative/python: the creative package with its bytecode (rebuilt when a source changes)."""
    source = CREATIVE_LAYER_DIR / "python"
    stamp = STAGED_CREATIVE_LAYER.with_name("creative.stamp")
    fingerprint = _tree_fingerprint(source, python_version)
    target = STAGED_CREATIVE_LAYER / "python"
    if target.is_dir() and stamp.is_file() and stamp.read_text() == fingerprint:
        return STAGED_CREATIVE_LAYER
    stamp.unlink(missing_ok=True)
    shutil.rmtree(STAGED_CREATIVE_LAYER, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(CACHE_DIR, "*.pyc"))
    compile_files(target, [str(p.relative_to(target)) for p in target.rglob("*.py")], python_version)
    stamp.write_text(fingerprint)
    return STAGED_CREATIVE_LAYER


def remove_bytecode(root: Path) -> None:
    for cache in list(root.rglob(CACHE_DIR)):  # listed first: the walk must not see its own deletions
        shutil.rmtree(cache)


def _tree_fingerprint(root: Path, python_version: str) -> str:
    digest = hashlib.sha256(f"{PYODIDE_VERSION}|{python_version}|{COMPILER.read_text()}".encode())
    for path in sorted(root.rglob("*")):
        if path.is_file() and CACHE_DIR not in path.parts and path.suffix != ".pyc":
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
