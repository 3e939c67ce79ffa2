# Switchboard: `make run` serves the platform, `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV     := .venv
PY       := $(VENV)/bin/python
UV       := $(VENV)/bin/uv
UV_VERSION := 0.13.9
STAMP    := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
HOST     ?= 127.0.0.1
PORT     ?= 8000
export HOST PORT

# Defaults of the test run: the real PostgreSQL and Redis of the machine (override freely).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/switchboard
TEST_REDIS_URL    ?= redis://127.0.0.1:6379/15
TEST_BROKER_URL   ?= redis://127.0.0.1:6379/14

help:
	@echo "make run    - set up (venv, install, migrate, seed) and serve http://$(HOST):$(PORT) with a worker"
	@echo "make test   - run the whole suite on PostgreSQL + Redis, then the SQLite smoke subset"
	@echo "make bench  - the gateway performance harness (see bench/README.md)"
	@echo "make lock   - re-resolve requirements/*.in into the lock files"
	@echo "make lint   - ruff"

$(PY):
	@PYTHON=$$(bin/find-python) && echo "Using $$PYTHON" && "$$PYTHON" -m venv $(VENV)

$(STAMP): requirements/lock.txt | $(PY)
	@# -qq: pip warns about every configured index that lacks the package ("Location ... is ignored");
	@# only errors matter to someone running `make run`.
	@$(PY) -m pip install -qq --disable-pip-version-check "uv==$(UV_VERSION)"
	@$(UV) pip sync -q --python $(PY) requirements/lock.txt
	@touch $@

# Front-end packages (Pico CSS), pinned in package-lock.json and served from static/: npm ci runs
# only when the lock file changed since the last install.
$(NODE_STAMP): package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "make: npm not found. Switchboard's pages need front-end packages from npm:" \
	  "install Node.js 20 or newer with npm (https://nodejs.org/, or apt-get install nodejs npm), then run make again." >&2; exit 1; }
	@out=$$(npm ci --ignore-scripts --no-audit --no-fund --loglevel=error 2>&1) || { echo "$$out" >&2; exit 1; }
	@touch $@

install: $(STAMP) $(NODE_STAMP)

setup: install
	@$(PY) manage.py migrate --no-input -v0
	@$(PY) manage.py collectstatic --no-input -v0
	@$(PY) manage.py seed_demo

# The embedded mode serves plain http on loopback: no HTTPS redirect, and admins may skip MFA enrolment.
run: export HTTPS_ONLY ?= false
run: export REQUIRE_ADMIN_MFA ?= false
run: export LOG_FORMAT ?= console
# honcho gives each process its own PORT (the worker's is PORT+100), but every process must know the web
# server's: the batch runner calls it, and the worker's e-mails link to it and its webhook checks refuse it.
RUN_URL = http://$(if $(filter 0.0.0.0 :: [::],$(HOST)),127.0.0.1,$(HOST)):$(PORT)
run: export SITE_URL ?= $(RUN_URL)
run: export BATCH_GATEWAY_URL ?= $(RUN_URL)
run: setup
	@echo "Switchboard on http://$(HOST):$(PORT)  (Ctrl-C stops the server and the worker)"
	@$(VENV)/bin/honcho -f Procfile start

test: install
	@bin/run-tests "$(TEST_DATABASE_URL)" "$(TEST_REDIS_URL)" "$(TEST_BROKER_URL)"

lint: install
	@$(VENV)/bin/ruff check .

lock: | $(PY)
	@$(PY) -m pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"
	$(UV) pip compile -q --generate-hashes --python-version 3.12 requirements/base.in -o requirements/base.lock
	$(UV) pip compile -q --generate-hashes --python-version 3.12 requirements/dev.in -o requirements/lock.txt

bench: install
	@bench/run

.PHONY: help install setup run test lint lock bench
