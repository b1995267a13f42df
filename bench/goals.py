"""Issue 14's goals and the verdict of each, from the figures the bench steps record.

Each step of `make bench` (`python -m bench`, `bench.fanout`, `bench.outbox_drain`,
`bench.memory`, …) records what it measured with `record()` in `var/bench/results.json`
(one entry per goal, replaced by the step's next run); `python -m bench.report` prints
every goal with its figure, the baseline measured in the same run, the ratio and a
one-line verdict. Pure functions and a JSON file: unit-tested without a broker.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from bench.stats import format_ratio, format_table, ratio

# Where the figures go; a smoke run (tests/system/test_bench_smoke.py) points
# BENCH_RESULTS elsewhere, so its tiny counts never replace a real run's figures.
RESULTS = Path(
    os.environ.get("BENCH_RESULTS")
    or Path(__file__).resolve().parent.parent / "var" / "bench" / "results.json"
)
AT_MOST, AT_LEAST = "at most", "at least"


@dataclass(frozen=True)
class Goal:
    """One goal: the figure is compared with `limit`, either as its ratio to the
    baseline (`relative`) or as it is (a time, a size)."""

    key: str
    title: str
    unit: str
    limit: float
    direction: str  # AT_MOST or AT_LEAST
    relative: bool

    def met(self, figure: float, baseline: float | None) -> bool | None:
        value = ratio(figure, baseline) if self.relative else figure
        if value is None:
            return None
        return value <= self.limit if self.direction == AT_MOST else value >= self.limit

    def target(self) -> str:
        sign = "≤" if self.direction == AT_MOST else "≥"
        if self.relative:
            return f"{sign} {self.limit:g}x baseline"
        return f"{sign} {self.limit:g} {self.unit}"


GOALS = (
    Goal("read_p50", "1. read path p50, 1 client", "ms", 3.5, AT_MOST, True),
    Goal("read_rps", "1. read path req/s, 10 clients", "req/s", 0.30, AT_LEAST, True),
    Goal("write_p50", "2. write path (POST a proposal) p50", "ms", 5.0, AT_MOST, True),
    Goal("event_p99", "3. event latency p99 at 200/s", "ms", 50.0, AT_MOST, False),
    Goal("outbox_drain", "4. 36,000-row outbox drained", "s", 60.0, AT_MOST, False),
    Goal("fanout_sqlite", "5. fan-out 10,000 members, SQLite", "rows/s", 1.0, AT_LEAST, True),
    Goal(
        "fanout_postgresql", "5. fan-out 10,000 members, PostgreSQL", "rows/s", 1.0, AT_LEAST, True
    ),
    Goal("memory", "6. largest service RSS", "MB", 100.0, AT_MOST, False),
)
BY_KEY = {goal.key: goal for goal in GOALS}


def load(path: Path | None = None) -> dict:
    path = path or RESULTS
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def _save(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(results, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(temporary, path)


def record(
    key: str,
    figure: float,
    baseline: float | None = None,
    note: str = "",
    path: Path | None = None,
) -> None:
    """Keep one goal's figure (and its baseline from the same run) for the report."""
    path = path or RESULTS
    if key not in BY_KEY:
        raise ValueError(f"no goal called {key!r}")
    results = load(path)
    results[key] = {"figure": figure, "baseline": baseline, "note": note}
    _save(results, path)


FLOORS = "floors"  # the results file's entry for bench.floor's figures


def record_floor(key: str, floor: str, figure_ratio: float, path: Path | None = None) -> None:
    """Keep what the stack alone (bench.floor) reaches on goal `key`, as its ratio to
    the baseline of the same run: the report shows it beside the goal's verdict."""
    path = path or RESULTS
    if key not in BY_KEY or not BY_KEY[key].relative:
        raise ValueError(f"no goal measured against a baseline called {key!r}")
    results = load(path)
    results.setdefault(FLOORS, {}).setdefault(key, {})[floor] = figure_ratio
    _save(results, path)


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    return f"{value:,.2f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def rows(results: dict) -> list[tuple[str, ...]]:
    """One row per goal: goal, figure, baseline, ratio, target, verdict."""
    table = []
    for goal in GOALS:
        found = results.get(goal.key)
        if found is None:
            table.append((goal.title, "—", "—", "—", goal.target(), "not measured"))
            continue
        figure, baseline = found["figure"], found.get("baseline")
        met = goal.met(figure, baseline)
        verdict = {True: "met", False: "NOT met", None: "no baseline"}[met]
        if found.get("note"):
            verdict += f" ({found['note']})"
        floors = results.get(FLOORS, {}).get(goal.key)
        if floors:
            verdict += "; the stack alone: " + ", ".join(
                f"{format_ratio(value)} ({floor})" for floor, value in sorted(floors.items())
            )
        table.append(
            (
                goal.title,
                _number(figure, goal.unit),
                _number(baseline, goal.unit),
                format_ratio(ratio(figure, baseline)) if baseline else "—",
                goal.target(),
                verdict,
            )
        )
    return table


COLUMNS = ("goal", "figure", "baseline", "ratio", "target", "verdict")


def report(results: dict) -> str:
    return format_table(rows(results), COLUMNS, left_aligned={0, 4, 5})
