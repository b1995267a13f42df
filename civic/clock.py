"""The town's time: its zone, and how Civic writes a moment down.

Times are stored and sent in UTC; people read them in the town's zone
(`CIVIC_TIMEZONE`, Europe/Stockholm by default), and a time given without an offset is
read in that zone. Every service takes the zone and the ISO formatting from here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from civic import config

DEFAULT_TIMEZONE = config.DEFAULT_TIMEZONE


def town_zone_name() -> str:
    """The IANA name of the town's time zone (`CIVIC_TIMEZONE`)."""
    return config.get("CIVIC_TIMEZONE") or DEFAULT_TIMEZONE


def town_zone() -> ZoneInfo:
    """The town's time zone: what times are shown in and naive times are read in."""
    return ZoneInfo(town_zone_name())


def to_town(value: datetime | None) -> datetime | None:
    """`value` in the town's zone (None stays None)."""
    return value.astimezone(town_zone()) if value is not None else None


def utcnow() -> datetime:
    """Now, as an aware UTC time."""
    return datetime.now(UTC)


def iso(value: datetime | date | None) -> str | None:
    """ISO 8601 text of a time or a date, None for None: the one way Civic writes a
    moment into a message or an answer."""
    return value.isoformat() if value is not None else None


def iso_values(view: dict) -> dict:
    """`view` with each of its dates and times written out by `iso` (other values as
    they are): how an account export, which no output schema describes, holds them."""
    return {
        key: iso(value) if isinstance(value, (date, datetime)) else value
        for key, value in view.items()
    }
