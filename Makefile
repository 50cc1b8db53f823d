# One command to run the platform, one to pass the tests. Both build .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow lint typecheck check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## run: the five services on the embedded broker and database (or real ones: see README)
run: $(STAMP)
	$(BIN)/lapor-devstack

## test: lint, type-check, then every test that is not marked slow
test: $(STAMP) check
	$(BIN)/pytest

## test-slow: fault-injection runs and benchmarks
test-slow: $(STAMP)
	$(BIN)/pytest -m slow

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
