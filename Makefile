# m3bng: `make run` runs the demo on the embedded stack, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run test lint bench bench-quick chaos clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: install
	$(BIN)/m3bng demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy .

test: lint
	$(BIN)/pytest -q

# Both write var/bench.json and docs/benchmarks.md; `make bench` takes several minutes.
bench: install
	$(BIN)/python -m starter.bench --orders 200

# Under 2 minutes: 40 orders to Paid, intake at 8 and 32 senders for 5 s each.
bench-quick: install
	$(BIN)/python -m starter.bench --quick

# Fault injection: weather on both sandboxes, kills of worker/receiver/Temporal; writes var/chaos/report.json.
chaos: install
	$(BIN)/python -m starter.chaos --orders 300

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
