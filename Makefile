# Two commands: `make run` (set up and serve on the embedded default) and `make test`.
# Every target is idempotent.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run setup test bench lint deps dev-deps system-deps clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.deps: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-deps: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(VENV)/.deps $@

deps: $(VENV)/.deps
dev-deps: $(VENV)/.dev-deps

system-deps:
	@bash scripts/system-deps.sh

## setup: everything `run` does except starting processes
setup: deps
	$(PY) manage.py migrate --no-input -v 0
	$(PY) manage.py load_catalogue
	$(PY) manage.py create_signing_key
	$(PY) manage.py setup_demo
	$(PY) manage.py verify_audit_trail

## run: set up, then serve http://$(HOST):$(PORT) with a Celery worker and beat; Ctrl-C stops all
run: setup
	@echo "Serving http://$(HOST):$(PORT)/ with a Celery worker and beat. Ctrl-C stops them all."
	@trap 'trap - INT TERM EXIT; kill 0 2>/dev/null; wait' INT TERM EXIT; \
	export DEBUG=$${DEBUG:-1}; \
	$(VENV)/bin/celery -A ismsapp worker --beat --loglevel=INFO --concurrency=2 & \
	$(PY) manage.py runserver --noreload $(HOST):$(PORT)

## test: install what the suite needs and run it (PostgreSQL/Redis used when they answer)
test: dev-deps system-deps
	$(PY) -m pytest

bench: dev-deps system-deps
	$(PY) bench/run.py

lint: dev-deps
	$(VENV)/bin/ruff check .

clean:
	rm -rf var/celery var/staticfiles .pytest_cache .ruff_cache
