# Two-command set-up: `make run` (install + insr run advection1d), `make test` (install + tests).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0

.PHONY: install install-dev run test lint wheel-smoke clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e .

# dev: test, lint and type-check tools; ray: the Ray executor tests start a local cluster
install-dev: $(BIN)/python
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[dev,ray]'

run: install
	$(BIN)/insr run advection1d

test: install-dev
	$(BIN)/python -m pytest

lint: install-dev
	$(BIN)/ruff format --check . && $(BIN)/ruff check . && $(BIN)/mypy

# build the wheel, install it (torch first) into a fresh venv in a temp dir, run it from an
# empty directory (README "Installing from a wheel; the working directory")
wheel-smoke:
	PY=$(PY) TORCH=$(TORCH) .ci/wheel_smoke.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
