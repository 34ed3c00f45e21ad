# One entry point: `make run` serves the product, `make test` proves it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

# The official DNSimple client (PyPI `dnsimple` >= 8) needs Python >= 3.12; the suite runs it
# against a live server from this venv (tests/dialects/dnsimple, NICHANDLE_DNSIMPLE_PYTHON).
DNSIMPLE_VENV ?= .venv-dnsimple

.PHONY: install install-dev dnsimple-client browser run test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

# The newest pyenv 3.12/3.13, else python3.13/python3.12 on PATH. Without one (or without PyPI)
# CI fails here; elsewhere the client test skips and says why.
$(DNSIMPLE_VENV)/.installed:
	@py=""; \
	for candidate in $$(ls -d $$HOME/.pyenv/versions/3.1[23]*/bin/python 2>/dev/null | sort -V -r) \
	                 $$(command -v python3.13 python3.12 2>/dev/null); do \
	  if "$$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then \
	    py="$$candidate"; break; \
	  fi; \
	done; \
	case "$$CI" in 1|true|TRUE|True|yes) ci=1 ;; *) ci= ;; esac; \
	if [ -z "$$py" ]; then \
	  echo "dnsimple-client: no Python >= 3.12 found (~/.pyenv/versions/3.1[23]*, python3.13, python3.12)" >&2; \
	  if [ -n "$$ci" ]; then exit 1; fi; \
	  echo "dnsimple-client: the official client test will be skipped" >&2; exit 0; \
	fi; \
	echo "dnsimple-client: $(DNSIMPLE_VENV) from $$py"; \
	rm -rf $(DNSIMPLE_VENV); \
	if "$$py" -m venv $(DNSIMPLE_VENV) && \
	   $(DNSIMPLE_VENV)/bin/python -m pip install --quiet --disable-pip-version-check 'dnsimple>=8'; then \
	  touch $@; \
	else \
	  rm -rf $(DNSIMPLE_VENV); \
	  echo "dnsimple-client: could not build $(DNSIMPLE_VENV)" >&2; \
	  if [ -n "$$ci" ]; then exit 1; fi; \
	fi

dnsimple-client: $(DNSIMPLE_VENV)/.installed

# The web UI's browser tests drive Debian's chromium through Playwright (never a downloaded
# browser). Missing, root installs it; otherwise CI fails here and elsewhere the tests skip.
browser:
	@if [ -x "$${NICHANDLE_CHROMIUM:-/usr/bin/chromium}" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "browser: installing Debian's chromium"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
	  echo "browser: no chromium (apt-get install chromium, or set NICHANDLE_CHROMIUM)" >&2; \
	  case "$$CI" in 1|true|TRUE|True|yes) exit 1 ;; esac; \
	  echo "browser: the web UI's browser tests will be skipped" >&2; \
	fi

run: install
	$(BIN)/nichandle serve

lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install-dev
	$(BIN)/mypy

# Two processes, each test module whole in one (its live servers and databases are per module):
# the suite waits on subprocesses and PostgreSQL as much as it computes. PYTEST_WORKERS=0: one.
PYTEST_WORKERS ?= 2
pytest: install-dev dnsimple-client browser
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test: lint typecheck pytest

# The benchmark, not part of `make test`: PostgreSQL (127.0.0.1:5432) and SQLite, 10k and 100k
# contacts, about 15 minutes; results in bench/results/. BENCH_ARGS="--full" adds 1M contacts,
# BENCH_ARGS="--backend sqlite" needs no server. See bench/README.md.
bench: install-dev
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(DNSIMPLE_VENV) .pytest_cache .mypy_cache .ruff_cache
