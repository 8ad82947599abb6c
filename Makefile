# `make demo` and `make test` each build .venv from pyproject.toml on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo_out

.PHONY: demo test docs bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/evalkit demo --out $(DEMO_OUT)

test: $(STAMP)
	$(BIN)/ruff check evalkit tests benchmarks
	$(BIN)/python -m pytest

docs: $(STAMP)
	$(BIN)/python -m evalkit.cli.docs > docs/cli.md

bench: $(STAMP)
	cd benchmarks && for b in bench_*.py; do ../$(BIN)/python $$b; done

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
