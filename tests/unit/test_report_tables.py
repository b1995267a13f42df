"""The programme report's tables, CSV and charts (services/gateway/web/staff_report_pages.py),
from made-up service figures: no services needed."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from civic.errors import Unavailable
from services.gateway.web import staff_report_pages as report
from services.gateway.web.handler import Missing


def _figures():
    return {
        "groups": {
            "months": [
                {"month": "2026-01", "registered": 3, "actors": ["a"]},
                {"month": "2026-02", "registered": 1, "actors": []},
            ]
        },
        "proposals": {
            "months": [
                {
                    "month": m,
                    "submitted": 2,
                    "by_status": {"submitted": 1, "accepted": 1},
                    "by_category": {"culture": 2},
                    "supports": 4,
                    "comments": 1,
                    "answered": 1,
                    "median_days_to_answer": 2.5 if m == "2026-01" else None,
                    "projects": 1,
                    "projects_by_status": {"planned": 1},
                    "partners_joined": 2,
                    "actors": ["a", "b"],
                }
                for m in ("2026-01", "2026-02")
            ]
        },
        "events": {
            "months": [
                {"month": m, "held": 1, "attendance": 5, "registrations": 6, "actors": ["b", "c"]}
                for m in ("2026-01", "2026-02")
            ]
        },
        "openings": {
            "months": [
                {"month": m, "posted": 1, "interest": 2, "actors": ["d"]}
                for m in ("2026-01", "2026-02")
            ]
        },
    }


def test_the_default_period_is_the_last_twelve_months_of_the_town():
    # 23:30 UTC on 31 December is already January in Stockholm.
    assert report.default_period(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == (
        "2026-02",
        "2027-01",
    )


def test_a_bad_period_is_refused_with_a_reason():
    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert report.read_period({"from": "2026-13", "to": "2026-01"}, now)[2]
    assert report.read_period({"from": "2026-05", "to": "2026-04"}, now)[2]
    assert report.read_period({"from": "2020-01", "to": "2026-01"}, now)[2]
    assert report.read_period({"from": "2024-02", "to": "2027-01"}, now)[2] is None
    assert report.read_period({}, now) == ("2025-07", "2026-06", None)


def test_active_accounts_are_the_union_of_each_services_actors():
    tables = {t["key"]: t for t in report.build_tables("2026-01", "2026-02", _figures())}
    participation = tables["participation"]
    assert [c for c, _h in participation["columns"]][:2] == ["registered", "active"]
    assert participation["rows"][0] == {"month": "2026-01", "cells": [3, 4, 4, 1, 5]}
    assert participation["rows"][1]["cells"][1] == 4
    assert tables["answers"]["rows"][1]["cells"] == [1, None]


def test_a_service_that_does_not_answer_leaves_its_cells_unknown():
    figures = _figures()
    figures["events"] = Missing(Unavailable("events did not answer"))
    tables = {t["key"]: t for t in report.build_tables("2026-01", "2026-02", figures)}
    assert tables["events"]["rows"][0]["cells"] == [None, None, None]
    assert tables["events"]["unavailable"] == ["events"]
    assert tables["participation"]["rows"][0]["cells"][1] is None
    assert tables["openings"]["unavailable"] == []


def test_the_csv_has_the_tables_numbers():
    table = report.build_tables("2026-01", "2026-02", _figures())[0]
    rows = list(csv.reader(io.StringIO(report.table_csv(table, str))))
    assert rows[0] == ["month", "registered", "active", "supports", "comments", "attendance"]
    assert rows[1] == ["2026-01", "3", "4", "4", "1", "5"]


def test_a_chart_is_an_svg_without_javascript():
    for table in report.build_tables("2026-01", "2026-02", _figures()):
        svg = report.chart_svg(table, str)
        assert svg.startswith("<svg") and "<script" not in svg
        assert "2026-01" in svg
