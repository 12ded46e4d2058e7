# `make report` and `make test` each create .venv when missing and (re)install lowbit into
# it when pyproject.toml, setup.py or the C simulator's sources changed since the last
# install (the install compiles csrc/macsim.c); then they run.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.stamp-install

.PHONY: report test lint bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml $(wildcard setup.py) $(wildcard csrc/macsim.[ch] csrc/build_macsim.py) | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

report: $(STAMP)
	$(BIN)/lowbit report -o reports/out/format-comparison.pdf

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/run.py --output BENCHMARKS.md

clean:
	rm -rf $(VENV) build *.egg-info reports/out
