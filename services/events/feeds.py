"""iCalendar (RFC 5545) feeds of events, made with the `icalendar` library.

Each event is one VEVENT with a stable UID (`<event id>@civic`, so a calendar that
subscribes updates the event instead of adding it twice), DTSTAMP and LAST-MODIFIED
(when it last changed), SEQUENCE (up with each change of time or place and with
cancellation), its times in the town's zone with that zone's VTIMEZONE, and
STATUS:CANCELLED once cancelled.
"""

from __future__ import annotations

from datetime import date, timedelta

from icalendar import Calendar, Timezone
from icalendar import Event as VEvent

from civic.clock import town_zone
from services.events.models import Event

PRODUCT_ID = "-//Civic//Civic events//EN"
UID_DOMAIN = "civic"


def uid(event_id: str) -> str:
    return f"{event_id}@{UID_DOMAIN}"


def calendar_text(events: list[Event], name: str) -> str:
    """The feed as iCalendar text (CRLF line endings, as the standard wants)."""
    zone = town_zone()
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", zone.key)
    if events:
        # Before the events that use it (some clients want it first), and only for the
        # years the events need: a zone's whole history would outweigh the events.
        first = min(event.starts_at for event in events).date() - timedelta(days=366)
        last = max(event.ends_at for event in events).date() + timedelta(days=366)
        calendar.add_component(
            Timezone.from_tzinfo(
                zone,
                tzid=zone.key,
                first_date=date(first.year, 1, 1),
                last_date=date(last.year + 1, 1, 1),
            )
        )
    for event in events:
        calendar.add_component(_vevent(event, zone))
    return calendar.to_ical().decode("utf-8")


def _vevent(event: Event, zone) -> VEvent:
    vevent = VEvent()
    vevent.add("uid", uid(event.id))
    vevent.add("dtstamp", event.updated_at)
    vevent.add("created", event.created_at)
    vevent.add("last-modified", event.updated_at)
    vevent.add("sequence", event.sequence)
    vevent.add("dtstart", event.starts_at.astimezone(zone))
    vevent.add("dtend", event.ends_at.astimezone(zone))
    vevent.add("summary", event.title)
    if event.description:
        vevent.add("description", event.description)
    vevent.add("location", event.location)
    if event.online_url:
        vevent.add("url", event.online_url)
    vevent.add("categories", [event.kind.upper().replace("_", "-")])
    vevent.add("status", "CANCELLED" if event.status == "cancelled" else "CONFIRMED")
    vevent.add("transp", "OPAQUE")
    return vevent
