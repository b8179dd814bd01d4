# m3bng: `make run` runs the demo on the embedded stack, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run test lint bench chaos clean

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

bench: install
	$(BIN)/python -m starter.bench --orders 200

# Fault injection: weather on both sandboxes, kills of worker/receiver/Temporal; writes var/chaos/report.json.
chaos: install
	$(BIN)/python -m starter.chaos --orders 300

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
