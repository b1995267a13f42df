"""The chaos suite's short version as a test (`make test-chaos`, and last in `make test`).

It runs `python -m tests.chaos.run --short` as a process of its own: the suite drives
the platform with plain threads, and this pytest process is monkey-patched for eventlet
by tests/conftest.py. The test fails when any round lost, doubled or invented something,
dead-lettered a healthy message, got stuck, or could not observe its fault; the table
and the report's path are in the failure message (the whole report is
var/chaos/report.md). It stops and starts the machine's RabbitMQ app (the broker
restart round): run it on its own, after everything else.
"""

from __future__ import annotations

import pytest

from tests.chaos.run import REPORT_DIR, run_as_process

SHORT_RUN_LIMIT = 660  # the short run is built for 9 minutes; this is the hard stop

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(SHORT_RUN_LIMIT + 60)]


def test_nothing_lost_nothing_doubled_under_faults():
    try:
        status, output, table = run_as_process(["--short"], SHORT_RUN_LIMIT)
    except TimeoutError as exc:
        pytest.fail(str(exc))
    assert status == 0, (
        f"the chaos suite found faults (exit {status}; "
        f"details in {REPORT_DIR / 'report.md'}):\n{table}\n{output[-3000:]}"
    )
