# SLA Timer: every entry point a developer or CI needs. `make help` lists them.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
POLICIES ?= deploy/policies

.PHONY: help install tools test check lint typecheck imports pytest golden bench policies-check schemas run demo demo-gateway kafka-up kafka-up-secure kafka-down clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

install: $(STAMP)  ## create .venv and install the project with its pinned dev tools

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip==25.3
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

tools:  ## the outside tools the tests use (Prometheus, Chromium, validators); each script is idempotent
	@for script in deploy/tools/*.sh; do bash "$$script" || exit 1; done

test: lint typecheck imports tools pytest  ## everything CI runs: lint, types, import contracts, tools, all tests

check: lint typecheck imports  ## the inner loop: lint, types, import contracts, the tests that need no broker and no outside tool
	$(BIN)/pytest -q -m "not integration and not tools" --ignore=tests/integration --ignore=tests/deploy

lint: install  ## ruff lint and format check
	$(BIN)/ruff check service tests
	$(BIN)/ruff format --check service tests

typecheck: install  ## mypy (strict) on service/
	$(BIN)/mypy

imports: install  ## import-linter: the core stays pure, dependencies point inward
	$(BIN)/lint-imports

pytest: install  ## the test suite (starts the local Kafka broker for integration tests)
	$(BIN)/pytest

schemas: install  ## regenerate the JSON Schema files of the wire contract under schemas/
	$(BIN)/python -m service.schemas

golden: install  ## rewrite the golden expectations of the seed contracts; review the diff
	SLA_UPDATE_GOLDEN=1 $(BIN)/pytest -q tests/golden

bench: install  ## benchmarks; they print their figures
	$(BIN)/python -m tests.bench.calendar_bench
	$(BIN)/python -m tests.bench.replay_bench
	$(BIN)/python -m tests.bench.deadline_bench
	$(BIN)/python -m tests.bench.floor_bench
	$(BIN)/python -m tests.bench.state_bench
	$(BIN)/python -m tests.bench.memory_bench
	$(BIN)/python -m tests.bench.hostile_bench
	$(BIN)/python -m tests.bench.worker_bench --recovery 1000000 --memory 100000
	$(BIN)/python -m tests.bench.gateway_bench
	$(BIN)/python -m tests.bench.whatif_bench

policies-check: install  ## validate the seed policies
	$(BIN)/sla-timer policies check $(POLICIES)

run: install  ## the worker with the seed policies and the gateway with the example sources (starts a local broker unless SLA_KAFKA_BROKERS is set)
	@if [ -z "$$SLA_KAFKA_BROKERS" ]; then bash deploy/kafka/kafka.sh up; fi
	bash deploy/run-local.sh

demo: install  ## a worker with short-target seed policies, three tickets, alerts as they arrive
	@if [ -z "$$SLA_KAFKA_BROKERS" ]; then bash deploy/kafka/kafka.sh up; fi
	$(BIN)/sla-timer demo

demo-gateway: install  ## the demo through the gateway: signed Zendesk webhooks in, SLA events out
	@if [ -z "$$SLA_KAFKA_BROKERS" ]; then bash deploy/kafka/kafka.sh up; fi
	$(BIN)/sla-timer demo --gateway

kafka-up:  ## start the local single-node Kafka broker (fetches its jars on first use)
	bash deploy/kafka/kafka.sh up

kafka-up-secure:  ## a second local broker with TLS, SASL (SCRAM, PLAIN), mutual TLS and ACLs; writes .local/kafka/secure*.env
	bash deploy/kafka/kafka.sh up-secure

kafka-down:  ## stop the local Kafka brokers (plain and secure)
	bash deploy/kafka/kafka.sh down

clean:  ## remove the virtualenv and local state (broker data included)
	-bash deploy/kafka/kafka.sh down
	rm -rf $(VENV) .local .pytest_cache .mypy_cache .ruff_cache .hypothesis
