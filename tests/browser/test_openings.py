"""Openings for returnees, through the website in a real browser.

The returnee story (issue 11), start to finish: a new resident saves a returnee profile
on the site; a business admin posts an opening in that sector through the site; the
returnee finds it in the inbox, follows the notification's link and expresses interest
with a message; the admin opens the interest list and reads it, then closes the opening
(after the confirmation step). Then: a double submission of the new-opening form posts
one opening; a refused opening keeps its input and says why, field by field; a returnee
profile is refused without a sector, then saved and removed. axe-core checks every page
of the area on the way — the admin-only pages (interest list, closing) in Swedish and
English here, the rest also in the sweep of tests/browser/pages_openings.py.

Every account that changes something is new (registered over the API), except the demo
business admin, who posts the openings (only a verified business's admin may).
"""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

from playwright.sync_api import expect

from tests.browser.words import SWEDISH, new_account, sv, sv_label
from tests.conftest import wait_for

# How long a fact may take to travel from one service to another (and into the inbox).
EFFECT_TIMEOUT = 30.0
OPENING_PATH = re.compile(r"/openings/([0-9a-f-]{36})(#.*)?$")
# The demo business the business admin of ROLES posts for (verified, tourism).
BUSINESS = "Jokkmokks viltpark"
# The story's opening is in a sector no demo opening is in, so the returnee's inbox
# holds this opening's notification only.
STORY_SECTOR, STORY_EMPLOYMENT = "culture", "seasonal"


def business_id(site, name: str = BUSINESS) -> str:
    groups = site.api.items("/groups", kind="business", per_page=100)
    return next(group["id"] for group in groups if group["name"] == name)


def openings_titled(site, title: str) -> list[dict]:
    """The business's openings with this title, as its admin sees them (any status)."""
    token = site.api.sign_in("business_admin")
    items = site.api.items(f"/groups/{business_id(site)}/openings", token=token, per_page=100)
    return [item for item in items if item["title"] == title]


def reload_until(page, locator, message: str, timeout: float = EFFECT_TIMEOUT):
    """Reload the page until `locator` finds something (an effect of another service)."""

    def shown():
        page.reload()
        return locator.count() > 0

    wait_for(shown, timeout=timeout, interval=0.5, message=message)


def fill_opening_form(page, title: str, apply_by: date, start: date | None = None) -> None:
    form = page.locator('form[action="/openings/new"]')
    form.locator("select[name=business_group_id]").select_option(label=BUSINESS)
    form.locator("input[name=title]").fill(title)
    form.locator("textarea[name=description]").fill(
        "Värd på Ájtte och i viltparken under sommaren.\n\nDu tar emot besökare och guidar."
    )
    form.locator("select[name=sector]").select_option(STORY_SECTOR)
    form.locator("select[name=employment_type]").select_option(STORY_EMPLOYMENT)
    form.locator("input[name=location]").fill("Jokkmokk")
    form.locator("input[name=apply_by]").fill(apply_by.isoformat())
    if start is not None:
        form.locator("input[name=start_date]").fill(start.isoformat())
    form.locator("input[name=salary_min]").fill("26000")
    form.locator("input[name=salary_max]").fill("31000")
    form.locator("input[name=contact]").fill("jobb@viltpark.example")


# --- the returnee story ---------------------------------------------------------------


def test_a_returnee_hears_of_a_new_opening_and_the_business_reads_their_interest(
    site, new_context, sign_in, check_accessibility
):
    today = date.today()
    returnee = new_account(site, "Återflyttare")
    title = f"Kulturvärd {uuid.uuid4().hex[:6]}"
    message = f"Jag flyttar hem i juni och har jobbat på museum. {uuid.uuid4().hex[:6]}"

    # The returnee tells the site what they are looking for.
    home = new_context("sv").new_page()
    sign_in(home, returnee["email"])
    home.goto(site.url("/me/returnee"))
    expect(home.locator("h1")).to_have_text(sv("My returnee profile"))
    check_accessibility(home, "returnee profile, none yet (sv)")
    home.get_by_label(sv_label("sector", STORY_SECTOR), exact=True).check()
    home.get_by_label(sv_label("employment_type", STORY_EMPLOYMENT), exact=True).check()
    home.locator("input[name=available_from]").fill(today.isoformat())
    home.locator("textarea[name=message]").fill("Museipedagog, uppvuxen i Jokkmokk.")
    home.get_by_role("button", name=sv("Save my profile")).click()
    expect(home.locator(".notice")).to_contain_text(
        sv("Your returnee profile is saved. You will be told of openings that match it.")
    )
    expect(home.get_by_label(sv_label("sector", STORY_SECTOR), exact=True)).to_be_checked()
    check_accessibility(home, "returnee profile, saved (sv)")

    # The business admin posts an opening in that sector through the site.
    admin = new_context("sv", role="business_admin").new_page()
    admin.goto(site.url("/openings"))
    admin.get_by_role("link", name=sv("Post an opening")).click()
    expect(admin.locator("h1")).to_have_text(sv("Post an opening"))
    check_accessibility(admin, "new opening (sv)")
    fill_opening_form(admin, title, today + timedelta(days=30), today + timedelta(days=60))
    admin.get_by_role("button", name=sv("Post the opening")).click()
    expect(admin).to_have_url(OPENING_PATH)
    opening_id = OPENING_PATH.search(admin.url).group(1)
    expect(admin.locator("h1")).to_have_text(title)
    expect(admin.locator(".notice")).to_contain_text(
        sv("Your opening is posted. Returnees whose profile matches it are told at once.")
    )
    check_accessibility(admin, "opening as its business admin (sv)")

    # The returnee finds it in the inbox and follows the link.
    home.goto(site.url("/notifications"))
    notification = home.locator(".notification-list a", has_text=title)
    reload_until(home, notification, "the opening's notification in the returnee's inbox")
    check_accessibility(home, "inbox with a matched opening (sv)")
    notification.click()
    expect(home).to_have_url(re.compile(rf"/openings/{opening_id}$"))
    expect(home.locator("h1")).to_have_text(title)

    # … and expresses interest with a message.
    check_accessibility(home, "opening as a returnee (sv)")
    home.locator("textarea[name=message]").fill(message)
    home.get_by_role("button", name=sv("Express interest")).click()
    expect(home.locator(".notice").first).to_contain_text(
        sv("Thank you! The business has your interest and your message, and may contact you.")
    )
    expect(home.locator("#interest")).to_contain_text(
        sv("You have expressed interest in this opening.")
    )
    expect(home.locator("textarea[name=message]")).to_have_count(0)

    # The admin reads the interest list: the returnee's name and message.
    admin.reload()
    expect(admin.locator("main")).to_contain_text(
        SWEDISH.ngettext(
            "%(num)s person has expressed interest.",
            "%(num)s people have expressed interest.",
            1,
        )
        % {"num": 1}
    )
    admin.get_by_role("link", name=sv("Read the interest list")).click()
    expect(admin).to_have_url(re.compile(rf"/openings/{opening_id}/interest$"))
    row = admin.locator("table.interest-list tbody tr", has_text=returnee["name"])
    expect(row).to_have_count(1)
    expect(row.locator(".interest-message")).to_have_text(message)
    check_accessibility(admin, "interest list (sv)")

    # … and in English too (the admin-only pages are not in the sweep).
    english_admin = new_context("en", role="business_admin").new_page()
    english_admin.goto(site.url(f"/openings/{opening_id}/interest"))
    expect(english_admin.locator("h1")).to_have_text(f"Interest in “{title}”")
    check_accessibility(english_admin, "interest list (en)")
    english_admin.goto(site.url(f"/openings/{opening_id}/close"))
    expect(english_admin.locator("h1")).to_have_text(f"Close the opening “{title}”?")
    check_accessibility(english_admin, "close an opening, confirmation (en)")

    # Someone else may not read the list.
    stranger = home.request.get(site.url(f"/openings/{opening_id}/interest"))
    assert stranger.status == 403

    # The admin closes the opening, after the confirmation step.
    admin.goto(site.url(f"/openings/{opening_id}"))
    admin.get_by_role("link", name=sv("Close the opening")).click()
    expect(admin).to_have_url(re.compile(rf"/openings/{opening_id}/close$"))
    check_accessibility(admin, "close an opening, confirmation (sv)")
    admin.get_by_role("button", name=sv("Yes, close the opening")).click()
    expect(admin).to_have_url(re.compile(rf"/openings/{opening_id}$"))
    expect(admin.locator(".notice")).to_contain_text(
        sv("The opening is closed. It takes no more interest.")
    )
    expect(admin.locator("dl.facts")).to_contain_text(sv_label("opening_status", "closed"))
    assert [item["status"] for item in openings_titled(site, title)] == ["closed"]
    # Closed: no longer listed.
    admin.goto(site.url(f"/openings?sector={STORY_SECTOR}"))
    expect(admin.get_by_role("link", name=title)).to_have_count(0)


# --- posting: once, and refused with reasons ------------------------------------------


def test_a_double_submitted_opening_is_posted_once(site, new_context):
    today = date.today()
    title = f"Dubbelklick {uuid.uuid4().hex[:6]}"
    page = new_context("en", role="business_admin").new_page()
    page.goto(site.url("/openings/new"))
    fill_opening_form(page, title, today + timedelta(days=20))
    form = page.locator('form[action="/openings/new"]')
    rendered = form.evaluate("form => Object.fromEntries(new FormData(form))")

    # A double click sends the form twice …
    form.get_by_role("button", name="Post the opening").dblclick()
    expect(page).to_have_url(OPENING_PATH)
    expect(page.locator("h1")).to_have_text(title)
    # … and so does going back and sending the same rendered form again: the answer is
    # the first one's page.
    again = page.request.post(site.url("/openings/new"), form=rendered, max_redirects=0)
    assert again.status == 303
    assert OPENING_PATH.search(again.headers["location"]).group(1) == OPENING_PATH.search(
        page.url
    ).group(1)

    assert len(openings_titled(site, title)) == 1


def test_a_refused_opening_keeps_the_input_and_says_why(site, new_context, check_accessibility):
    page = new_context("en", role="business_admin").new_page()
    page.goto(site.url("/openings/new"))
    form = page.locator('form[action="/openings/new"]')
    post = form.get_by_role("button", name="Post the opening")

    def refused(field: str, words: str) -> None:
        expect(page.locator("#error-summary")).to_contain_text(words)
        expect(page.locator(f"#error-{field}")).to_contain_text(words)
        expect(page.locator(f"#field-{field}")).to_have_attribute("aria-invalid", "true")

    # Fields left empty: each named, the input kept.
    form.locator("select[name=business_group_id]").select_option(label=BUSINESS)
    form.locator("input[name=title]").fill("Guide")
    post.click()
    for field in ("description", "contact", "apply_by"):
        refused(field, "Fill in this field.")
    expect(page.locator("#field-title")).to_have_value("Guide")
    check_accessibility(page, "new opening, refused (en)")

    # Well-formed but inconsistent: no place and not remote, salaries the wrong way round.
    title = f"Guide {uuid.uuid4().hex[:6]}"
    fill_opening_form(page, title, date.today() - timedelta(days=1))
    form.locator("input[name=location]").fill("")
    form.locator("input[name=salary_min]").fill("40000")
    post.click()
    refused("location", "Give the place of work, or tick that the work can be done remotely.")
    refused("salary_max", "The highest salary must not be below the lowest.")
    expect(page.locator("#field-salary_min")).to_have_value("40000")

    # Remote work needs no place; the apply-by date is the service's to check.
    form.locator("#field-remote").check()
    form.locator("input[name=salary_min]").fill("26000")
    post.click()
    refused("apply_by", "The last day to apply has passed.")
    expect(page.locator("#field-remote")).to_be_checked()

    form.locator("input[name=apply_by]").fill((date.today() + timedelta(days=10)).isoformat())
    post.click()
    expect(page).to_have_url(OPENING_PATH)
    expect(page.locator("dl.facts")).to_contain_text("Remote work")
    (posted,) = openings_titled(site, title)
    assert posted["remote"] is True and posted["location"] is None


def test_a_resident_who_administers_no_business_is_told_so(site, new_context):
    page = new_context("sv", role="resident").new_page()
    page.goto(site.url("/openings/new"))
    expect(page.locator("main")).to_contain_text(
        sv(
            "Openings are posted by the admins of a business in Civic. "
            "You are not an admin of any business."
        )
    )
    expect(page.locator('form[action="/openings/new"]')).to_have_count(0)


# --- the returnee profile -------------------------------------------------------------


def test_a_returnee_profile_is_refused_without_a_sector_then_saved_and_removed(
    site, new_context, sign_in, check_accessibility
):
    account = new_account(site, "Profil", locale="en")
    page = new_context("en").new_page()
    sign_in(page, account["email"])
    page.goto(site.url("/me/returnee"))
    page.get_by_role("button", name="Save my profile").click()
    expect(page.locator("#error-summary")).to_contain_text("Choose at least one sector.")
    expect(page.locator("#error-summary")).to_contain_text(
        "Choose at least one kind of employment."
    )
    check_accessibility(page, "returnee profile, refused (en)")

    page.get_by_label("IT", exact=True).check()
    page.get_by_label("Full time", exact=True).check()
    page.get_by_label("Part time", exact=True).check()
    page.locator("input[name=available_from]").fill((date.today() + timedelta(days=90)).isoformat())
    page.get_by_role("button", name="Save my profile").click()
    expect(page.locator(".notice")).to_contain_text("Your returnee profile is saved.")
    profile = site.api.get("/me/returnee-profile", token=account["token"])
    assert profile["sectors"] == ["it"]
    assert profile["employment_types"] == ["full_time", "part_time"]
    check_accessibility(page, "returnee profile, saved (en)")

    page.get_by_role("button", name="Remove my returnee profile").click()
    expect(page.locator(".notice")).to_contain_text("Your returnee profile is removed.")
    expect(page.locator("main")).to_contain_text("You have no returnee profile yet.")
    site.api.get("/me/returnee-profile", token=account["token"], expect=404)


def test_the_list_filters_by_sector_and_employment_type(site, page):
    page.goto(site.url("/openings"))
    page.locator("select[name=sector]").select_option("tourism")
    page.locator("select[name=employment_type]").select_option("seasonal")
    page.get_by_role("button", name=sv("Show openings")).click()
    expect(page).to_have_url(re.compile(r"/openings\?sector=tourism&employment_type=seasonal"))
    cards = page.locator(".opening-list .card")
    expect(cards.first).to_be_visible()
    for index in range(cards.count()):
        expect(cards.nth(index)).to_contain_text(sv_label("sector", "tourism"))
        expect(cards.nth(index)).to_contain_text(sv_label("employment_type", "seasonal"))
    expect(page.locator("select[name=sector]")).to_have_value("tourism")
