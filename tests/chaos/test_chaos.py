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

import subprocess
import sys

import pytest

from tests.chaos.run import REPORT_DIR, ROOT

SHORT_RUN_LIMIT = 600  # the short run is built for 8 minutes; this is the hard stop

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(SHORT_RUN_LIMIT + 60)]


def test_nothing_lost_nothing_doubled_under_faults():
    try:
        finished = subprocess.run(
            [sys.executable, "-m", "tests.chaos.run", "--short"],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=SHORT_RUN_LIMIT,
        )
    except subprocess.TimeoutExpired as exc:
        # SIGKILL of the run: its reaper process tears the platform down.
        pytest.fail(f"the short chaos run took over {SHORT_RUN_LIMIT}s\n{exc.stdout or ''}")
    table = "\n".join(line for line in finished.stdout.splitlines() if line.startswith("|"))
    print(finished.stdout)
    assert finished.returncode == 0, (
        f"the chaos suite found faults (exit {finished.returncode}; "
        f"details in {REPORT_DIR / 'report.md'}):\n{table}\n{finished.stderr[-3000:]}"
    )
