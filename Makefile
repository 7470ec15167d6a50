# ledger — make help lists the targets.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev

.DEFAULT_GOAL := help
.PHONY: help install run test lint format bench chaos clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv (if missing) and install the service with dev tools

run: install ## Migrate and serve on http://127.0.0.1:8000 (embedded PostgreSQL unless LEDGER_DATABASE_URL)
	$(VENV)/bin/ledger serve

test: install ## Run the whole suite (embedded PostgreSQL unless LEDGER_TEST_DATABASE_URL)
	$(PY) -m pytest

lint: install ## ruff check, ruff format --check, mypy --strict, the layer contract
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: install ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix src tests
	$(VENV)/bin/ruff format src tests

# make bench BENCH_ARGS="--quick --only volume --json bench.json" (see docs/benchmark.md)
BENCH_ARGS ?=

bench: install ## Run the benchmark: every figure beside its baseline or target (BENCH_ARGS=--quick)
	@command -v wrk >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1 || { \
	  echo "make bench: installing wrk (apt-get install wrk)"; \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo="sudo -n"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $$sudo apt-get install -y -qq wrk >/dev/null 2>&1 \
	  || { $$sudo apt-get update -qq && $$sudo apt-get install -y -qq wrk >/dev/null; } \
	  || echo "make bench: could not install wrk; Python clients will generate the load"; }
	$(PY) -m ledger.bench $(BENCH_ARGS)

# make chaos CHAOS_ARGS="--kills 20 --restarts 8 --process-kills 5 --burst 300" (docs/chaos.md)
CHAOS_ARGS ?=

chaos: install ## Run the fault suite on a PostgreSQL of its own (CHAOS_ARGS for bigger runs)
	$(PY) -m tests.chaos $(CHAOS_ARGS)

clean: ## Remove the venv and caches (keeps .ledger/, the embedded database)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
