# Every target creates its virtual environment and installs into it when missing, so a fresh
# machine needs nothing but Python 3.11+ and make.
#
# .venv holds what a fresh `pip install` picks today: the newest release of every dependency.
# It is set up again when pyproject.toml changes and when it is a day old (upgrading everything),
# so `make test` never runs on a stale environment; `make clean-venv` forces a fresh start.
# .venv-oldest holds every direct dependency at the lower bound pyproject.toml gives it
# (uv's --resolution lowest-direct), for `make test-oldest`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OLDEST := .venv-oldest
OLDEST_STAMP := $(OLDEST)/.installed

# A stamp older than a day is removed, so the rule below upgrades the environment.
$(shell find $(STAMP) $(OLDEST_STAMP) -mmin +1440 -delete 2>/dev/null)

.PHONY: demo test lint typecheck pytest docs bench stress test-oldest clean clean-venv

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[dev]'
	touch $(STAMP)

$(OLDEST_STAMP): pyproject.toml
	$(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet --upgrade pip uv
	$(OLDEST)/bin/uv pip install --quiet --python $(OLDEST)/bin/python \
		--resolution lowest-direct -e '.[test]'
	touch $(OLDEST_STAMP)

demo: $(STAMP)
	$(BIN)/python -m examples.demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -n 2 -q

test: lint typecheck docs pytest

# The API reference, from the docstrings, into site/ (open site/index.html). --strict makes every
# warning an error: a docstring that does not render, a link to a name the reference lacks.
# Offline: nothing is fetched at build time or when a page is opened.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# The test suite with every runtime and test dependency at its lower bound (lint and type
# checking run in `make test`, on the newest tools).
test-oldest: $(OLDEST_STAMP)
	$(OLDEST)/bin/python -m pip list --format=freeze | grep -iE '^(cryptography|trustme|httptools|aiosmtpd|packaging|python-multipart|google-re2|rapidfuzz|websockets|h2|aiohttp)=='
	$(OLDEST)/bin/pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python -m bench

# Reliability figures (issue 9): leaks, stop under load, hostile clients, fuzzing, processes.
# Bounded: under 10 minutes on 2 cores; loopback only. Writes bench/results/stress.json.
stress: $(STAMP)
	$(BIN)/python -m bench.stress

clean-venv:
	rm -rf $(VENV) $(OLDEST)

clean: clean-venv
	rm -rf .mypy_cache .ruff_cache .pytest_cache build dist site
