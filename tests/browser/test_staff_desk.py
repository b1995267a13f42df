"""The staff console's proposal screens in a real browser, as staff: the drop-in desk
(keyboard only) with its printable receipt, and the visitor finding the proposal by
its reference on the public site; the proposals board (move on with the official
answer, a lifecycle refusal shown on the page, assign to a working group, merge a
duplicate); the moderation queue (hide and restore with a reason, the author told), for
proposals and for comments, which residents report on the proposal's page.
A resident gets the 403 page on every screen; axe-core finds nothing, in sv and en.

Every proposal is new (filed over the API by a new account); staff is the demo's.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.harness import LANGUAGES, STAFF_SHOTS
from tests.browser.words import new_account, sv, sv_label, unique
from tests.conftest import wait_for

EFFECT_TIMEOUT = 30.0
SHOTS = STAFF_SHOTS
REFERENCE = re.compile(r"^JKM-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{5}$")


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"b-{name}.png"), full_page=True)


def new_proposal(site, account: dict, title: str, category: str = "leisure") -> dict:
    return site.api.post(
        "/proposals",
        {"title": title, "body": "Ett förslag från ett test.", "category": category},
        token=account["token"],
        expect=201,
    )


# --- the drop-in desk -------------------------------------------------------------------


def test_the_drop_in_desk_files_a_visitors_proposal_by_keyboard_and_prints_a_receipt(
    site, new_context, check_accessibility
):
    page = new_context("sv", role="staff").new_page()
    page.goto(site.url("/staff/desk"))
    expect(page.locator("h1")).to_have_text(sv("Drop-in desk"))

    # Sent empty: refused at the fields, nothing filed.
    page.get_by_role("button", name=sv("File the proposal and print the receipt")).click()
    expect(page.locator("#error-summary")).to_be_visible()
    expect(page.locator("#field-title")).to_have_attribute("aria-invalid", "true")
    check_accessibility(page, "drop-in desk with errors (sv)")

    # Keyboard only: the channel's radio buttons, then Tab from field to field.
    page.goto(site.url("/staff/desk"))
    title = unique("Bänkar vid älvstranden")
    visitor, contact = "Elsa Nilsson-Test", "070-555 12 34"
    page.locator("#field-channel-2").focus()  # at a town-hall meeting
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.type(visitor)
    page.keyboard.press("Tab")
    page.keyboard.type(contact)
    page.keyboard.press("Tab")
    page.keyboard.type(title)
    page.keyboard.press("Tab")
    page.keyboard.type("Fler bänkar där man kan vila längs promenaden.")
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")  # the second category: leisure
    page.keyboard.press("Tab")
    page.keyboard.type("Älvstranden")
    page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    # The receipt: the short reference, the visitor's own details, how to find it.
    expect(page.locator(".notice")).to_contain_text("JKM-")
    reference = page.locator("#reference").inner_text().strip()
    assert REFERENCE.match(reference), reference
    receipt = page.locator(".receipt")
    expect(receipt).to_contain_text(title)
    expect(receipt).to_contain_text(visitor)
    expect(receipt).to_contain_text(contact)
    expect(receipt).to_contain_text(sv_label("category", "leisure"))
    expect(receipt).to_contain_text(sv_label("channel", "town_hall"))
    expect(receipt).to_contain_text(f"/proposals/ref/{reference}")
    check_accessibility(page, "drop-in receipt (sv)")
    shot(page, "desk-receipt")
    # Printed: only the receipt.
    page.emulate_media(media="print")
    expect(page.locator(".staff-nav")).to_be_hidden()
    expect(page.locator("header").first).to_be_hidden()
    expect(receipt).to_be_visible()
    shot(page, "desk-receipt-print")
    page.emulate_media(media="screen")

    # Over the API the proposal is found by its reference; the public sees no visitor.
    found = site.api.get(f"/proposals/ref/{reference.lower()}")
    assert found["title"] == title and found["channel"] == "town_hall"
    assert "contact" not in found and "visitor_name" not in found
    staff_view = site.api.get(f"/proposals/{found['id']}", token=site.api.sign_in("staff"))
    assert staff_view["contact"] == contact and staff_view["visitor_name"] == visitor

    # The visitor finds it on the public site by the reference on the receipt.
    public = new_context("sv").new_page()
    public.goto(site.url("/proposals"))
    public.get_by_role("textbox", name=sv("Find a proposal by its reference")).fill(
        reference.lower()
    )
    public.get_by_role("button", name=sv("Find"), exact=True).click()
    expect(public.locator("h1")).to_have_text(title)
    assert public.url.endswith(f"/proposals/{found['id']}")
    expect(public.locator("main")).to_contain_text(reference)
    content = public.content()
    assert contact not in content and visitor not in content
    public.goto(site.url(f"/proposals/ref/{reference}"))
    expect(public.locator("h1")).to_have_text(title)
    answer = public.goto(site.url("/proposals/ref/JKM-0000"))
    assert answer.status == 404
    expect(public.locator("main")).to_contain_text("JKM-7F3K2")
    check_accessibility(public, "find by reference: not found (sv)")


# --- the proposals board ------------------------------------------------------------------


def test_the_board_moves_a_proposal_on_assigns_it_and_merges_a_duplicate(
    site, new_context, check_accessibility
):
    author = new_account(site, "Förslagsställare")
    original = new_proposal(site, author, unique("Skidspår runt sjön"))
    duplicate = new_proposal(site, new_account(site, "Dubblett"), unique("Skidspår vid sjön"))
    staff_token = site.api.sign_in("staff")

    page = new_context("sv", role="staff").new_page()
    page.goto(site.url("/staff/proposals"))
    expect(page.locator("h1")).to_have_text(sv("Proposals board"))
    for status in ("submitted", "under_review", "accepted", "rejected", "in_progress", "done"):
        expect(page.locator(f"#heading-{status}")).to_contain_text(
            sv_label("proposal_status", status)
        )
    # The oldest unanswered first.
    oldest = site.api.get("/proposals", status="submitted", sort="waiting", per_page=1)
    expect(page.locator("#column-submitted .board-card h3").first).to_have_text(
        oldest["items"][0]["title"]
    )
    shot(page, "board")
    # One column alone, paged; back to all columns.
    page.goto(site.url("/staff/proposals?status=submitted"))
    expect(page.locator(".board-column")).to_have_count(1)
    expect(page.locator("#column-submitted .board-card h3").first).to_have_text(
        oldest["items"][0]["title"]
    )
    check_accessibility(page, "proposals board, one column (sv)")
    page.get_by_role("link", name=sv("All columns")).click()
    expect(page.locator(".board-column")).to_have_count(6)

    # From the public page, staff reach the board's page of the proposal.
    page.goto(site.url(f"/proposals/{original['id']}"))
    page.get_by_role("link", name=sv("Open it on the proposals board")).click()

    # Move it on: under review, then accepted — only with the official answer.
    expect(page.locator("h1")).to_have_text(original["title"])
    expect(page.locator("main")).to_contain_text(original["reference"])
    page.get_by_label(sv("New status")).select_option("under_review")
    page.get_by_role("button", name=sv("Change the status")).click()
    expect(page.locator(".notice")).to_have_text(sv("The proposal was moved on."))
    page.get_by_label(sv("New status")).select_option("accepted")
    page.get_by_role("button", name=sv("Change the status")).click()
    expect(page.locator("#error-answer")).to_be_visible()
    expect(page.locator("#field-answer")).to_have_attribute("aria-invalid", "true")
    check_accessibility(page, "board proposal with a refused step (sv)")

    # A page out of date: someone else rejected it meanwhile — the 409 is on the page.
    site.api.post(
        f"/proposals/{original['id']}/transitions",
        {"status": "rejected", "answer": "Det finns redan spår."},
        token=staff_token,
    )
    page.get_by_label(sv("New status")).select_option("accepted")
    page.get_by_label(sv("Official answer")).fill("Vi gör det.")
    answer = None
    with page.expect_response(lambda r: r.url.endswith("/transition")) as response:
        page.get_by_role("button", name=sv("Change the status")).click()
    answer = response.value
    assert answer.status == 409
    expect(page.locator("#error-summary")).to_contain_text(sv("That cannot be done now."))
    expect(page.locator("#error-summary")).to_contain_text("rejected")

    # Assign the duplicate to a working group, then merge it into the original.
    page.goto(site.url(f"/staff/proposals/{duplicate['id']}"))
    groups = site.api.items("/groups", kind="working_group", per_page=100)
    page.get_by_label(sv("Give it to"), exact=True).select_option(groups[0]["id"])
    page.get_by_role("button", name=sv("Give it to the working group")).click()
    expect(page.locator(".notice")).to_have_text(sv("The proposal was given to the working group."))
    expect(page.locator(".facts")).to_contain_text(groups[0]["name"])
    field = page.get_by_label(sv("Merge this proposal into the proposal with the reference"))
    field.fill("JKM-0")
    page.get_by_role("button", name=sv("Merge into that proposal")).click()
    expect(page.locator("#error-into")).to_contain_text(
        sv("Not a proposal reference (like JKM-7F3K2).")
    )
    field = page.get_by_label(sv("Merge this proposal into the proposal with the reference"))
    field.fill(original["reference"].lower())
    page.get_by_role("button", name=sv("Merge into that proposal")).click()
    expect(page.locator(".notice")).to_have_text(
        sv("The duplicate was merged into this proposal; its supports moved over.")
    )
    expect(page.locator("h1")).to_have_text(original["title"])
    merged = site.api.get(f"/proposals/{duplicate['id']}", token=staff_token)
    assert merged["merged_into_id"] == original["id"]
    shot(page, "board-proposal")


# --- moderation ---------------------------------------------------------------------------


def test_moderation_hides_and_restores_with_a_reason_and_the_author_is_told(
    site, new_context, check_accessibility
):
    author = new_account(site, "Anmäld")
    title = unique("Förslag som anmäls")
    proposal = new_proposal(site, author, title)
    reporter = new_account(site, "Anmälare")
    site.api.post(
        f"/proposals/{proposal['id']}/reports",
        {"reason": "Reklam, inget förslag."},
        token=reporter["token"],
        expect=201,
    )

    page = new_context("sv", role="staff").new_page()
    page.goto(site.url("/staff/moderation"))
    item = page.locator(f"#item-{proposal['id']}")
    expect(item).to_contain_text(title)
    expect(item).to_contain_text("Reklam, inget förslag.")
    expect(item).to_contain_text(sv("Visible"))

    # Without a reason: refused beside the item, nothing changed.
    item.get_by_role("button", name=sv("Hide")).click()
    expect(page.locator("#error-summary")).to_contain_text(
        sv("Write the reason for your decision.")
    )
    item = page.locator(f"#item-{proposal['id']}")
    expect(item.locator("textarea")).to_have_attribute("aria-invalid", "true")
    check_accessibility(page, "moderation with a refused decision (sv)")
    assert site.api.get(f"/proposals/{proposal['id']}")["hidden"] is False

    item.locator("textarea").fill("Granskas: ser ut som reklam.")
    item.get_by_role("button", name=sv("Hide")).click()
    expect(page.locator(".notice")).to_have_text(sv("The proposal is hidden; its author was told."))
    item = page.locator(f"#item-{proposal['id']}")
    expect(item).to_contain_text(sv("Hidden"))
    expect(item).to_contain_text("Granskas: ser ut som reklam.")
    site.api.get(f"/proposals/{proposal['id']}", expect=404)
    shot(page, "moderation")
    # The same queue over the API (staff only).
    staff_token = site.api.sign_in("staff")
    queue = site.api.get("/proposals/moderation", token=staff_token, per_page=100)["items"]
    assert [q["moderation_reason"] for q in queue if q["id"] == proposal["id"]] == [
        "Granskas: ser ut som reklam."
    ]
    site.api.get("/proposals/moderation", token=author["token"], expect=403)

    # The author is told (the notifications rule of proposal_hidden).
    def told():
        inbox = site.api.get("/notifications", token=author["token"])["items"]
        return [n for n in inbox if title in str(n)]

    wait_for(told, timeout=EFFECT_TIMEOUT, interval=0.5, message="the author's notification")
    author_page = new_context("sv", role=author["email"]).new_page()
    author_page.goto(site.url("/notifications"))
    expect(author_page.locator("main")).to_contain_text(title)
    shot(author_page, "moderation-author-told")

    # Restored with a reason: shown again, its reports cleared, out of the queue.
    item.locator("textarea").fill("Inget fel hittades.")
    item.get_by_role("button", name=sv("Show again")).click()
    expect(page.locator(".notice")).to_have_text(
        sv("The proposal is shown again; its author was told.")
    )
    expect(page.locator(f"#item-{proposal['id']}")).to_have_count(0)
    assert site.api.get(f"/proposals/{proposal['id']}")["hidden"] is False


def test_a_comment_is_reported_on_its_page_hidden_and_shown_again_and_its_author_told(
    site, new_context, check_accessibility
):
    author = new_account(site, "Förslagsställare")
    commenter = new_account(site, "Kommentator")
    reporters = [new_account(site, f"Anmälare {n}") for n in range(3)]
    title = unique("Förslag med en anmäld kommentar")
    proposal = new_proposal(site, author, title)
    words = unique("En elak kommentar")
    comment = site.api.post(
        f"/proposals/{proposal['id']}/comments",
        {"body": words},
        token=commenter["token"],
        expect=201,
    )
    here = f"/proposals/{proposal['id']}"

    # Its author has no report form on their own comment.
    own = new_context("sv", role=commenter["email"]).new_page()
    own.goto(site.url(here))
    expect(own.locator(f"#comment-{comment['id']}")).to_contain_text(words)
    expect(own.locator(f"#comment-{comment['id']} form")).to_have_count(0)

    # A resident reports it on the proposal's page: refused without a reason, then sent.
    page = new_context("sv", role=reporters[0]["email"]).new_page()
    page.goto(site.url(here))
    item = page.locator(f"#comment-{comment['id']}")
    item.get_by_text(sv("Report this comment")).click()
    item.get_by_role("button", name=sv("Send the report")).click()
    expect(page.locator("#error-summary")).to_be_visible()
    reason = page.locator(f"#comment-reason-{comment['id']}")
    expect(reason).to_have_attribute("aria-invalid", "true")
    check_accessibility(page, "a refused comment report (sv)")
    reason.fill("Personangrepp på förslagsställaren.")
    page.get_by_role("button", name=sv("Send the report")).click()
    expect(page.locator(".notice")).to_have_text(sv("Thank you. Staff will look at the comment."))
    shot(page, "comment-reported")

    # Two more accounts report it over the API: the third report hides it.
    for reporter in reporters[1:]:
        site.api.post(
            f"{here}/comments/{comment['id']}/reports",
            {"reason": "Elakt."},
            token=reporter["token"],
            expect=201,
        )
    page.goto(site.url(here))
    expect(page.locator("#comments")).not_to_contain_text(words)

    # Staff see it on the proposal's page, marked, and in the moderation queue.
    staff = new_context("sv", role="staff").new_page()
    staff.goto(site.url(here))
    marked = staff.locator(f"#comment-{comment['id']}")
    expect(marked).to_contain_text(sv("Hidden by moderation: residents cannot see this comment."))
    staff.goto(site.url("/staff/moderation"))
    queued = staff.locator(f"#comment-item-{comment['id']}")
    expect(queued).to_contain_text(words)
    expect(queued).to_contain_text("Personangrepp på förslagsställaren.")
    expect(queued).to_contain_text(sv("Hidden"))
    check_accessibility(staff, "moderation with a hidden comment (sv)")
    shot(staff, "moderation-comments")

    # Shown again, without a reason refused, then with one.
    queued.get_by_role("button", name=sv("Show again")).click()
    expect(staff.locator("#error-summary")).to_contain_text(
        sv("Write the reason for your decision.")
    )
    queued = staff.locator(f"#comment-item-{comment['id']}")
    expect(queued.locator("textarea")).to_have_attribute("aria-invalid", "true")
    queued.locator("textarea").fill("Skarpt men inget personangrepp.")
    queued.get_by_role("button", name=sv("Show again")).click()
    expect(staff.locator(".notice")).to_have_text(
        sv("The comment is shown again; its author was told.")
    )
    expect(staff.locator(f"#comment-item-{comment['id']}")).to_have_count(0)
    page.goto(site.url(here))
    expect(page.locator("#comments")).to_contain_text(words)

    # The commenter was told both times (hidden after reports, shown again).
    def told():
        inbox = site.api.get("/notifications", token=commenter["token"])["items"]
        moderated = [n for n in inbox if n["kind"] == "comment_moderated"]
        return len(moderated) >= 2 and moderated

    wait_for(told, timeout=EFFECT_TIMEOUT, interval=0.5, message="the commenter told twice")
    own.goto(site.url("/notifications"))
    expect(own.locator("main")).to_contain_text(title)
    shot(own, "comment-moderation-author-told")


# --- who may, and accessibility -----------------------------------------------------------


def test_a_resident_gets_the_403_page_on_every_staff_desk_screen(site, new_context):
    proposal = site.api.get("/proposals", per_page=1)["items"][0]
    page = new_context("sv", role="resident").new_page()
    for path in (
        "/staff/desk",
        f"/staff/desk/receipt/{proposal['id']}",
        "/staff/proposals",
        f"/staff/proposals/{proposal['id']}",
        "/staff/moderation",
    ):
        answer = page.goto(site.url(path))
        assert answer.status == 403, (path, answer.status)
        expect(page.locator("h1")).to_be_visible()
        assert page.locator(".staff-nav").count() == 0, path


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_staff_desk_screens_are_accessible(site, new_context, check_accessibility, lang):
    proposal = site.api.get("/proposals", per_page=1)["items"][0]
    page = new_context(lang, role="staff").new_page()
    for name, path in (
        ("drop-in desk", "/staff/desk"),
        ("receipt", f"/staff/desk/receipt/{proposal['id']}"),
        ("proposals board", "/staff/proposals"),
        ("board proposal", f"/staff/proposals/{proposal['id']}"),
        ("moderation", "/staff/moderation"),
    ):
        answer = page.goto(site.url(path))
        assert answer.status == 200, (path, answer.status)
        check_accessibility(page, f"{name} ({lang})")
        shot(page, f"{name.replace(' ', '-')}-{lang}")
