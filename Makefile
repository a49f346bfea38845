# agenwork — one command per task. Needs only python3 (3.11+) on PATH; everything else goes in .venv.
#
#   make run      the console with demo data on http://127.0.0.1:8000/ (PORT=8001 make run)
#   make test     lint + the whole suite, in parallel, on PostgreSQL and Redis (CI=true: no skipped test)
#   make lint     ruff check + ruff format --check
#   make format   ruff format + ruff check --fix
#   make bench    the benchmarks (python -m bench; BENCH_ARGS='--requests 1000')
#   make screenshots  the README's PNGs in docs/screenshots/ (a throwaway demo + Chromium)
#   make clean    remove var/, staticfiles/ and caches (keeps .venv)

.SUFFIXES:
.PHONY: help run test pytest lint format bench services screenshots clean

help:
	@sed -n 's/^#   //p' Makefile

PYTHON ?= python3
VENV ?= .venv
PY = $(VENV)/bin/python
PORT ?= 8000

# The suite's services; the environment wins over these defaults.
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/agenwork
REDIS_URL ?= redis://127.0.0.1:6379/0
TEST_ENV = DATABASE_URL='$(DATABASE_URL)' REDIS_URL='$(REDIS_URL)' \
	SECRET_KEY='test-only-secret-key-not-for-any-deployment-0123456789' DEBUG=false \
	ENCRYPTION_KEY='test-only-encryption-key-not-for-any-deployment-0123' \
	STATIC_ROOT="$$PWD/var/staticfiles"

# make run: settings' defaults (SQLite, filesystem broker, file cache, mail files, all under var/)
# plus DEBUG, and links in mail and SMS that point at this server.
RUN_ENV = DEBUG=true SITE_URL='http://127.0.0.1:$(PORT)' \
	MCP_GATEWAY_URL="http://127.0.0.1:$$(($(PORT) + 300))/mcp"
DEMO_LOGIN = admin / agenwork-demo
DEMO_APPROVER = dana / agenwork-demo

# CI=true: no cache folder written into the clone, and a skipped test fails the run.
JUNIT = var/junit.xml
PYTEST_ARGS ?=
# pytest-xdist workers: `make test` runs the suite on every core (each worker has its own
# database and Redis dbs: tests/support/workers.py); `make pytest` runs in one process, quicker
# to start for a few tests (PYTEST_WORKERS=auto or a number to spread them too).
PYTEST_WORKERS ?= 0
test: PYTEST_WORKERS = auto
PYTEST_FLAGS = --strict-markers -rs --junit-xml=$(JUNIT) -n $(PYTEST_WORKERS) --dist loadgroup

# --- virtualenv: reinstalled only when pyproject.toml changes -----------------------------------

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed-local: pyproject.toml $(PY)
	$(PY) -m pip install --quiet -e '.[local]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# --- run ----------------------------------------------------------------------------------------

# The first step makes the folders under var/ (AGENWORK_VAR_DIR) and, once, var/secret_key: the key
# that every process and any manage.py command of this checkout share (agenwork/embedded.py); and
# the demo's MCP servers: var/mcp_upstreams.json and the git repository var/demo-repo.
run: $(VENV)/.installed-local
	$(RUN_ENV) $(PY) -m agenwork.embedded
	$(RUN_ENV) $(PY) manage.py migrate --noinput
	$(RUN_ENV) $(PY) manage.py seed_demo
	$(RUN_ENV) $(PY) manage.py load_connector_catalog
	@# The demo's time and repo connectors: their tools' descriptions and schemas from the real
	@# servers that the first step configured (var/mcp_upstreams.json).
	$(RUN_ENV) $(PY) manage.py sync_connector_tools
	@# Collected as a deployment collects them (DEBUG off, the manifest): the manage.py commands
	@# the README shows run without DEBUG and would otherwise warn that pages cannot find them.
	$(PY) manage.py collectstatic --noinput --verbosity 0
	@echo
	@echo "================================================================"
	@echo "  agenwork is starting on  http://127.0.0.1:$(PORT)/"
	@echo "  MCP gateway:             http://127.0.0.1:$$(($(PORT) + 300))/mcp"
	@echo "  Ben's agent token:       .venv/bin/python manage.py create_gateway_token ben@example.com"
	@echo "  admin login:             $(DEMO_LOGIN)"
	@echo "  approver login:          $(DEMO_APPROVER)"
	@echo "  mail is written to       var/mail/    (Ctrl-C stops everything)"
	@echo "================================================================"
	@echo
	PATH="$$(cd $(VENV)/bin && pwd):$$PATH" $(RUN_ENV) PORT=$(PORT) \
		$(VENV)/bin/honcho start -f Procfile.dev -e /dev/null -p $(PORT)

# --- test ---------------------------------------------------------------------------------------

services:
	@DATABASE_URL='$(DATABASE_URL)' REDIS_URL='$(REDIS_URL)' scripts/services.sh

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Lint first (cheap), then the suite. Exit code 5 (no test collected) fails like any other.
test: $(VENV)/.installed-dev services lint pytest

# The identity provider of the sign-in tests (tests/support/oidc_provider/: oidc-provider from
# npm, run by Node): installed from its lock file, again only when the lock file changes.
IDP_DIR = tests/support/oidc_provider
$(IDP_DIR)/node_modules/.package-lock.json: $(IDP_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "make: npm is missing: the sign-in tests run an identity provider on Node.js 20.19+" >&2; exit 1; }
	npm ci --prefix $(IDP_DIR) --no-audit --no-fund --loglevel=error
	touch $@

# collectstatic first: with DEBUG off pages use the manifest storage, as in the Docker image, and
# a stylesheet pointing at a missing file fails here rather than in `docker build`.
pytest: $(VENV)/.installed-dev services $(IDP_DIR)/node_modules/.package-lock.json
	mkdir -p var
	rm -f $(JUNIT)
	$(TEST_ENV) $(PY) manage.py collectstatic --noinput --clear --verbosity 0
	if [ "$(CI)" = true ]; then ci_flags='-p no:cacheprovider'; else ci_flags=; fi; \
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_FLAGS) $$ci_flags $(PYTEST_ARGS)
	if [ "$(CI)" = true ]; then $(PY) scripts/check_junit.py $(JUNIT); fi

# The benchmarks pick their own database, key and static folder (bench/common.py).
BENCH_ARGS ?=
bench: $(VENV)/.installed-dev services
	@test -f bench/__main__.py || { echo "make bench: bench/__main__.py is not written yet" >&2; exit 1; }
	$(PY) -m bench $(BENCH_ARGS)

# A throwaway SQLite demo in a temporary folder, runserver on a free port, headless Chromium.
screenshots: $(VENV)/.installed-dev
	$(PY) scripts/screenshots.py

clean:
	rm -rf var staticfiles .pytest_cache .ruff_cache
