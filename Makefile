# The two commands: `make demo` and `make test`. Each does all the set-up it needs, and re-runs in seconds.
SHELL := /bin/bash
PY := .venv/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test setup setup-test system system-test python assets db migrate serve stop bench lint messages clean

demo: setup
	$(PY) manage.py load_demo $(DEMO_ARGS)
	@scripts/serve.sh $(HOST) $(PORT)

# Tests that commit for real (browser tests against a live server, killed processes) run in a second session:
# the database is emptied after each of them, which would take the shared demo district away from the others.
test: setup-test
	$(PY) -m pytest -n 2 --dist loadfile -m "not browser and not transactional" $(PYTEST_ARGS)
	$(PY) -m pytest -m "browser or transactional" $(PYTEST_ARGS)

setup: system python assets db migrate
setup-test: system-test python assets db migrate

system:
	@scripts/system-packages.sh
system-test:
	@scripts/system-packages.sh --test
python:
	@scripts/python-env.sh
assets:
	@scripts/assets.sh
db:
	@if [ -z "$$DATABASE_URL" ]; then scripts/pg.sh start; fi
migrate:
	@$(PY) manage.py migrate --noinput -v 0
	@$(PY) manage.py compilemessages -v 0 --ignore=.venv --ignore=node_modules >/dev/null
	@$(PY) manage.py collectstatic --noinput -v 0

stop:
	@scripts/serve.sh stop || true
	@scripts/pg.sh stop

bench: setup
	$(PY) manage.py load_demo --quiet
	$(PY) bench/run_all.py

lint:
	.venv/bin/ruff check .
	$(PY) manage.py makemigrations --check --dry-run

messages:
	$(PY) manage.py makemessages -l zh_Hans -l en --ignore=.venv --ignore=node_modules --ignore=var
