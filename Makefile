# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
# Both create .venv and install what they need into it first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit install bench clean-data

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/fulfillment dev

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The gate reads pytest's summary line: "no tests ran" fails, and a crash at interpreter
# exit after a clean summary is reported, not mistaken for a failure (DESIGN.md).
test: lint typecheck
	$(BIN)/python tools/pytest_gate.py

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

clean-data:
	rm -rf .data
