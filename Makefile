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
# Two workers (pytest-xdist), each with its own Azurite: the suite waits on storage more than on CPU.
PYTEST_WORKERS ?= 2
# Infra checks (checkov) live in their own venv: checkov's pins conflict with the app's.
INFRA_VENV := .venv-infra
INFRA_BIN := $(INFRA_VENV)/bin
INFRA_STAMP := $(INFRA_VENV)/.installed

.PHONY: setup test lint typecheck pytest drill bench bench-replay bench-failover bench-blip clean constraints infra-check

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
	{ echo '# Every version tested in CI (pip freeze of the dev venv). Refresh with `make constraints`.'; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^hubfailover'; } > constraints.txt

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: $(PY_STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

typecheck: $(PY_STAMP)
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

test: lint typecheck infra-check pytest

$(INFRA_STAMP): infra/requirements-checkov.txt
	test -x $(INFRA_BIN)/python || $(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_BIN)/python -m pip install -q --disable-pip-version-check --upgrade "pip>=24"
	$(INFRA_BIN)/python -m pip install -q --disable-pip-version-check -r infra/requirements-checkov.txt
	touch $@

# checkov on infra/ (Bicep + secrets), offline; fails on any failed check. Skips are inline
# (#checkov:skip=... with a reason). Then every Bicep file must parse with checkov's own parser,
# or checkov would skip it silently.
infra-check: $(INFRA_STAMP)
	$(INFRA_BIN)/checkov --directory infra --framework bicep secrets --skip-download --compact --quiet
	$(INFRA_BIN)/python infra/scripts/parse_check.py

drill: setup
	$(BIN)/hubfailover drill $(DRILL_ARGS)

# Benchmarks print figures and assert nothing; not part of `make test` (several minutes).
bench: bench-replay bench-failover bench-blip

bench-replay: setup
	$(BIN)/python bench/replay.py $(BENCH_ARGS)

bench-failover: setup
	$(BIN)/python bench/failover.py $(BENCH_ARGS)

bench-blip: setup
	$(BIN)/python bench/blip.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(INFRA_VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
