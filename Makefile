# igkit: two commands do all set-up on a fresh machine with Python >= 3.11 and make:
#   make demo   — create .venv, install igkit with its extras, run the offline Demo
#   make test   — the same set-up, then lint, types, the whole test suite and the notebooks
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.igkit-installed
DEMO_ARGS ?= --seconds 20 --speed 30

.PHONY: browser-deps help setup demo test lint typecheck unit notebooks bench bench-smoke lab dashboard sim clean

help:
	@echo "make demo       offline Demo market streaming into candles (sets everything up first)"
	@echo "make test       set-up, then ruff, mypy, pytest (tests + notebooks), bench smoke run"
	@echo "make bench      benchmarks: bench/results.json and a table"
	@echo "make lab        JupyterLab on notebooks/"
	@echo "make dashboard  the control panel notebook as a Voila app"
	@echo "make sim        the IG simulator on 127.0.0.1"

$(PY):
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "igkit needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Debian's Chromium for the real-browser test (never `playwright install`: browsers are not downloaded)
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; \
	fi

demo: setup
	$(VENV)/bin/igkit demo $(DEMO_ARGS)

lint: setup
	$(VENV)/bin/ruff check igkit tests bench

typecheck: setup
	$(VENV)/bin/mypy

unit: setup browser-deps
	$(VENV)/bin/pytest -q -p no:cacheprovider tests

# the notebooks run as the test suite does (tests/conftest.py): config/test.json (Demo, no credentials), no
# IGKIT_MODE / IGKIT_BROKER / IGKIT_<SECTION>__<KEY> overrides from the shell, IGKIT_FAST=1 (short bars, fast)
notebooks: setup
	@if ls notebooks/*.ipynb >/dev/null 2>&1; then \
		for v in $$(compgen -e | grep -E '^IGKIT_(MODE|BROKER|.*__.*)$$'); do unset "$$v"; done; \
		IGKIT_CONFIG=$(CURDIR)/config/test.json IGKIT_FAST=$${IGKIT_FAST:-1} \
			$(VENV)/bin/pytest -q -p no:cacheprovider --nbmake --nbmake-timeout=300 notebooks; \
	else echo "no notebooks yet"; fi

bench-smoke: setup
	$(PY) bench/run.py --quick

test: lint typecheck unit notebooks bench-smoke

bench: setup
	$(PY) -m pip install -q -e '.[dev,bench]'
	$(PY) bench/run.py

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

dashboard: setup
	$(VENV)/bin/voila notebooks/03_live_panel.ipynb --Voila.ip=127.0.0.1

sim: setup
	$(VENV)/bin/igkit sim

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
