# Civic: `make run` starts the whole platform on this machine, `make test` runs every
# test against the local RabbitMQ on SQLite and on PostgreSQL, and the website in
# Debian's chromium; `make screenshots` takes a picture of every page.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
# Reinstalled whenever pyproject.toml changes (the stamp is older then).
STAMP := $(VENV)/.civic-installed
PYTEST_ARGS ?=

.PHONY: venv run stop status migrate seed logs lint test test-sqlite test-postgresql \
	test-browser test-future screenshots bench clean chaos chaos-cluster test-chaos

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@$(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Civic needs Python 3.11 or newer: $(VENV) has $$($(BIN)/python --version)"; exit 1; }
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

run: venv
	$(BIN)/civic up

stop: venv
	$(BIN)/civic down

status: venv
	$(BIN)/civic status

migrate: venv
	$(BIN)/civic migrate

seed: venv
	$(BIN)/civic seed

logs: venv
	$(BIN)/civic logs --follow

# The broker_restart tests stop and start the local RabbitMQ: they run last, on their
# own. The browser tests start the whole platform for themselves: they run once, in
# their own run (test-browser). A marker run that finds no test (pytest exit 5) is not a
# failure. Each run writes a JUnit report; the last line adds them all up.
REPORTS := var/test-reports
# The PostgreSQL server `make bench` measures the fan-out on too (a fresh schema of it).
BENCH_PG ?= $(or $(CIVIC_TEST_PG),postgresql://postgres@127.0.0.1:5432/postgres)

define pytest_run
	CIVIC_TEST_DB=$(1) $(BIN)/pytest -m "not broker_restart and not browser and not chaos" \
		--junitxml=$(REPORTS)/$(1).xml $(PYTEST_ARGS)
endef

# The website in a real browser: Playwright driving Debian's chromium (never a browser
# that `playwright install` downloads) against the whole platform as `make run` runs it,
# on a vhost, a var directory (SQLite) and ports of its own; it ends with the count of
# pages axe-core checked and the violations it found.
define pytest_browser_run
	@command -v chromium >/dev/null 2>&1 || \
		{ echo "the browser tests need Debian's chromium: apt-get install chromium"; exit 1; }
	$(BIN)/pytest -m browser tests/browser --junitxml=$(REPORTS)/browser.xml $(PYTEST_ARGS)
endef

define pytest_marker_run
	@rc=0; CIVIC_TEST_DB=$(1) $(BIN)/pytest -m broker_restart \
		--junitxml=$(REPORTS)/$(1)-broker-restart.xml $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "no broker_restart tests on $(1)"; \
	elif [ $$rc -ne 0 ]; then exit $$rc; fi
endef

define SUMMARY
import glob, xml.etree.ElementTree as ET
totals = dict(tests=0, failures=0, errors=0, skipped=0)
for path in sorted(glob.glob("$(REPORTS)/*.xml")):
    root = ET.parse(path).getroot()
    for suite in ([root] if root.tag == "testsuite" else root.findall("testsuite")):
        for key in totals:
            totals[key] += int(suite.get(key, 0))
failed = totals["failures"] + totals["errors"]
passed = totals["tests"] - failed - totals["skipped"]
print(f"total: {passed} passed, {failed} failed, {totals['skipped']} skipped")
endef
export SUMMARY

# The chaos suite (tests/chaos, issue 12): the whole platform under load while faults are
# injected (kill -9, broker restart and freeze, database outage, duplicated and reordered
# events, slow and refusing SMTP, a poison message), then Jepsen's counts per fault.
# `make chaos` runs the full version on SQLite and PostgreSQL; `make test-chaos` (last in
# `make test`: it restarts the local RabbitMQ app) the short one, under 9 minutes. Both
# print the table and write it to var/chaos/report.md.
define pytest_chaos_run
	$(BIN)/pytest -m chaos tests/chaos --junitxml=$(REPORTS)/chaos.xml $(PYTEST_ARGS)
endef

chaos: venv
	$(BIN)/python -m tests.chaos.run

# Issue 15: the chaos workload on a three-node RabbitMQ cluster (deploy/local-cluster),
# three instances of every domain service and two gateways, nodes stopped mid-load.
chaos-cluster: venv
	$(BIN)/python -m tests.chaos.run --cluster

test-chaos: venv
	@mkdir -p $(REPORTS)
	$(call pytest_chaos_run)

# The house rules, first in `make test`: ruff (lint, import order, format) and
# import-linter (the contracts in pyproject.toml: who may import whom, no cycles).
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

test: venv lint
	@rm -rf $(REPORTS) && mkdir -p $(REPORTS)
	$(call pytest_run,sqlite)
	$(call pytest_run,postgresql)
	$(call pytest_browser_run)
	$(call pytest_marker_run,sqlite)
	$(call pytest_marker_run,postgresql)
	$(call pytest_chaos_run)
	@echo "tests on SQLite and PostgreSQL, in the browser, broker restarts and chaos included:"
	@$(BIN)/python -c "$$SUMMARY"

test-sqlite: venv
	@mkdir -p $(REPORTS)
	$(call pytest_run,sqlite)

test-postgresql: venv
	@mkdir -p $(REPORTS)
	$(call pytest_run,postgresql)

test-browser: venv
	@mkdir -p $(REPORTS)
	$(call pytest_browser_run)

# A full-page PNG of every page of the website (tests/browser/pages.py) in Swedish and
# English, on a phone (390×844) and a desktop (1280×800), from a platform of its own
# started as for the browser tests.
SCREENSHOTS ?= var/screenshots

screenshots: venv
	$(BIN)/python -m tests.browser.screenshots --out $(SCREENSHOTS)

# The SQLite pass again with the clock a year ahead (libfaketime's `faketime`, Debian's
# package `faketime`): a test that leans on today's date fails here a year before it
# would fail for real. The servers (RabbitMQ, PostgreSQL) keep the real time. Its report
# goes with the others: the summary line counts it. Two tests of the SQLite pass are left
# out here, the longest (4 minutes of it): the API fuzzing (random input, no date of
# today's) and the benchmark's smoke run (tiny counts, no date at all); CI has 90 minutes.
FAKETIME ?= faketime
FUTURE ?= +365d
FUTURE_LEFT_OUT := --deselect tests/system/test_fuzz.py --deselect tests/system/test_bench_smoke.py

test-future: venv
	@command -v $(FAKETIME) >/dev/null 2>&1 || \
		{ echo "test-future needs faketime: apt-get install faketime"; exit 1; }
	@mkdir -p $(REPORTS)
	@$(FAKETIME) -f "$(FUTURE)" $(BIN)/python -c 'import sys, time; \
		print(time.strftime("tests run as of %Y-%m-%d %H:%M UTC", time.gmtime())); \
		sys.exit(time.time() - float(sys.argv[1]) < 86400)' "$$(date +%s)" || \
		{ echo "faketime did not move the clock of $(BIN)/python"; exit 1; }
	CIVIC_TEST_DB=sqlite $(FAKETIME) -f "$(FUTURE)" $(BIN)/pytest \
		-m "not broker_restart and not browser and not chaos" \
		--junitxml=$(REPORTS)/sqlite-future.xml $(FUTURE_LEFT_OUT) $(PYTEST_ARGS)
	@echo "every test report so far, the year-ahead pass included:"
	@$(BIN)/python -c "$$SUMMARY"

# Every step records its goals' figures (bench/goals.py); a step that fails or misses
# its goal does not stop the others, and the last prints every goal with its verdict.
bench: venv
	@mkdir -p var/bench && rm -f var/bench/results.json
	-$(BIN)/python -m bench
	-$(BIN)/python -m bench.event_latency
	-$(BIN)/python -m bench.outbox_drain
	-$(BIN)/python -m bench.fanout
	-$(BIN)/python -m bench.fanout --database-url $(BENCH_PG)
	-$(BIN)/python -m bench.memory
	-$(BIN)/python -m bench.cpu
	-$(BIN)/python -m bench.queue_types
	-$(BIN)/python -m bench.floor
	$(BIN)/python -m bench.report

clean:
	rm -rf build *.egg-info .pytest_cache
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +
