# make run   : RabbitMQ up, the embedded storage server (data in .data/db), one process per service
#              and the gateway on http://127.0.0.1:8000
# make test  : venvs + pinned dependencies (npm ci for the pages' JavaScript), RabbitMQ up, lint, every test tier (on its own server)
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The embedded storage server (SecantusDB, GPL-2.0) lives in its own virtualenv, never imported.
DBVENV  := .venv-db
DBSTAMP := $(DBVENV)/.installed
WEBSTAMP := services/web/node_modules/.installed

.PHONY: web-assets run test guide-screenshots lint format unit store checks documents integration e2e bench fuzz system-deps rabbitmq db-deps clean

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is needed"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "pip==26.3"
	$(BIN)/pip install -q -c constraints.txt -e ".[test]"
	@touch $(STAMP)

# The web pages' JavaScript (Leaflet, html5-qrcode, Chart.js; axe-core for the browser tests), from the npm
# registry at the lockfile's versions, served by the web service itself (never a CDN).
$(WEBSTAMP): services/web/package.json services/web/package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js 20) is needed for the web pages"; exit 1; }
	cd services/web && npm ci --no-audit --no-fund --loglevel=error
	@touch $(WEBSTAMP)

web-assets: $(WEBSTAMP)

$(DBSTAMP): deploy/secantusdb-requirements.txt
	@test -x $(DBVENV)/bin/python || $(PYTHON) -m venv $(DBVENV)
	$(DBVENV)/bin/pip install -q --upgrade "pip==26.3"
	$(DBVENV)/bin/pip install -q --pre -r deploy/secantusdb-requirements.txt
	@touch $(DBSTAMP)

db-deps: $(DBSTAMP)

system-deps:
	@./scripts/ensure-system-deps.sh

rabbitmq:
	@./scripts/ensure-rabbitmq.sh

run: $(STAMP) $(DBSTAMP) $(WEBSTAMP) system-deps rabbitmq
	$(BIN)/aptic run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# domain rules, schemas, pages' helpers: no broker, no storage (seconds)
unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

# the services' stores and APIs on the real storage server (the embedded one, or MONGO_URI)
store: $(STAMP) $(DBSTAMP)
	$(BIN)/pytest -q tests/store

# the repository checked against itself: docs and catalogues current, deploy files, contracts
checks: $(STAMP) $(DBSTAMP)
	$(BIN)/pytest -q tests/checks

# the PDF documents (WeasyPrint, pikepdf) read back by real tools: slower, so a tier of their own
documents: $(STAMP) $(DBSTAMP) system-deps
	$(BIN)/pytest -q tests/documents

integration: $(STAMP) $(DBSTAMP) rabbitmq
	$(BIN)/pytest -q tests/integration

e2e: $(STAMP) $(DBSTAMP) $(WEBSTAMP) system-deps rabbitmq
	$(BIN)/pytest -q tests/e2e

# every tier, in two pytest processes at once: those without the broker (unit, documents, property)
# beside those with it (integration, e2e, browser); scripts/test-all.sh says why
test: $(STAMP) $(DBSTAMP) $(WEBSTAMP) system-deps rabbitmq lint
	BIN=$(BIN) scripts/test-all.sh

# the screenshots docs/operators-guide.md shows, copied from the browser tests' output
guide-screenshots: $(STAMP)
	$(BIN)/python scripts/guide_screenshots.py

# Each bench starts its own storage server (or uses MONGO_URI) and a RabbitMQ vhost of its own; the
# `bench` extra (mongomock) gives the side-by-side figures on the old in-process engine.
# BENCH_REQUESTS (200) per redemption row; BENCH_IN_MEMORY=1000000 adds settlement's in-memory run.
bench: $(STAMP) $(DBSTAMP) system-deps rabbitmq
	$(BIN)/pip install -q -c constraints.txt -e ".[test,bench]"
	$(BIN)/python -m bench

# issue 14: peak RSS of issuance and the gateway while print files are made and downloaded, for
# orders of growing size (SIZES=1000,10000,100000 for the 100,000-booklet row: tens of minutes)
.PHONY: bench-print-memory
bench-print-memory: $(STAMP) $(DBSTAMP) system-deps rabbitmq
	$(BIN)/python -m bench.print_memory_bench $(if $(SIZES),--sizes $(SIZES))

# money safety (issue 10): the state machine of tests/property, 5,000 longer runs (nightly)
fuzz: $(STAMP) $(DBSTAMP) system-deps rabbitmq
	MONEY_FUZZ_EXAMPLES=5000 $(BIN)/pytest -q tests/property
	SCHEMATHESIS_EXAMPLES=50 $(BIN)/pytest -q tests/e2e/test_schemathesis.py

clean:
	rm -rf $(VENV) $(DBVENV) .pytest_cache .ruff_cache .hypothesis
