"""Open data (issue 13) on the whole platform: the public page `/open-data` (anyone, in
Swedish and English, axe-core 0 violations), the anonymised files (CSV and JSON of
proposals, events, joint projects and openings) and their DCAT-AP catalogue.

The acceptance check: everything personal a test makes through the API — two new
accounts' emails, display names and ids (one of them then erased), a drop-in visitor's
name and contact line, an opening's contact, comments — is searched for in every file
the site publishes, and none is found; the proposals, event, project and opening made
appear there as their events arrive.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.harness import DEFAULT_PASSWORD, LANGUAGES, STAFF_SHOTS, ApiError
from tests.browser.words import new_account, sv, unique
from tests.conftest import wait_for
from tests.unit.test_open_data import check_dcat

EFFECT_TIMEOUT = 45.0
SHOTS = STAFF_SHOTS
DATASETS = ("proposals", "events", "projects", "openings")
BUSINESS = "Jokkmokks viltpark"  # the demo business of `business_admin`


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"f-{name}.png"), full_page=True)


def fetch(site, path: str) -> requests.Response:
    response = requests.get(site.url(path), timeout=30)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:300]}"
    return response


def published(site) -> dict[str, str]:
    """Every file of the open data, by path: its text."""
    files = {"/open-data/catalog.jsonld": fetch(site, "/open-data/catalog.jsonld").text}
    for name in DATASETS:
        for fmt in ("csv", "json"):
            path = f"/open-data/{name}.{fmt}"
            files[path] = fetch(site, path).text
    return files


def titles_in(site, name: str) -> set[str]:
    return {row["title"] for row in fetch(site, f"/open-data/{name}.json").json()["items"]}


def until_accepted(call, message: str):
    """A call that the services accept once a fact reached them (a new group's admin)."""
    answer = {}

    def done():
        try:
            answer["value"] = call()
            return True
        except ApiError:
            return False

    wait_for(done, timeout=EFFECT_TIMEOUT, message=message)
    return answer["value"]


def test_the_open_data_files_hold_nothing_personal_and_follow_the_events(site):
    api = site.api
    tag = uuid.uuid4().hex[:8]
    author = new_account(site, f"Öppendata Författare {tag}")
    erased = new_account(site, f"Öppendata Raderas {tag}")
    staff_token = api.sign_in("staff")
    business_token = api.sign_in("business_admin")
    staff_id = api.get("/me", token=staff_token)["id"]
    business_admin_id = api.get("/me", token=business_token)["id"]
    visitor = f"Besökare Visitorsson {tag}"
    visitor_contact = f"visitor-{tag}@example.net, 070-{tag[:3]} {tag[3:6]}"
    opening_contact = f"Rekryterare Kontaktsson, jobb-{tag}@example.com"
    comment = f"Kommentar med telefon 070-{tag}"

    # The account to be erased files a proposal, leads a new association and schedules
    # an event and a joint project from it; the other comments.
    online = api.post(
        "/proposals",
        {"title": unique("Öppna data: isbana"), "body": "Ett förslag.", "category": "leisure"},
        token=erased["token"],
        expect=201,
    )
    api.post(
        f"/proposals/{online['id']}/comments", {"body": comment}, token=author["token"], expect=201
    )
    api.post(
        f"/proposals/{online['id']}/comments",
        {"body": f"{comment} igen"},
        token=erased["token"],
        expect=201,
    )
    drop_in = api.post(
        "/proposals",
        {
            "title": unique("Öppna data: bänkar"),
            "body": "Lämnat vid disken.",
            "category": "leisure",
            "channel": "drop_in",
            "visitor_name": visitor,
            "contact": visitor_contact,
        },
        token=staff_token,
        expect=201,
    )
    group = api.post(
        "/groups",
        {"name": unique("Öppna data-föreningen"), "kind": "association", "description": "Test."},
        token=erased["token"],
        expect=201,
    )
    starts = (datetime.now(UTC) + timedelta(days=60)).replace(microsecond=0)
    event = until_accepted(
        lambda: api.post(
            "/events",
            {
                "organiser_group_id": group["id"],
                "title": unique("Öppna data-möte"),
                "kind": "meeting",
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=2)).isoformat(),
                "location": "Folkets hus, Jokkmokk",
            },
            token=erased["token"],
            expect=201,
        ),
        "the events service to know the new group's admin",
    )
    project = until_accepted(
        lambda: api.post(
            "/projects",
            {
                "title": unique("Öppna data-projekt"),
                "description": "Ett projekt.",
                "lead_group_id": group["id"],
                "partner_group_ids": [],
                "origin_proposal_id": online["id"],
            },
            token=erased["token"],
            expect=201,
        ),
        "the proposals service to know the new group's admin",
    )
    business = next(
        g["id"]
        for g in api.items("/groups", kind="business", per_page=100)
        if g["name"] == BUSINESS
    )
    opening = api.post(
        "/openings",
        {
            "business_group_id": business,
            "title": unique("Öppna data-jobb"),
            "description": "Ett jobb.",
            "sector": "tourism",
            "employment_type": "seasonal",
            "location": "Jokkmokk",
            "apply_by": (datetime.now(UTC) + timedelta(days=30)).date().isoformat(),
            "contact": opening_contact,
        },
        token=business_token,
        expect=201,
    )

    # The datasets follow the events: each new thing appears.
    expected = {
        "proposals": {online["title"], drop_in["title"]},
        "events": {event["title"]},
        "projects": {project["title"]},
        "openings": {opening["title"]},
    }
    for name, titles in expected.items():
        wait_for(
            lambda name=name, titles=titles: titles <= titles_in(site, name),
            timeout=EFFECT_TIMEOUT,
            message=f"the {name} dataset to show what was made",
        )
    rows = {
        row["proposal_id"]: row for row in fetch(site, "/open-data/proposals.json").json()["items"]
    }
    assert rows[drop_in["id"]]["channel"] == "drop_in"
    [project_row] = [
        row
        for row in fetch(site, "/open-data/projects.json").json()["items"]
        if row["project_id"] == project["id"]
    ]
    assert project_row["origin_proposal_id"] == online["id"]

    # The account is erased; its erasure reaches every service.
    api.delete("/me", token=erased["token"], expect=202)
    wait_for(
        lambda: (
            api.request(
                "POST", "/sessions", json={"email": erased["email"], "password": DEFAULT_PASSWORD}
            ).status_code
            != 201
        ),
        timeout=EFFECT_TIMEOUT,
        message="the erased account to be gone",
    )

    personal = [
        author["email"],
        author["name"],
        author["id"],
        erased["email"],
        erased["name"],
        erased["id"],
        staff_id,
        business_admin_id,
        visitor,
        visitor_contact,
        f"visitor-{tag}",
        opening_contact,
        f"jobb-{tag}",
        "Kontaktsson",
        comment,
        tag[:3] + " " + tag[3:6],
    ]
    files = published(site)
    for path, text in files.items():
        folded = text.casefold()
        for value in personal:
            assert value.casefold() not in folded, f"{path} holds a personal value"
    # The erased account's own proposal, event and project stay, unlinked.
    assert online["title"] in files["/open-data/proposals.csv"]
    assert event["title"] in files["/open-data/events.csv"]
    assert project["title"] in files["/open-data/projects.json"]

    # The files read as what they say they are.
    header = next(csv.reader(io.StringIO(files["/open-data/proposals.csv"])))
    assert header[:2] == ["proposal_id", "title"]
    assert all("account" not in column and "author" not in column for column in header)
    check_dcat(json.loads(files["/open-data/catalog.jsonld"]), site.url("").rstrip("/"))
    assert (
        fetch(site, "/open-data/catalog.jsonld")
        .headers["Content-Type"]
        .startswith("application/ld+json")
    )
    assert fetch(site, "/open-data/events.csv").headers["Content-Type"].startswith("text/csv")
    assert requests.get(site.url("/open-data/people.csv"), timeout=30).status_code == 404


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_open_data_page_lists_the_datasets_with_licence_and_update_time(
    site, new_context, check_accessibility, lang
):
    page = new_context(lang).new_page()
    page.goto(site.url("/open-data"))
    heading = "Open data" if lang == "en" else sv("Open data")
    expect(page.locator("h1")).to_have_text(heading)
    expect(page.locator("a[rel=license]")).to_have_attribute(
        "href", "http://creativecommons.org/publicdomain/zero/1.0/"
    )
    for name in DATASETS:
        expect(page.locator(f"a[href='/open-data/{name}.csv']")).to_be_visible()
        expect(page.locator(f"a[href='/open-data/{name}.json']")).to_be_visible()
    expect(page.locator("a[href='/open-data/catalog.jsonld']")).to_be_visible()
    expect(page.locator("section[aria-labelledby=proposals] time")).to_be_visible()
    check_accessibility(page, f"open data ({lang})")
    shot(page, f"open-data-{lang}")
    # A file linked from the page downloads.
    response = page.request.get(site.url("/open-data/proposals.csv"))
    assert response.ok and response.text().startswith("proposal_id,title,")
