"""Which returnees an opening is for, and when an opening's time is up: pure rules.

No database and no nameko here. The domain narrows the candidates with the database
(by sector, which is indexed) and lets `matches` decide, so the rule lives in one
place whichever side is new: a posted opening meets every saved profile, a saved
profile meets every open opening.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from civic.contracts import OPENING_MATCH_BATCH_MAX

# One opening_matched event names at most this many accounts: a message stays small
# (and quick to handle) however many people match.
MATCH_BATCH = OPENING_MATCH_BATCH_MAX


@dataclass(frozen=True)
class Preferences:
    """What a returnee is looking for (their profile)."""

    sectors: frozenset[str]
    employment_types: frozenset[str]
    available_from: date


@dataclass(frozen=True)
class Terms:
    """What an opening offers, as far as matching is concerned."""

    sector: str
    employment_type: str
    start_date: date | None = None


def matches(preferences: Preferences, terms: Terms) -> bool:
    """An opening matches a profile in one of its sectors and employment types, when the
    returnee can start by the opening's start date (any time, if it names none)."""
    return (
        terms.sector in preferences.sectors
        and terms.employment_type in preferences.employment_types
        and (terms.start_date is None or preferences.available_from <= terms.start_date)
    )


def batches(account_ids: Iterable[str], size: int = MATCH_BATCH) -> Iterator[list[str]]:
    """The ids in order, `size` at a time (each batch becomes one event)."""
    if size < 1:
        raise ValueError("a batch holds at least one id")
    batch: list[str] = []
    for account_id in account_ids:
        batch.append(account_id)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- dates in the town's time zone -----------------------------------------------------
# `zone` is the town's (civic.clock.town_zone()), given by the caller.


def today_in(zone: tzinfo, now: datetime) -> date:
    """The date it is in the town (an opening's dates are the town's calendar dates)."""
    if now.tzinfo is None:
        raise ValueError("an aware time is needed")
    return now.astimezone(zone).date()


def expiry_moment(apply_by: date, zone: tzinfo) -> datetime:
    """When an opening expires: once its apply-by day has ended in the town (midnight
    that follows it, local time), as an aware UTC time."""
    next_day = datetime.combine(apply_by + timedelta(days=1), time(0), zone)
    return next_day.astimezone(UTC)


def is_past_apply_by(apply_by: date, zone: tzinfo, now: datetime) -> bool:
    return now >= expiry_moment(apply_by, zone)
