"""The events service's part of the programme report (issue 13, `/staff/report`):
plain queries, per month in the town's zone, over a period of months.

- `held`: events that started in the month and were not cancelled;
- `attendance`: check-ins at the door in the month (one per person and event);
- `registrations`: registrations made in the month;
- `actors`: ids of the accounts that registered or checked in in the month — opaque
  ids, for the gateway to count active accounts across services.
"""

from __future__ import annotations

from sqlalchemy import select

from civic.clock import month_of, month_window, months
from civic.errors import Forbidden
from services.events.models import CheckIn, Event, Registration


def programme_figures(session, actor: dict, period_from: str, period_to: str) -> dict:
    if not actor.get("is_staff"):
        raise Forbidden("only staff read the programme figures")
    start, end = month_window(period_from, period_to)
    rows = {
        month: {"month": month, "held": 0, "attendance": 0, "registrations": 0, "actors": set()}
        for month in months(period_from, period_to)
    }

    def within(column):
        return (column >= start) & (column < end)

    for (starts_at,) in session.execute(
        select(Event.starts_at).where(within(Event.starts_at), Event.status != "cancelled")
    ):
        rows[month_of(starts_at)]["held"] += 1
    for account_id, at in session.execute(
        select(CheckIn.account_id, CheckIn.checked_in_at).where(within(CheckIn.checked_in_at))
    ):
        row = rows[month_of(at)]
        row["attendance"] += 1
        row["actors"].add(account_id)
    for account_id, at in session.execute(
        select(Registration.account_id, Registration.created_at).where(
            within(Registration.created_at)
        )
    ):
        row = rows[month_of(at)]
        row["registrations"] += 1
        row["actors"].add(account_id)
    return {
        "months": [
            {**row, "actors": sorted(a for a in row["actors"] if a)} for row in rows.values()
        ]
    }
