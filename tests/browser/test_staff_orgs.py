"""The staff console's organisations and activity screens (issue 13, screens 4 and 5),
through the website in a real browser, as staff.

Organisations: an association and a business registered over the API wait for
verification; staff verify one and refuse the other with a reason (a blank reason is
refused on the page, nothing changed), whose admin is told; a group left without a
member gets an admin appointed by email address. Activity: the feed filtered by actor,
event type, subject, date range and correlation id, each entry linking to its subject
and its trace. A resident gets the 403 page on both screens; axe-core in sv and en.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

from playwright.sync_api import expect

from civic.clock import town_zone
from tests.browser.harness import STAFF_SHOTS, wait_until
from tests.browser.words import new_account, sv, unique

SCREENS = ("/staff/organisations", "/staff/activity")
SHOTS = STAFF_SHOTS


def staff_page(new_context, lang="sv"):
    return new_context(lang, role="staff").new_page()


def new_group(site, owner, kind, name_prefix, headers=None):
    response = site.api.request(
        "POST",
        "/groups",
        token=owner["token"],
        json={"name": unique(name_prefix), "kind": kind, "open": True},
        headers=headers or {},
    )
    assert response.status_code == 201, response.text
    return response.json()


def card(page, group, section="waiting"):
    """A group's card in a section of the organisations screen: `waiting` (for
    verification), `refused` or `orphan` (without an admin)."""
    return page.locator(f"#{section}-{group['id']}")


def notification_titles(site, account):
    return [n["title"] for n in site.api.items("/notifications", token=account["token"])]


# --- organisations ----------------------------------------------------------------------


def test_staff_verify_one_organisation_and_refuse_another_with_a_reason(
    site, new_context, check_accessibility
):
    owner = new_account(site, "Föreningsordförande")
    association = new_group(site, owner, "association", "Fiskevårdsföreningen")
    business = new_group(site, owner, "business", "Bageriet")

    page = staff_page(new_context)
    page.goto(site.url("/staff/organisations"))
    expect(page.locator("h1")).to_have_text(sv("Organisations"))
    expect(card(page, association).locator("h3")).to_have_text(association["name"])
    expect(card(page, business).locator("h3")).to_have_text(business["name"])
    check_accessibility(page, "staff organisations (sv)")
    page.screenshot(path=f"{SHOTS}/organisations-sv.png", full_page=True)

    # A blank reason: refused on the page, the association still waits.
    reason_field = page.get_by_label(sv("Reason for refusing %(name)s", name=association["name"]))
    reason_field.fill("   ")
    card(page, association).get_by_role("button", name=sv("Refuse verification")).click()
    expect(page.locator(".error-summary")).to_be_visible()
    expect(card(page, association).locator(".field-error")).to_contain_text(
        sv("Write between %(min)s and %(max)s characters.", min=1, max=1000)
    )
    check_accessibility(page, "staff organisations, a refusal without a reason (sv)")
    page.screenshot(path=f"{SHOTS}/organisations-blank-reason-sv.png", full_page=True)
    assert site.api.get(f"/groups/{association['id']}")["verification_refused_at"] is None

    # Refused with a reason: it leaves the list, its admin is told why.
    reason = "Stadgarna saknas i ansökan."
    page.get_by_label(sv("Reason for refusing %(name)s", name=association["name"])).fill(reason)
    card(page, association).get_by_role("button", name=sv("Refuse verification")).click()
    expect(page).to_have_url(re.compile(r"/staff/organisations$"))
    expect(page.locator(".notice")).to_contain_text(
        sv(
            "Verifying %(name)s was refused: its admins are told the reason.",
            name=association["name"],
        )
    )
    expect(card(page, association)).to_have_count(0)
    expect(card(page, association, "refused").locator("h3")).to_have_text(association["name"])
    page.screenshot(path=f"{SHOTS}/organisations-refused-sv.png", full_page=True)
    refused = site.api.get(f"/groups/{association['id']}")
    assert refused["verified"] is False and refused["verification_refused_at"]
    told = wait_until(
        lambda: [
            n
            for n in site.api.items("/notifications", token=owner["token"])
            if n["title"] == f"{association['name']} har inte verifierats"
        ],
        20,
        "the admin told of the refusal",
    )
    assert reason in told[0]["body"]

    # The business is verified.
    card(page, business).get_by_role(
        "button", name=sv("Verify %(name)s", name=business["name"])
    ).click()
    expect(page.locator(".notice")).to_contain_text(
        sv("%(name)s is verified.", name=business["name"])
    )
    expect(card(page, business)).to_have_count(0)
    assert site.api.get(f"/groups/{business['id']}")["verified"] is True

    # The refused association is verified later, after all.
    card(page, association, "refused").get_by_role(
        "button", name=sv("Verify %(name)s", name=association["name"])
    ).click()
    expect(page.locator(".notice")).to_contain_text(
        sv("%(name)s is verified.", name=association["name"])
    )
    expect(card(page, association, "refused")).to_have_count(0)
    later = site.api.get(f"/groups/{association['id']}")
    assert later["verified"] is True and later["verification_refused_at"] is None

    english = staff_page(new_context, "en")
    english.goto(site.url("/staff/organisations"))
    expect(english.locator("h1")).to_have_text("Organisations")
    check_accessibility(english, "staff organisations (en)")
    english.screenshot(path=f"{SHOTS}/organisations-en.png", full_page=True)


def test_staff_appoint_an_admin_to_a_group_left_without_one(site, new_context, check_accessibility):
    founder = new_account(site, "Grundare")
    group = new_group(site, founder, "working_group", "Tomma gruppen")
    site.api.delete(f"/groups/{group['id']}/members/{founder['id']}", token=founder["token"])
    assert site.api.get(f"/groups/{group['id']}")["needs_admin"] is True
    successor = new_account(site, "Efterträdare")

    page = staff_page(new_context)
    page.goto(site.url("/staff/organisations"))
    expect(card(page, group, "orphan").locator("h3")).to_have_text(group["name"])
    email_field = page.get_by_label(
        sv("Email address of the new admin of %(name)s", name=group["name"])
    )

    # An address no account has: said on the page, nothing changed.
    email_field.fill(f"nobody-{uuid.uuid4().hex[:8]}@example.org")
    card(page, group, "orphan").get_by_role("button", name=sv("Appoint as admin")).click()
    expect(card(page, group, "orphan").locator(".field-error")).to_contain_text(
        sv("No account has this email address.")
    )
    check_accessibility(page, "staff organisations, an unknown admin (sv)")
    page.screenshot(path=f"{SHOTS}/organisations-appoint-sv.png", full_page=True)
    assert site.api.get(f"/groups/{group['id']}")["needs_admin"] is True

    page.get_by_label(sv("Email address of the new admin of %(name)s", name=group["name"])).fill(
        successor["email"]
    )
    card(page, group, "orphan").get_by_role("button", name=sv("Appoint as admin")).click()
    expect(page.locator(".notice")).to_contain_text(
        sv("%(person)s is now an admin of %(name)s.", person=successor["name"], name=group["name"])
    )
    expect(card(page, group, "orphan")).to_have_count(0)
    appointed = site.api.get(f"/groups/{group['id']}")
    assert appointed["needs_admin"] is False
    assert [a["id"] for a in appointed["admins"]] == [successor["id"]]

    # A group whose last member left while someone was asking to join (a closed
    # group): staff pick the one asking.
    closed = site.api.post(
        "/groups",
        {"name": unique("Slutna sällskapet"), "kind": "association", "open": False},
        token=founder["token"],
        expect=201,
    )
    asker = new_account(site, "Frågande")
    site.api.post(f"/groups/{closed['id']}/members", token=asker["token"], expect=202)
    site.api.delete(f"/groups/{closed['id']}/members/{founder['id']}", token=founder["token"])
    assert site.api.get(f"/groups/{closed['id']}")["needs_admin"] is True
    page.goto(site.url("/staff/organisations"))
    pick = card(page, closed, "orphan").get_by_role(
        "button", name=sv("Appoint %(person)s", person=asker["name"])
    )
    check_accessibility(page, "staff organisations, someone asking to join (sv)")
    page.screenshot(path=f"{SHOTS}/organisations-pick-sv.png", full_page=True)
    pick.click()
    expect(page.locator(".notice")).to_contain_text(
        sv("%(person)s is now an admin of %(name)s.", person=asker["name"], name=closed["name"])
    )
    expect(card(page, closed, "orphan")).to_have_count(0)
    now = site.api.get(f"/groups/{closed['id']}")
    assert now["needs_admin"] is False and [a["id"] for a in now["admins"]] == [asker["id"]]


# --- activity ---------------------------------------------------------------------------


def test_the_activity_feed_filtered_with_links_to_subjects_and_traces(
    site, new_context, check_accessibility
):
    staff_token = site.api.sign_in("staff")
    actor = new_account(site, "Aktiv")
    correlation_id = f"staff-orgs-{uuid.uuid4().hex[:12]}"
    group = new_group(
        site, actor, "association", "Hembygdsgården", headers={"X-Correlation-ID": correlation_id}
    )
    wait_until(
        lambda: (
            site.api.get("/staff/activity", token=staff_token, correlation_id=correlation_id)[
                "total"
            ]
            >= 2
        ),
        20,
        "the group's events in the feed",
    )

    page = staff_page(new_context)
    page.goto(site.url("/staff/activity"))
    expect(page.locator("h1")).to_have_text(sv("Activity"))
    check_accessibility(page, "staff activity (sv)")

    # By actor, through the form.
    page.get_by_label(sv("Actor (account id)")).fill(actor["id"])
    page.get_by_role("button", name=sv("Filter")).click()
    expect(page).to_have_url(re.compile(rf"actor_id={actor['id']}"))
    rows = page.locator("table.activity-feed tbody tr")
    expect(rows.filter(has_text="group_created")).to_have_count(1)
    expect(rows.filter(has_text="account_registered")).to_have_count(1)
    page.screenshot(path=f"{SHOTS}/activity-sv.png", full_page=True)

    # The entry links to its subject's page and to its trace.
    created = rows.filter(has_text="group_created")
    expect(created.get_by_role("link", name=sv("Group"))).to_have_attribute(
        "href", f"/groups/{group['id']}"
    )
    expect(created.get_by_role("link", name=re.compile(sv("Trace")))).to_have_attribute(
        "href", f"/staff/trace/{correlation_id}"
    )

    # By correlation id ("Same request"): only that request's events.
    created.get_by_role("link", name=sv("Same request")).click()
    expect(page).to_have_url(re.compile(rf"correlation_id={correlation_id}"))
    expect(page.get_by_label(sv("Correlation id"))).to_have_value(correlation_id)
    types = page.locator("table.activity-feed tbody tr .event-type")
    expect(types).not_to_have_count(0)
    assert set(types.all_inner_texts()) <= {"group_created", "member_joined"}

    # By event type and subject.
    page.goto(site.url(f"/staff/activity?type=member_joined&subject_id={group['id']}"))
    expect(page.get_by_label(sv("Event type"))).to_have_value("member_joined")
    expect(page.locator("table.activity-feed tbody tr")).to_have_count(1)
    page.goto(site.url(f"/staff/activity?subject_type=group&subject_id={group['id']}"))
    expect(page.locator("table.activity-feed tbody tr")).to_have_count(2)

    # A date range in the town's zone: today holds them, a day long past does not.
    today = datetime.now(town_zone()).date()
    base = f"/staff/activity?actor_id={actor['id']}"
    page.goto(site.url(f"{base}&from={today}&to={today}"))
    everything = site.api.get("/staff/activity", token=staff_token, actor_id=actor["id"])
    expect(page.locator("table.activity-feed tbody tr")).to_have_count(everything["total"])
    expect(page.locator("table.activity-feed tbody tr", has_text="group_created")).to_have_count(1)
    long_ago = today - timedelta(days=400)
    page.goto(site.url(f"{base}&from={long_ago}&to={long_ago}"))
    expect(page.locator(".empty")).to_have_text(sv("No event matches these filters."))

    # Filters that cannot be understood: said on the page, left out.
    answer = page.goto(
        site.url(f"/staff/activity?from=not-a-date&subject_type=planet&to={long_ago}")
    )
    assert answer.status == 400
    expect(page.locator(".error-summary")).to_contain_text(sv("Enter a date, like 2026-12-01."))
    expect(page.locator("#error-subject_type")).to_be_visible()
    check_accessibility(page, "staff activity, refused filters (sv)")
    page.screenshot(path=f"{SHOTS}/activity-refused-filters-sv.png", full_page=True)

    english = staff_page(new_context, "en")
    english.goto(site.url(f"/staff/activity?actor_id={actor['id']}"))
    expect(english.locator("h1")).to_have_text("Activity")
    check_accessibility(english, "staff activity (en)")
    english.screenshot(path=f"{SHOTS}/activity-en.png", full_page=True)


# --- who may look -----------------------------------------------------------------------


def test_a_resident_gets_the_403_page_on_each_screen(site, new_context):
    page = new_context("sv", role="resident").new_page()
    for path in SCREENS:
        answer = page.goto(site.url(path))
        assert answer.status == 403, (path, answer.status)
        expect(page.locator("h1")).not_to_have_text(sv("Organisations"))
        expect(page.locator("h1")).not_to_have_text(sv("Activity"))


def test_the_api_routes_behind_the_screens(site):
    """POST /groups/{id}/verification-refusal and GET /staff/activity's new filters,
    as a client of the API sees them."""
    staff_token = site.api.sign_in("staff")
    owner = new_account(site, "Ägare")
    association = new_group(site, owner, "association", "Kören")
    refusal = f"/groups/{association['id']}/verification-refusal"
    site.api.post(refusal, {"reason": "Nej."}, token=owner["token"], expect=403)
    site.api.post(refusal, {"reason": " "}, token=staff_token, expect=400)
    site.api.post(refusal, {"reason": "Nej.", "extra": 1}, token=staff_token, expect=400)
    refused = site.api.post(refusal, {"reason": "Stadgar saknas."}, token=staff_token)
    assert refused["verification_refused_at"] and refused["verified"] is False
    site.api.post(refusal, {"reason": "Igen."}, token=staff_token, expect=409)
    waiting = site.api.items("/groups", awaiting_verification="true")
    assert association["id"] not in {g["id"] for g in waiting}

    for bad in (
        {"subject_type": "planet"},
        {"until": "2026-12-01T00:00:00+01:00", "since": "2026-12-02T00:00:00+01:00"},
        {"correlation_id": "x" * 101},
    ):
        site.api.get("/staff/activity", token=staff_token, expect=400, **bad)
    site.api.get("/staff/activity", token=owner["token"], expect=403, actor_id=owner["id"])
    entries = wait_until(
        lambda: site.api.get(
            "/staff/activity",
            token=staff_token,
            type="group_verification_refused",
            subject_type="group",
            subject_id=association["id"],
        )["items"],
        20,
        "the refusal in the feed",
    )
    assert entries[0]["summary"] == f"Group verification refused: “{association['name']}”"
