# Rapport: `make run` serves the app with demo data, `make test` runs lint and every test.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= auto
# `make run PORT=8080 HOST=0.0.0.0` serves elsewhere than 127.0.0.1:8000.
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: run install migrate demo serve test lint test-python browser imap-server fmt lock clean bench

run: install migrate demo serve

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=24" "uv==0.13.8"

# Reinstall only when the lock file changes.
$(STAMP): requirements-dev.lock pyproject.toml | $(BIN)/python
	$(UV) pip sync -q --python $(BIN)/python requirements-dev.lock
	$(UV) pip install -q --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/rapport migrate --noinput -v 0

demo: install
	$(BIN)/rapport demo

serve: install
	$(BIN)/rapport serve --host $(HOST) --port $(PORT)

# Debian's Chromium drives the browser tests (Playwright cannot download its own here).
browser:
	@if command -v chromium >/dev/null 2>&1; then \
	  echo "Browser tests use $$(command -v chromium)."; \
	else \
	  echo "Chromium is missing: installing Debian's chromium for the browser tests (apt-get, needs root or sudo)…"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	  echo "Installed $$(command -v chromium)."; \
	fi

# Debian's dovecot is the real IMAP server of the service tests (started by the tests
# themselves with a throwaway configuration; nothing runs as a system service).
imap-server:
	@if command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ]; then \
	  echo "IMAP tests use $$(command -v dovecot || echo /usr/sbin/dovecot)."; \
	else \
	  echo "dovecot is missing: installing Debian's dovecot-imapd for the IMAP tests (apt-get, needs root or sudo)…"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq dovecot-imapd >/dev/null; \
	  $$SUDO systemctl disable --now dovecot >/dev/null 2>&1 || true; \
	  echo "Installed dovecot."; \
	fi

lint: install
	$(BIN)/ruff check rapport benchmarks
	$(BIN)/ruff format --check rapport benchmarks
	$(BIN)/mypy rapport
	$(BIN)/lint-imports
	$(BIN)/rapport makemigrations --check --dry-run -v 0

test-python: install browser imap-server
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile -q $(PYTEST_ARGS)

# The browser check comes first, so that `make test` says at once whether it installs one.
test: browser imap-server lint test-python

fmt: install
	$(BIN)/ruff check --fix rapport benchmarks
	$(BIN)/ruff format rapport benchmarks

lock: $(BIN)/python
	$(UV) pip compile -q --python-version 3.11 --generate-hashes pyproject.toml -o requirements.lock
	$(UV) pip compile -q --python-version 3.11 --generate-hashes --extra dev pyproject.toml -o requirements-dev.lock

clean:
	rm -rf $(VENV) var/test-*
