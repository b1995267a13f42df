"""The staff activity feed: one entry per domain event, append-only.

Every event this service receives is recorded as it is handled; the service's own
events (which it does not receive back) are recorded as they are published.

An erased account leaves no trace here: its id is taken out of the entries it acted in
or was the subject of (`forget`), and an event that names it as actor after its erasure
(another queue, a retry) is recorded without it. Nothing ties its entries together.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update

from civic import prebuilt
from civic.contracts import Envelope
from civic.db import paginate, utcnow
from civic.errors import Forbidden
from services.notifications import readmodels
from services.notifications.models import Activity, Group

# Which id in an event's data says what the event is about, most specific first. A
# volunteer invitation is about the invitation (its target and group are in it too), a
# volunteer role about its event, a volunteer profile about its account.
SUBJECT_FIELDS = (
    ("consultation_id", "consultation"),
    ("invitation_id", "invitation"),
    ("proposal_id", "proposal"),
    ("project_id", "project"),
    ("event_id", "event"),
    ("opening_id", "opening"),
    ("network_id", None),
    ("group_id", "group"),
    ("email_id", "email"),
    ("account_id", "account"),
)


def subject_of(data: dict) -> tuple[str | None, str | None]:
    for field, subject_type in SUBJECT_FIELDS:
        value = data.get(field)
        if subject_type and isinstance(value, str) and value:
            return subject_type, value
    return None, None


def summary_of(envelope: Envelope, group_name: str | None) -> str:
    """A line for staff: what happened and to what (names and titles only: the
    feed is kept for good, so no personal data goes into it)."""
    what = envelope.type.replace("_", " ").capitalize()
    data = envelope.data
    name = data.get("title") or data.get("name") or data.get("target_title") or group_name
    if isinstance(name, str) and name:
        return f"{what}: “{name[:150]}”"
    return what


def actor_of(session, envelope: Envelope) -> str | None:
    """The envelope's actor, unless that account has been erased."""
    actor_id = envelope.actor_id
    return None if readmodels.is_erased(session, actor_id) else actor_id


def record(session, envelope: Envelope, now: datetime) -> None:
    subject_type, subject_id = subject_of(envelope.data)
    if subject_type == "account" and readmodels.is_erased(session, subject_id):
        subject_id = None
    group_name = None
    if subject_type == "group":
        group_name = session.execute(select(Group.name).where(Group.id == subject_id)).scalar()
    # Every event passes here: statements built once, in Core (the ORM's get and flush
    # of one row were a quarter of the service's CPU per event; issue 14's profile).
    table = Activity.__table__
    if session.execute(prebuilt.row_with(table, "id"), {"id": envelope.id}).first():
        return  # recorded already (the same envelope through another route)
    session.execute(
        prebuilt.once(table, "insert", insert),
        {
            "id": envelope.id,
            "type": envelope.type,
            "producer": envelope.producer,
            "actor_id": actor_of(session, envelope),
            "occurred_at": envelope.occurred_at,
            "correlation_id": envelope.correlation_id,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "summary": summary_of(envelope, group_name),
            "recorded_at": now,
        },
    )


def forget(session, account_id: str) -> None:
    """Take an erased account's id out of the feed: the entries stay (what happened,
    to which public thing), with no actor and no account subject."""
    session.execute(
        update(Activity)
        .where(Activity.actor_id == account_id)
        .values(actor_id=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Activity)
        .where(Activity.subject_type == "account", Activity.subject_id == account_id)
        .values(subject_id=None)
        .execution_options(synchronize_session=False)
    )


def view(entry: Activity) -> dict:
    return {
        "id": entry.id,
        "type": entry.type,
        "actor_id": entry.actor_id,
        "occurred_at": entry.occurred_at,
        "correlation_id": entry.correlation_id,
        "subject_type": entry.subject_type,
        "subject_id": entry.subject_id,
        "summary": entry.summary,
    }


def list_entries(
    uow,
    actor: dict,
    type: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    subject_type: str | None = None,
    subject_id: str | None = None,
    actor_id: str | None = None,
    correlation_id: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> dict:
    """Newest first; for staff only (the actor as civic.validation.load_actor gives it).
    Every filter given narrows the feed: `since` is inclusive, `until` exclusive."""
    if not actor["is_staff"]:
        raise Forbidden("only staff may read the activity feed")
    query = select(Activity)
    if type:
        query = query.where(Activity.type == type)
    if since is not None:
        query = query.where(Activity.occurred_at >= since)
    if until is not None:
        query = query.where(Activity.occurred_at < until)
    if subject_type:
        query = query.where(Activity.subject_type == subject_type)
    if subject_id:
        query = query.where(Activity.subject_id == subject_id)
    if actor_id:
        query = query.where(Activity.actor_id == actor_id)
    if correlation_id:
        query = query.where(Activity.correlation_id == correlation_id)
    entries, total = paginate(
        uow.session, query.order_by(Activity.occurred_at.desc(), Activity.id.desc()), page, per_page
    )
    return {
        "items": [view(entry) for entry in entries],
        "total": total,
        "page": page,
        "per_page": per_page,
    }


def publish(
    uow, event_type: str, data: dict, actor_id: str | None = None, now: datetime | None = None
) -> Envelope:
    """Publish one of this service's own events, and put it in the activity feed at
    once: the service does not receive its own events back."""
    published = uow.publish(event_type, data, actor_id=actor_id, occurred_at=now)
    record(uow.session, published, now or utcnow())
    return published
