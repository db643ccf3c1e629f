# The two set-up commands: `make demo` and `make test`. Each bootstraps a virtualenv with the
# pinned dependencies (constraints.txt) from a fresh clone, then runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test test-durations lint unit integration bench bench-fleet bench-signin bench-lists clean lock screenshots onboarding-walk

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "rostersync needs Python 3.11+"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/rostersync demo

lint: install
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest

# Refresh tests/durations.json, which hands the test files out to the workers longest first.
test-durations: install
	$(BIN)/pytest --store-durations

unit: install
	$(BIN)/pytest tests/unit

# `make bench` measures 10,000 students on both databases, the bundle and the REST paths (the
# simulator in its own process, also with 50 ms a request), and prints the tables, each target met
# or not (under two minutes on a quiet 2-core machine); `make bench BENCH_STUDENTS=100000` for
# more, `BENCH_ARGS=--no-rest` for the bundle path only. Bundles are kept in var/bench and reused.
# `python -m bench.report bench/results/<file>.json --readme` prints the README's table from a run.
BENCH_STUDENTS ?= 10000
bench: install
	$(BIN)/python -m bench.sync_bench --students $(BENCH_STUDENTS) --bundles var/bench $(BENCH_ARGS)

# `make screenshots` regenerates docs/screenshots/*.png, the portal's main pages in the demo's
# world (tests/browser/screenshots.py), in Debian's chromium at /usr/bin/chromium.
screenshots: install
	$(BIN)/python -m tests.browser.screenshots docs/screenshots

# `make bench-fleet` syncs 500 districts of 500–5,000 students twice (first sync, then a no-op)
# with two Redis workers on PostgreSQL within one shared request budget, and checks the budget at
# the server; `make bench-fleet FLEET_ARGS="--districts 50"` for a quick run. Needs PostgreSQL on
# 127.0.0.1:5432 and Redis on 127.0.0.1:6379.
FLEET_ARGS ?=
bench-fleet: install
	$(BIN)/python -m bench.fleet $(FLEET_ARGS)

# `make bench-signin` signs 3,000 people in through the ClassLink stand-in (its own process) into
# the portal under `rostersync serve --workers 1`, then `--workers 2`, 64 browsers at once, and
# prints logins/s, p50/p95, the portal's CPU ms per login and wrong-account sign-ins (must be 0);
# `make bench-signin SIGNIN_ARGS="--logins 500"` for a quick run. Needs Redis on 127.0.0.1:6379.
SIGNIN_ARGS ?=
bench-signin: install
	$(BIN)/python -m bench.signin_processes $(SIGNIN_ARGS)

# `make bench-lists` times the admin lists (districts, runs, audit, issues, search, the API's
# lists) over loopback HTTP with 1,000 districts and one of 100,000 students, on SQLite and
# PostgreSQL, p50/p95 against a 300 ms target; `make bench-lists LISTS_ARGS="--backends sqlite
# --students 20000"` for a quick run. Needs PostgreSQL on 127.0.0.1:5432 for its second half.
LISTS_ARGS ?=
bench-lists: install
	$(BIN)/python -m bench.lists $(LISTS_ARGS)

# `make onboarding-walk` times vendor staff onboarding a messy 10,000-student district from its
# ClassLink credentials to live in Debian's chromium (tests/browser/test_onboarding_timed.py) and
# writes the wall time, each step's and the machine's facts to var/onboarding-walk.json;
# `make onboarding-walk WALK_STUDENTS=1000` for a quick one.
WALK_STUDENTS ?= 10000
onboarding-walk: install
	mkdir -p var
	ROSTERSYNC_WALK_STUDENTS=$(WALK_STUDENTS) ROSTERSYNC_WALK_OUT=var/onboarding-walk.json \
		$(BIN)/pytest -q -n 0 -p no:cacheprovider --timeout 1800 tests/browser/test_onboarding_timed.py
	cat var/onboarding-walk.json

# Re-pin after changing dependencies in pyproject.toml.
lock: install
	$(BIN)/python -m pip freeze --exclude-editable > constraints.txt

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
