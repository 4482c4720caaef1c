# The two commands the README gives: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config/eventfeed.yaml

.PHONY: run test lint venv clean bench chaos compile

# Installing compiles the pure extractor with mypyc (setup.py: ~80 s of CPU, gcc and Python's
# headers; without them the pure modules are installed). EVENTFEED_PURE=1 skips compiling; at
# run time it loads the sources instead. An extension older than its edited source is not
# used (bot/__init__.py): `make compile` builds them again.

# `make run` installs what running needs; `make test` (and venv, lint, bench, chaos) adds the
# test extras (pytest, ruff, mypy, hypothesis, the feed validator's libraries).
$(VENV)/pyvenv.cfg:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(BIN)/.installed: pyproject.toml setup.py | $(VENV)/pyvenv.cfg
	$(BIN)/pip install -q -e .
	touch $@

$(BIN)/.installed-test: pyproject.toml setup.py | $(VENV)/pyvenv.cfg
	$(BIN)/pip install -q -e '.[test]'
	touch $(BIN)/.installed $@

venv: $(BIN)/.installed-test

compile: venv
	$(BIN)/pip install -q --no-deps -e .

run: $(BIN)/.installed
	$(BIN)/eventfeed run --config $(CONFIG)

test: venv
	$(BIN)/pytest -q

# Every benchmark in bench/ at full size, one after the other (40 minutes or more on 2 cores;
# docs/benchmarks.md has the figures). `make test` runs them only at a tiny size.
BENCHMARKS := extraction backfill fanout latency large_state serving
bench: venv
	@for b in $(BENCHMARKS); do $(BIN)/python bench/$$b.py || exit 1; done

# The crash and hostile-input tests at full size: 1000 articles, 30 SIGKILLs, 10,000 files.
chaos: venv
	EVENTFEED_CHAOS=large $(BIN)/pytest -q -s tests/chaos tests/system/test_bad_input.py tests/system/test_hostile_load.py

lint: venv
	$(BIN)/ruff check bot tests
	$(BIN)/ruff format --check bot tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info *__mypyc.*.so bot/*/*.so
