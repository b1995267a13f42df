"""The benchmark still runs (issue 14): each step of `make bench` with tiny counts, its
exit status, its table and the goals it records. Nothing timed is asserted — the figures
of a smoke run mean nothing; `make bench` measures. Once, in the SQLite pass: the bench
makes its own throwaway world whatever database the suite uses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_DB

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    TEST_DB != "sqlite", reason="the bench makes its own world: once, in the SQLite pass"
)


def run_step(results: Path, *args: str, timeout: float = 300) -> str:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CIVIC_")}
    environment["BENCH_RESULTS"] = str(results)
    done = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_every_bench_step_runs_with_tiny_counts_and_records_its_goals(tmp_path):
    results = tmp_path / "results.json"
    printed = run_step(
        results,
        "bench",
        "--concurrency",
        "1,10",
        "--requests",
        "20",
        "--write-requests",
        "5",
        "--warmup",
        "1",
        "--rounds",
        "2",
        "--timeout",
        "240",
    )
    assert "ratio civic/baseline" in printed and "civic write (POST proposal)" in printed
    printed = run_step(results, "bench.fanout", "--members", "30", "--rounds", "1")
    assert "ratio fan-out/baseline" in printed
    printed = run_step(results, "bench.outbox_drain", "--rows", "50")
    assert "relay" in printed
    printed = run_step(results, "bench.event_latency", "--rate", "50", "--seconds", "1")
    assert "p99 ms" in printed
    printed = run_step(results, "bench.memory", "--sign-ins", "4", "--reads", "20")
    assert "RSS" in printed
    printed = run_step(results, "bench.cpu", "--requests", "10", "--warmup", "1")
    assert "CPU microseconds per request" in printed and "gateway" in printed
    printed = run_step(results, "bench.queue_types", "--requests", "10", "--warmup", "1")
    assert "ratio quorum/classic" in printed and "kombu echo, quorum queue" in printed
    printed = run_step(
        results,
        "bench.floor",
        *("--requests", "10", "--write-requests", "3", "--warmup", "1", "--rounds", "2"),
    )
    assert "floor, quorum RPC queue" in printed and "ratio floor (classic)/baseline" in printed
    assert "floor write, quorum RPC queue" in printed and "ratio civic write/baseline" in printed
    assert "What goals 1 and 2 leave above each floor" in printed

    recorded = json.loads(results.read_text(encoding="utf-8"))
    with_baseline = ("read_p50", "read_rps", "write_p50", "fanout_sqlite")
    assert {*with_baseline, "event_p99", "memory"} <= set(recorded)
    for key in with_baseline:
        assert recorded[key]["figure"] > 0 and recorded[key]["baseline"] > 0, key
    assert recorded["event_p99"]["figure"] > 0
    floors = recorded["floors"]
    assert set(floors) == {"read_p50", "read_rps", "write_p50"}
    assert set(floors["read_p50"]) == {"quorum RPC queue", "classic RPC queue"}
    assert recorded["memory"]["figure"] > 0 and recorded["memory"]["note"]  # which process

    report = run_step(results, "bench.report")
    assert "1. read path p50, 1 client" in report
    assert "the stack alone:" in report  # bench.floor's figures beside goal 1
    assert "not measured" in report  # a smoke run leaves the 36,000-row drain out
