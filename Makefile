# make run   : RabbitMQ up, every service and the gateway on http://127.0.0.1:8000 (in-process storage)
# make test  : venv + pinned dependencies, RabbitMQ up, lint, every test tier
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint format unit integration e2e bench system-deps rabbitmq clean

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is needed"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "pip==26.3"
	$(BIN)/pip install -q -c constraints.txt -e ".[test]"
	@touch $(STAMP)

system-deps:
	@./scripts/ensure-system-deps.sh

rabbitmq:
	@./scripts/ensure-rabbitmq.sh

run: $(STAMP) system-deps rabbitmq
	$(BIN)/aptic run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

integration: $(STAMP) rabbitmq
	$(BIN)/pytest -q tests/integration

e2e: $(STAMP) system-deps rabbitmq
	$(BIN)/pytest -q tests/e2e

test: $(STAMP) system-deps rabbitmq lint
	$(BIN)/pytest -q tests

bench: $(STAMP) system-deps rabbitmq
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
