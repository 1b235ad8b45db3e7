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

.PHONY: lab test setup lint bench clean-venv lock release-notebooks colab-cells test-oldest

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

# Colab: put the badge and the set-up cell (kerascourse.colab) into every chapter and lab,
# then regenerate release/, the labs' student versions the lab badges open (nbgrader).
colab-cells: $(STAMP)
	$(PY) -m kerascourse.colab .

release-notebooks: $(STAMP)
	$(VENV)/bin/kerascourse release-notebooks

# The oldest claimed versions (constraints-oldest.txt) in a separate venv: the package's
# unit tests only, not the notebooks. Needs PyPI (downloads TensorFlow 2.18).
OLDEST_VENV ?= .venv-oldest
OLDEST_TESTS := tests/test_settings.py tests/test_platform.py tests/test_offline.py \
  tests/test_doctor.py tests/test_colab_cell.py tests/widgets/test_widgets_models.py \
  tests/widgets/test_widgets_render.py tests/autograder/checks/test_architecture.py \
  tests/autograder/checks/test_budget.py

test-oldest:
	@test -x $(OLDEST_VENV)/bin/python || $(PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install -q --disable-pip-version-check \
	  -c constraints-oldest.txt -e ".[tf-cpu]" "pytest>=8" "nbformat>=5.10" "pyyaml>=6"
	$(OLDEST_VENV)/bin/python -c "import keras, tensorflow as tf; print('keras', keras.__version__, 'tensorflow', tf.__version__)"
	$(OLDEST_VENV)/bin/python -m pytest -p no:cacheprovider -m "not slow and not network" $(OLDEST_TESTS)

clean-venv:
	rm -rf $(VENV)
