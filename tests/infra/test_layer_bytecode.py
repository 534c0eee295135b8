"""The layers carry bytecode for the Lambda runtime's Python, and the runtime trusts it without its sources."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from stack_build import bytecode
from stack_build.dependency_layers import LAMBDA_PYTHON_VERSION
from stack_build.synth import STACK_NAME, synthesize

from infra.constants import LAYER_METADATA_KEY

MAGIC_3_13 = 3571  # importlib.util.MAGIC_NUMBER of CPython 3.13
UNCHECKED_HASH = 0b01  # the pyc's flags: hash-based, source never checked

# Imports `mod` from a directory in Pyodide's CPython (the compiler's) and prints mod.VALUE.
_IMPORT_IN_PYODIDE = """
const { loadPyodide } = await import(process.argv[1] + "/pyodide.mjs");
const py = await loadPyodide({ indexURL: process.argv[1] + "/" });
py.FS.mkdirTree("/mnt/m");
py.FS.mount(py.FS.filesystems.NODEFS, { root: process.argv[2] }, "/mnt/m");
console.log(py.runPython("import sys; sys.path.insert(0, '/mnt/m'); import mod; str(mod.VALUE)"));
"""


def header(pyc: Path) -> tuple[int, int]:
    data = pyc.read_bytes()
    return int.from_bytes(data[:2], "little"), int.from_bytes(data[4:8], "little")


def test_compiled_modules_are_the_runtimes_bytecode_and_load_without_a_source_check(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text("VALUE = 'compiled'\n")
    assert bytecode.compile_files(tmp_path, ["mod.py"], LAMBDA_PYTHON_VERSION) == 1
    pyc = tmp_path / "__pycache__" / "mod.cpython-313.pyc"
    assert header(pyc) == (MAGIC_3_13, UNCHECKED_HASH)

    # The source changes after the build (as a zip's timestamps would): the bytecode is still what runs
    (tmp_path / "mod.py").write_text("VALUE = 'edited'\n")
    printed = subprocess.run(
        ["node", "--input-type=module", "-e", _IMPORT_IN_PYODIDE, str(bytecode.pyodide()), str(tmp_path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert printed[-1] == "compiled"


def test_bytecode_for_another_python_is_refused(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text("VALUE = 1\n")
    with pytest.raises(subprocess.CalledProcessError):
        bytecode.compile_files(tmp_path, ["mod.py"], "3.12")
    assert not (tmp_path / "__pycache__").exists()


def test_the_cold_start_modules_of_the_handlers_include_what_select_imports() -> None:
    import sysconfig

    venv = Path(sysconfig.get_paths()["purelib"]).resolve()
    files = set(bytecode.cold_start_files([venv])[venv])
    assert {"numpy/__init__.py", "pydantic/main.py", "aws_lambda_powertools/logging/logger.py"} <= files


def _layer_asset(assembly: Path, name: str) -> Path:
    template = json.loads((assembly / f"{STACK_NAME}.template.json").read_text())
    assets = json.loads((assembly / f"{STACK_NAME}.assets.json").read_text())["files"]
    (key,) = [
        r["Properties"]["Content"]["S3Key"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::LayerVersion" and r.get("Metadata", {}).get(LAYER_METADATA_KEY) == name
    ]
    return assembly / assets[key.removesuffix(".zip")]["source"]["path"]


def test_the_deployed_layers_carry_the_bytecode_a_select_cold_start_loads() -> None:
    assembly = synthesize().parent
    deps = _layer_asset(assembly, "deps") / "python"
    for module in ("numpy/__init__", "pydantic/main", "aws_lambda_powertools/logging/logger"):
        package, _, name = module.rpartition("/")
        pyc = deps / package / "__pycache__" / f"{name}.cpython-313.pyc"
        assert header(pyc) == (MAGIC_3_13, UNCHECKED_HASH), pyc
    creative = _layer_asset(assembly, "creative") / "python" / "creative"
    sources = {p.relative_to(creative).with_suffix("") for p in creative.rglob("*.py")}
    compiled = {
        p.parent.parent.relative_to(creative) / p.name.removesuffix(".cpython-313.pyc")
        for p in creative.rglob("*.cpython-313.pyc")
    }
    assert sources == compiled
    assert not list(deps.rglob("*.cpython-311.pyc")) and not list(creative.rglob("*.cpython-311.pyc"))


def test_a_layer_is_recompiled_only_when_its_cold_start_list_changes(tmp_path: Path, monkeypatch) -> None:
    # Given a layer with two modules, handlers whose cold start imports one of them, and stubs for the costly
    # steps (listing imports starts interpreters; compiling runs Pyodide)
    site_packages, handlers, creative = tmp_path / "python", tmp_path / "functions", tmp_path / "creative"
    for directory in (site_packages, handlers, creative / "python"):
        directory.mkdir(parents=True)
    (site_packages / "a.py").write_text("")
    (site_packages / "b.py").write_text("")
    (handlers / "handler.py").write_text("import a\n")
    layer_stamp = tmp_path / "deps.stamp"
    layer_stamp.write_text("layer built")
    imported = ["a.py"]
    listings, compiled = [], []

    def cold_start_files(roots):
        listings.append(1)
        return {root: list(imported) for root in roots}

    monkeypatch.setattr(bytecode, "FUNCTIONS_DIR", handlers)
    monkeypatch.setattr(bytecode, "CREATIVE_LAYER_DIR", creative)
    monkeypatch.setattr(bytecode, "cold_start_files", cold_start_files)
    monkeypatch.setattr(
        bytecode, "compile_files", lambda root, paths, version: compiled.append(paths) or len(paths)
    )

    def build() -> int:
        return bytecode.compile_layer_if_stale(site_packages, layer_stamp, "3.13")

    # The first build lists the imports and compiles them
    assert build() == 1 and compiled == [["a.py"]] and len(listings) == 1
    # Nothing changed: neither listed nor compiled
    assert build() == 0 and len(listings) == 1
    # A handler edit that imports the same: listed again, not compiled
    (handlers / "handler.py").write_text("import a  # edited\n")
    assert build() == 0 and len(listings) == 2 and len(compiled) == 1
    # A handler that now imports more: compiled again
    (handlers / "handler.py").write_text("import a, b\n")
    imported.append("b.py")
    assert build() == 2 and compiled[-1] == ["a.py", "b.py"]
    # The layer rebuilt (its stamp changes): compiled again
    layer_stamp.write_text("layer rebuilt")
    assert build() == 2 and len(compiled) == 3
