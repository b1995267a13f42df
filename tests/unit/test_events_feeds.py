"""Event times in and out: local times across the daylight-saving change, and the
iCalendar feed parsed back with `icalendar`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from civic.errors import ValidationError
from civic.validation import load
from services.events import api, feeds
from services.events.models import Event

UTC = UTC
GROUP = str(uuid.uuid4())


def event(starts_at, ends_at, status="scheduled", **extra):
    now = datetime(2026, 11, 1, tzinfo=UTC)
    return Event(
        id=str(uuid.uuid4()),
        kind="town_hall",
        title="Allmänt möte",
        description="Om bygdens framtid",
        starts_at=starts_at,
        ends_at=ends_at,
        location="Folkets hus",
        online_url=extra.get("online_url"),
        capacity=None,
        organiser_group_id=GROUP,
        status=status,
        sequence=0,
        attendance_count=0,
        created_at=now,
        updated_at=now,
    )


def create_payload(**times):
    return {
        "title": "Allmänt möte",
        "kind": "town_hall",
        "location": "Folkets hus",
        "organiser_group_id": GROUP,
        **times,
    }


def test_local_times_are_read_in_stockholm_across_the_autumn_change():
    # 2026-10-25: clocks go back at 03:00 CEST to 02:00 CET.
    data = load(
        api.EventCreateSchema,
        create_payload(starts_at="2026-10-25T01:30", ends_at="2026-10-25T04:00"),
    )
    assert data["starts_at"] == datetime(2026, 10, 24, 23, 30, tzinfo=UTC)  # +02:00
    assert data["ends_at"] == datetime(2026, 10, 25, 3, 0, tzinfo=UTC)  # +01:00
    assert data["ends_at"] - data["starts_at"] == timedelta(hours=3, minutes=30)
    shown = api.EventSchema().dump(data)
    assert shown["starts_at"] == "2026-10-25T01:30:00+02:00"
    assert shown["ends_at"] == "2026-10-25T04:00:00+01:00"


@pytest.mark.parametrize("local", ["2026-10-25T02:30", "2026-03-29T02:30"])
def test_a_repeated_or_skipped_local_time_needs_its_offset(local):
    with pytest.raises(ValidationError) as refused:
        load(api.EventCreateSchema, create_payload(starts_at=local, ends_at="2026-10-25T05:00"))
    assert "starts_at" in refused.value.fields
    # With the offset it is clear which 02:30 is meant.
    data = load(
        api.EventCreateSchema,
        create_payload(starts_at="2026-10-25T02:30+01:00", ends_at="2026-10-25T05:00"),
    )
    assert data["starts_at"] == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


def test_times_that_make_no_event_are_refused():
    with pytest.raises(ValidationError) as backwards:
        load(
            api.EventCreateSchema,
            create_payload(starts_at="2027-06-01T12:00+02:00", ends_at="2027-06-01T11:00+02:00"),
        )
    assert "ends_at" in backwards.value.fields
    with pytest.raises(ValidationError) as garbage:
        load(
            api.EventCreateSchema, create_payload(starts_at="tomorrow", ends_at="3000-01-01T00:00Z")
        )
    assert set(garbage.value.fields) == {"starts_at", "ends_at"}


def test_feed_round_trips_summer_and_the_autumn_change():
    autumn = event(
        datetime(2026, 10, 24, 23, 30, tzinfo=UTC), datetime(2026, 10, 25, 3, 0, tzinfo=UTC)
    )
    summer = event(
        datetime(2027, 7, 3, 8, 0, tzinfo=UTC),
        datetime(2027, 7, 3, 10, 0, tzinfo=UTC),
        online_url="https://meet.example/abc",
    )
    cancelled = event(
        datetime(2027, 1, 10, 17, 0, tzinfo=UTC),
        datetime(2027, 1, 10, 18, 0, tzinfo=UTC),
        status="cancelled",
    )
    text = feeds.calendar_text([autumn, summer, cancelled], "Jokkmokk")
    assert "\r\n" in text

    calendar = Calendar.from_ical(text)
    [zone] = calendar.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/Stockholm"
    # The VTIMEZONE itself knows both sides of the change.
    described = zone.to_tz()
    assert datetime(2026, 10, 25, 1, 30, tzinfo=described).utcoffset() == timedelta(hours=2)
    assert datetime(2026, 10, 25, 4, 0, tzinfo=described).utcoffset() == timedelta(hours=1)
    assert datetime(2027, 7, 3, 10, 0, tzinfo=described).utcoffset() == timedelta(hours=2)
    vevents = {str(v["UID"]): v for v in calendar.walk("VEVENT")}
    assert set(vevents) == {f"{e.id}@civic" for e in (autumn, summer, cancelled)}

    for original in (autumn, summer, cancelled):
        vevent = vevents[f"{original.id}@civic"]
        start, end = vevent.decoded("DTSTART"), vevent.decoded("DTEND")
        assert start == original.starts_at and end == original.ends_at
        assert vevent["DTSTART"].params["TZID"] == "Europe/Stockholm"
        assert vevent.decoded("DTSTAMP").utcoffset() == timedelta(0)
    autumn_v = vevents[f"{autumn.id}@civic"]
    assert autumn_v.decoded("DTSTART").utcoffset() == timedelta(hours=2)
    assert autumn_v.decoded("DTEND").utcoffset() == timedelta(hours=1)
    assert autumn_v.decoded("DTSTART").replace(tzinfo=None) == datetime(2026, 10, 25, 1, 30)
    assert autumn_v.decoded("DTEND").replace(tzinfo=None) == datetime(2026, 10, 25, 4, 0)
    assert vevents[f"{summer.id}@civic"].decoded("DTSTART").replace(tzinfo=None) == datetime(
        2027, 7, 3, 10, 0
    )
    assert str(vevents[f"{summer.id}@civic"]["URL"]) == "https://meet.example/abc"
    assert str(vevents[f"{cancelled.id}@civic"]["STATUS"]) == "CANCELLED"
    assert str(autumn_v["STATUS"]) == "CONFIRMED"
    assert str(autumn_v["SUMMARY"]) == "Allmänt möte"


def test_an_empty_feed_is_still_a_calendar():
    calendar = Calendar.from_ical(feeds.calendar_text([], "Civic"))
    assert calendar.walk("VEVENT") == [] and str(calendar["VERSION"]) == "2.0"
