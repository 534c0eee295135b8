// Compile Python files to CPython bytecode for the Lambda runtime's Python, with Pyodide's CPython
// (WebAssembly, from npm): the build host's own Python is another minor version, whose bytecode the
// runtime would ignore. Usage: node compile_bytecode.mjs <pyodide dir> <root> <list file> <expected X.Y>
// Compiles each listed path (relative to <root>, one per line) to __pycache__/<name>.cpython-XY.pyc,
// hash-based and unchecked: a zip's timestamps can then never make Python distrust it.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const [pyodideDir, root, listFile, expected] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(join(pyodideDir, "pyodide.mjs")).href);
const py = await loadPyodide({ indexURL: pyodideDir + "/" });
py.FS.mkdirTree("/mnt/root");
py.FS.mount(py.FS.filesystems.NODEFS, { root }, "/mnt/root");
py.globals.set("relative_paths", readFileSync(listFile, "utf8").split("\n").filter(Boolean));
py.globals.set("expected", expected);
const result = py.runPython(`
import importlib.util, py_compile, sys
version = f"{sys.version_info.major}.{sys.version_info.minor}"
if version != expected:
    raise SystemExit(f"Pyodide runs Python {version}, the runtime {expected}")
compiled = 0
for relative in relative_paths:
    py_compile.compile(
        f"/mnt/root/{relative}", doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
    )
    compiled += 1
f"{compiled} {sys.implementation.cache_tag} {importlib.util.MAGIC_NUMBER.hex()}"
`);
console.log(result);
