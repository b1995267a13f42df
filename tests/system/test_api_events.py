"""Every Events route of API.md (and the gateway's extensions) over HTTP, through the
gateway to the events service, with the status codes each can answer.

The events service learns of groups and their admins from the groups service's events,
a moment after they happen: a first request naming a new group is retried until the
events service knows it (`once_known`). What the events service publishes is read
from a queue bound to `events.events`.
"""

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import update

from civic.db import ServiceDatabase
from tests.conftest import wait_for
from tests.system.conftest import error_of, new_group, once_known

STOCKHOLM = ZoneInfo("Europe/Stockholm")
EVENT_FIELDS = {
    "id",
    "kind",
    "title",
    "starts_at",
    "ends_at",
    "location",
    "capacity",
    "confirmed_count",
    "places_left",
    "waitlist_count",
    "status",
    "organiser_group_id",
    "created_at",
}


@pytest.fixture
def town(start_services):
    from services.events.service import EventsService
    from services.gateway.service import GatewayService
    from services.groups.service import GroupsService

    return start_services(GatewayService, GroupsService, EventsService)


@pytest.fixture
def events_db(system_settings):
    from services.events.models import metadata

    database = ServiceDatabase("events", metadata)
    yield database
    database.dispose()


def local(day: date, hour: int, minute: int = 0) -> str:
    """A wall-clock time in Jokkmokk, without an offset (as a form would send it)."""
    return datetime(day.year, day.month, day.day, hour, minute).isoformat()


def last_sunday_of_october_ahead() -> date:
    today = datetime.now(STOCKHOLM).date()
    for year in (today.year, today.year + 1):
        last = date(year, 10, 31)
        sunday = last - timedelta(days=(last.weekday() + 1) % 7)
        if sunday > today + timedelta(days=1):
            return sunday
    raise AssertionError("unreachable")


def event_body(group_id, days_ahead=10, **extra):
    starts_at = datetime.now(UTC) + timedelta(days=days_ahead)
    return {
        "title": "Städdag vid Talvatissjön",
        "kind": "clean_up_day",
        "description": "Vi plockar skräp längs stranden.",
        "starts_at": starts_at.isoformat(),
        "ends_at": (starts_at + timedelta(hours=3)).isoformat(),
        "location": "Talvatissjön, badplatsen",
        "organiser_group_id": group_id,
        **extra,
    }


def move_into_the_past(events_db, event_id):
    """The event began an hour ago (the clock cannot be turned, so the event is moved)."""
    from services.events.models import Event

    now = datetime.now(UTC)
    with events_db.sessions() as session, session.begin():
        session.execute(
            update(Event)
            .where(Event.id == event_id)
            .values(starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1))
        )


# --- organising, registering, cancelling -------------------------------------------------


def test_events_are_scheduled_listed_registered_for_and_cancelled(town, make_staff, published):
    admin, admin_token = town.resident("Karin Labba")
    _, member_token = town.resident("Sofia Kuhmunen")
    anna, anna_token = town.resident("Anna")
    bo, bo_token = town.resident("Bo")
    staff_token = town.sign_in(make_staff())
    group = new_group(town, admin_token, "Kultur och fritid")
    assert town.post(f"/groups/{group['id']}/members", token=member_token).status_code == 201
    body = event_body(group["id"], capacity=1)

    # Scheduling: admins of the organiser group and staff only.
    error_of(town.post("/events", json=body), 401, "unauthenticated")
    created = once_known(
        lambda: town.post("/events", token=admin_token, json=body),
        "the events service to know the group's admin",
    )
    assert created.status_code == 201
    event = created.json()
    assert EVENT_FIELDS <= set(event)
    assert event["status"] == "scheduled" and event["capacity"] == 1
    assert (event["confirmed_count"], event["places_left"], event["waitlist_count"]) == (0, 1, 0)
    assert event["starts_at"][-6:] in ("+01:00", "+02:00")  # shown in Stockholm time
    assert datetime.fromisoformat(event["starts_at"]) == datetime.fromisoformat(body["starts_at"])
    wait_for(lambda: published("events", "event_scheduled"), message="event_scheduled")
    assert published("events", "event_scheduled")[0]["data"]["event_id"] == event["id"]
    error_of(town.post("/events", token=member_token, json=body), 403, "forbidden")
    error = error_of(
        town.post("/events", token=admin_token, json={**body, "kind": "party", "surprise": True}),
        400,
        "validation_error",
    )
    assert {"kind", "surprise"} <= set(error["fields"])
    summer_day = date(datetime.now(STOCKHOLM).year + 1, 7, 3)
    town_hall = town.post(
        "/events",
        token=staff_token,
        json={
            **event_body(group["id"]),
            "kind": "town_hall",
            "title": "Allmänt möte",
            "starts_at": local(summer_day, 18),
            "ends_at": local(summer_day, 20),
        },
    )
    assert town_hall.status_code == 201, town_hall.text
    town_hall = town_hall.json()
    assert town_hall["starts_at"] == f"{summer_day.isoformat()}T18:00:00+02:00"
    assert town_hall["places_left"] is None

    # Reading and listing.
    error_of(town.get(f"/events/{uuid.uuid4()}"), 404, "not_found")
    assert town.get(f"/events/{event['id']}").json()["my_registration"] is None
    listing = town.get("/events", params={"kind": "clean_up_day", "group_id": group["id"]}).json()
    assert [item["id"] for item in listing["items"]] == [event["id"]]
    assert (listing["total"], listing["page"], listing["per_page"]) == (1, 1, 20)
    window = town.get(
        "/events",
        params={"from": local(summer_day, 0), "to": local(summer_day + timedelta(days=1), 0)},
    )
    assert [item["id"] for item in window.json()["items"]] == [town_hall["id"]]
    error = error_of(
        town.get("/events", params={"from": "soon", "per_page": 500}), 400, "validation_error"
    )
    assert {"from", "per_page"} <= set(error["fields"])

    # Registering: one place, then the waiting list; once per account.
    path = f"/events/{event['id']}/registrations"
    error_of(town.post(path), 401, "unauthenticated")
    first = town.post(path, token=anna_token)
    assert (first.status_code, first.json()) == (201, {"status": "confirmed"})
    second = town.post(path, token=bo_token)
    assert (second.status_code, second.json()) == (201, {"status": "waitlisted", "position": 1})
    error_of(town.post(path, token=anna_token), 409, "conflict")
    error_of(town.post(f"/events/{uuid.uuid4()}/registrations", token=anna_token), 404, "not_found")
    shown = town.get(f"/events/{event['id']}", token=bo_token).json()
    assert (shown["confirmed_count"], shown["places_left"], shown["waitlist_count"]) == (1, 0, 1)
    assert shown["my_registration"] == {"status": "waitlisted", "position": 1}

    # Giving up the place promotes the first on the waiting list at once.
    assert town.delete(f"{path}/mine", token=anna_token).status_code == 204
    error_of(town.delete(f"{path}/mine", token=anna_token), 404, "not_found")
    assert town.get(f"/events/{event['id']}", token=bo_token).json()["my_registration"] == {
        "status": "confirmed"
    }
    wait_for(lambda: published("events", "waitlist_promoted"), message="waitlist_promoted")
    assert [e["data"]["account_id"] for e in published("events", "waitlist_promoted")] == [bo["id"]]
    assert town.post(path, token=anna_token).json() == {"status": "waitlisted", "position": 1}

    # Changing the time or place (extension) is told to the registrants.
    new_place = {"location": "Folkets hus", "capacity": 2}
    error_of(
        town.request("PATCH", f"/events/{event['id']}", token=member_token, json=new_place),
        403,
        "forbidden",
    )
    changed = town.request("PATCH", f"/events/{event['id']}", token=admin_token, json=new_place)
    assert changed.status_code == 200, changed.text
    assert changed.json()["location"] == "Folkets hus"
    assert changed.json()["confirmed_count"] == 2  # the larger capacity let Anna in
    wait_for(lambda: published("events", "event_changed"), message="event_changed")
    assert sorted(published("events", "event_changed")[0]["data"]["registrant_ids"]) == sorted(
        [anna["id"], bo["id"]]
    )

    # The organiser's list and the agenda (extensions).
    registrants = town.get(path, token=admin_token)
    assert registrants.status_code == 200, registrants.text
    assert {r["account_id"] for r in registrants.json()["items"]} == {anna["id"], bo["id"]}
    error_of(town.get(path, token=anna_token), 403, "forbidden")
    agenda = town.request(
        "PUT",
        f"/events/{event['id']}/agenda",
        token=admin_token,
        json={"body": "1. Samling 2. Städning 3. Fika"},
    )
    assert agenda.status_code == 200 and agenda.json()["agenda"].startswith("1. Samling")

    # Cancelling: organiser admins and staff; every registrant is told.
    reason = {"reason": "Stormvarning"}
    error_of(
        town.post(f"/events/{event['id']}/cancel", token=member_token, json=reason),
        403,
        "forbidden",
    )
    error_of(
        town.post(f"/events/{event['id']}/cancel", token=admin_token, json={}),
        400,
        "validation_error",
    )
    cancelled = town.post(f"/events/{event['id']}/cancel", token=admin_token, json=reason)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    error_of(
        town.post(f"/events/{event['id']}/cancel", token=staff_token, json=reason), 409, "conflict"
    )
    error_of(town.post(path, token=member_token), 409, "conflict")
    wait_for(lambda: published("events", "event_cancelled"), message="event_cancelled")
    [told] = [e["data"] for e in published("events", "event_cancelled")]
    assert sorted(told["registrant_ids"]) == sorted([anna["id"], bo["id"]])
    assert told["reason"] == "Stormvarning"
    by_staff = town.post(f"/events/{town_hall['id']}/cancel", token=staff_token, json=reason)
    assert by_staff.status_code == 200, by_staff.text


# --- the feeds ---------------------------------------------------------------------------


def test_calendar_feeds_round_trip_across_the_daylight_saving_change(town):
    _, admin_token = town.resident("Per-Erik Blind")
    group = new_group(town, admin_token, "Hembygdsföreningen", kind="association")
    autumn = last_sunday_of_october_ahead()  # clocks go back at 03:00 that night
    summer = date(autumn.year + 1, 7, 1)
    made = []
    for title, day, start, end in (
        ("Nattvandring", autumn, (1, 30), (4, 0)),
        ("Midsommarfika", summer, (10, 0), (12, 0)),
    ):
        body = {
            **event_body(group["id"]),
            "kind": "meeting",
            "title": title,
            "starts_at": local(day, *start),
            "ends_at": local(day, *end),
        }
        made.append(
            once_known(
                lambda body=body: town.post("/events", token=admin_token, json=body),
                "the events service to know the group",
            ).json()
        )
    night, fika = made
    assert night["starts_at"] == f"{autumn.isoformat()}T01:30:00+02:00"
    assert night["ends_at"] == f"{autumn.isoformat()}T04:00:00+01:00"
    cancelled = town.post(
        f"/events/{fika['id']}/cancel", token=admin_token, json={"reason": "Regn"}
    )
    assert cancelled.status_code == 200

    for path in ("/events.ics", f"/groups/{group['id']}/events.ics"):
        response = town.get(path)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("text/calendar")
        calendar = Calendar.from_ical(response.text)
        assert [str(z["TZID"]) for z in calendar.walk("VTIMEZONE")] == ["Europe/Stockholm"]
        vevents = {str(v["UID"]): v for v in calendar.walk("VEVENT")}
        assert set(vevents) == {f"{night['id']}@civic", f"{fika['id']}@civic"}
        for shown in (night, fika):
            vevent = vevents[f"{shown['id']}@civic"]
            assert vevent.decoded("DTSTART") == datetime.fromisoformat(shown["starts_at"])
            assert vevent.decoded("DTEND") == datetime.fromisoformat(shown["ends_at"])
            assert "DTSTAMP" in vevent
        night_v = vevents[f"{night['id']}@civic"]
        # In UTC: Python subtracts two times of one zone by their wall clocks.
        assert night_v.decoded("DTEND").astimezone(UTC) - night_v.decoded("DTSTART").astimezone(
            UTC
        ) == timedelta(hours=3, minutes=30)
        assert str(night_v["STATUS"]) == "CONFIRMED"
        assert str(vevents[f"{fika['id']}@civic"]["STATUS"]) == "CANCELLED"
    error_of(town.get(f"/groups/{uuid.uuid4()}/events.ics"), 404, "not_found")


# --- after the event; personal data ------------------------------------------------------


def test_check_in_minutes_export_and_erasure(town, events_db, published):
    admin, admin_token = town.resident("Johan Spik")
    elin, elin_token = town.resident("Elin Åström")
    emma, emma_token = town.resident("Emma Andersson")
    group = new_group(town, admin_token, "Skidklubben", kind="association")
    event = once_known(
        lambda: town.post(
            "/events", token=admin_token, json=event_body(group["id"], kind="training", capacity=1)
        ),
        "the events service to know the group's admin",
    ).json()
    path = f"/events/{event['id']}"
    assert town.post(f"{path}/registrations", token=elin_token).json()["status"] == "confirmed"
    assert town.post(f"{path}/registrations", token=emma_token).json()["status"] == "waitlisted"

    error_of(
        town.post(f"{path}/minutes", token=admin_token, json={"body": "Protokoll"}), 409, "conflict"
    )  # minutes follow the event
    exported = town.get("/me/export", token=elin_token).json()["events"]
    assert [r["event_id"] for r in exported["registrations"]] == [event["id"]]

    move_into_the_past(events_db, event["id"])
    error_of(town.post(f"{path}/registrations", token=admin_token), 409, "conflict")
    checked = town.post(f"{path}/checkins", token=admin_token, json={"account_id": elin["id"]})
    assert checked.status_code == 201, checked.text
    assert checked.json()["attendance_count"] == 1
    error_of(
        town.post(f"{path}/checkins", token=admin_token, json={"account_id": elin["id"]}),
        409,
        "conflict",
    )
    error_of(
        town.post(f"{path}/checkins", token=elin_token, json={"account_id": elin["id"]}),
        403,
        "forbidden",
    )
    error_of(
        town.post(f"{path}/minutes", token=elin_token, json={"body": "Protokoll"}), 403, "forbidden"
    )
    minutes = town.post(
        f"{path}/minutes", token=admin_token, json={"body": "Elva deltog. Nästa träning på tisdag."}
    )
    assert minutes.status_code == 201, minutes.text
    assert minutes.json()["minutes"].startswith("Elva deltog")
    assert minutes.json()["attendance_count"] == 1
    wait_for(lambda: published("events", "minutes_published"), message="minutes_published")
    assert published("events", "minutes_published")[0]["data"]["attendee_ids"] == [elin["id"]]
    exported = town.get("/me/export", token=elin_token).json()["events"]
    assert [c["event_id"] for c in exported["checkins"]] == [event["id"]]

    # Erasure removes the registrations; before the start a freed place is passed on.
    upcoming = once_known(
        lambda: town.post("/events", token=admin_token, json=event_body(group["id"], capacity=1)),
        "the events service to know the group's admin",
    ).json()
    upcoming_path = f"/events/{upcoming['id']}"
    town.post(f"{upcoming_path}/registrations", token=elin_token)
    town.post(f"{upcoming_path}/registrations", token=emma_token)
    assert town.delete("/me", token=elin_token).status_code == 202
    wait_for(
        lambda: (
            town.get(upcoming_path, token=emma_token).json()["my_registration"]
            == {"status": "confirmed"}
        ),
        message="the freed place to go to Emma",
    )
    assert town.get(path).json()["attendance_count"] == 1  # history stays
    assert town.get(path).json()["confirmed_count"] == 0
