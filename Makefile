# The two commands a newcomer runs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SPOLA_PORT ?= 8000
SPOLA_HOST ?= 127.0.0.1

.PHONY: run test lint typecheck security verifier-install-check browser bench clean constraints

# Every install reads the pinned versions of constraints.txt: an upstream release changes
# nothing here until `make constraints` records it.
$(BIN)/spola: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[server]'
	@touch $@

$(VENV)/.dev: $(BIN)/spola
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

## run: install, create the log key if missing, seed the demo ledger if empty, serve on :$(SPOLA_PORT)
run: $(BIN)/spola
	$(BIN)/spola init --exist-ok
	$(BIN)/spola demo
	$(BIN)/spola serve --host $(SPOLA_HOST) --port $(SPOLA_PORT)

## test: install dev dependencies, lint, type-check, security gates, the whole suite, the verifier alone
## --dist worksteal: an idle worker takes queued tests from the busy one (with the default
## `load`, one worker finished its share at 7 minutes and the other ran on to 15).
## --durations=15: the slowest tests are printed at the end, to watch the suite's time budget.
test: $(VENV)/.dev lint typecheck verifier-install-check browser security
	$(BIN)/pytest -n 2 --dist worksteal -q --durations=15

## verifier-install-check: an auditor's install (only `.[verifier]`) in a fresh venv: no
## SQLAlchemy, FastAPI or psycopg in it; the verifier's tests and `python -m verifier` pass.
## It installs a copy of the tree (no build/ left here); tests/conftest.py imports the store,
## so pytest runs with --noconftest. `spola verify` checks the valid fixture, `python -m
## verifier` the tampered one.
VERIFIER_FIXTURES := tests/vectors/bundles/data
verifier-install-check:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; venv="$$tmp/venv"; \
	mkdir "$$tmp/src"; git ls-files -co --exclude-standard | tar -cf - -T - | tar -xf - -C "$$tmp/src"; \
	$(PYTHON) -m venv "$$venv"; \
	"$$venv/bin/pip" install --quiet --disable-pip-version-check -c constraints.txt \
		"$$tmp/src[verifier]" pytest hypothesis; \
	"$$venv/bin/python" -c "import importlib.util as u, sys; \
	found = [m for m in ('sqlalchemy', 'fastapi', 'psycopg') if u.find_spec(m)]; \
	sys.exit(f'verifier install pulled in {found}' if found else 0)"; \
	"$$venv/bin/python" -m pytest --noconftest -p no:cacheprovider -q tests/unit/test_verifier*.py \
		tests/unit/test_fast_readers.py; \
	"$$venv/bin/spola" verify $(VERIFIER_FIXTURES)/valid.bundle \
		--log-key $(VERIFIER_FIXTURES)/log.vkey > /dev/null; \
	status=0; "$$venv/bin/python" -m verifier $(VERIFIER_FIXTURES)/payload_byte_flip.bundle \
		--log-key $(VERIFIER_FIXTURES)/log.vkey > /dev/null || status=$$?; \
	test "$$status" -eq 1 || { echo "tampered bundle: exit $$status, not 1"; exit 1; }; \
	echo "verifier-install-check: ok (verifier extra alone; tests, valid 0, tampered 1)"

## browser: Debian's chromium for the passport page's browser test (tests/integration)
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

## security: bandit over the code (skips and `# nosec` justified where they are: pyproject.toml,
## the flagged line), then pip-audit over the installed packages. pip-audit fails the target
## when it finds a known vulnerability; when its vulnerability service cannot be reached (no
## PyPI JSON API from this machine, no OSV), it says so in one line and does not fail.
security: $(VENV)/.dev
	$(BIN)/bandit -q -r ledger api passports scoring signer verifier spola -c pyproject.toml
	@$(BIN)/pip-audit --skip-editable --progress-spinner off --format json 2>/dev/null \
		| $(BIN)/python -c "$$AUDIT_VERDICT"

# Reads pip-audit's JSON on stdin: exit 1 listing each known vulnerability, else one line.
define AUDIT_VERDICT
import json, sys
try:
    deps = json.load(sys.stdin)["dependencies"]
except (ValueError, KeyError):
    sys.exit(print("pip-audit: no report (service unreachable?); packages NOT audited") or 0)
found = [(d["name"], d["version"], v["id"]) for d in deps for v in d.get("vulns", [])]
for name, version, vuln in found:
    print(f"pip-audit: {name} {version} has known vulnerability {vuln}")
skipped = sum("skip_reason" in d for d in deps)
if found:
    sys.exit(1)
if skipped == len(deps):
    print(f"pip-audit: vulnerability service unreachable; {skipped} packages NOT audited")
elif skipped:
    print(f"pip-audit: {skipped} of {len(deps)} packages NOT audited, none vulnerable in the rest")
else:
    print(f"pip-audit: no known vulnerabilities in {len(deps)} packages")
endef
export AUDIT_VERDICT

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev
	$(BIN)/mypy

bench: $(VENV)/.dev
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/scaling.py
	$(BIN)/python bench/verify.py
	$(BIN)/python bench/passport_page.py

## constraints: resolve `.[dev]` afresh (newest releases pyproject.toml allows) in a throw-away
## venv and record every version in constraints.txt; then run `make clean test` and commit it.
constraints:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; "$$tmp/venv/bin/pip" install --quiet --upgrade pip; \
	"$$tmp/venv/bin/pip" install --quiet -e '.[dev]'; \
	{ sed -n '/^#/p' constraints.txt; "$$tmp/venv/bin/pip" freeze --exclude-editable; } > "$$tmp/pins"; \
	mv "$$tmp/pins" constraints.txt; echo "constraints.txt: $$(grep -c '==' constraints.txt) packages pinned"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
