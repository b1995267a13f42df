"""The groups service's part of the programme report (issue 13, `/staff/report`):
plain queries, per month in the town's zone, over a period of months.

- `registered`: accounts registered in the month (erased ones included: they were
  registered then);
- `actors`: the ids of the accounts that did something here in the month (created a
  group or joined one) — opaque ids, for the gateway to count active accounts across
  services; no other personal data leaves.
"""

from __future__ import annotations

from sqlalchemy import select

from civic.clock import month_of, month_window, months
from civic.errors import Forbidden
from services.groups.models import Account, Group, Membership


def programme_figures(session, actor: dict, period_from: str, period_to: str) -> dict:
    if not actor.get("is_staff"):
        raise Forbidden("only staff read the programme figures")
    start, end = month_window(period_from, period_to)
    rows = {
        month: {"month": month, "registered": 0, "actors": set()}
        for month in months(period_from, period_to)
    }

    def within(column):
        return (column >= start) & (column < end)

    for (created_at,) in session.execute(
        select(Account.created_at).where(within(Account.created_at))
    ):
        rows[month_of(created_at)]["registered"] += 1
    for account_id, created_at in session.execute(
        select(Group.created_by, Group.created_at).where(within(Group.created_at))
    ):
        rows[month_of(created_at)]["actors"].add(account_id)
    for account_id, created_at in session.execute(
        select(Membership.account_id, Membership.created_at).where(within(Membership.created_at))
    ):
        rows[month_of(created_at)]["actors"].add(account_id)
    return {
        "months": [
            {**row, "actors": sorted(a for a in row["actors"] if a)} for row in rows.values()
        ]
    }
