# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
# Both create .venv and install what they need into it first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit install bench clean-data browser promtool

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
# Two pytest processes, a file each at a time (each starts its own servers): the suite is
# mostly waiting on servers, so two cores finish it in about half the time. The simulation
# runs a fixed seed here (reproducible in CI); SIM_SEED=... or SIM_LONG=1 draw others.
# Debian's chromium and its driver, for the test that takes the README's Temporal UI picture
# with a real browser (tests/e2e/test_temporal_ui_screenshot.py); installed once, as root.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; }

# promtool, from Debian's prometheus package (unpacked, not installed: no server, no service),
# checks the alert rules, the dashboard's queries and both /metrics endpoints in the tests.
PROMTOOL := $(VENV)/bin/promtool
$(PROMTOOL): | $(STAMP)
	rm -rf $(VENV)/prometheus-deb && mkdir -p $(VENV)/prometheus-deb
	cd $(VENV)/prometheus-deb && { apt-get download -qq prometheus 2>/dev/null || \
		{ apt-get update -qq && apt-get download -qq prometheus; }; } && \
		dpkg-deb -x prometheus_*.deb unpacked
	cp $(VENV)/prometheus-deb/unpacked/usr/bin/promtool $(PROMTOOL)
	rm -rf $(VENV)/prometheus-deb

promtool: $(PROMTOOL)

test: lint typecheck browser promtool
	SIM_SEED=$${SIM_SEED:-7} SIM_BUDGET_SECONDS=$${SIM_BUDGET_SECONDS:-30} \
		$(BIN)/python tools/pytest_gate.py -n 2 --dist loadfile --no-loadscope-reorder

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit tests/tooling

clean-data:
	rm -rf .data
