# The two commands of the README (`make demo`, `make test`) plus `make bench`.
# Every target installs what it needs into .venv first; a stamp file keeps that
# step instant when pyproject.toml has not changed.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | sha1sum | cut -c1-12)

.PHONY: demo test lint bench install browser broker

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	rm -f $(VENV)/.installed-*
	$(BIN)/python -m pip install --quiet -e '.[test,bench]' --config-settings editable_mode=compat
	touch $@

install: $(STAMP)

demo: install
	$(BIN)/potager demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint browser broker
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python -m bench

# The browser tests drive Debian's chromium (Playwright's own download is not reachable).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

# The network tests start Mosquitto brokers of their own (Debian's package; machines of
# this kind have it, a bare one gets it here).
broker:
	@command -v mosquitto >/dev/null || test -x /usr/sbin/mosquitto || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null)
