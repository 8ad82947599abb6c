# `make demo` and `make test` each build .venv from pyproject.toml on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo_out

.PHONY: demo test docs bench clean browsers

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/evalkit demo --out $(DEMO_OUT)

# The workbench's browser tests drive Debian's chromium through chromium-driver. Where
# they are missing and this is root with apt-get, install them; elsewhere the browser
# tests skip and say why (.ci/run sets EVALKIT_REQUIRE_BROWSER=1, so there they fail).
browsers:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then \
	  :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	      chromium chromium-driver; } >/dev/null \
	    || echo "chromium could not be installed; the browser tests will skip" >&2; \
	else \
	  echo "chromium and chromium-driver are not installed (needs root with apt-get);" \
	    "the browser tests will skip" >&2; \
	fi

test: $(STAMP) browsers
	$(BIN)/ruff check evalkit tests benchmarks
	$(BIN)/python -m pytest

docs: $(STAMP)
	$(BIN)/python -m evalkit.cli.docs > docs/cli.md

bench: $(STAMP)
	cd benchmarks && for b in bench_*.py; do ../$(BIN)/python $$b; done

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
