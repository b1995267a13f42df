"""`python -m bench.fanout` runs, tells every member, and prints the comparison."""

import subprocess
import sys

from civic.config import ROOT


def test_the_fanout_bench_prints_both_rates_and_their_ratio():
    result = subprocess.run(
        [sys.executable, "-m", "bench.fanout", "--members", "200", "--rounds", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Fan-out of one event to a group of 200 members (SQLite, 2 rounds" in out
    assert "fan-out (handle_event)" in out and "baseline (one bulk INSERT)" in out
    ratio_line = next(line for line in out.splitlines() if "ratio fan-out/baseline" in line)
    assert ratio_line.rstrip().endswith("x")
