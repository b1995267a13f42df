"""Notifications, through the website in a real browser.

The inbox: marking one notification read, then all of them, changes the unread count in
the header; the unread filter lists only what is unread. Preferences: email mode and
muted kinds are saved and shown again. Follows: unfollowing removes a follow. The
unsubscribe link of an email lands on a page in the account's language (an English
account's page is English in a Swedish browser), the page changes nothing until its
button is pressed, and then email is off. axe-core checks the pages on the way — the
unsubscribe page (which needs an emailed token) in both languages, before and after.

Every account here is new (registered over the API). Its notifications come from a
returnee profile (in IT internships) and openings the demo business admin posts over the
API that match it; they are closed again at the end of the test.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.words import new_account, sv, sv_label
from tests.conftest import wait_for

EFFECT_TIMEOUT = 30.0
# A profile no demo opening matches; the openings the tests post match it.
PROFILE = {"sectors": ["it"], "employment_types": ["internship"]}
BUSINESS = "Jokkmokks viltpark"


def with_returnee_profile(site, account: dict) -> None:
    profile = {**PROFILE, "available_from": date.today().isoformat()}
    site.api.put("/me/returnee-profile", profile, token=account["token"])


class MatchingOpenings:
    """Openings the demo business admin posts over the API that match PROFILE: each
    tells every returnee with that profile (a notification, and an email to those who
    want one at once). `close()` closes them again."""

    def __init__(self, site):
        self.site = site
        self.token = site.api.sign_in("business_admin")
        groups = site.api.items("/groups", kind="business", per_page=100)
        self.business_id = next(g["id"] for g in groups if g["name"] == BUSINESS)
        self.ids: list[str] = []

    def post(self, count: int = 1) -> list[str]:
        titles = []
        for _ in range(count):
            title = f"IT-praktik {uuid.uuid4().hex[:6]}"
            opening = self.site.api.post(
                "/openings",
                {
                    "business_group_id": self.business_id,
                    "title": title,
                    "description": "Praktik med viltparkens webbplats och bokningssystem.",
                    "sector": PROFILE["sectors"][0],
                    "employment_type": PROFILE["employment_types"][0],
                    "remote": True,
                    "apply_by": (date.today() + timedelta(days=14)).isoformat(),
                    "contact": "jobb@viltpark.example",
                },
                token=self.token,
                expect=201,
            )
            self.ids.append(opening["id"])
            titles.append(title)
        return titles

    def close(self) -> None:
        for opening_id in self.ids:
            self.site.api.request("POST", f"/openings/{opening_id}/close", token=self.token)


@pytest.fixture
def matching_openings(site):
    openings = MatchingOpenings(site)
    yield openings
    openings.close()


def unread_over_api(site, account: dict) -> int:
    return site.api.get("/notifications", token=account["token"])["unread_count"]


def badge(page):
    """The unread count in the header (absent when nothing is unread)."""
    return page.locator('header a[href="/notifications"] .badge')


def showing(count: int):
    """What the badge reads: the number, then words only a screen reader says."""
    return re.compile(rf"^\s*{count}\b")


# --- the inbox ---------------------------------------------------------------------------


def test_marking_read_changes_the_unread_count_in_the_header(
    site, new_context, sign_in, check_accessibility, matching_openings
):
    account = new_account(site, "Läsare")
    with_returnee_profile(site, account)
    matching_openings.post(3)
    wait_for(
        lambda: unread_over_api(site, account) >= 3,
        timeout=EFFECT_TIMEOUT,
        interval=0.5,
        message="the matched openings' notifications",
    )
    page = new_context("sv").new_page()
    sign_in(page, account["email"])
    page.goto(site.url("/notifications"))
    unread = unread_over_api(site, account)
    expect(badge(page)).to_have_text(showing(unread))
    cards = page.locator(".notification-list .notification")
    expect(cards.filter(has_text=sv("Unread"))).to_have_count(unread)
    check_accessibility(page, "inbox with unread notifications (sv)")

    # One is marked read: the badge counts one less, the card says it is read.
    first = cards.first
    title = first.locator("h2").inner_text()
    first.get_by_role("button", name=re.compile(sv("Mark as read"))).click()
    expect(page.locator(".notice")).to_contain_text(sv("The notification is marked as read."))
    expect(badge(page)).to_have_text(showing(unread - 1))
    read = cards.filter(has=page.get_by_role("heading", name=title))
    expect(read.locator(".tag").first).to_have_text(sv("Read"))
    expect(read.get_by_role("button")).to_have_count(0)

    # Only the unread ones, then all of them marked read: no badge.
    page.get_by_role("link", name=sv("Unread only")).click()
    expect(page).to_have_url(re.compile(r"/notifications\?unread=1$"))
    expect(cards).to_have_count(unread - 1)
    expect(cards.filter(has=page.get_by_role("heading", name=title))).to_have_count(0)
    check_accessibility(page, "inbox, unread only (sv)")
    page.get_by_role("button", name=sv("Mark all as read")).click()
    expect(page).to_have_url(re.compile(r"/notifications\?unread=1$"))
    expect(badge(page)).to_have_count(0)
    expect(cards).to_have_count(0)
    expect(page.locator("main")).to_contain_text(sv("Nothing unread. You are up to date."))
    assert unread_over_api(site, account) == 0

    # In English: the same inbox, everything read.
    english = new_context("en").new_page()
    sign_in(english, account["email"])
    english.goto(site.url("/notifications"))
    expect(english.locator(".notification-list .notification")).to_have_count(unread)
    expect(english.locator(".unread-tag")).to_have_count(0)
    check_accessibility(english, "inbox, all read (en)")


# --- preferences -------------------------------------------------------------------------


def test_preferences_are_saved_and_shown_again(site, new_context, sign_in):
    account = new_account(site, "Inställd")
    page = new_context("sv").new_page()
    sign_in(page, account["email"])
    page.goto(site.url("/me/preferences"))
    # Nothing chosen yet: a daily digest, nothing muted.
    expect(page.get_by_label(sv_label("email_mode", "daily"), exact=True)).to_be_checked()

    page.get_by_label(sv_label("email_mode", "weekly"), exact=True).check()
    for kind in ("comment_added", "minutes_published"):
        page.get_by_label(sv_label("notification_kind", kind), exact=True).check()
    page.get_by_role("button", name=sv("Save my choices")).click()
    expect(page.locator(".notice")).to_contain_text(sv("Your choices are saved."))

    page.reload()
    expect(page.get_by_label(sv_label("email_mode", "weekly"), exact=True)).to_be_checked()
    for kind in ("comment_added", "minutes_published"):
        expect(page.get_by_label(sv_label("notification_kind", kind), exact=True)).to_be_checked()
    expect(
        page.get_by_label(sv_label("notification_kind", "event_cancelled"), exact=True)
    ).not_to_be_checked()
    saved = site.api.get("/me/preferences", token=account["token"])
    assert saved["email"] == "weekly"
    assert sorted(saved["muted_kinds"]) == ["comment_added", "minutes_published"]

    # Unticking every box is a choice too.
    for kind in ("comment_added", "minutes_published"):
        page.get_by_label(sv_label("notification_kind", kind), exact=True).uncheck()
    page.get_by_role("button", name=sv("Save my choices")).click()
    expect(page.locator(".notice")).to_contain_text(sv("Your choices are saved."))
    assert site.api.get("/me/preferences", token=account["token"]) == {
        "email": "weekly",
        "muted_kinds": [],
    }


# --- follows -----------------------------------------------------------------------------


def test_unfollowing_removes_a_follow(site, new_context, sign_in, check_accessibility):
    account = new_account(site, "Följare")
    event = site.api.items("/events")[0]
    group = site.api.items("/groups")[0]
    for target_type, target in (("event", event), ("group", group)):
        site.api.post(
            "/follows",
            {"target_type": target_type, "target_id": target["id"]},
            token=account["token"],
            expect=201,
        )
    page = new_context("en").new_page()
    sign_in(page, account["email"])
    page.goto(site.url("/follows"))
    cards = page.locator(".follow-list .card")
    expect(cards).to_have_count(2)
    followed_event = cards.filter(has=page.get_by_role("link", name=event["title"]))
    expect(followed_event).to_contain_text("Event")
    check_accessibility(page, "follows (en)")

    followed_event.get_by_role("button", name=re.compile("^Unfollow")).click()
    expect(page.locator(".notice")).to_contain_text("You no longer follow it.")
    expect(cards).to_have_count(1)
    expect(page.get_by_role("link", name=event["title"])).to_have_count(0)
    expect(page.get_by_role("link", name=group["name"])).to_have_count(1)
    follows = site.api.items("/follows", token=account["token"])
    assert [(item["target_type"], item["target_id"]) for item in follows] == [
        ("group", group["id"])
    ]


# --- the emailed unsubscribe link --------------------------------------------------------


def test_the_unsubscribe_link_of_an_email_speaks_the_accounts_language(
    site, new_context, check_accessibility, matching_openings
):
    account = new_account(site, "Reader", locale="en")
    site.api.put("/me/preferences", {"email": "immediate"}, token=account["token"])
    with_returnee_profile(site, account)
    matching_openings.post()
    email = site.mail(to=account["email"], subject_contains="An opening that matches")
    (link,) = {found for found in email.links if "/unsubscribe/" in found}
    assert urlsplit(link).path.startswith("/unsubscribe/"), link  # the site's page

    # Opened in a browser that prefers Swedish, signed out: the page is English.
    page = new_context("sv").new_page()
    response = page.goto(link)
    assert response is not None and response.status == 200
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Turn off email from Civic?")
    check_accessibility(page, "unsubscribe, asking (en)")
    # Opening the link changed nothing (mail scanners open links too).
    assert site.api.get("/me/preferences", token=account["token"])["email"] == "immediate"

    # The same page for a Swedish account's link.
    swedish_link = link.replace("lang=en", "lang=sv")
    swedish = new_context("en").new_page()
    swedish.goto(swedish_link)
    expect(swedish.locator("html")).to_have_attribute("lang", "sv")
    expect(swedish.locator("h1")).to_have_text(sv("Turn off email from Civic?"))
    check_accessibility(swedish, "unsubscribe, asking (sv)")

    page.get_by_role("button", name="Turn off email").click()
    expect(page.locator("h1")).to_have_text("Email is turned off")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    check_accessibility(page, "unsubscribe, done (en)")
    assert site.api.get("/me/preferences", token=account["token"])["email"] == "off"
    swedish.goto(swedish_link + "&done=1")
    expect(swedish.locator("h1")).to_have_text(sv("Email is turned off"))
    check_accessibility(swedish, "unsubscribe, done (sv)")

    # The site's language switch still works on the page (a choice made on the site).
    page.get_by_role("link", name="Svenska").click()
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    expect(page.locator("h1")).to_have_text(sv("Email is turned off"))

    # A link Civic did not make is a page that says so, in the link's language.
    broken = swedish.goto(site.url("/unsubscribe/not-a-token?lang=sv"))
    assert broken is not None and broken.status == 404
    expect(swedish.locator("html")).to_have_attribute("lang", "sv")
