# Two commands do all the set-up on a fresh machine (python3, node/npm, make):
#   make test   lint + type check + tests
#   make drill  the local failover rehearsal on embedded Azurite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
PYTEST_ARGS ?=

.PHONY: setup test lint typecheck pytest drill bench clean constraints

setup: $(PY_STAMP) $(NODE_STAMP)

# constraints.txt pins every transitive version that was tested (refresh: `make constraints`).
# A current pip first: older resolvers fail on azure-ai-ml's opentelemetry ranges.
$(PY_STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade "pip>=24"
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

constraints:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^hubfailover' > constraints.txt

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: $(PY_STAMP)
	$(BIN)/ruff check .

typecheck: $(PY_STAMP)
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

drill: setup
	$(BIN)/hubfailover drill $(DRILL_ARGS)

bench: setup
	$(BIN)/python bench/replay.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
