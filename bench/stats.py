"""The benchmark's arithmetic: percentiles, throughput, ratios and the result table.

Pure functions over plain numbers, so they can be unit-tested without a broker.
Latencies come in as seconds and are shown in milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def percentile(samples: Iterable[float], pct: float) -> float:
    """The `pct`-th percentile (0–100) by linear interpolation between closest ranks.

    Same definition as numpy's default: with sorted values v[0..n-1] the position is
    (n - 1) * pct / 100 and the result interpolates between its two neighbours, so the
    0th is the minimum, the 100th the maximum and the 50th the usual median.
    """
    values = sorted(samples)
    if not values:
        raise ValueError("percentile of no samples")
    if not 0 <= pct <= 100 or math.isnan(pct):
        raise ValueError(f"percentile must be between 0 and 100, got {pct!r}")
    position = (len(values) - 1) * pct / 100
    lower = math.floor(position)
    upper = math.ceil(position)
    fraction = position - lower
    return values[lower] + (values[upper] - values[lower]) * fraction


def throughput(completed: int, elapsed_seconds: float) -> float:
    """Requests per second: completed requests over the wall-clock time they took."""
    if completed < 0:
        raise ValueError(f"completed requests cannot be negative, got {completed!r}")
    if not elapsed_seconds > 0:
        raise ValueError(f"elapsed time must be above zero, got {elapsed_seconds!r}")
    return completed / elapsed_seconds


@dataclass(frozen=True)
class Summary:
    """One measured setting: a scenario at one concurrency."""

    scenario: str
    concurrency: int
    requests: int  # successful, timed requests
    errors: int
    p50_ms: float
    p99_ms: float
    requests_per_second: float


def summarize(
    scenario: str,
    concurrency: int,
    latencies_seconds: Sequence[float],
    elapsed_seconds: float,
    errors: int = 0,
) -> Summary:
    """Summary of one run from each successful request's latency and the run's wall time."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency!r}")
    if errors < 0:
        raise ValueError(f"errors cannot be negative, got {errors!r}")
    if not latencies_seconds:
        raise ValueError(f"{scenario}: no successful request to summarise")
    return Summary(
        scenario=scenario,
        concurrency=concurrency,
        requests=len(latencies_seconds),
        errors=errors,
        p50_ms=percentile(latencies_seconds, 50) * 1000,
        p99_ms=percentile(latencies_seconds, 99) * 1000,
        requests_per_second=throughput(len(latencies_seconds), elapsed_seconds),
    )


def ratio(measured: float, baseline: float) -> float | None:
    """measured / baseline, or None when the baseline is zero (no meaningful ratio)."""
    if baseline == 0:
        return None
    return measured / baseline


def format_ratio(value: float | None) -> str:
    """A ratio as `12.3x` (two significant decimals below 10x, one above); `n/a` if None."""
    if value is None:
        return "n/a"
    if value >= 10:
        return f"{value:.1f}x"
    return f"{value:.2f}x"


COLUMNS = ("concurrency", "scenario", "requests", "errors", "p50 ms", "p99 ms", "req/s")


def comparison_rows(civic: Summary, baseline: Summary) -> list[tuple[str, ...]]:
    """Three table rows for one concurrency: Civic, the baseline, and Civic/baseline."""
    if civic.concurrency != baseline.concurrency:
        raise ValueError(
            f"compare runs at the same concurrency ({civic.concurrency} != {baseline.concurrency})"
        )

    def measured(summary: Summary) -> tuple[str, ...]:
        return (
            str(summary.concurrency),
            summary.scenario,
            str(summary.requests),
            str(summary.errors),
            f"{summary.p50_ms:.2f}",
            f"{summary.p99_ms:.2f}",
            f"{summary.requests_per_second:.1f}",
        )

    ratios = (
        "",
        "ratio civic/baseline",
        "",
        "",
        format_ratio(ratio(civic.p50_ms, baseline.p50_ms)),
        format_ratio(ratio(civic.p99_ms, baseline.p99_ms)),
        format_ratio(ratio(civic.requests_per_second, baseline.requests_per_second)),
    )
    return [measured(civic), measured(baseline), ratios]


def format_table(
    rows: Sequence[Sequence[str]],
    columns: Sequence[str] = COLUMNS,
    left_aligned: frozenset[int] | set[int] = frozenset({1}),
) -> str:
    """A plain-text table: text columns (`left_aligned`, by default the scenario name)
    left-aligned, numeric ones right-aligned."""
    widths = [len(name) for name in columns]
    for row in rows:
        if len(row) != len(columns):
            raise ValueError(f"row has {len(row)} cells, the table {len(columns)} columns")
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]

    def line(cells):
        return "  ".join(
            cell.ljust(width) if index in left_aligned else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(columns), rule] + [line(row) for row in rows])
