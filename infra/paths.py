"""Where things are in this repository: one definition for the CDK app, the build tools, the demo and tests.

Plain pathlib, no other import: the model build runs it in its own virtualenv.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

FUNCTIONS_DIR = REPO_ROOT / "functions"
LAYER_SOURCES_DIR = REPO_ROOT / "layers"  # layers/creative (domain package), layers/<name>/requirements.txt
DOMAIN_PACKAGE_PARENT = LAYER_SOURCES_DIR / "creative" / "python"  # what `import creative` needs on its path
EVENTS_DIR = REPO_ROOT / "events"
DOCS_DIR = REPO_ROOT / "docs"
TOOLS_DIR = REPO_ROOT / "tools"  # everything that never deploys

# Generated, never committed.
BUILD_DIR = REPO_ROOT / "build"  # layers, model artifacts, downloaded wheels and data
# `make models` output: build/models/manifest.json and the files it lists.
MODELS_BUILD_DIR = BUILD_DIR / "models"
OUT_DIR = REPO_ROOT / "out"  # reports: demo, evaluation, benchmarks
CDK_OUT_DIR = REPO_ROOT / "cdk.out"
CONSOLE_DIR = REPO_ROOT / "console"  # the operator console: static files, served as they are (no build)
