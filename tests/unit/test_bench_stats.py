"""The benchmark's arithmetic (bench/stats.py): no broker, no timing."""

import pytest

from bench.load import LoadResult, combine, split_evenly, turns
from bench.stats import (
    COLUMNS,
    Summary,
    comparison_rows,
    format_ratio,
    format_table,
    percentile,
    ratio,
    summarize,
    throughput,
)


def summary(scenario, concurrency=1, p50=1.0, p99=2.0, rps=100.0, requests=10, errors=0):
    return Summary(scenario, concurrency, requests, errors, p50, p99, rps)


class TestPercentile:
    def test_median_of_odd_count_is_the_middle_value(self):
        assert percentile([5, 1, 3], 50) == 3

    def test_median_of_even_count_interpolates(self):
        assert percentile([1, 2, 3, 4], 50) == 2.5

    def test_extremes_are_min_and_max(self):
        samples = [0.4, 0.1, 0.9, 0.3]
        assert percentile(samples, 0) == 0.1
        assert percentile(samples, 100) == 0.9

    def test_p99_of_1_to_100_interpolates_between_the_top_two(self):
        # position (100 - 1) * 0.99 = 98.01 → between 99 and 100
        assert percentile(range(1, 101), 99) == pytest.approx(99.01)

    def test_single_sample_is_every_percentile(self):
        assert percentile([7.0], 1) == 7.0
        assert percentile([7.0], 99) == 7.0

    def test_input_order_does_not_matter(self):
        assert percentile([3, 1, 2], 25) == percentile([1, 2, 3], 25) == 1.5

    def test_no_samples_is_an_error(self):
        with pytest.raises(ValueError, match="no samples"):
            percentile([], 50)

    @pytest.mark.parametrize("pct", [-1, 100.5, float("nan")])
    def test_percentile_outside_0_to_100_is_an_error(self, pct):
        with pytest.raises(ValueError, match="between 0 and 100"):
            percentile([1, 2], pct)


class TestThroughput:
    def test_requests_per_second(self):
        assert throughput(300, 1.5) == 200.0

    @pytest.mark.parametrize("elapsed", [0, -1.0])
    def test_elapsed_must_be_positive(self, elapsed):
        with pytest.raises(ValueError, match="elapsed"):
            throughput(10, elapsed)

    def test_negative_count_is_an_error(self):
        with pytest.raises(ValueError, match="negative"):
            throughput(-1, 1.0)


class TestSummarize:
    def test_latencies_in_seconds_become_milliseconds(self):
        result = summarize("civic", 10, [0.001, 0.002, 0.003, 0.004, 0.005], 0.5, errors=2)
        assert result.scenario == "civic"
        assert result.concurrency == 10
        assert result.requests == 5
        assert result.errors == 2
        assert result.p50_ms == pytest.approx(3.0)
        assert result.p99_ms == pytest.approx(4.96)
        assert result.requests_per_second == pytest.approx(10.0)

    def test_nothing_succeeded_is_an_error(self):
        with pytest.raises(ValueError, match="no successful request"):
            summarize("civic", 1, [], 1.0)

    def test_concurrency_below_one_is_an_error(self):
        with pytest.raises(ValueError, match="concurrency"):
            summarize("civic", 0, [0.1], 1.0)


class TestRatio:
    def test_ratio_divides_by_the_baseline(self):
        assert ratio(12.0, 3.0) == 4.0

    def test_zero_baseline_has_no_ratio(self):
        assert ratio(1.0, 0.0) is None

    @pytest.mark.parametrize(
        "value, text",
        [
            (None, "n/a"),
            (0.0834, "0.08x"),
            (1.0, "1.00x"),
            (9.994, "9.99x"),
            (12.345, "12.3x"),
            (250.0, "250.0x"),
        ],
    )
    def test_format(self, value, text):
        assert format_ratio(value) == text


class TestComparisonRows:
    def test_civic_baseline_and_ratio_rows(self):
        civic = summary("civic", concurrency=10, p50=6.0, p99=30.0, rps=250.0, requests=1000)
        baseline = summary("baseline", concurrency=10, p50=0.5, p99=2.0, rps=5000.0, requests=1000)
        civic_row, baseline_row, ratio_row = comparison_rows(civic, baseline)
        assert civic_row == ("10", "civic", "1000", "0", "6.00", "30.00", "250.0")
        assert baseline_row == ("10", "baseline", "1000", "0", "0.50", "2.00", "5000.0")
        assert ratio_row == ("", "ratio civic/baseline", "", "", "12.0x", "15.0x", "0.05x")

    def test_different_concurrencies_are_not_compared(self):
        with pytest.raises(ValueError, match="same concurrency"):
            comparison_rows(summary("civic", concurrency=1), summary("base", concurrency=10))


class TestFormatTable:
    def test_columns_line_up_and_numbers_are_right_aligned(self):
        rows = comparison_rows(
            summary("civic", p50=12.5, rps=80.0),
            summary("baseline kombu echo", p50=0.5, rps=2000.0),
        )
        lines = format_table(rows).splitlines()
        assert lines[0].split() == [
            "concurrency",
            "scenario",
            "requests",
            "errors",
            "p50",
            "ms",
            "p99",
            "ms",
            "req/s",
        ]
        assert set(lines[1]) <= {"-", " "}
        assert len(lines) == 2 + 3
        # Right-aligned: every row's req/s cell ends in the same column as the header's.
        end = len(lines[0])
        assert lines[2].endswith("80.0") and len(lines[2]) == end
        assert lines[3].endswith("2000.0") and len(lines[3]) == end
        assert lines[4].endswith("0.04x") and len(lines[4]) == end
        # Left-aligned scenario names start in the same column.
        assert lines[2].index("civic") == lines[3].index("baseline") == lines[0].index("scenario")

    def test_row_with_wrong_number_of_cells_is_an_error(self):
        with pytest.raises(ValueError, match="cells"):
            format_table([("1", "civic")], COLUMNS)


class TestRounds:
    """bench.load's rounds: each scenario's requests split into rounds, the scenarios
    taking turns, each one's rounds pooled (no broker, no timing)."""

    def test_a_total_is_split_as_evenly_as_counts_allow(self):
        assert split_evenly(10, 3) == [4, 3, 3]
        assert split_evenly(1000, 5) == [200] * 5
        assert split_evenly(2, 5) == [1, 1, 0, 0, 0]
        assert sum(split_evenly(997, 7)) == 997

    @pytest.mark.parametrize("total, parts", [(-1, 2), (5, 0)])
    def test_a_split_of_a_negative_total_or_into_no_parts_is_refused(self, total, parts):
        with pytest.raises(ValueError):
            split_evenly(total, parts)

    def test_the_scenarios_take_turns_in_reversed_order_every_other_round(self):
        assert turns(["civic", "baseline", "write"], 3) == [
            ["civic", "baseline", "write"],
            ["write", "baseline", "civic"],
            ["civic", "baseline", "write"],
        ]
        with pytest.raises(ValueError):
            turns(["civic"], 0)

    def test_rounds_pool_their_latencies_errors_and_time(self):
        first = LoadResult(latencies=[0.1, 0.2], errors=1, first_error="a", elapsed=2.0)
        second = LoadResult(latencies=[0.3], errors=2, first_error="b", elapsed=1.0, unfinished=4)
        pooled = combine([first, second])
        assert sorted(pooled.latencies) == [0.1, 0.2, 0.3]
        assert (pooled.errors, pooled.first_error, pooled.unfinished) == (3, "a", 4)
        assert pooled.elapsed == 3.0  # its own rounds' time, for its requests per second
        assert combine([]).latencies == [] and combine([]).elapsed == 0.0
