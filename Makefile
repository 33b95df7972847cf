# Two commands on a fresh machine with Python 3.11+:  make run  /  make test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
TOOLS := .tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
BIN := $(VENV)/bin
# uv may only take packages from the registries; never a Python build from elsewhere.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: install run test lint typecheck security pytest format bench clean

$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --python $(PYTHON) --quiet
	@touch $@

install: $(VENV)/.synced

run: install
	$(BIN)/autoledger migrate
	$(BIN)/autoledger serve --demo

lint: install
	$(BIN)/ruff check src tests bench soak scripts
	$(BIN)/ruff format --check src tests bench soak scripts

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest -q

security: install
	$(BIN)/bandit -q -r src -c pyproject.toml
	$(BIN)/python -m scripts.audit_deps

test: lint typecheck security pytest

format: install
	$(BIN)/ruff check --fix src tests bench soak
	$(BIN)/ruff format src tests bench soak

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache

.PHONY: bench-ledger
# Ledger throughput on the local PostgreSQL (throw-away database; see docs/benchmarks.md).
bench-ledger: install
	$(BIN)/python -m bench.ledger

.PHONY: bench-categorize
# Bookkeeping replayed week by week through the API and worker (ARGS="--pipeline memory": in memory).
bench-categorize: install
	$(BIN)/python -m bench.categorize $(ARGS)

.PHONY: bench-reconcile
# Reconciliation quality on the Simulator company and matching at 10k/100k/1M (see docs/benchmarks.md).
bench-reconcile: install
	$(BIN)/python -m bench.reconcile

.PHONY: match-prior
# Rebuild the matcher's shipped prior from its own universe of names (scripts/build_match_prior.py).
match-prior: install
	$(BIN)/python -m scripts.build_match_prior

.PHONY: bench-demo
# Demo company generation: ~1,000,000 bank lines into a temp dir (LINES, FORMATS to change).
bench-demo: install
	$(BIN)/python -m bench.demo

.PHONY: bench-events
# Event backbone: relay throughput and delivery lag per bus (NATS and the Pub/Sub emulator must
# be running; see docs/benchmarks.md).
bench-events: install
	$(BIN)/python -m bench.events

.PHONY: bench-ingest
# Statement ingestion: a 100,000-line CSV and a 100,000-entry CAMT.053 into a throw-away
# PostgreSQL database through the API and the import worker (see docs/benchmarks.md).
bench-ingest: install
	$(BIN)/python -m bench.ingest

bench: bench-ledger bench-events bench-demo bench-ingest bench-categorize bench-reconcile

.PHONY: soak
# Reliability soak: its own PostgreSQL, NATS (SOAK_BUS=pubsub: the Pub/Sub emulator), 2 API
# servers and 2 workers under load and scheduled faults, then every invariant checked; one JSON
# report last, exit 1 if an invariant fails (SOAK_SECONDS, default 180; see docs/soak.md).
soak: install
	$(BIN)/python -m soak

.PHONY: bench-reports
# Report latency on 1,000,000 entries over 10,000 accounts in a throw-away PostgreSQL database
# (ARGS="--write-path" also times group commit with and without the report aggregates).
bench-reports: install
	$(BIN)/python -m bench.reports $(ARGS)
