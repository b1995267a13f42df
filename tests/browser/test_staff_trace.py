"""The staff console's trace screen (issue 13, screen 6), in a real browser against the
whole platform.

A proposal handed in on the website: its trace shows the gateway's request, the
proposals RPC, `proposal_submitted`, the notifications handler — in order, with
durations. A support of it: its trace also shows the email sent to the author. The same
with a second instance of proposals running with a log directory of its own (as on a
second machine): whichever instance took the call, its lines are in the story, because
each instance answers for its own lines. The search finds a trace by correlation id, by
the proposal's reference and by the author's email; a resident gets the 403 page; axe-core
finds nothing in Swedish and English.
"""

from __future__ import annotations

import re
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from civic import instances
from tests.browser.harness import ROOT, STAFF_SHOTS, role_email, sign_in_through_form
from tests.browser.words import new_account, sv
from tests.conftest import wait_for

PROPOSAL_PATH = re.compile(r"/proposals/([0-9a-f-]{36})$")
EFFECT_TIMEOUT = 30.0
SHOTS = STAFF_SHOTS


def hand_in(page, site, title: str) -> tuple[str, str]:
    """Send /proposals/new; (the proposal's id, the POST's correlation id)."""
    page.goto(site.url("/proposals/new"))
    page.locator("#field-title").fill(title)
    page.locator("#field-body").fill("Bänkar längs promenaden, så att äldre kan vila.")
    page.locator("#field-category").select_option(index=1)
    with page.expect_response(
        lambda r: r.request.method == "POST" and urlsplit(r.url).path == "/proposals/new"
    ) as posted:
        with page.expect_navigation():
            page.get_by_role("button", name=sv("Hand in the proposal")).click()
    found = PROPOSAL_PATH.search(urlsplit(page.url).path)
    assert found, f"not on the new proposal's page: {page.url}"
    return found.group(1), posted.value.headers["x-correlation-id"]


def support(page, site, proposal_id: str) -> str:
    """Support the proposal with the page's button; the POST's correlation id."""
    page.goto(site.url(f"/proposals/{proposal_id}"))
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        with page.expect_navigation():
            page.get_by_role("button", name=sv("Support this proposal")).click()
    return posted.value.headers["x-correlation-id"]


def steps(page) -> list[dict]:
    return page.locator(".staff-trace-step").evaluate_all(
        "items => items.map(i => ({kind: i.dataset.kind, service: i.dataset.service,"
        " pid: i.dataset.pid, name: i.dataset.name,"
        " text: i.querySelector('summary').innerText}))"
    )


def open_trace(page, site, correlation_id: str, until) -> list[dict]:
    """The trace screen of `correlation_id`, reloaded until `until(steps)` holds."""

    last = []

    def ready():
        page.goto(site.url(f"/staff/trace/{correlation_id}"))
        last[:] = steps(page)
        return list(last) if until(last) else None

    try:
        return wait_for(ready, timeout=EFFECT_TIMEOUT, interval=0.5, message="the trace's steps")
    except AssertionError as exc:
        shown = "\n".join(f"{step['kind']} {step['name']}: {step['text']}" for step in last)
        raise AssertionError(f"{exc}; the trace showed:\n{shown}") from None


def kinds_in_order(found: list[dict], wanted: list[tuple[str, str]]) -> bool:
    """`wanted` (kind, name prefix) pairs appear in this order among the steps."""
    position = 0
    for step in found:
        kind, name = wanted[position]
        if step["kind"] == kind and (step["name"] or "").startswith(name):
            position += 1
            if position == len(wanted):
                return True
    return False


SUBMISSION = [
    ("http", ""),
    ("rpc", "proposals."),
    ("event", "proposal_submitted"),
    ("handler", "proposal_submitted"),
    ("email", ""),  # the author's receipt (their email preference: at once)
]


def has_submission_story(found) -> bool:
    return kinds_in_order(found, SUBMISSION) and any(
        step["kind"] == "handler" and step["service"] == "notifications" for step in found
    )


@pytest.fixture
def staff_page(new_context, site):
    page = new_context("sv").new_page()
    sign_in_through_form(page, site.base_url, "staff")
    return page


def test_a_submitted_proposal_tells_its_story(site, new_context, staff_page):
    author = new_account(site, "Berättare")
    site.api.put("/me/preferences", {"email": "immediate"}, token=author["token"])
    author_page = new_context("sv").new_page()
    sign_in_through_form(author_page, site.base_url, author["email"])
    proposal_id, submitted = hand_in(author_page, site, "Bänkar vid älven")
    site.mail(to=author["email"], subject_contains="Vi har tagit emot ditt förslag")

    found = open_trace(staff_page, site, submitted, has_submission_story)
    rpc = next(step for step in found if step["kind"] == "rpc")
    assert rpc["service"] == "proposals"
    # Every worker and the request say how long they took.
    for step in found:
        if step["kind"] in ("http", "rpc", "handler", "gateway"):
            assert re.search(r"\d ms", step["text"]), step
    expect(staff_page.locator("#trace-id")).to_have_text(submitted)
    # Each step opens to its whole JSON log record.
    first = staff_page.locator(".staff-trace-step").first
    first.locator("summary").click()
    expect(first.locator("pre")).to_contain_text('"correlation_id"')
    expect(first.locator("pre")).to_contain_text(submitted)
    staff_page.screenshot(path=f"{SHOTS}/trace-submission-sv.png", full_page=True)

    # Another resident supports it: the author is emailed (at once, as they chose), and
    # that is in the support's story.
    supporter = new_account(site, "Stödjare")
    supporter_page = new_context("sv").new_page()
    sign_in_through_form(supporter_page, site.base_url, supporter["email"])
    supported = support(supporter_page, site, proposal_id)
    site.mail(to=author["email"], subject_contains="har fått stöd")
    found = open_trace(
        staff_page,
        site,
        supported,
        lambda found: kinds_in_order(
            found,
            [
                ("http", ""),
                ("rpc", "proposals."),
                ("event", "proposal_supported"),
                ("handler", "proposal_supported"),
                ("email", ""),
            ],
        ),
    )
    staff_page.screenshot(path=f"{SHOTS}/trace-support-email-sv.png", full_page=True)


def test_the_search_finds_traces(site, new_context, staff_page):
    author = new_account(site, "Sökbar")
    author_page = new_context("sv").new_page()
    sign_in_through_form(author_page, site.base_url, author["email"])
    proposal_id, submitted = hand_in(author_page, site, "Cykelställ vid biblioteket")
    reference = site.api.get(f"/proposals/{proposal_id}")["reference"]

    page = staff_page
    # A correlation id: straight to its story.
    page.goto(site.url("/staff/trace"))
    page.get_by_label(sv("Correlation id, proposal reference or email address")).fill(submitted)
    with page.expect_navigation():
        page.get_by_role("button", name=sv("Find")).click()
    assert urlsplit(page.url).path == f"/staff/trace/{submitted}"

    # A reference, and the author's email: the requests that mention them.
    for query in (reference, author["email"]):

        def listed(query=query):
            page.goto(site.url("/staff/trace?q=") + query)
            links = page.locator(".staff-trace-found a")
            hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
            return f"/staff/trace/{submitted}" in hrefs

        wait_for(listed, timeout=EFFECT_TIMEOUT, interval=0.5, message=f"a trace for {query}")
    page.screenshot(path=f"{SHOTS}/trace-search-sv.png", full_page=True)

    # Nonsense is refused at the field; an unknown reference is said so.
    page.goto(site.url("/staff/trace?q=not%20a%20thing%20at%20all"))
    expect(page.locator("#trace-q-error")).to_be_visible()
    answer = page.goto(site.url("/staff/trace?q=JKM-22222"))
    assert answer.status == 404
    expect(page.locator("#trace-q-error")).to_have_text(sv("No proposal has that reference."))

    # The searches are logged with their kind, never the address searched for.
    log = (site.var_dir / "log" / "gateway.log").read_text()
    assert '"staff_trace_search"' in log and '"kind": "email"' in log
    assert author["email"] not in log


def test_a_resident_gets_the_403_page(site, new_context):
    page = new_context("sv").new_page()
    sign_in_through_form(page, site.base_url, "resident")
    for path in ("/staff/trace", "/staff/trace/abc-123"):
        answer = page.goto(site.url(path))
        assert answer.status == 403, path


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_the_trace_screens_are_accessible(site, new_context, check_accessibility, lang):
    page = new_context(lang).new_page()
    sign_in_through_form(page, site.base_url, "staff")
    author = new_account(site, "Tillgänglig")
    site.api.put("/me/preferences", {"email": "immediate"}, token=author["token"])
    author_page = new_context("sv").new_page()
    sign_in_through_form(author_page, site.base_url, author["email"])
    _, submitted = hand_in(author_page, site, "Ramp vid kyrkan")
    open_trace(page, site, submitted, has_submission_story)
    page.locator(".staff-trace-step").first.locator("summary").click()
    check_accessibility(page, f"staff trace ({lang})")
    page.screenshot(path=f"{SHOTS}/trace-{lang}.png", full_page=True)
    page.goto(site.url("/staff/trace?q=") + role_email("resident"))
    check_accessibility(page, f"staff trace search ({lang})")


class SecondInstance:
    """Another `civic.runner` process of a service, on the site's broker and databases,
    logging to a directory of its own (as a second machine would). Not the harness's: it
    stops it itself."""

    def __init__(self, site, service: str, log_dir):
        env = {**site.env, "CIVIC_LOG_DIR": str(log_dir)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "civic.runner", service],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=open(log_dir / f"{service}.out", "wb"),  # noqa: SIM115 - closed at exit
            stderr=subprocess.STDOUT,
        )

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def test_the_story_is_whole_with_two_instances_of_proposals(
    site, new_context, staff_page, tmp_path
):
    amqp_uri = site.env["CIVIC_AMQP_URI"]
    second = SecondInstance(site, "proposals", tmp_path)
    try:
        wait_for(
            lambda: len(instances.survey("proposals", amqp_uri=amqp_uri)) == 2,
            timeout=60,
            interval=0.5,
            message="two instances of proposals",
        )
        author = new_account(site, "Tvåfaldig")
        site.api.put("/me/preferences", {"email": "immediate"}, token=author["token"])
        author_page = new_context("sv").new_page()
        sign_in_through_form(author_page, site.base_url, author["email"])
        pids = set()
        for number in range(8):
            proposal_id, submitted = hand_in(author_page, site, f"Fler papperskorgar nr {number}")
            found = open_trace(staff_page, site, submitted, has_submission_story)
            pids.add(next(step["pid"] for step in found if step["kind"] == "rpc"))
            if len(pids) == 2:
                break
            # The broker hands calls to the two in turn, and each submission makes the
            # same calls: one more call shifts which instance takes the next one.
            site.api.get(f"/proposals/{proposal_id}")
        # Both instances took calls, and each call's lines came from the one that took it.
        assert pids == {str(second.process.pid), *pids} and len(pids) == 2, pids
        instances_table = staff_page.locator(".staff-trace-instances tbody tr")
        expect(instances_table.filter(has_text="proposals")).to_have_count(2)
        staff_page.screenshot(path=f"{SHOTS}/trace-two-instances-sv.png", full_page=True)
    finally:
        second.stop()
