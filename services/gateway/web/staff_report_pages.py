"""The staff console's programme report: `/staff/report`, the indicators an EU-funded
development programme reports, per month over a chosen period, each as a chart
(server-rendered SVG, pygal, no JavaScript) beside an accessible table, and
`/staff/report/<table>.csv`, each table as CSV (the same numbers), and
`/staff/report/<table>.svg`, its chart (an image: the page stays light). Staff only. A mixin
of `GatewayService`.

The numbers come from the owning services over RPC, one read-only call each
(`programme_figures(actor, period_from, period_to)`, see each service's `figures.py`),
in one round. Active accounts are counted here: each service returns, per month, the
opaque ids of the accounts that did something there (submitted, supported, commented,
registered for or checked in at an event, showed interest in an opening, posted one,
created or joined a group, started a project); an account is active in a month if it
is in any of those sets. No other personal data leaves the services.

The period is whole months in the town's zone (`from`, `to`: YYYY-MM), by default the
last 12 months up to the current one (civic.clock); `to` not before `from`, at most
PERIOD_MONTHS_MAX months. A bad period shows its error on the page, and no report.
"""

from __future__ import annotations

import csv
import io
import math
import re
from datetime import datetime
from functools import cache

from werkzeug.wrappers import Response

from civic import clock
from civic.contracts import PROJECT_STATUSES, PROPOSAL_STATUSES
from civic.errors import NotFound, ValidationError
from civic.validation import PERIOD_MONTHS_MAX
from services.gateway.web import labels
from services.gateway.web.handler import Missing, Page, web
from services.proposals.api import CATEGORIES

DEFAULT_MONTHS = 12
MONTH = re.compile(clock.MONTH_PATTERN)
SCRIPT = re.compile(r"<script\b.*?</script>", re.DOTALL)
SERVICES = ("groups", "proposals", "events", "openings")


def _(message: str) -> str:
    return message


# --- the period -------------------------------------------------------------------------


def default_period(now: datetime) -> tuple[str, str]:
    """The last DEFAULT_MONTHS months, the current one (the town's) included."""
    last = clock.to_town(now).strftime("%Y-%m")
    return clock.shift_month(last, 1 - DEFAULT_MONTHS), last


def read_period(args, now: datetime) -> tuple[str, str, str | None]:
    """(from, to, error): the period asked for (blank: the default's end), and the
    message id of what is wrong with it (None: nothing)."""
    first_default, last_default = default_period(now)
    first = (args.get("from") or "").strip() or first_default
    last = (args.get("to") or "").strip() or last_default
    if not MONTH.match(first) or not MONTH.match(last):
        return first, last, _("Choose each month as a year and a month (YYYY-MM).")
    if last < first:
        return first, last, _("The period ends before it starts: choose a later “to” month.")
    if clock.months_in(first, last) > PERIOD_MONTHS_MAX:
        return first, last, _("A report covers at most 36 months: choose a shorter period.")
    return first, last, None


# --- the tables -------------------------------------------------------------------------

# Each table: its key (the CSV's name), its caption, and its columns: (column key, the
# service it comes from, how to read it from that service's month, its heading).
TABLES = (
    (
        "participation",
        _("Residents taking part"),
        (
            ("registered", "groups", lambda m: m["registered"], _("Accounts registered")),
            ("active", None, None, _("Active accounts")),
            ("supports", "proposals", lambda m: m["supports"], _("Supports")),
            ("comments", "proposals", lambda m: m["comments"], _("Comments")),
            ("attendance", "events", lambda m: m["attendance"], _("Event attendance")),
        ),
    ),
    (
        "proposals-by-status",
        _("Proposals submitted, by status now"),
        (("submitted", "proposals", lambda m: m["submitted"], _("Submitted in the month")),)
        + tuple(
            (
                f"status_{status}",
                "proposals",
                lambda m, s=status: m["by_status"].get(s, 0),
                labels.LABELS["proposal_status"][status],
            )
            for status in PROPOSAL_STATUSES
        ),
    ),
    (
        "proposals-by-category",
        _("Proposals submitted, by category"),
        tuple(
            (
                f"category_{category}",
                "proposals",
                lambda m, c=category: m["by_category"].get(c, 0),
                labels.LABELS["category"][category],
            )
            for category in CATEGORIES
        ),
    ),
    (
        "answers",
        _("Official answers"),
        (
            ("answered", "proposals", lambda m: m["answered"], _("Proposals first answered")),
            (
                "median_days",
                "proposals",
                lambda m: m["median_days_to_answer"],
                _("Median days from submission to first answer"),
            ),
        ),
    ),
    (
        "events",
        _("Events held and attendance"),
        (
            ("held", "events", lambda m: m["held"], _("Events held")),
            ("attendance", "events", lambda m: m["attendance"], _("Attendance (check-ins)")),
            ("registrations", "events", lambda m: m["registrations"], _("Registrations")),
        ),
    ),
    (
        "openings",
        _("Openings posted and interest shown"),
        (
            ("posted", "openings", lambda m: m["posted"], _("Openings posted")),
            ("interest", "openings", lambda m: m["interest"], _("Interest shown")),
        ),
    ),
    (
        "projects",
        _("Joint projects started, by status now, and partner organisations"),
        (("started", "proposals", lambda m: m["projects"], _("Projects started")),)
        + tuple(
            (
                f"status_{status}",
                "proposals",
                lambda m, s=status: m["projects_by_status"].get(s, 0),
                labels.LABELS["project_status"][status],
            )
            for status in PROJECT_STATUSES
        )
        + (
            (
                "partners",
                "proposals",
                lambda m: m["partners_joined"],
                _("Partner organisations joined"),
            ),
        ),
    ),
)
TABLE_KEYS = tuple(key for key, _caption, _columns in TABLES)
# The table whose chart is a line (a median is not a count to stack or add up).
LINE_COLUMNS = frozenset({"median_days"})


def _by_month(figures) -> dict[str, dict]:
    if isinstance(figures, Missing) or not figures:
        return {}
    return {row["month"]: row for row in figures.get("months", [])}


def build_tables(first: str, last: str, figures: dict) -> list[dict]:
    """The report's tables from each service's figures (a service that did not answer
    is `Missing`: its cells are None). Cells are numbers or None."""
    months = [clock.shift_month(first, n) for n in range(clock.months_in(first, last))]
    per_service = {name: _by_month(figures.get(name)) for name in SERVICES}
    tables = []
    for key, caption, columns in TABLES:
        rows = []
        for month in months:
            cells = []
            for column, service, read, _heading in columns:
                if column == "active":
                    cells.append(_active(per_service, month))
                    continue
                row = per_service[service].get(month)
                cells.append(read(row) if row is not None else None)
            rows.append({"month": month, "cells": cells})
        unavailable = sorted(
            {service for _c, service, _r, _h in columns if service and not per_service[service]}
            | (
                {name for name in SERVICES if not per_service[name]}
                if any(column == "active" for column, *_ in columns)
                else set()
            )
        )
        tables.append(
            {
                "key": key,
                "caption": caption,
                "columns": [(column, heading) for column, _s, _r, heading in columns],
                "rows": rows,
                "unavailable": unavailable,
            }
        )
    return tables


def _active(per_service: dict, month: str) -> int | None:
    """Distinct accounts that did anything in any service in the month."""
    if not all(per_service[name] for name in SERVICES):
        return None
    actors: set[str] = set()
    for name in SERVICES:
        actors.update(per_service[name].get(month, {}).get("actors", []))
    return len(actors)


def table_csv(table: dict, gettext) -> str:
    """The table as CSV: a header row (month, then the columns' keys) and one row per
    month, the same numbers as the page's table; blank: unknown."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["month"] + [column for column, _heading in table["columns"]])
    for row in table["rows"]:
        writer.writerow([row["month"]] + ["" if cell is None else cell for cell in row["cells"]])
    return out.getvalue()


# --- the charts -------------------------------------------------------------------------


@cache
def chart_style():
    """The charts' style, built the first time a chart is drawn: pygal is imported only
    then, so a gateway that never draws one does not carry it (issue 14: memory)."""
    from pygal.style import Style

    return Style(
        background="white",
        plot_background="white",
        foreground="#1a1a1a",
        foreground_strong="#1a1a1a",
        foreground_subtle="#595959",
        font_family="system-ui, sans-serif",
        label_font_size=13,
        major_label_font_size=13,
        legend_font_size=14,
        value_font_size=12,
        title_font_size=16,
        colors=(
            "#1f5fa8",
            "#c2410c",
            "#15803d",
            "#7e22ce",
            "#b91c1c",
            "#0e7490",
            "#a16207",
            "#4b5563",
        ),
    )


def render_chart(kind, x_labels, series, *, whole_numbers_up_to=None, **options) -> str:
    """A pygal chart of `kind` in the console's look, as an SVG document without
    JavaScript: `series` is (name, values) pairs; `whole_numbers_up_to` (the highest
    count) puts whole numbers on the y axis; `options` are the chart's own pygal
    settings. The staff report and the consultation results draw with it."""
    chart = kind(
        style=chart_style(),
        js=[],
        disable_xml_declaration=True,
        width=720,
        legend_at_bottom=True,
        truncate_label=-1,
        truncate_legend=-1,
        print_values=False,
        include_x_axis=True,
        margin=12,
        margin_bottom=36,
        **options,
    )
    chart.x_labels = x_labels
    if whole_numbers_up_to is not None:
        step = max(1, math.ceil(whole_numbers_up_to / 8))
        chart.y_labels = list(range(0, max(whole_numbers_up_to, 1) + step, step))
    for name, values in series:
        chart.add(name, values)
    # pygal writes its config as an inline script even with `js=[]`: no script at all.
    return SCRIPT.sub("", chart.render(is_unicode=True))


def chart_svg(table: dict, gettext) -> str:
    """The table as a bar chart (a line for a median), an SVG document without
    JavaScript (the page shows it as an image, its numbers in the table below)."""
    line = any(column in LINE_COLUMNS for column, _h in table["columns"])
    names = [gettext(heading) for _column, heading in table["columns"]]
    long_names = max(len(name) for name in names) > 32
    import pygal

    top = None
    if not line:  # counts: whole numbers on the axis
        top = max((c for row in table["rows"] for c in row["cells"] if c is not None), default=0)
    return render_chart(
        pygal.Line if line else pygal.Bar,
        [row["month"] for row in table["rows"]],
        [
            (name, [row["cells"][index] for row in table["rows"]])
            for index, name in enumerate(names)
        ],
        whole_numbers_up_to=top,
        height=440,
        legend_at_bottom_columns=1 if long_names else 2,
        x_label_rotation=-45 if len(table["rows"]) > 6 else 0,
        show_minor_x_labels=True,
        min_scale=1,
        max_scale=8,
    )


# --- the pages --------------------------------------------------------------------------


def services_of(table: str) -> tuple[str, ...]:
    """The services a table's numbers come from (active accounts: all of them)."""
    for key, _caption, columns in TABLES:
        if key == table:
            if any(column == "active" for column, *_rest in columns):
                return SERVICES
            return tuple(name for name in SERVICES if any(s == name for _c, s, *_r in columns))
    raise NotFound("no such table in the programme report")


class StaffReportPages:
    """Entrypoints of the programme report, its charts and its CSV files."""

    def _programme_figures(self, page: Page, first: str, last: str, names=SERVICES) -> dict:
        actor = page.actor
        return page.gather(
            **{
                name: (
                    lambda name=name: getattr(self.services, name).programme_figures(
                        actor, first, last
                    )
                )
                for name in names
            }
        )

    def _one_table(self, page: Page, table: str) -> tuple[dict, str, str]:
        """(the table, from, to) for a CSV or a chart; a service that does not answer
        fails it (503), a bad period is a 400."""
        names = services_of(table)
        first, last, error = read_period(page.args, clock.utcnow())
        if error:
            raise ValidationError(page.gettext(error), fields={"period": [page.gettext(error)]})
        figures = self._programme_figures(page, first, last, names)
        for value in figures.values():
            if isinstance(value, Missing):
                raise value.error
        chosen = next(t for t in build_tables(first, last, figures) if t["key"] == table)
        return chosen, first, last

    @web("GET", "/staff/report", auth="staff")
    def web_staff_report(self, page: Page):
        first, last, error = read_period(page.args, clock.utcnow())
        if error:
            return page.render(
                "staff/report.html",
                status=400,
                period_from=first,
                period_to=last,
                error=error,
                tables=[],
            )
        figures = self._programme_figures(page, first, last)
        return page.render(
            "staff/report.html",
            period_from=first,
            period_to=last,
            error=None,
            tables=build_tables(first, last, figures),
            months_max=PERIOD_MONTHS_MAX,
        )

    @web("GET", "/staff/report/<table>.csv", auth="staff")
    def web_staff_report_csv(self, page: Page, table: str):
        chosen, first, last = self._one_table(page, table)
        response = Response(table_csv(chosen, page.gettext), content_type="text/csv; charset=utf-8")
        response.headers["Content-Disposition"] = (
            f'attachment; filename="programme-{table}-{first}-{last}.csv"'
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    @web("GET", "/staff/report/<table>.svg", auth="staff")
    def web_staff_report_chart(self, page: Page, table: str):
        chosen, _first, _last = self._one_table(page, table)
        response = Response(chart_svg(chosen, page.gettext), content_type="image/svg+xml")
        response.headers["Cache-Control"] = "private, no-store"
        return response
