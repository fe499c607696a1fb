# Every target creates .venv and installs .[dev] when missing, so a fresh machine needs nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench stress clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m examples.demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -n 2 -q

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m bench

# Reliability figures (issue 9): leaks, stop under load, hostile clients, fuzzing, processes.
# Bounded: under 10 minutes on 2 cores; loopback only. Writes bench/results/stress.json.
stress: $(STAMP)
	$(BIN)/python -m bench.stress

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build dist
