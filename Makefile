# ledger — make help lists the targets.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev

.DEFAULT_GOAL := help
.PHONY: help install run test lint format bench clean

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

lint: install ## ruff check, ruff format --check, mypy --strict
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests
	$(VENV)/bin/mypy

format: install ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix src tests
	$(VENV)/bin/ruff format src tests

bench: install ## Run the benchmark (ratios against baselines measured in the same run)
	$(PY) -m ledger.bench

clean: ## Remove the venv and caches (keeps .ledger/, the embedded database)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
