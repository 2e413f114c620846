# Slate: `make run` sets everything up and runs the studio; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
REDIS_URL ?= redis://127.0.0.1:6379/0
export REDIS_URL

.PHONY: run test bench lint install redis migrate worker export-worker web reconcile clean

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { echo "Slate needs Python 3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV) 2>/dev/null || { apt-get update -qq && apt-get install -y -qq python3.11-venv && $(PYTHON) -m venv $(VENV); }

# Exact pins (requirements*.txt) within a full lock (constraints.txt): every clone gets the same set.
$(VENV)/.installed: $(VENV)/bin/python requirements.txt requirements-dev.txt constraints.txt
	@echo "==> Installing the pinned dependencies into $(VENV) (about a minute on a fresh machine)"
	$(PY) -m pip install -q --upgrade pip
	set -o pipefail; $(PY) -m pip install --progress-bar off -r requirements-dev.txt -c constraints.txt \
		| { grep -E '^(Collecting|Successfully)' || true; }
	$(PY) -m pip check
	touch $@

install: $(VENV)/.installed

# Redis at REDIS_URL; if nothing answers, a local redis-server keeps its data in var/redis.
redis: install
	@if $(PY) -c "import redis,sys; redis.Redis.from_url('$(REDIS_URL)', socket_connect_timeout=1).ping()" 2>/dev/null; then \
		echo "Redis answers at $(REDIS_URL)"; \
	else \
		command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; }; \
		mkdir -p var/redis; \
		port=$$($(PY) -c "from urllib.parse import urlparse; print(urlparse('$(REDIS_URL)').port or 6379)"); \
		redis-server --daemonize yes --bind 127.0.0.1 --port $$port --dir $(CURDIR)/var/redis \
			--logfile $(CURDIR)/var/redis/redis.log --save 60 1 --appendonly no; \
		for i in $$(seq 50); do $(PY) -c "import redis; redis.Redis.from_url('$(REDIS_URL)').ping()" 2>/dev/null && break; sleep 0.1; done; \
		echo "Started redis-server on port $$port (data in var/redis)"; \
	fi

migrate: install
	@echo "==> Migrating the database"
	$(PY) manage.py migrate --noinput

run: redis migrate
	@echo "==> Starting the web server and a GPU worker"
	@echo "  First account: /signup/ (or $(PY) manage.py createsuperuser; admin at /admin/, queue at /admin/rq/)"
	$(PY) manage.py runstudio --port $(PORT)

web: redis migrate
	$(PY) -m daphne -b 127.0.0.1 -p $(PORT) studio.asgi:application

worker: redis migrate
	$(PY) manage.py rqworker $${SLATE_QUEUE:-takes} --worker-class generation.worker.TakeWorker

# PDFs, animatics, ZIPs and bundles, on their own queue (SLATE_EXPORT_QUEUE, default "exports").
export-worker: redis migrate
	$(PY) manage.py exportworker

reconcile: install
	$(PY) manage.py reconcile_takes

# Three test processes (pytest-xdist): most of a process test is spent waiting for a worker or a
# browser, so three share two cores well. Each has its own database, Redis database, queue and
# channel prefix (tests/settings.py). TEST_JOBS=0 runs them in one process.
TEST_JOBS ?= 3
test: redis
	$(PY) -m pytest -n $(TEST_JOBS) $(PYTEST_ARGS)

# generation.py, fanout.py, page.py, script.py, export.py, then one merged JSON line (bench/run.py).
# Their arguments, BENCH_ARGS (generation.py), FANOUT_ARGS, PAGE_ARGS, SCRIPT_ARGS and EXPORT_ARGS,
# reach run.py through the environment,
# as make passes command-line variables; BENCHES="fanout page" runs a subset.
bench: redis
	$(PY) bench/run.py $(BENCHES)

lint: install
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

clean:
	rm -rf var/media var/test.sqlite3*
