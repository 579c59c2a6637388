# `make demo` runs the demo shop, `make test` runs the checks (`make lint`) and the whole suite.
# Each builds a local virtual environment first. See docs/contributing.md.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install lint serve clean

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "Patron needs Python 3.11 or newer (python3.11, python3.12 …)"; exit 1; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/patron init
	$(BIN)/patron demo --seed 42
	$(BIN)/patron serve

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -n 2 --dist loadgroup

serve: $(STAMP)
	$(BIN)/patron serve

clean:
	rm -rf $(VENV) patron-data .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
