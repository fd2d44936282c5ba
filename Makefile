# Continuum: `make run` and `make test` set up a fresh machine by themselves (Python 3.11 + make).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
UV_VERSION := 0.13.9
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never
export UV_NO_PROGRESS := 1

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet --python $(BIN)/python
	@touch $@

install: $(VENV)/.synced ## Create the virtual environment and install the locked dependencies

migrate: install ## Apply every service's migrations to the local databases (var/)
	$(BIN)/python -m services.migrate_all

run: migrate ## Start every process built so far and print its URLs (Ctrl-C stops them)
	$(BIN)/python -m services.launcher

test: install ## Run every test (PostgreSQL too when CONTINUUM_TEST_POSTGRES_URL is set)
	$(BIN)/python -m pytest

lint: install ## ruff (lint and format) and import-linter (layers, independence)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install ## mypy --strict
	$(BIN)/mypy services reference gateway client conformance bench tests

check: lint typecheck test ## Lint, type-check and test

openapi: install ## Export each process's OpenAPI document to openapi/
	$(BIN)/python -m services.export_openapi

.PHONY: bench
bench: install ## Benchmarks vs their baselines, not part of test (bench/README.md; BENCH_ARGS=--million)
	$(BIN)/python -m bench $(BENCH_ARGS)

lock: ## Re-resolve the dependency lock file after editing pyproject.toml
	$(UV) lock

clean: ## Remove the virtual environment and local databases
	rm -rf $(VENV) var/*.db var/*.db-*

.PHONY: help install migrate run test lint typecheck check openapi lock clean
