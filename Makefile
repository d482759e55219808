# The two commands a newcomer needs: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: demo test lint typecheck unit functional e2e local-up clean chromium layers

$(BIN)/python:
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v == (3, 11) else f"Python 3.11 is required (the Lambda runtime); found {sys.version.split()[0]}")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Re-install only when the dependency list changes.
$(VENV)/.installed-local: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e '.[local]'
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed-local

demo: $(VENV)/.installed-local
	$(BIN)/stratigos demo

local-up: $(VENV)/.installed-local
	$(BIN)/stratigos local up

lint: $(VENV)/.installed-dev
	$(BIN)/cfn-lint template.yaml
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/bandit -c pyproject.toml -q -r core ingest compute analyses api reports lake stack local layers sample_data \
		tests/support

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

unit: $(VENV)/.installed-dev
	$(BIN)/pytest tests/unit

functional: $(VENV)/.installed-dev
	$(BIN)/pytest tests/functional

e2e: $(VENV)/.installed-dev chromium
	$(BIN)/pytest tests/e2e

# Headless Chromium for the report tests (Debian's package; the machine's only browser),
# and curl, which runs docs/API.md's examples as a reader pastes them.
chromium:
	@command -v chromium >/dev/null 2>&1 && command -v curl >/dev/null 2>&1 || { \
		echo "installing Debian's chromium and curl for the browser and docs tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium curl >/dev/null; }

test: lint typecheck layers chromium
	$(BIN)/pytest

# Lambda layers and function packages for python3.11 on x86_64, and the size budget:
# fails when a function plus its layers passes 230 MB. Wheels are cached in
# ~/.cache/stratigos/wheels and unchanged layers are reused from build/layers.
layers: $(VENV)/.installed-local
	$(BIN)/python -m layers build

# `sam build` runs `make build-<LogicalId>` for each function and layer (BuildMethod:
# makefile) with ARTIFACTS_DIR set: a stripped layer, or only the modules a handler reaches.
build-%: $(VENV)/.installed-local
	$(BIN)/python -m layers sam-build $* "$(ARTIFACTS_DIR)"

clean:
	rm -rf $(VENV) .stratigos demo-output .pytest_cache .mypy_cache .ruff_cache build .aws-sam *.egg-info
