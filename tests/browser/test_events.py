"""Events, through the website in a real browser.

The waiting-list story (issue 11): an organiser schedules an event with one place; a
resident registers and has it; a second lands on the waiting list at position 1; the
first cancels, and the second sees that they now have the place (and the notification).
Then the organiser's work — changing the event, the agenda, checking a person in from the
list, the minutes, cancelling —; the month view and the calendar files; a double
submission of the new-event form making one event; and axe-core on the pages of the
area in states the demo data does not have, in Swedish and English.

Residents who act are new (registered over the API, signed in through the site); the
organiser is the demo's (`organiser`), acting on events of their own group. Every event
made here starts weeks ahead (the demo's events stay the soonest, see pages_events.py),
but for one that starts within a minute: check-in and minutes need an event under way.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from services.gateway.web import i18n
from tests.browser.harness import LANGUAGES, TIMEZONE, wait_until
from tests.browser.words import new_account, sv, sv_plural, unique

TOWN = ZoneInfo(TIMEZONE)
# Events made here start this far ahead, after every demo event.
AHEAD = timedelta(days=45)
# The event that must get under way during the run starts this soon after it is made.
SOON = timedelta(seconds=45)
# How long a test waits for that event to start, or for a notification to arrive.
STARTED_TIMEOUT = 150.0
NOTIFICATION_TIMEOUT = 30.0
EVENT_URL = re.compile(r"/events/[0-9a-f-]{36}$")


def signed_in_page(new_context, sign_in, who: str, lang: str = "sv"):
    page = new_context(lang).new_page()
    sign_in(page, who)
    return page


def local_input(moment: datetime) -> str:
    """A moment as a `datetime-local` input takes it: the town's time, to the minute."""
    return moment.astimezone(TOWN).strftime("%Y-%m-%dT%H:%M")


def whole_minutes_ahead(delta: timedelta) -> datetime:
    return (datetime.now(UTC) + delta).replace(second=0, microsecond=0)


def town_noon_ahead(delta: timedelta) -> datetime:
    """Noon in the town on the day `delta` from now: a two-hour event then stays on its
    day whatever the hour the suite runs (at 23:00 it would run on into the next)."""
    day = (datetime.now(UTC) + delta).astimezone(TOWN).date()
    return datetime.combine(day, time(12), TOWN)


def organiser_group(site, token: str) -> str:
    """The id of a group the account administers."""
    me = site.api.get("/me", token=token)
    return next(
        membership["group_id"]
        for membership in me["memberships"]
        if membership["role"] == "admin" and membership["status"] == "active"
    )


def schedule_over_api(site, token: str, group_id: str, starts_at: datetime, **fields) -> dict:
    body = {
        "organiser_group_id": group_id,
        "title": unique("Arbetsmöte"),
        "kind": "meeting",
        "starts_at": starts_at.isoformat(),
        "ends_at": (starts_at + timedelta(hours=2)).isoformat(),
        "location": "Folkets hus, Jokkmokk",
        **fields,
    }
    return site.api.post("/events", body, token=token, expect=201)


def field(page, name: str):
    """The event form's field `name` (each is labelled: see the accessibility checks)."""
    return page.locator(f"#field-{name}")


def fill_event_form(page, title: str, starts_at: datetime, capacity: str = "") -> None:
    field(page, "title").fill(title)
    field(page, "kind").select_option("workshop")
    field(page, "description").fill("Vi går igenom hur föreningen söker bidrag.")
    field(page, "starts_at").fill(local_input(starts_at))
    field(page, "ends_at").fill(local_input(starts_at + timedelta(hours=2)))
    field(page, "location").fill("Ájtte, hörsalen")
    field(page, "capacity").fill(capacity)


def registration(page):
    return page.locator("#my-registration .status")


@pytest.fixture(scope="module")
def organiser(site):
    """The demo organiser's token and group; `{event}` pinned to the demo's soonest event
    first, so that the events made here do not become the sweep's `{event}`."""
    site.resolve("/events/{event}")
    token = site.api.sign_in("organiser")
    return {"token": token, "group_id": organiser_group(site, token)}


@pytest.fixture(scope="module")
def event_under_way(site, organiser):
    """An event of the organiser's group that starts within a minute, with a registrant
    (registered before the start: registration closes then)."""
    attendee = new_account(site, "Incheckad")
    event = schedule_over_api(
        site,
        organiser["token"],
        organiser["group_id"],
        datetime.now(UTC) + SOON,
        title=unique("Styrelsemöte"),
        capacity=10,
    )
    site.api.post(f"/events/{event['id']}/registrations", token=attendee["token"], expect=201)
    return {"event": event, "attendee": attendee}


# --- the waiting-list story -------------------------------------------------------------


def test_a_resident_on_the_waiting_list_gets_the_place_when_someone_cancels(
    site, organiser, new_context, sign_in, check_accessibility
):
    title = unique("Kurs i vedhuggning")
    starts_at = whole_minutes_ahead(AHEAD)

    # The organiser schedules an event with one place through the site.
    organiser_page = signed_in_page(new_context, sign_in, "organiser")
    organiser_page.goto(site.url(f"/events/new?group={organiser['group_id']}"))
    expect(organiser_page.get_by_label(sv("Organiser"), exact=True)).to_have_value(
        organiser["group_id"]
    )
    fill_event_form(organiser_page, title, starts_at, capacity="1")
    organiser_page.get_by_role("button", name=sv("Schedule the event")).click()
    expect(organiser_page).to_have_url(EVENT_URL)
    expect(organiser_page.locator(".notice")).to_contain_text(
        sv("The event is scheduled. It is in the calendar now.")
    )
    expect(organiser_page.locator("h1")).to_have_text(title)
    event_url = organiser_page.url
    facts = organiser_page.locator("dl.facts")
    expect(facts).to_contain_text(sv_plural("%(num)s place left", "%(num)s places left", 1))
    expect(facts.locator("time").first).to_have_attribute(
        "datetime", starts_at.astimezone(TOWN).isoformat()
    )

    first, second = new_account(site, "Först"), new_account(site, "Sist")

    # The first resident registers and has the place.
    first_page = signed_in_page(new_context, sign_in, first["email"])
    first_page.goto(event_url)
    first_page.get_by_role("button", name=sv("Register for this event")).click()
    expect(first_page.locator(".notice")).to_contain_text(
        sv("You are registered: you have a place at the event.")
    )
    expect(registration(first_page)).to_have_text(sv("You have a place at this event."))
    check_accessibility(first_page, "event, registered (sv)")

    # The second lands on the waiting list at position 1.
    second_page = signed_in_page(new_context, sign_in, second["email"])
    second_page.goto(event_url)
    expect(second_page.locator("#my-registration")).to_contain_text(
        sv(
            "The event is full. Register to join the waiting list: you would be number "
            "%(position)s.",
            position=1,
        )
    )
    second_page.get_by_role("button", name=sv("Join the waiting list")).click()
    expect(second_page.locator(".notice")).to_contain_text(
        sv("The event is full: you are number %(position)s on the waiting list.", position=1)
    )
    expect(registration(second_page)).to_have_text(
        sv("You are number %(position)s on the waiting list.", position=1)
    )
    expect(second_page.locator("dl.facts")).to_contain_text(
        sv_plural("%(num)s person on the waiting list", "%(num)s people on the waiting list", 1)
    )
    check_accessibility(second_page, "event, on the waiting list (sv)")

    # The first cancels through the site.
    first_page.get_by_role("button", name=sv("Cancel my registration")).click()
    expect(first_page.locator(".notice")).to_contain_text(sv("Your registration is cancelled."))
    # Their place went to the waiting list at once: the event is full again.
    expect(first_page.get_by_role("button", name=sv("Join the waiting list"))).to_be_visible()

    # The second reloads: the place is theirs.
    second_page.reload()
    expect(registration(second_page)).to_have_text(sv("You have a place at this event."))

    # And the inbox says so, once the notification has gone through.
    inbox = second_page.goto(site.url("/notifications"))
    if inbox is not None and inbox.status != 404:

        def notified():
            second_page.reload()  # the inbox fills from a queue: look again
            return title in second_page.locator("main").inner_text()

        wait_until(notified, NOTIFICATION_TIMEOUT, "the notification of the place", 0.5)


# --- the organiser's work ---------------------------------------------------------------


def test_the_organiser_changes_the_event_publishes_the_agenda_and_cancels_it(
    site, organiser, new_context, sign_in, check_accessibility
):
    event = schedule_over_api(
        site, organiser["token"], organiser["group_id"], whole_minutes_ahead(AHEAD), capacity=5
    )
    event_url = site.url(f"/events/{event['id']}")
    page = signed_in_page(new_context, sign_in, "organiser")

    # Change the place and the number of places.
    page.goto(event_url)
    page.get_by_role("link", name=sv("Change the event")).click()
    expect(page.locator("h1")).to_have_text(sv("Change the event"))
    expect(field(page, "title")).to_have_value(event["title"])
    field(page, "location").fill("Kyrkans församlingshem")
    field(page, "capacity").fill("8")
    page.get_by_role("button", name=sv("Save the changes")).click()
    expect(page).to_have_url(EVENT_URL)
    expect(page.locator(".notice")).to_contain_text(
        sv("The event is changed. Everyone registered is told of a new time or place.")
    )
    expect(page.locator("dl.facts")).to_contain_text("Kyrkans församlingshem")
    expect(page.locator("dl.facts")).to_contain_text(
        sv_plural("%(num)s place left", "%(num)s places left", 8)
    )
    # The time, shown to the minute in the form, was not touched by saving it.
    assert site.api.get(f"/events/{event['id']}")["starts_at"] == event["starts_at"]

    # A refused change keeps the input and ties the error to its field.
    page.get_by_role("link", name=sv("Change the event")).click()
    field(page, "ends_at").fill(local_input(datetime.fromisoformat(event["starts_at"])))
    field(page, "location").fill("Ett annat ställe")
    page.get_by_role("button", name=sv("Save the changes")).click()
    expect(page.locator(".error-summary")).to_contain_text(sv("The end must come after the start."))
    expect(field(page, "location")).to_have_value("Ett annat ställe")
    expect(field(page, "ends_at")).to_have_attribute("aria-invalid", "true")
    check_accessibility(page, "change an event, refused (sv)")

    # Publish the agenda.
    page.goto(event_url)
    page.get_by_role("link", name=sv("Publish the agenda")).click()
    page.get_by_label(sv("Agenda"), exact=True).fill(
        "1. Välkomna\n2. Budget för sommaren\n3. Övrigt"
    )
    page.get_by_role("button", name=sv("Publish the agenda")).click()
    expect(page.locator(".notice")).to_contain_text(
        sv("The agenda is published. Everyone registered is told.")
    )
    expect(page.locator("#agenda")).to_contain_text("Budget för sommaren")
    expect(page.get_by_role("link", name=sv("Revise the agenda"))).to_be_visible()

    # Cancel it: a confirmation step that wants a reason.
    page.get_by_role("link", name=sv("Cancel the event")).click()
    expect(page.locator("h1")).to_have_text(sv("Cancel the event"))
    page.get_by_role("button", name=sv("Cancel the event")).click()
    expect(page.locator(".error-summary")).to_be_visible()
    assert site.api.get(f"/events/{event['id']}")["status"] == "scheduled"
    check_accessibility(page, "cancel an event, no reason given (sv)")
    page.get_by_label(sv("Why is the event cancelled?"), exact=True).fill(
        "Stormvarning: vi ses en annan dag."
    )
    page.get_by_role("button", name=sv("Cancel the event")).click()
    expect(page).to_have_url(EVENT_URL)
    expect(page.locator(".notice")).to_contain_text(
        sv("The event is cancelled. Everyone registered is told.")
    )
    expect(page.locator(".event-cancelled")).to_contain_text(sv("This event is cancelled"))
    expect(page.locator(".event-cancelled")).to_contain_text("Stormvarning")
    expect(page.get_by_role("link", name=sv("Change the event"))).to_have_count(0)
    check_accessibility(page, "event, cancelled, organiser (sv)")


def test_the_organiser_checks_a_person_in_and_publishes_the_minutes(
    site, event_under_way, new_context, sign_in, check_accessibility
):
    event, attendee = event_under_way["event"], event_under_way["attendee"]
    event_url = site.url(f"/events/{event['id']}")
    page = signed_in_page(new_context, sign_in, "organiser")

    # Check the attendee in from the list (check-in opens an hour before the start).
    page.goto(event_url)
    page.get_by_role("link", name=sv("Registrants and check-in")).click()
    row = page.locator(f"#registrant-{attendee['id']}")
    expect(row.get_by_role("rowheader")).to_have_text(attendee["name"])
    expect(row).to_contain_text(sv("Has a place"))
    check_accessibility(page, "check-in list (sv)")
    button = row.get_by_role("button", name=f"{sv('Check in')} {attendee['name']}")

    # On paper: no header, no buttons, a box to tick on the row.
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(button).to_be_hidden()
    expect(row.locator(".print-box")).to_be_visible()
    page.emulate_media(media="screen")

    button.click()
    expect(page.locator(".notice")).to_contain_text(sv("Checked in."))
    expect(page.locator(f"#registrant-{attendee['id']}")).to_contain_text(sv("Checked in"))
    expect(page.locator(f"#registrant-{attendee['id']}").get_by_role("button")).to_have_count(0)

    # The minutes, once the event has begun.
    page.goto(event_url + "/minutes")
    minutes = page.get_by_label(sv("Minutes"), exact=True)

    def begun():
        page.reload()  # until the start the page says when the minutes can come
        return minutes.count() == 1

    if minutes.count() == 0:
        expect(page.locator("#minutes-wait")).to_be_visible()
        wait_until(begun, STARTED_TIMEOUT, "the event to begin", 1.0)
    check_accessibility(page, "publish the minutes (sv)")
    minutes.fill("Vi beslutade att ses igen i vår.")
    page.get_by_role("button", name=sv("Publish the minutes")).click()
    expect(page.locator(".notice")).to_contain_text(sv("The minutes are published."))
    expect(page.locator("#minutes")).to_contain_text("Vi beslutade att ses igen i vår.")
    expect(page.locator("dl.facts")).to_contain_text(
        sv_plural("%(num)s person checked in", "%(num)s people checked in", 1)
    )
    check_accessibility(page, "event under way, with minutes, organiser (sv)")


# --- the month view and the calendar files ----------------------------------------------


def test_the_month_view_shows_the_event_on_its_day_and_calendar_files_download(
    site, organiser, new_context
):
    starts_at = town_noon_ahead(AHEAD + timedelta(days=3))
    event = schedule_over_api(site, organiser["token"], organiser["group_id"], starts_at)
    day = starts_at.astimezone(TOWN).date()

    page = new_context("en").new_page()
    page.goto(site.url("/events"))
    page.get_by_role("link", name="Show the events month by month").click()
    expect(page).to_have_url(re.compile(r"/events/month"))
    page.goto(site.url(f"/events/month?month={day:%Y-%m}"))
    expect(page.locator("h1")).to_contain_text(str(day.year))
    table = page.locator("table.month")
    headers = table.locator("thead th")
    expect(headers).to_have_count(7)
    expect(headers.first).to_have_text(i18n.weekday_names("en")[0])
    cell = table.locator("td").filter(has=page.get_by_role("link", name=event["title"]))
    expect(cell).to_have_count(1)
    expect(cell.locator(".day-number")).to_contain_text(str(day.day))
    # The cell stands in its weekday's column.
    column = cell.evaluate("td => td.cellIndex")
    assert column == day.weekday()

    # The next and previous months link to each other.
    page.get_by_role("link", name=re.compile("^Next month")).click()
    page.get_by_role("link", name=re.compile("^Previous month")).click()
    expect(page).to_have_url(re.compile(rf"month={day:%Y-%m}"))

    # A phone reads the month as a list of days (no table layout), nothing wider than it.
    page.set_viewport_size({"width": 320, "height": 700})
    expect(cell).to_be_visible()
    assert cell.evaluate("td => getComputedStyle(td).display") == "block"
    assert page.evaluate("document.documentElement.scrollWidth") <= 320

    # The calendar files: the event, its group's events, all events.
    cell.get_by_role("link", name=event["title"]).click()
    expect(page).to_have_url(EVENT_URL)
    links = page.locator("a[href$='.ics']")
    expect(links).to_have_count(3)
    for href in links.evaluate_all("links => links.map(link => link.href)"):
        answer = page.request.get(href)
        assert answer.status == 200, href
        assert answer.headers["content-type"].startswith("text/calendar"), href
        assert "BEGIN:VEVENT" in answer.text()
    single = page.request.get(site.url(f"/events/{event['id']}.ics")).text()
    assert single.count("BEGIN:VEVENT") == 1
    assert f"UID:{event['id']}@" in single


# --- one event for one form --------------------------------------------------------------


def test_a_double_submit_of_the_new_event_form_schedules_one_event(
    site, organiser, new_context, sign_in
):
    title = unique("Dubbelklickat möte")
    page = signed_in_page(new_context, sign_in, "organiser")
    page.goto(site.url(f"/events/new?group={organiser['group_id']}"))
    fill_event_form(page, title, whole_minutes_ahead(AHEAD))
    form = page.locator("form[action='/events/new']")
    sent = form.evaluate("form => Object.fromEntries(new FormData(form))")

    form.get_by_role("button", name=sv("Schedule the event")).dblclick()
    expect(page).to_have_url(EVENT_URL)
    first_url = page.url
    # The same rendered form sent once more (back and submit again) goes to that event.
    again = page.request.post(site.url("/events/new"), form=sent)
    assert again.ok and again.url == first_url

    def scheduled():
        events = site.api.items("/events", group_id=organiser["group_id"], per_page=100)
        return [item for item in events if item["title"] == title]

    assert len(scheduled()) == 1


# --- axe-core on the area's pages --------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_event_pages_are_accessible(
    site, organiser, event_under_way, lang, new_context, check_accessibility
):
    """Each page of the area, in the states of the events made here (the demo's states
    are swept by test_pages_render.py with pages_events.py)."""
    full = schedule_over_api(
        site, organiser["token"], organiser["group_id"], whole_minutes_ahead(AHEAD), capacity=1
    )
    for person in (new_account(site, "Deltagare"), new_account(site, "Deltagare")):
        site.api.post(f"/events/{full['id']}/registrations", token=person["token"], expect=201)
    site.api.put(
        f"/events/{full['id']}/agenda", {"body": "1. Välkomna\n2. Fika"}, token=organiser["token"]
    )
    under_way = event_under_way["event"]["id"]
    month = datetime.fromisoformat(full["starts_at"]).strftime("%Y-%m")

    signed_out = new_context(lang).new_page()
    organiser_page = new_context(lang, role="organiser").new_page()
    pages = [
        (signed_out, "/events", "events"),
        (signed_out, f"/events?kind=meeting&group={organiser['group_id']}", "events, filtered"),
        (signed_out, f"/events/month?month={month}", "month"),
        (signed_out, f"/events/{full['id']}", "event, full, signed out"),
        (organiser_page, f"/events/{full['id']}", "event, full, organiser"),
        (organiser_page, f"/events/new?group={organiser['group_id']}", "new event"),
        (organiser_page, f"/events/{full['id']}/edit", "change an event"),
        (organiser_page, f"/events/{full['id']}/cancel", "cancel an event"),
        (organiser_page, f"/events/{full['id']}/agenda", "agenda"),
        (organiser_page, f"/events/{full['id']}/checkin", "check-in list, before it opens"),
        (organiser_page, f"/events/{full['id']}/minutes", "minutes, before the start"),
        (organiser_page, f"/events/{under_way}/checkin", "check-in list, open"),
    ]
    for page, path, label in pages:
        answer = page.goto(site.url(path))
        assert answer is not None and answer.status == 200, f"{path}: {answer and answer.status}"
        assert page.locator("html").get_attribute("lang") == lang
        check_accessibility(page, f"{label} ({lang})")

    # A new-event form with every field refused.
    organiser_page.goto(site.url(f"/events/new?group={organiser['group_id']}"))
    organiser_page.locator("form[action='/events/new'] button[type=submit]").click()
    expect(organiser_page.locator(".error-summary")).to_be_visible()
    check_accessibility(organiser_page, f"new event, refused ({lang})")
