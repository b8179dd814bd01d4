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

# Both write var/bench.json and docs/benchmarks.md: engine ceiling, to M3 (latency 0 and 50 ms,
# naive design, two workers, quota), lifecycle to Paid, intake, bulk. `make bench`: about 18 minutes,
# most of it the bulk load of 100,000 items and the intake's drain checks.
bench: install
	$(BIN)/python -m starter.bench

# Small loads (60 orders to M3, 100 no-op workflows, 0.5 s of intake at 32 senders, 1,000 bulk
# items, 10 orders to Paid): about 2 minutes on 2 quiet cores.
bench-quick: install
	$(BIN)/python -m starter.bench --quick

# Fault injection: weather on both sandboxes, kills of worker/receiver/Temporal; writes var/chaos/report.json.
chaos: install
	$(BIN)/python -m starter.chaos --orders 300

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
