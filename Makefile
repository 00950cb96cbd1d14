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
	$(BIN)/python -m pip install --quiet -e ".[ml]"
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(STAMP_ML)

## demo: set up .venv and run the penguins example: train, validate, gate, register, then a worse
## model that the gate refuses, then show the registry
demo: $(STAMP_ML)
	cd examples/penguins && ../../$(BIN)/conveyor run pipeline.py:training
	cd examples/penguins && ../../$(BIN)/conveyor run pipeline.py:training -p classifier=majority
	cd examples/penguins && ../../$(BIN)/conveyor models list
	cd examples/penguins && ../../$(BIN)/conveyor models show penguins@production

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
