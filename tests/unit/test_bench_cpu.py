"""The arithmetic of `python -m bench.cpu`: CPU per request, and its table."""

from __future__ import annotations

import os

import pytest

from bench.cpu import Scenario, breakdown_table, cpu_per_request, process_seconds


def test_cpu_per_request_is_each_process_s_microseconds_over_the_requests():
    before = {"gateway": 1.0, "groups": 2.0, "echo": 5.0}
    after = {"gateway": 1.5, "groups": 2.25, "echo": 5.0}
    assert cpu_per_request(before, after, 250) == {"gateway": 2000.0, "groups": 1000.0}


def test_cpu_per_request_refuses_no_requests_and_time_going_backwards():
    with pytest.raises(ValueError, match="at least 1"):
        cpu_per_request({"a": 1.0}, {"a": 2.0}, 0)
    with pytest.raises(ValueError, match="backwards"):
        cpu_per_request({"a": 2.0}, {"a": 1.0}, 10)


def test_the_table_has_a_column_per_process_seen_and_a_total():
    columns, rows = breakdown_table(
        [
            (Scenario("read", 1), 101.4, {"gateway": 3000.0, "groups": 2500.4}),
            (Scenario("echo", 1), 800.0, {"echo": 700.0, "client": 600.0}),
        ]
    )
    assert columns == (
        "scenario",
        "clients",
        "req/s",
        "gateway",
        "groups",
        "echo",
        "client",
        "total",
    )
    assert rows == [
        ("read", "1", "101", "3000", "2500", "-", "-", "5500"),
        ("echo", "1", "800", "-", "-", "700", "600", "1300"),
    ]


def test_process_seconds_reads_this_process_s_cpu_time():
    spent = process_seconds(os.getpid())
    sum(range(200_000))  # some CPU
    assert process_seconds(os.getpid()) >= spent >= 0
