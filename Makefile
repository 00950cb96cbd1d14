# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP_ML := $(VENV)/.installed-ml
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_ML): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[serve]"
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(STAMP_ML)

## demo: set up .venv and run the whole lifecycle on the penguins project: train and register,
## a worse model refused by the gate, serve, traffic, drift, detection, retraining, promotion, swap
demo: $(STAMP_ML)
	$(BIN)/conveyor demo conveyor-demo
	cd conveyor-demo && ../$(BIN)/conveyor models list

## test: set up .venv with the dev extras and run linters, layer contracts and the test suite
test: $(STAMP_DEV)
	$(BIN)/ruff check src tests benchmarks examples docs
	$(BIN)/ruff format --check src tests benchmarks examples docs
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

## bench: run the benchmarks (builds benchmarks/.venv-peers with Kedro and Prefect)
bench: $(STAMP_DEV)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
