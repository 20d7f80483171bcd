# Quick start: `make run` (demo on 127.0.0.1:8000) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
GATEWAY_BIND ?= 127.0.0.1:8000
GATEWAY_WORKERS ?= 2
FAKE_PROVIDER_PORT ?= 8099

.PHONY: install install-dev run serve test lint bench migrate worker beat cluster-test cluster-test-long

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt $(VENV)/.installed
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/python manage.py migrate --noinput

# Demo: migrate, create demo org/workspace/admin/key (printed), start the fake provider,
# then serve with the embedded defaults (SQLite, in-process tasks, one worker), with DEBUG on
# (development keys, Django's debug pages): the only target that turns it on.
run: export DEBUG = True
run: migrate
	$(BIN)/python manage.py gateway_demo --fake-provider-url http://127.0.0.1:$(FAKE_PROVIDER_PORT)
	$(BIN)/python manage.py fake_provider --port $(FAKE_PROVIDER_PORT) & \
	  FAKE_PID=$$!; trap "kill $$FAKE_PID 2>/dev/null" EXIT INT TERM; \
	  GATEWAY_WORKERS=1 $(MAKE) --no-print-directory serve

# Production server on $GATEWAY_BIND with the current environment, no set-up. The gunicorn
# configuration (gateway_site/gunicorn_conf.py) runs uvicorn workers (uvloop and httptools,
# both pinned) with the gateway's HTTP limits and a graceful shutdown that records the calls it
# cuts short (proxy/http_server.py).
serve: install
	$(BIN)/gunicorn gateway_site.asgi:application -c python:gateway_site.gunicorn_conf \
	  --workers $(GATEWAY_WORKERS) --bind $(GATEWAY_BIND)

test: install-dev
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The cluster test alone, with its figures: 3 gateway nodes, 2 Celery workers and beat, one
# PostgreSQL (DATABASE_URL: a fresh database beside it), Redis single and as a 3-master cluster
# (redis-server and redis-cli on PATH). About 2-3 minutes; CI runs it with the suite.
cluster-test: install-dev
	$(BIN)/python -m pytest -q -m cluster tests/cluster $(PYTEST_ARGS)

# The same with a 1,200-call burst, 16 clients and longer kill and outage phases (opt-in).
cluster-test-long: install-dev
	$(BIN)/python -m devtools.cluster --long

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Celery worker and beat (need REDIS_URL): drain call records into the database, prune old runs.
worker: install
	$(BIN)/celery -A gateway_site worker --loglevel INFO --concurrency $${CELERY_CONCURRENCY:-2}

beat: install
	mkdir -p var && $(BIN)/celery -A gateway_site beat --loglevel INFO --schedule var/celerybeat-schedule

bench: install-dev
	$(BIN)/python bench/run_all.py
