"""Open data: anonymised public datasets of proposals, events, joint projects and
openings, kept up to date from the services' events (never by asking them).

What goes in is what the public may know, and nothing about people: no account ids
(authors, supporters, creators, registrants are left out, so an erased author is linked
to nothing), no names, emails or contact lines, no texts residents wrote beyond a
title, no moderation reasons and no cancellation reasons. A proposal hidden by reports
leaves the dataset until staff restore it; a removed one leaves it for good.

Facts arrive in any order (each event type has its own queue) and may come twice. Each
row keeps, for each of its parts (status, assignment, supports, visibility, an event's
time and place), the time of the last fact applied to it (`*_as_of`): an older fact does
not undo a newer one (civic.readmodels.supersedes, by the facts' times: these events
carry no per-entity version). A fact that arrives before the one that creates its
subject makes a row that is not published until the creating fact arrives. Final states
(an event cancelled, an opening closed or expired, a proposal removed or merged) stay.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from civic.clock import iso
from civic.contracts import Envelope
from civic.readmodels import supersedes
from services.notifications.models import (
    OPEN_DATASETS,
    OpenDataset,
    OpenEvent,
    OpenOpening,
    OpenProject,
    OpenProposal,
)

# The columns of each dataset, in order (CSV header, JSON keys).
FIELDS = {
    "proposals": (
        "proposal_id",
        "title",
        "category",
        "channel",
        "status",
        "submitted_at",
        "status_changed_at",
        "answered_at",
        "assigned_group_id",
        "assigned_group_name",
        "support_count",
        "merged_into_id",
    ),
    "events": (
        "event_id",
        "title",
        "kind",
        "organiser_group_id",
        "starts_at",
        "ends_at",
        "location",
        "capacity",
        "status",
        "attendance_count",
        "proposal_id",
        "project_id",
    ),
    "projects": (
        "project_id",
        "title",
        "status",
        "lead_group_id",
        "partner_group_ids",
        "origin_proposal_id",
        "registered_at",
        "status_changed_at",
    ),
    "openings": (
        "opening_id",
        "title",
        "business_group_id",
        "business_name",
        "sector",
        "employment_type",
        "apply_by",
        "status",
        "posted_at",
    ),
}
FORMATS = ("csv", "json")

# Which dataset each event type feeds.
PROPOSAL_EVENTS = (
    "proposal_submitted",
    "proposal_status_changed",
    "proposal_answered",
    "proposal_assigned",
    "proposal_supported",
    "proposal_support_withdrawn",
    "proposal_merged",
    "proposal_hidden",
    "proposal_restored",
    "proposal_removed",
)
EVENT_EVENTS = ("event_scheduled", "event_changed", "event_cancelled", "event_completed")
PROJECT_EVENTS = ("project_registered", "project_partner_added", "project_status_changed")
OPENING_EVENTS = ("opening_posted", "opening_closed", "opening_expired")
SOURCES = {
    **{kind: ("proposals", "proposals") for kind in PROPOSAL_EVENTS},
    **{kind: ("events", "events") for kind in EVENT_EVENTS},
    **{kind: ("proposals", "projects") for kind in PROJECT_EVENTS},
    **{kind: ("openings", "openings") for kind in OPENING_EVENTS},
}


def _moment(value) -> datetime:
    """A time from an event's data (ISO 8601 text with its offset)."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _newer(occurred_at: datetime, held: datetime | None) -> bool:
    return supersedes(None, occurred_at, held_version=None, held_as_of=held)


def _touch(session, name: str, now: datetime) -> None:
    held = session.get(OpenDataset, name)
    if held is None:
        session.add(OpenDataset(name=name, modified=now))
    elif held.modified is None or now > held.modified:
        held.modified = now


def apply(session, envelope: Envelope, now: datetime) -> bool:
    """Bring the open datasets up to date with one event; whether it feeds one."""
    source = SOURCES.get(envelope.type)
    if source is None:
        return False
    dataset = source[1]
    {
        "proposals": _proposal_fact,
        "events": _event_fact,
        "projects": _project_fact,
        "openings": _opening_fact,
    }[dataset](session, envelope, now)
    _touch(session, dataset, now)
    return True


# --- proposals ------------------------------------------------------------------------


def _proposal(session, data: dict, now: datetime) -> OpenProposal:
    row = session.get(OpenProposal, data["proposal_id"])
    if row is None:
        row = OpenProposal(
            proposal_id=data["proposal_id"],
            title=data["title"][:200],
            status="submitted",
            support_count=0,
            visibility="shown",
            updated_at=now,
        )
        session.add(row)
    row.updated_at = now
    return row


def _proposal_status(row: OpenProposal, status: str, at: datetime) -> bool:
    if not _newer(at, row.status_as_of):
        return False
    row.status, row.status_as_of = status, at
    return True


def _proposal_support(row: OpenProposal, count: int, at: datetime) -> None:
    if _newer(at, row.support_as_of):
        row.support_count, row.support_as_of = max(0, int(count)), at


def _proposal_visibility(row: OpenProposal, visibility: str, at: datetime) -> None:
    if row.visibility == "removed":
        return  # removed for good
    if visibility == "removed" or _newer(at, row.visibility_as_of):
        row.visibility, row.visibility_as_of = visibility, at


def _proposal_fact(session, envelope: Envelope, now: datetime) -> None:
    data, kind, at = envelope.data, envelope.type, envelope.occurred_at
    row = _proposal(session, data, now)
    if kind == "proposal_submitted":
        row.title = data["title"][:200]
        row.category, row.channel, row.submitted_at = data["category"], data["channel"], at
        _proposal_status(row, data["status"], at)
    elif kind == "proposal_status_changed":
        _proposal_status(row, data["to_status"], at)
    elif kind == "proposal_answered":
        if _proposal_status(row, data["to_status"], at):
            row.answered_at = at
    elif kind == "proposal_assigned":
        if _newer(at, row.assigned_as_of):
            row.assigned_group_id = data["group_id"]
            row.assigned_group_name = data["group_name"][:200]
            row.assigned_as_of = at
    elif kind in ("proposal_supported", "proposal_support_withdrawn"):
        _proposal_support(row, data["support_count"], at)
    elif kind == "proposal_merged":
        row.merged_into_id = data["into_id"]
        into = _proposal(
            session, {"proposal_id": data["into_id"], "title": data["into_title"]}, now
        )
        _proposal_support(into, data["support_count"], at)
    elif kind == "proposal_hidden":
        _proposal_visibility(row, "hidden", at)
    elif kind == "proposal_restored":
        _proposal_visibility(row, "shown", at)
    elif kind == "proposal_removed":
        _proposal_visibility(row, "removed", at)


# --- events ---------------------------------------------------------------------------


def _event_fact(session, envelope: Envelope, now: datetime) -> None:
    data, kind, at = envelope.data, envelope.type, envelope.occurred_at
    row = session.get(OpenEvent, data["event_id"])
    if row is None:
        row = OpenEvent(
            event_id=data["event_id"],
            title=data["title"][:200],
            organiser_group_id=data["organiser_group_id"],
            starts_at=_moment(data["starts_at"]),
            status="scheduled",
            updated_at=now,
        )
        session.add(row)
    row.updated_at = now
    if kind in ("event_scheduled", "event_changed") and _newer(at, row.details_as_of):
        row.title = data["title"][:200]
        row.starts_at, row.ends_at = _moment(data["starts_at"]), _moment(data["ends_at"])
        row.location = data["location"]
        row.details_as_of = at
    if kind == "event_scheduled":
        row.kind, row.capacity = data["kind"], data["capacity"]
        row.proposal_id, row.project_id = data["proposal_id"], data["project_id"]
        row.organiser_group_id = data["organiser_group_id"]
        row.scheduled_at = at
    elif kind == "event_cancelled":
        row.status = "cancelled"  # final
    elif kind == "event_completed":
        if row.status != "cancelled":
            row.status = "completed"
        row.attendance_count = data["attendance_count"]


# --- joint projects -------------------------------------------------------------------


def _partners(row: OpenProject, group_ids) -> None:
    held = set(row.partner_group_ids.split()) if row.partner_group_ids else set()
    row.partner_group_ids = " ".join(sorted(held | {g for g in group_ids if g}))


def _project_fact(session, envelope: Envelope, now: datetime) -> None:
    data, kind, at = envelope.data, envelope.type, envelope.occurred_at
    row = session.get(OpenProject, data["project_id"])
    if row is None:
        row = OpenProject(
            project_id=data["project_id"],
            title=data["title"][:200],
            lead_group_id=data["lead_group_id"],
            partner_group_ids="",
            status="planned",
            updated_at=now,
        )
        session.add(row)
    row.updated_at = now
    if kind == "project_registered":
        row.title = data["title"][:200]
        row.origin_proposal_id = data["origin_proposal_id"]
        row.registered_at = at
        _partners(row, data["partner_group_ids"])
        if _newer(at, row.status_as_of):
            row.status, row.status_as_of = "planned", at
    elif kind == "project_partner_added":
        _partners(row, [data["group_id"]])
    elif kind == "project_status_changed":
        _partners(row, data["partner_group_ids"])
        if _newer(at, row.status_as_of):
            row.status, row.status_as_of = data["to_status"], at


# --- openings -------------------------------------------------------------------------


def _opening_fact(session, envelope: Envelope, now: datetime) -> None:
    data, kind, at = envelope.data, envelope.type, envelope.occurred_at
    row = session.get(OpenOpening, data["opening_id"])
    if row is None:
        row = OpenOpening(
            opening_id=data["opening_id"],
            title=data["title"][:200],
            business_group_id=data["business_group_id"],
            status="open",
            updated_at=now,
        )
        session.add(row)
    row.updated_at = now
    if kind == "opening_posted":
        row.title = data["title"][:200]
        row.business_name = data["business_name"][:200]
        row.sector, row.employment_type = data["sector"], data["employment_type"]
        row.apply_by = str(data["apply_by"])[:10]
        row.posted_at = at
    elif kind in ("opening_closed", "opening_expired") and row.status == "open":
        row.status = "closed" if kind == "opening_closed" else "expired"  # final


# --- reading --------------------------------------------------------------------------


def _when(value: datetime | None) -> str | None:
    return iso(value) if value is not None else None


def _proposal_row(row: OpenProposal) -> dict:
    return {
        "proposal_id": row.proposal_id,
        "title": row.title,
        "category": row.category,
        "channel": row.channel,
        "status": row.status,
        "submitted_at": _when(row.submitted_at),
        "status_changed_at": _when(row.status_as_of),
        "answered_at": _when(row.answered_at),
        "assigned_group_id": row.assigned_group_id,
        "assigned_group_name": row.assigned_group_name,
        "support_count": row.support_count,
        "merged_into_id": row.merged_into_id,
    }


def _event_row(row: OpenEvent) -> dict:
    return {
        "event_id": row.event_id,
        "title": row.title,
        "kind": row.kind,
        "organiser_group_id": row.organiser_group_id,
        "starts_at": _when(row.starts_at),
        "ends_at": _when(row.ends_at),
        "location": row.location,
        "capacity": row.capacity,
        "status": row.status,
        "attendance_count": row.attendance_count,
        "proposal_id": row.proposal_id,
        "project_id": row.project_id,
    }


def _project_row(row: OpenProject) -> dict:
    return {
        "project_id": row.project_id,
        "title": row.title,
        "status": row.status,
        "lead_group_id": row.lead_group_id,
        "partner_group_ids": row.partner_group_ids.split() if row.partner_group_ids else [],
        "origin_proposal_id": row.origin_proposal_id,
        "registered_at": _when(row.registered_at),
        "status_changed_at": _when(row.status_as_of),
    }


def _opening_row(row: OpenOpening) -> dict:
    return {
        "opening_id": row.opening_id,
        "title": row.title,
        "business_group_id": row.business_group_id,
        "business_name": row.business_name,
        "sector": row.sector,
        "employment_type": row.employment_type,
        "apply_by": row.apply_by,
        "status": row.status,
        "posted_at": _when(row.posted_at),
    }


def _published(name: str):
    """The query of a dataset's published rows, oldest first, and how to show one."""
    if name == "proposals":
        query = select(OpenProposal).where(
            OpenProposal.submitted_at.is_not(None), OpenProposal.visibility == "shown"
        )
        return query.order_by(OpenProposal.submitted_at, OpenProposal.proposal_id), _proposal_row
    if name == "events":
        query = select(OpenEvent).where(OpenEvent.scheduled_at.is_not(None))
        return query.order_by(OpenEvent.starts_at, OpenEvent.event_id), _event_row
    if name == "projects":
        query = select(OpenProject).where(OpenProject.registered_at.is_not(None))
        return query.order_by(OpenProject.registered_at, OpenProject.project_id), _project_row
    query = select(OpenOpening).where(OpenOpening.posted_at.is_not(None))
    return query.order_by(OpenOpening.posted_at, OpenOpening.opening_id), _opening_row


def dataset(session, name: str) -> dict:
    """One dataset: its name, columns, last change and rows (every published one)."""
    query, show = _published(name)
    modified = session.get(OpenDataset, name)
    return {
        "name": name,
        "fields": list(FIELDS[name]),
        "modified": _when(modified.modified if modified else None),
        "rows": [show(row) for row in session.execute(query).scalars()],
    }


def catalogue(session) -> dict:
    """Every dataset's name, columns, last change and number of rows."""
    items = []
    for name in OPEN_DATASETS:
        query, _show = _published(name)
        count = session.execute(select(func.count()).select_from(query.subquery())).scalar()
        modified = session.get(OpenDataset, name)
        items.append(
            {
                "name": name,
                "fields": list(FIELDS[name]),
                "modified": _when(modified.modified if modified else None),
                "count": int(count or 0),
            }
        )
    return {"datasets": items}
