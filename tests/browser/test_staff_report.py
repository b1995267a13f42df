"""The staff console's programme report (issue 13, screen 9), through the website in a
real browser, as staff.

Acceptance: over a data set built through the API (two new residents; a proposal,
supports, a comment and an official answer; an event with registrations and a check-in;
an opening with interest; a joint project with a partner organisation), the report's
numbers for the current month change by exactly what the test computes itself (the
demo data is in the same month: the test compares the report before and after its data
set, and makes the demo accounts it acts through active before the first reading, so
that the active accounts grow by its two new residents only); every table's CSV equals
the table. A bad period is refused on the page with a clear message; a resident gets
the 403 page; axe-core in sv and en.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from civic.clock import to_town
from tests.browser.harness import STAFF_SHOTS
from tests.browser.words import new_account, sv, unique

SHOTS = STAFF_SHOTS
TABLES = (
    "participation",
    "proposals-by-status",
    "proposals-by-category",
    "answers",
    "events",
    "openings",
    "projects",
)


def this_month() -> str:
    return to_town(datetime.now(UTC)).strftime("%Y-%m")


def report_csv(page, site, table: str, month: str) -> dict[str, str]:
    """The table's CSV for one month, as {column: value}."""
    answer = page.request.get(site.url(f"/staff/report/{table}.csv?from={month}&to={month}"))
    assert answer.status == 200, answer.text()
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.text())))
    assert len(rows) == 2 and rows[1][0] == month, rows
    return dict(zip(rows[0], rows[1], strict=True))


def numbers(page, site, month: str) -> dict[str, dict[str, str]]:
    return {table: report_csv(page, site, table, month) for table in TABLES}


def table_cells(page, table: str) -> list[list[str]]:
    return page.locator(f"#report-{table} tbody tr").evaluate_all(
        "rows => rows.map(r => Array.from(r.children).map(c => c.textContent.trim()))"
    )


def known(cells: list[list[str]]) -> list[list[str]]:
    """A table's cells as its CSV has them (an unknown number: "–" on the page, blank
    in the CSV)."""
    return [["" if cell == "–" else cell for cell in row] for row in cells]


def admin_group(site, token: str) -> str:
    me = site.api.get("/me", token=token)
    return next(
        m["group_id"] for m in me["memberships"] if m["role"] == "admin" and m["status"] == "active"
    )


def business_group(site) -> str:
    groups = site.api.items("/groups", kind="business", per_page=100)
    return next(group["id"] for group in groups if group["name"] == "Jokkmokks viltpark")


def post_opening(site, token: str, group_id: str) -> dict:
    apply_by = (to_town(datetime.now(UTC)) + timedelta(days=30)).date().isoformat()
    return site.api.post(
        "/openings",
        {
            "business_group_id": group_id,
            "title": unique("Guide för norrskensturer"),
            "description": "Kvällsturer med gäster.",
            "sector": "tourism",
            "employment_type": "seasonal",
            "location": "Jokkmokk",
            "apply_by": apply_by,
            "contact": "jobb@example.org",
        },
        token=token,
        expect=201,
    )


def new_project(site, token: str, lead: str, partners: list[str]) -> dict:
    return site.api.post(
        "/projects",
        {
            "title": unique("Isbanan i Stadsparken"),
            "description": "Föreningarna spolar.",
            "lead_group_id": lead,
            "partner_group_ids": partners,
        },
        token=token,
        expect=201,
    )


def delta(before, after, table, column) -> int:
    return int(after[table][column] or 0) - int(before[table][column] or 0)


def test_the_report_shows_what_was_done_and_its_csv_equals_its_tables(
    site, new_context, check_accessibility
):
    month = this_month()
    staff_token = site.api.sign_in("staff")
    business_token = site.api.sign_in("business_admin")
    lead_token = site.api.sign_in("project_lead")
    organiser_token = site.api.sign_in("organiser")
    business, lead = business_group(site), admin_group(site, lead_token)
    partner = admin_group(site, site.api.sign_in("association_admin"))

    # The demo accounts the data set acts through are active this month already.
    post_opening(site, business_token, business)
    new_project(site, lead_token, lead, [])

    page = new_context("sv", role="staff").new_page()
    before = numbers(page, site, month)

    # --- the data set -------------------------------------------------------------
    anna, bo = new_account(site, "Anna Rapport"), new_account(site, "Bo Rapport")
    proposal = site.api.post(
        "/proposals",
        {
            "title": unique("Fler bänkar vid älven"),
            "body": "Vid båtplatsen.",
            "category": "culture",
        },
        token=anna["token"],
        expect=201,
    )
    site.api.post(f"/proposals/{proposal['id']}/supports", token=bo["token"], expect=201)
    site.api.post(
        f"/proposals/{proposal['id']}/comments", {"body": "Bra idé!"}, token=bo["token"], expect=201
    )
    transitions = f"/proposals/{proposal['id']}/transitions"
    site.api.post(transitions, {"status": "under_review"}, token=staff_token, expect=200)
    site.api.post(
        transitions,
        {"status": "accepted", "answer": "Kommunen ställer ut två bänkar."},
        token=staff_token,
        expect=200,
    )

    starts_at = (datetime.now(UTC) + timedelta(minutes=30)).replace(microsecond=0)
    event = site.api.post(
        "/events",
        {
            "organiser_group_id": admin_group(site, organiser_token),
            "title": unique("Arbetsmöte om bänkar"),
            "kind": "meeting",
            "starts_at": starts_at.isoformat(),
            "ends_at": (starts_at + timedelta(hours=2)).isoformat(),
            "location": "Folkets hus, Jokkmokk",
        },
        token=organiser_token,
        expect=201,
    )
    for person in (anna, bo):
        site.api.post(f"/events/{event['id']}/registrations", token=person["token"], expect=201)
    site.api.post(
        f"/events/{event['id']}/checkins",
        {"account_id": anna["id"]},
        token=organiser_token,
        expect=201,
    )

    opening = post_opening(site, business_token, business)
    site.api.post(
        f"/openings/{opening['id']}/interest",
        {"message": "Jag guidar gärna."},
        token=bo["token"],
        expect=201,
    )
    new_project(site, lead_token, lead, [partner])

    # --- what the report must show --------------------------------------------------
    held = 1 if to_town(starts_at).strftime("%Y-%m") == month else 0
    expected = {
        ("participation", "registered"): 2,
        ("participation", "active"): 2,  # Anna and Bo; the demo accounts were already
        ("participation", "supports"): 1,
        ("participation", "comments"): 1,
        ("participation", "attendance"): 1,
        ("proposals-by-status", "submitted"): 1,
        ("proposals-by-status", "status_accepted"): 1,
        ("proposals-by-status", "status_submitted"): 0,
        ("proposals-by-category", "category_culture"): 1,
        ("proposals-by-category", "category_leisure"): 0,
        ("answers", "answered"): 1,
        ("events", "held"): held,
        ("events", "attendance"): 1,
        ("events", "registrations"): 2,
        ("openings", "posted"): 1,
        ("openings", "interest"): 1,
        ("projects", "started"): 1,
        ("projects", "status_planned"): 1,
        ("projects", "partners"): 1,
    }
    after = numbers(page, site, month)
    assert {key: delta(before, after, *key) for key in expected} == expected
    assert float(after["answers"]["median_days"]) >= 0

    # --- the page: its tables are its CSV ------------------------------------------
    page.goto(site.url(f"/staff/report?from={month}&to={month}"))
    expect(page.locator("h1")).to_have_text(sv("Programme report"))
    for table in TABLES:
        assert known(table_cells(page, table)) == [list(after[table].values())], table
        chart = page.locator(f"#table-{table} img")
        source = chart.get_attribute("src")
        assert source == f"/staff/report/{table}.svg?from={month}&to={month}"
        svg = page.request.get(site.url(source))
        assert svg.status == 200 and svg.headers["content-type"].startswith("image/svg+xml")
        assert "<script" not in svg.text() and month in svg.text()
        assert chart.evaluate("image => image.complete && image.naturalWidth > 0")

    # The default period: the last 12 months, this one the last; each CSV equals its table.
    page.goto(site.url("/staff/report"))
    expect(page.locator("#field-to")).to_have_value(month)
    check_accessibility(page, "staff programme report (sv)")
    page.screenshot(path=f"{SHOTS}/e-report-sv.png", full_page=True)
    page.locator("#table-participation").screenshot(path=f"{SHOTS}/e-report-chart-sv.png")
    first = page.locator("#field-from").input_value()
    for table in TABLES:
        answer = page.request.get(site.url(f"/staff/report/{table}.csv?from={first}&to={month}"))
        rows = list(csv.reader(io.StringIO(answer.text())))[1:]
        assert len(rows) == 12
        assert known(table_cells(page, table)) == rows, table

    page.emulate_media(media="print")
    page.screenshot(path=f"{SHOTS}/e-report-print.png", full_page=True)
    expect(page.locator(".staff-nav")).to_be_hidden()
    expect(page.locator("form.report-period")).to_be_hidden()

    english = new_context("en", role="staff").new_page()
    english.goto(site.url("/staff/report"))
    expect(english.locator("h1")).to_have_text("Programme report")
    check_accessibility(english, "staff programme report (en)")
    english.screenshot(path=f"{SHOTS}/e-report-en.png", full_page=True)


def test_a_bad_period_is_refused_on_the_page(site, new_context, check_accessibility):
    page = new_context("sv", role="staff").new_page()
    page.goto(site.url("/staff/report"))
    page.locator("#field-from").fill("2026-05")
    page.locator("#field-to").fill("2026-01")
    page.get_by_role("button", name=sv("Show the report")).click()
    expect(page.locator(".error-summary")).to_contain_text(
        sv("The period ends before it starts: choose a later “to” month.")
    )
    expect(page.locator("table.report-table")).to_have_count(0)
    check_accessibility(page, "staff programme report, a bad period (sv)")
    page.screenshot(path=f"{SHOTS}/e-report-bad-period-sv.png", full_page=True)

    too_long = page.goto(site.url("/staff/report?from=2020-01&to=2026-01"))
    assert too_long.status == 400
    expect(page.locator(".error-summary")).to_contain_text(
        sv("A report covers at most 36 months: choose a shorter period.")
    )
    garbled = page.request.get(site.url("/staff/report/participation.csv?from=x&to=2026-01"))
    assert garbled.status == 400
    assert page.request.get(site.url("/staff/report/nothing.csv")).status == 404


def test_a_resident_gets_the_403_page(site, new_context):
    page = new_context("sv", role="resident").new_page()
    answer = page.goto(site.url("/staff/report"))
    assert answer.status == 403
    expect(page.locator("h1")).not_to_have_text(sv("Programme report"))
    assert page.request.get(site.url("/staff/report/participation.csv")).status == 403
