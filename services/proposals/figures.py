"""The proposals service's part of the programme report (issue 13, `/staff/report`):
plain queries, per month in the town's zone, over a period of months.

- `submitted`, `by_status`, `by_category`: proposals submitted in the month (every
  channel, hidden and merged ones included), by their status now and by category;
- `supports`, `comments`: given in the month;
- `answered`, `median_days_to_answer`: proposals whose first official answer (the first
  step of their status history that carries an answer) was given in the month, and the
  median of the days from their submission to that answer (None: none answered);
- `projects`, `projects_by_status`: joint projects started in the month, by status now;
  `partners_joined`: partner organisations that joined a project in the month (the
  lead group is not counted as a partner);
- `actors`: ids of the accounts that did something here in the month (submitted,
  supported, commented, started a project) — opaque ids, for the gateway to count
  active accounts across services.
"""

from __future__ import annotations

from datetime import UTC, datetime
from statistics import median

from sqlalchemy import func, select

from civic.clock import month_of, month_window, months
from civic.contracts import PROJECT_STATUSES, PROPOSAL_STATUSES
from civic.errors import Forbidden
from services.proposals.api import CATEGORIES
from services.proposals.models import (
    Comment,
    Project,
    ProjectPartner,
    Proposal,
    ProposalStep,
    Support,
)


def _row(month: str) -> dict:
    return {
        "month": month,
        "submitted": 0,
        "by_status": dict.fromkeys(PROPOSAL_STATUSES, 0),
        "by_category": dict.fromkeys(CATEGORIES, 0),
        "supports": 0,
        "comments": 0,
        "answered": 0,
        "days_to_answer": [],
        "projects": 0,
        "projects_by_status": dict.fromkeys(PROJECT_STATUSES, 0),
        "partners_joined": 0,
        "actors": set(),
    }


def programme_figures(session, actor: dict, period_from: str, period_to: str) -> dict:
    if not actor.get("is_staff"):
        raise Forbidden("only staff read the programme figures")
    start, end = month_window(period_from, period_to)
    rows = {month: _row(month) for month in months(period_from, period_to)}

    def within(column):
        return (column >= start) & (column < end)

    for author_id, status, category, created_at in session.execute(
        select(Proposal.author_id, Proposal.status, Proposal.category, Proposal.created_at).where(
            within(Proposal.created_at)
        )
    ):
        row = rows[month_of(created_at)]
        row["submitted"] += 1
        row["by_status"][status] = row["by_status"].get(status, 0) + 1
        row["by_category"][category] = row["by_category"].get(category, 0) + 1
        row["actors"].add(author_id)
    for account_id, created_at in session.execute(
        select(Support.account_id, Support.created_at).where(within(Support.created_at))
    ):
        row = rows[month_of(created_at)]
        row["supports"] += 1
        row["actors"].add(account_id)
    for author_id, created_at in session.execute(
        select(Comment.author_id, Comment.created_at).where(within(Comment.created_at))
    ):
        row = rows[month_of(created_at)]
        row["comments"] += 1
        row["actors"].add(author_id)

    first_answer = func.min(ProposalStep.at)
    answers = (
        select(Proposal.created_at, first_answer)
        .join(ProposalStep, ProposalStep.proposal_id == Proposal.id)
        .where(ProposalStep.answer.is_not(None))
        .group_by(Proposal.id, Proposal.created_at)
        .having((first_answer >= start) & (first_answer < end))
    )
    for submitted_at, answered_at in session.execute(answers):
        answered_at = _aware(answered_at)
        row = rows[month_of(answered_at)]
        row["answered"] += 1
        seconds = (answered_at - _aware(submitted_at)).total_seconds()
        row["days_to_answer"].append(max(0.0, seconds / 86400))

    for created_by, status, created_at in session.execute(
        select(Project.created_by, Project.status, Project.created_at).where(
            within(Project.created_at)
        )
    ):
        row = rows[month_of(created_at)]
        row["projects"] += 1
        row["projects_by_status"][status] = row["projects_by_status"].get(status, 0) + 1
        row["actors"].add(created_by)
    for (added_at,) in session.execute(
        select(ProjectPartner.added_at).where(within(ProjectPartner.added_at))
    ):
        rows[month_of(added_at)]["partners_joined"] += 1

    answer = []
    for row in rows.values():
        days = row.pop("days_to_answer")
        row["median_days_to_answer"] = round(median(days), 1) if days else None
        row["actors"] = sorted(a for a in row["actors"] if a)
        answer.append(row)
    return {"months": answer}


def _aware(moment) -> datetime:
    """A time from the database (an aggregate may come back as ISO text on SQLite)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
