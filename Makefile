# The two commands the README gives: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config/eventfeed.yaml

.PHONY: run test lint venv clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(BIN)/.installed

run: venv
	$(BIN)/eventfeed run --config $(CONFIG)

test: venv
	$(BIN)/pytest -q

lint: venv
	$(BIN)/ruff check bot tests
	$(BIN)/ruff format --check bot tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info
