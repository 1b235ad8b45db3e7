# Beyond Sequential — the two commands a learner or instructor needs:
#   make lab    set up .venv from the lock file if needed, then open JupyterLab
#   make test   the same set-up, then the whole test suite (what CI runs)
#   make test-colab   Colab's runtime (Python 3.13, Keras 3.13.2, TF 2.20) in .venv-colab
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

.PHONY: lab test setup lint bench clean-venv lock release-notebooks colab-cells test-oldest \
  check-python lock-colab colab-python test-colab test-colab-ci

lab: check-python $(STAMP)
	$(VENV)/bin/kerascourse lab --port $(PORT)

# Stops at once when the Python that would run the course is too old: .venv's own when it
# exists (made earlier, perhaps with an older Python), else $(PYTHON). See .ci/bootstrap.
check-python:
	@bash .ci/bootstrap --check-python "$(PYTHON)" "$(VENV)"

test: check-python $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

setup: check-python $(STAMP)

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
	@bash .ci/bootstrap --check-python "$(PYTHON)" "$(OLDEST_VENV)"
	@test -x $(OLDEST_VENV)/bin/python || $(PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install -q --disable-pip-version-check \
	  -c constraints-oldest.txt -e ".[tf-cpu]" "pytest>=8" "nbformat>=5.10" "pyyaml>=6"
	$(OLDEST_VENV)/bin/python -c "import keras, tensorflow as tf; print('keras', keras.__version__, 'tensorflow', tf.__version__)"
	$(OLDEST_VENV)/bin/python -m pytest -p no:cacheprovider -m "not slow and not network" $(OLDEST_TESTS)

# --- Colab's runtime: Python 3.13, tensorflow-cpu 2.20.0, Keras 3.13.2, ipywidgets 7.7.1 ---
# plus what the notebooks' Colab cell installs (the kit's `colab` extra); see
# requirements-colab.in. `make test-colab` builds .venv-colab from requirements-colab.lock
# (idempotent, like .venv) and runs every chapter and lab in FAST mode, the widget tests and
# `kerascourse check` on each lab's solution. `make test-colab-ci` is the nightly-sized
# subset .ci/run runs: one chapter, one lab, the widget tests, one check.
# COLAB_PYTHON: python3.13 on PATH when it runs (a pyenv shim may not), else pyenv's 3.13.
COLAB_PYTHON ?= $(firstword $(foreach p,python3.13 $(wildcard $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions/3.13*/bin/python3),$(shell $(p) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1 && echo $(p))))
COLAB_VENV ?= .venv-colab
COLAB_LOCK := requirements-colab.lock
COLAB_STAMP := $(COLAB_VENV)/.kerascourse-installed
COLAB_JOBS ?= 2
COLAB_PYTEST := KERASCOURSE_NOTEBOOK_TIMES=$(COLAB_VENV)/notebook-times.json \
  $(COLAB_VENV)/bin/python -m pytest -p no:cacheprovider --dist loadgroup
# Widget tests, less two that do not apply here: the JupyterLab browser test (Colab's page
# is not JupyterLab, and ipywidgets 7.7.1 has no JupyterLab 4 extension) and the re-run
# under ipywidgets 7.8.5 (this environment already has Colab's 7.x).
COLAB_WIDGETS := $(filter-out tests/widgets/test_widgets_browser.py \
  tests/widgets/test_widgets_ipywidgets7.py,$(wildcard tests/widgets/test_*.py))
# lab01 runs in its own stricter test (see EXECUTED_ELSEWHERE in tests/test_notebooks.py).
COLAB_TESTS := tests/test_notebooks.py::test_notebook_runs_in_fast_mode \
  tests/autograder/labs/test_lab01.py::test_solution_runs_quietly_and_its_export_gets_full_marks \
  $(COLAB_WIDGETS) tests/colab/check_lab_solutions.py
COLAB_CI_TESTS := "tests/test_notebooks.py::test_notebook_runs_in_fast_mode[07_looking_inside.ipynb]" \
  "tests/test_notebooks.py::test_notebook_runs_in_fast_mode[lab00_tf_keras_foundations.ipynb]" \
  $(COLAB_WIDGETS) "tests/colab/check_lab_solutions.py::test_check_gives_the_solution_full_marks[lab00_tf_keras_foundations]"

colab-python:
	@if [ -z "$(COLAB_PYTHON)" ]; then \
	  echo "[kerascourse colab] No Python 3.13 found (Colab's runtime is Python 3.13). Install one"; \
	  echo "  (pyenv install 3.13, uv python install 3.13, or your system's python3.13 package),"; \
	  echo "  then: make test-colab COLAB_PYTHON=/path/to/python3.13"; exit 1; fi
	@$(COLAB_PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null || { \
	  echo "[kerascourse colab] COLAB_PYTHON=$(COLAB_PYTHON) is not Python 3.13 ($$($(COLAB_PYTHON) --version 2>&1));"; \
	  echo "  pass a Python 3.13: make test-colab COLAB_PYTHON=/path/to/python3.13"; exit 1; }

# Regenerate requirements-colab.lock after changing requirements-colab.in or pyproject.toml.
lock-colab: $(STAMP) | colab-python
	UV_PYTHON_DOWNLOADS=never $(VENV)/bin/uv pip compile requirements-colab.in \
	  --python "$(COLAB_PYTHON)" --python-version 3.13 --python-platform x86_64-manylinux_2_28 \
	  --no-emit-package kerascourse --custom-compile-command "make lock-colab" -o $(COLAB_LOCK)

$(COLAB_STAMP): $(COLAB_LOCK) pyproject.toml | colab-python
	@bash .ci/bootstrap "$(COLAB_PYTHON)" "$(COLAB_VENV)" "$(COLAB_LOCK)" uv "$(UV_VERSION)"
	@touch $@

test-colab: $(COLAB_STAMP)
	KERASCOURSE_FAST=1 $(COLAB_PYTEST) -n $(COLAB_JOBS) $(COLAB_TESTS) $(PYTEST_ARGS)

test-colab-ci: $(COLAB_STAMP)
	KERASCOURSE_FAST=1 $(COLAB_PYTEST) -n $(COLAB_JOBS) $(COLAB_CI_TESTS) $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)
