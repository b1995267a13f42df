"""The benchmark's goals table (bench.goals): verdicts, ratios and the results file."""

from __future__ import annotations

import pytest

from bench import goals


def test_a_relative_goal_compares_the_ratio_to_its_baseline():
    read = goals.BY_KEY["read_p50"]
    assert read.met(3.0, 1.0) is True
    assert read.met(3.6, 1.0) is False
    assert read.met(3.0, 0.0) is None  # no meaningful ratio
    rps = goals.BY_KEY["read_rps"]
    assert rps.met(300.0, 1000.0) is True and rps.met(299.0, 1000.0) is False


def test_an_absolute_goal_compares_the_figure_itself():
    memory = goals.BY_KEY["memory"]
    assert memory.met(99.9, None) is True
    assert memory.met(100.1, None) is False
    assert memory.target() == "≤ 100 MB"
    assert goals.BY_KEY["read_rps"].target() == "≥ 0.3x baseline"


def test_recorded_results_make_the_report_with_a_verdict_per_goal(tmp_path):
    path = tmp_path / "results.json"
    goals.record("read_p50", 2.4, 0.8, path=path)
    goals.record("memory", 180.0, note="groups", path=path)
    goals.record("read_p50", 4.0, 1.0, path=path)  # a step's next run replaces its figure
    results = goals.load(path)
    table = dict((row[0], row) for row in goals.rows(results))
    read = table["1. read path p50, 1 client"]
    assert read[1:4] == ("4.00 ms", "1.00 ms", "4.00x") and read[5] == "NOT met"
    memory = table["6. largest service RSS"]
    assert memory[1] == "180 MB" and memory[5] == "NOT met (groups)"
    assert table["4. 36,000-row outbox drained"][5] == "not measured"
    assert len(goals.rows(results)) == len(goals.GOALS)
    text = goals.report(results)
    assert "NOT met (groups)" in text and text.splitlines()[0].startswith("goal")


def test_the_stacks_floor_is_shown_beside_its_goals_verdict(tmp_path):
    path = tmp_path / "results.json"
    goals.record("read_p50", 5.0, 1.0, path=path)
    goals.record_floor("read_p50", "quorum RPC queue", 4.0, path=path)
    goals.record_floor("read_p50", "classic RPC queue", 3.2, path=path)
    goals.record_floor("read_p50", "quorum RPC queue", 3.9, path=path)  # the next run's
    table = dict((row[0], row) for row in goals.rows(goals.load(path)))
    assert table["1. read path p50, 1 client"][5] == (
        "NOT met; the stack alone: 3.20x (classic RPC queue), 3.90x (quorum RPC queue)"
    )
    assert "stack alone" not in table["1. read path req/s, 10 clients"][5]


def test_an_unknown_goal_is_refused(tmp_path):
    with pytest.raises(ValueError):
        goals.record("speed", 1.0, path=tmp_path / "results.json")
    with pytest.raises(ValueError):  # the memory goal has no baseline to be a ratio of
        goals.record_floor("memory", "quorum RPC queue", 1.0, path=tmp_path / "results.json")
    assert goals.load(tmp_path / "missing.json") == {}
