"""The openings service's part of the programme report (issue 13, `/staff/report`):
plain queries, per month in the town's zone, over a period of months.

- `posted`: openings posted in the month;
- `interest`: expressions of interest shown in the month;
- `actors`: ids of the accounts that posted an opening or showed interest in the month
  — opaque ids, for the gateway to count active accounts across services.
"""

from __future__ import annotations

from sqlalchemy import select

from civic.clock import month_of, month_window, months
from civic.errors import Forbidden
from services.openings.models import Interest, Opening


def programme_figures(session, actor: dict, period_from: str, period_to: str) -> dict:
    if not actor.get("is_staff"):
        raise Forbidden("only staff read the programme figures")
    start, end = month_window(period_from, period_to)
    rows = {
        month: {"month": month, "posted": 0, "interest": 0, "actors": set()}
        for month in months(period_from, period_to)
    }

    def within(column):
        return (column >= start) & (column < end)

    for account_id, at in session.execute(
        select(Opening.created_by, Opening.created_at).where(within(Opening.created_at))
    ):
        row = rows[month_of(at)]
        row["posted"] += 1
        row["actors"].add(account_id)
    for account_id, at in session.execute(
        select(Interest.account_id, Interest.created_at).where(within(Interest.created_at))
    ):
        row = rows[month_of(at)]
        row["interest"] += 1
        row["actors"].add(account_id)
    return {
        "months": [
            {**row, "actors": sorted(a for a in row["actors"] if a)} for row in rows.values()
        ]
    }
