# Beyond Sequential — the two commands a learner or instructor needs:
#   make lab    set up .venv from the lock file if needed, then open JupyterLab
#   make test   the same set-up, then the whole test suite (what CI runs)
# Set-up is idempotent: it re-runs only when requirements.lock or pyproject.toml change.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.9
STAMP := $(VENV)/.kerascourse-installed
LOCK := requirements.lock
# Installer: uv (default, measured ~5x faster cold, see benchmarks/results/setup.md) or pip.
INSTALLER ?= uv
PORT ?= 8888
PYTEST_ARGS ?=

export TF_CPP_MIN_LOG_LEVEL := 3
export TF_ENABLE_ONEDNN_OPTS := 0

.PHONY: lab test setup lint bench clean-venv lock

lab: $(STAMP)
	$(VENV)/bin/kerascourse lab --port $(PORT)

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

setup: $(STAMP)

$(STAMP): $(LOCK) pyproject.toml
	@bash .ci/bootstrap "$(PYTHON)" "$(VENV)" "$(LOCK)" "$(INSTALLER)" "$(UV_VERSION)"
	@touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check src widgets datasets autograder tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/setup_time.py
	KERASCOURSE_FAST=1 $(PY) -m pytest tests/test_notebooks.py -n 2

# Regenerate the lock after changing pyproject.toml dependencies (needs PyPI).
lock: $(STAMP)
	$(VENV)/bin/uv pip compile pyproject.toml --extra tf-cpu --extra course --extra dev \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 -o $(LOCK)

clean-venv:
	rm -rf $(VENV)
