"""Proposals, through the website in a real browser.

The proposal story (issue 11), start to finish: a new resident registers on the site and
hands in a proposal; another resident signs in from the proposal's "sign in to support"
link, supports it and comments on it; staff answer it (over the API); the author reloads
the proposal and sees its new status and the official answer, and finds the notification
in the inbox. The same story again with JavaScript turned off in the browser. Then: the
list's search, filters, sort and pagination (the filters kept in the pagination's
links); a double submission of the new-proposal form making one proposal; a refused
title keeping the input with the error tied to the field; and axe-core on every page of
the area, in Swedish and English, signed in and out.

Every account that changes something is new (registered over the site or the API).
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.harness import DEFAULT_PASSWORD, LANGUAGES
from tests.browser.words import new_account, sv, sv_plural
from tests.conftest import wait_for

# How long a fact may take to travel from one service to another (and into the inbox).
EFFECT_TIMEOUT = 30.0
PROPOSAL_PATH = re.compile(r"/proposals/([0-9a-f-]{36})$")
ANSWERED_DEMO_PROPOSAL = "Isbana i parken på vintern"


def unique_word() -> str:
    """A word no other proposal holds, to find this test's proposals by search."""
    return "ord" + uuid.uuid4().hex[:10]


# --- accounts ------------------------------------------------------------------------


def new_identity(name_prefix: str) -> tuple[str, str]:
    """A display name no one else has, and an email address (plain ASCII) to match."""
    tag = uuid.uuid4().hex[:8]
    return f"{name_prefix} {tag}", f"resident-{tag}@example.org"


def register_through_site(site, page, name_prefix: str) -> dict:
    """A new resident registers with the site's /register form (and is signed in)."""
    name, email = new_identity(name_prefix)
    page.goto(site.url("/register"))
    form = page.locator('form[action="/register"]')
    form.locator("input[name=display_name]").fill(name)
    form.locator("input[name=email]").fill(email)
    form.locator("input[name=password]").fill(DEFAULT_PASSWORD)
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert urlsplit(page.url).path != "/register", page.locator("main").inner_text()[:500]
    return {"email": email, "name": name}


def staff_answer(site, proposal_id: str, answer: str) -> None:
    """Staff take the proposal up and accept it with an official answer, over the API."""
    token = site.api.sign_in("staff")
    path = f"/proposals/{proposal_id}/transitions"
    site.api.post(path, {"status": "under_review"}, token=token)
    site.api.post(path, {"status": "accepted", "answer": answer}, token=token)


# --- the pages -------------------------------------------------------------------------


def hand_in(page, site, title: str, body: str, category: str, place: str = "") -> str:
    """Fill in and send /proposals/new; the new proposal's id (from the page it lands on)."""
    page.goto(site.url("/proposals/new"))
    page.locator("#field-title").fill(title)
    page.locator("#field-body").fill(body)
    page.locator("#field-category").select_option(category)
    if place:
        page.locator("#field-place").fill(place)
    with page.expect_navigation():
        page.get_by_role("button", name=sv("Hand in the proposal")).click()
    found = PROPOSAL_PATH.search(urlsplit(page.url).path)
    assert found, f"not on the new proposal's page: {page.url}"
    return found.group(1)


def proposal_titles(page) -> list[str]:
    return page.locator(".proposal-list .card h3").all_inner_texts()


def search(page, **choices) -> None:
    """Fill in the list's filter form and send it (the submit button, as a visitor)."""
    form = page.get_by_role("search")
    if "q" in choices:
        form.get_by_label(sv("Search"), exact=True).fill(choices["q"])
    for name, label in (("category", "Category"), ("status", "Status"), ("sort", "Sort by")):
        if name in choices:
            form.get_by_label(sv(label), exact=True).select_option(value=choices[name])
    with page.expect_navigation():
        form.get_by_role("button", name=sv("Show proposals")).click()


# --- the story -------------------------------------------------------------------------


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
def test_the_proposal_story(site, new_context, javascript):
    word = unique_word()
    title = f"Fler bänkar längs älven {word}"
    body = "Längs promenadstråket vid Lilla Lulevatten finns för få bänkar.\nÄldre behöver vila."
    answer = f"Kommunen ställer ut tio nya bänkar i maj. ({word})"

    # A new resident registers through the site and hands in a proposal.
    author_page = new_context("sv", javascript=javascript).new_page()
    author = register_through_site(site, author_page, "Författare")
    proposal_id = hand_in(author_page, site, title, body, "environment", "Strandpromenaden")
    expect(author_page.locator("h1")).to_have_text(title)
    expect(author_page.locator(".notice")).to_be_visible()
    expect(author_page.locator(".proposal-status")).to_contain_text(sv("Submitted"))
    expect(author_page.locator(".proposal-text").first).to_contain_text("Äldre behöver vila.")
    expect(author_page.locator("main")).to_contain_text("Strandpromenaden")
    expect(author_page.locator("main")).to_contain_text(
        sv("Handed in by %(name)s", name=author["name"])
    )

    # Another resident opens it signed out, follows "sign in to support", and is back.
    supporter = new_account(site, "Stödjare")
    reader = new_context("sv", javascript=javascript).new_page()
    reader.goto(site.url(f"/proposals/{proposal_id}"))
    expect(reader.get_by_role("button", name=sv("Support this proposal"))).to_have_count(0)
    expect(reader.get_by_role("link", name=sv("Sign in to comment"))).to_be_visible()
    reader.get_by_role("link", name=sv("Sign in to support this proposal")).click()
    expect(reader).to_have_url(re.compile(r"/signin\?next="))
    form = reader.locator('form[action="/signin"]')
    form.locator("input[name=email]").fill(supporter["email"])
    form.locator("input[name=password]").fill(DEFAULT_PASSWORD)
    with reader.expect_navigation():
        form.locator("button[type=submit]").click()
    expect(reader).to_have_url(site.url(f"/proposals/{proposal_id}"))

    # … supports it, and comments on it.
    reader.get_by_role("button", name=sv("Support this proposal")).click()
    expect(reader.locator(".notice")).to_have_text(sv("Thank you for your support!"))
    expect(reader.locator("#support-heading")).to_have_text(
        sv_plural("%(num)s supporter", "%(num)s supporters", 1)
    )
    expect(reader.get_by_role("button", name=sv("Withdraw my support"))).to_be_visible()
    comment = f"Bra idé, gärna med ryggstöd! {word}"
    reader.get_by_label(sv("Your comment")).fill(comment)
    reader.get_by_role("button", name=sv("Add comment")).click()
    expect(reader.locator(".notice")).to_have_text(sv("Your comment was added."))
    comments = reader.locator("#comments .comment")
    expect(comments).to_have_count(1)
    expect(comments.first).to_contain_text(comment)
    expect(comments.first).to_contain_text(supporter["name"])

    # Staff answer it over the API; the author reloads the proposal and sees it.
    staff_answer(site, proposal_id, answer)
    author_page.reload()
    expect(author_page.locator(".proposal-status")).to_contain_text(sv("Accepted"))
    official = author_page.locator(".official-answer")
    expect(official).to_contain_text(answer)
    expect(official.get_by_role("heading")).to_have_text(sv("Official answer"))
    timeline = author_page.locator(".timeline li")
    expect(timeline).to_have_count(3)
    expect(timeline.last).to_contain_text(sv("Accepted"))
    expect(author_page.locator("#support-heading")).to_have_text(
        sv_plural("%(num)s supporter", "%(num)s supporters", 1)
    )
    expect(author_page.locator("#comments .comment")).to_have_count(1)

    # … and finds the notification of the answer in the inbox (the header counts it).
    answered = f"Förslaget ”{title}” har besvarats"

    def notification_shown():
        author_page.goto(site.url("/notifications"))
        return author_page.get_by_text(answered).count() > 0

    wait_for(
        notification_shown, timeout=EFFECT_TIMEOUT, interval=0.5, message="the answer in the inbox"
    )
    expect(author_page.get_by_text(answered).first).to_be_visible()
    expect(author_page.locator(".site-header .badge")).to_be_visible()


def test_a_resident_follows_withdraws_support_and_reports(site, new_context):
    word = unique_word()
    owner = new_account(site, "Förslagsställare")
    proposal = site.api.post(
        "/proposals",
        {
            "title": f"Cykelställ vid stationen {word}",
            "body": "Fler cykelställ.",
            "category": "infrastructure",
        },
        token=owner["token"],
        expect=201,
    )
    resident = new_account(site, "Läsare")
    page = new_context("sv").new_page()
    page.goto(site.url("/signin?next=/proposals/" + proposal["id"]))
    form = page.locator('form[action="/signin"]')
    form.locator("input[name=email]").fill(resident["email"])
    form.locator("input[name=password]").fill(DEFAULT_PASSWORD)
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    expect(page.locator("h1")).to_have_text(proposal["title"])

    # Following: the notifications service hears of the new proposal a moment later.
    def follow():
        page.goto(site.url(f"/proposals/{proposal['id']}"))
        page.get_by_role("button", name=sv("Follow this proposal")).click()
        return page.get_by_role("button", name=sv("Stop following")).count() > 0

    wait_for(follow, timeout=EFFECT_TIMEOUT, interval=0.5, message="the proposal to be followable")
    follows = site.api.items("/follows", token=resident["token"])
    assert any(item["target_id"] == proposal["id"] for item in follows)
    page.get_by_role("button", name=sv("Stop following")).click()
    expect(page.locator(".notice")).to_have_text(sv("You no longer follow this proposal."))
    expect(page.get_by_role("button", name=sv("Follow this proposal"))).to_be_visible()

    # Support, then withdraw it.
    page.get_by_role("button", name=sv("Support this proposal")).click()
    page.get_by_role("button", name=sv("Withdraw my support")).click()
    expect(page.locator(".notice")).to_have_text(sv("Your support was withdrawn."))
    expect(page.locator("#support-heading")).to_have_text(
        sv_plural("%(num)s supporter", "%(num)s supporters", 0)
    )

    # Report: an empty reason is refused at the field, a reason is taken.
    page.get_by_text(sv("Report this proposal to staff")).click()
    page.get_by_role("button", name=sv("Send the report")).click()
    expect(page.locator("#error-reason")).to_be_visible()
    expect(page.locator("#field-reason")).to_have_attribute("aria-invalid", "true")
    page.locator("#field-reason").fill("Reklam för ett företag, inget förslag.")
    page.get_by_role("button", name=sv("Send the report")).click()
    expect(page.locator(".notice")).to_have_text(sv("Thank you. Staff will look at the proposal."))
    staff = site.api.get(f"/proposals/{proposal['id']}", token=site.api.sign_in("staff"))
    assert staff["report_count"] == 1


# --- the list --------------------------------------------------------------------------


def test_search_filters_sort_and_pagination(site, new_context):
    word = unique_word()
    author = new_account(site, "Listförfattare")

    def submit(title, category):
        return site.api.post(
            "/proposals",
            {"title": f"{title} {word}", "body": f"Om {word}.", "category": category},
            token=author["token"],
            expect=201,
        )

    popular = submit("Skidspår runt sjön", "leisure")  # the oldest, and the most supported
    reviewed = submit("Belysning på skolgården", "infrastructure")
    newest = submit("Fler soptunnor i parken", "environment")
    for index in range(2):
        token = new_account(site, f"Supporter{index}")["token"]
        site.api.post(f"/proposals/{popular['id']}/supports", token=token, expect=201)
    staff = site.api.sign_in("staff")
    site.api.post(
        f"/proposals/{reviewed['id']}/transitions", {"status": "under_review"}, token=staff
    )

    page = new_context("sv").new_page()
    page.goto(site.url("/proposals"))
    expect(page.locator("h1")).to_have_text(sv("Proposals"))
    search(page, q=word)
    expect(page.locator("#results")).to_have_text(
        sv_plural("%(num)s proposal matches", "%(num)s proposals match", 3)
    )
    assert proposal_titles(page) == [newest["title"], reviewed["title"], popular["title"]]

    search(page, sort="supports")
    assert proposal_titles(page)[0] == popular["title"]
    expect(page.get_by_label(sv("Search"), exact=True)).to_have_value(word)
    expect(page.get_by_label(sv("Sort by"), exact=True)).to_have_value("supports")

    search(page, category="infrastructure")
    assert proposal_titles(page) == [reviewed["title"]]
    search(page, category="", status="under_review")
    assert proposal_titles(page) == [reviewed["title"]]
    search(page, status="done")
    expect(page.locator(".proposal-list")).to_have_count(0)
    expect(page.locator(".empty")).to_be_visible()

    # Pagination keeps the search and the sort (two to a page, from the address).
    page.goto(site.url(f"/proposals?q={word}&sort=supports&per_page=2"))
    assert proposal_titles(page) == [popular["title"], newest["title"]]
    pages = page.get_by_role("navigation", name=sv("Pages"))
    expect(pages).to_contain_text(sv("Page %(current)s of %(pages)s", current=1, pages=2))
    with page.expect_navigation():
        pages.get_by_role("link", name=sv("Next")).click()
    query = parse_qs(urlsplit(page.url).query)
    assert query == {"q": [word], "sort": ["supports"], "per_page": ["2"], "page": ["2"]}
    assert proposal_titles(page) == [reviewed["title"]]
    with page.expect_navigation():
        pages.get_by_role("link", name=sv("Previous")).click()
    assert proposal_titles(page) == [popular["title"], newest["title"]]

    # A filter the site does not know is left out, and said so.
    page.goto(site.url(f"/proposals?q={word}&status=bogus"))
    expect(page.locator("main .unavailable")).to_be_visible()
    assert len(proposal_titles(page)) == 3


# --- the form --------------------------------------------------------------------------


def test_a_double_submission_hands_in_one_proposal(site, new_context, sign_in):
    resident = new_account(site, "Dubbelklickare")
    page = new_context("sv").new_page()
    sign_in(page, resident["email"])
    page.goto(site.url("/proposals/new"))
    form = page.locator("form.proposal-form")
    title = f"Lekplats i Vaikijaur {unique_word()}"
    fields = {
        "csrf_token": form.locator("input[name=csrf_token]").input_value(),
        "form_key": form.locator("input[name=form_key]").input_value(),
        "title": title,
        "body": "En lekplats för barnen i byn.",
        "category": "leisure",
        "place": "",
    }
    # The same rendered form sent twice (a double click, or back and send again).
    first = page.request.post(site.url("/proposals/new"), form=fields, max_redirects=0)
    second = page.request.post(site.url("/proposals/new"), form=fields, max_redirects=0)
    assert first.status == second.status == 303
    assert first.headers["location"] == second.headers["location"]
    found = site.api.items("/proposals", q=title)
    assert [proposal["title"] for proposal in found] == [title]
    page.goto(site.url(first.headers["location"]))
    expect(page.locator("h1")).to_have_text(title)


def test_a_refused_title_keeps_the_input_and_says_why_at_the_field(
    site, new_context, sign_in, check_accessibility
):
    resident = new_account(site, "Kortfattad")
    page = new_context("sv").new_page()
    sign_in(page, resident["email"])
    body = f"En lång och genomtänkt text om badplatsen. {unique_word()}"
    page.goto(site.url("/proposals/new"))
    page.locator("#field-title").fill("Bad")
    page.locator("#field-body").fill(body)
    page.locator("#field-category").select_option("leisure")
    page.locator("#field-place").fill("Talvatissjön")
    with page.expect_navigation():
        page.get_by_role("button", name=sv("Hand in the proposal")).click()

    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    too_short = sv("Write between %(min)s and %(max)s characters.", min=5, max=150)
    expect(summary.get_by_role("link", name=too_short)).to_have_attribute("href", "#field-title")
    title = page.locator("#field-title")
    expect(title).to_have_value("Bad")
    expect(title).to_have_attribute("aria-invalid", "true")
    expect(title).to_have_attribute("aria-describedby", re.compile(r"\berror-title\b"))
    expect(page.locator("#error-title")).to_contain_text(too_short)
    expect(page.locator("#field-body")).to_have_value(body)
    expect(page.locator("#field-category")).to_have_value("leisure")
    expect(page.locator("#field-place")).to_have_value("Talvatissjön")
    assert page.title().startswith(sv("Error:"))
    check_accessibility(page, "proposal-new with an error (sv)")
    assert site.api.items("/proposals", q=body.split()[-1]) == []

    # Corrected, the same page's form goes through.
    title.fill("Badbrygga vid Talvatissjön")
    with page.expect_navigation():
        page.get_by_role("button", name=sv("Hand in the proposal")).click()
    expect(page.locator("h1")).to_have_text("Badbrygga vid Talvatissjön")


# --- accessibility ---------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_proposal_pages_are_accessible(site, new_context, check_accessibility, lang):
    answered = site.api.items("/proposals", q=ANSWERED_DEMO_PROPOSAL)[0]["id"]
    visitor = new_context(lang).new_page()
    resident = new_context(lang, role="resident").new_page()
    for page, path, label in (
        (visitor, "/proposals", "proposals"),
        (visitor, "/proposals?q=isbana&sort=supports&per_page=1", "proposals-filtered"),
        (visitor, f"/proposals/{answered}", "proposal signed out"),
        (resident, "/proposals", "proposals signed in"),
        (resident, f"/proposals/{answered}", "proposal signed in"),
        (resident, "/proposals/new", "proposal-new"),
    ):
        response = page.goto(site.url(path))
        assert response is not None and response.status == 200, (
            f"{path}: {response and response.status}"
        )
        assert page.locator("html").get_attribute("lang") == lang
        expect(page.locator("h1")).to_have_count(1)
        check_accessibility(page, f"{label} ({lang})")
    # The report form, opened, with its fields.
    resident.goto(site.url(f"/proposals/{answered}"))
    resident.locator(".proposal-side details summary").last.click()
    check_accessibility(resident, f"proposal signed in, report form open ({lang})")
