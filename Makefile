# The two commands a newcomer runs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SPOLA_PORT ?= 8000
SPOLA_HOST ?= 127.0.0.1

.PHONY: run test lint typecheck browser bench clean

$(BIN)/spola: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[server]'
	@touch $@

$(VENV)/.dev: $(BIN)/spola
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

## run: install, create the log key if missing, seed the demo ledger if empty, serve on :$(SPOLA_PORT)
run: $(BIN)/spola
	$(BIN)/spola init --exist-ok
	$(BIN)/spola demo
	$(BIN)/spola serve --host $(SPOLA_HOST) --port $(SPOLA_PORT)

## test: install dev dependencies, lint, type-check and run the whole suite
test: $(VENV)/.dev lint typecheck browser
	$(BIN)/pytest -n 2 -q

## browser: Debian's chromium for the passport page's browser test (tests/integration)
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev
	$(BIN)/mypy

bench: $(VENV)/.dev
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/scaling.py
	$(BIN)/python bench/verify.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
