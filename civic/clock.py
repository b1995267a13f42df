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


def from_iso(value) -> datetime | None:
    """The moment an ISO 8601 text names (one without an offset is UTC, as Civic writes
    them); None when `value` is not such a text — a log line may hold anything."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso_values(view: dict) -> dict:
    """`view` with each of its dates and times written out by `iso` (other values as
    they are): how an account export, which no output schema describes, holds them."""
    return {
        key: iso(value) if isinstance(value, (date, datetime)) else value
        for key, value in view.items()
    }


# --- months in the town's zone ("YYYY-MM"): the programme report's periods -------------

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"


def shift_month(month: str, by: int) -> str:
    """The month `by` months after (before, if negative) `month`."""
    index = int(month[:4]) * 12 + int(month[5:7]) - 1 + by
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_in(first: str, last: str) -> int:
    """How many months from `first` to `last`, both included."""
    return (int(last[:4]) - int(first[:4])) * 12 + int(last[5:7]) - int(first[5:7]) + 1


def months(first: str, last: str) -> list[str]:
    """Every month from `first` to `last`, both included."""
    return [shift_month(first, n) for n in range(months_in(first, last))]


def month_window(first: str, last: str) -> tuple[datetime, datetime]:
    """The UTC moments where month `first` starts and month `last` ends (exclusive),
    the months read in the town's zone."""
    zone = town_zone()
    after = shift_month(last, 1)
    start = datetime(int(first[:4]), int(first[5:7]), 1, tzinfo=zone)
    end = datetime(int(after[:4]), int(after[5:7]), 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def month_of(moment: datetime) -> str:
    """The town's month of a stored UTC moment."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(town_zone()).strftime("%Y-%m")
