"""The rules of events, registrations, the waiting list, check-in, agenda and minutes,
and reminders, as plain functions.

Each function takes a unit of work that is already entered (`uow.session` is a
SQLAlchemy session, `uow.publish` writes an event to the outbox in the same transaction)
and values the caller has validated (see api.py); `now` can be given, so the rules
about time are testable. It returns data (times as datetimes), which service.py dumps
with api.py's schemas. A broken rule raises a civic error; the caller's `with` block
then rolls everything back: nothing changes and nothing is published. Who administers
a group comes from the read models of groups' facts (civic.readmodels).

Places and the waiting list change only while the event's row is locked
(`SELECT … FOR UPDATE` on PostgreSQL; on SQLite a process's one connection serialises
its transactions), so concurrent registrations never oversell and the waiting-list
positions stay 1..N without gaps or repeats.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from civic.clock import iso, to_town
from civic.db import flush_unique, new_id, paginate, utcnow
from civic.errors import Conflict, Forbidden, NotFound, ValidationError
from services.events import api
from services.events.models import (
    CheckIn,
    Event,
    EventRole,
    Registration,
    RoleOffer,
    group_facts,
)

REMINDER_LEAD = timedelta(hours=24)
# The organiser may start checking people in a little before the start.
CHECKIN_OPENS = timedelta(hours=1)
# Changes that registrants must hear of, and calendar clients must notice.
TIME_OR_PLACE = ("starts_at", "ends_at", "location", "online_url")
CHANGEABLE = (
    "title",
    "kind",
    "description",
    "starts_at",
    "ends_at",
    "location",
    "online_url",
    "capacity",
    "proposal_id",
    "project_id",
)


# --- views ------------------------------------------------------------------------------


def _counts(session, event_ids: list[str]) -> dict[str, dict[str, int]]:
    """Confirmed and waitlisted registrations per event, in one query."""
    counts = {event_id: {"confirmed": 0, "waitlisted": 0} for event_id in event_ids}
    if event_ids:
        for event_id, status, count in session.execute(
            select(Registration.event_id, Registration.status, func.count())
            .where(Registration.event_id.in_(event_ids))
            .group_by(Registration.event_id, Registration.status)
        ):
            counts[event_id][status] = count
    return counts


def role_views(session, event_ids: list[str], viewer_id: str | None = None) -> dict[str, list]:
    """Each event's volunteer roles, in the organiser's order, with how many places are
    taken and whether the viewer has one; two queries in all."""
    views: dict[str, list] = {event_id: [] for event_id in event_ids}
    if not event_ids:
        return views
    roles = (
        session.execute(
            select(EventRole)
            .where(EventRole.event_id.in_(event_ids))
            .order_by(EventRole.event_id, EventRole.position, EventRole.id)
        )
        .scalars()
        .all()
    )
    filled: dict[str, int] = {}
    mine: set[str] = set()
    for role_id, account_id in session.execute(
        select(RoleOffer.role_id, RoleOffer.account_id).where(RoleOffer.event_id.in_(event_ids))
    ):
        filled[role_id] = filled.get(role_id, 0) + 1
        if viewer_id is not None and account_id == viewer_id:
            mine.add(role_id)
    for role in roles:
        views[role.event_id].append(
            {
                "id": role.id,
                "name": role.name,
                "needed": role.needed,
                "filled": filled.get(role.id, 0),
                "offered_by_me": role.id in mine,
            }
        )
    return views


def shown_status(event: Event, now: datetime) -> str:
    """The status to show: an event whose end has passed is completed, even in the
    moment before the timer records it."""
    if event.status == "scheduled" and event.ends_at <= now:
        return "completed"
    return event.status


def event_views(
    session, events: list[Event], viewer_id: str | None = None, now: datetime | None = None
) -> list[dict]:
    now = now or utcnow()
    ids = [event.id for event in events]
    counts = _counts(session, ids)
    roles = role_views(session, ids, viewer_id)
    names = group_facts.group_names(session, {event.organiser_group_id for event in events})
    mine = {}
    if viewer_id is not None and ids:
        # Fresh from the database: positions may have moved by a bulk UPDATE in this
        # very transaction, which the session's copies do not know of.
        for registration in session.execute(
            select(Registration)
            .where(Registration.event_id.in_(ids), Registration.account_id == viewer_id)
            .execution_options(populate_existing=True)
        ).scalars():
            mine[registration.event_id] = registration_answer(registration)
    views = []
    for event in events:
        confirmed = counts[event.id]["confirmed"]
        views.append(
            {
                "id": event.id,
                "kind": event.kind,
                "title": event.title,
                "description": event.description,
                "starts_at": event.starts_at,
                "ends_at": event.ends_at,
                "location": event.location,
                "online_url": event.online_url,
                "capacity": event.capacity,
                "confirmed_count": confirmed,
                "places_left": (
                    None if event.capacity is None else max(event.capacity - confirmed, 0)
                ),
                "waitlist_count": counts[event.id]["waitlisted"],
                "status": shown_status(event, now),
                "organiser_group_id": event.organiser_group_id,
                "organiser_group_name": names.get(event.organiser_group_id),
                "proposal_id": event.proposal_id,
                "project_id": event.project_id,
                "attendance_count": event.attendance_count,
                "agenda": event.agenda,
                "agenda_published_at": event.agenda_published_at,
                "minutes": event.minutes,
                "minutes_published_at": event.minutes_published_at,
                "cancel_reason": event.cancel_reason,
                "cancelled_at": event.cancelled_at,
                "created_at": event.created_at,
                "updated_at": event.updated_at,
                "my_registration": mine.get(event.id),
                "roles": roles[event.id],
            }
        )
    return views


def event_view(
    session, event: Event, viewer_id: str | None = None, now: datetime | None = None
) -> dict:
    return event_views(session, [event], viewer_id, now)[0]


def registration_answer(registration: Registration) -> dict:
    if registration.status == "waitlisted":
        return {"status": "waitlisted", "position": registration.position}
    return {"status": "confirmed"}


def _registration_fact(event: Event, account_id: str, **data) -> dict:
    """The data of a fact about one registration of the locked `event`: the event's
    reference, the account, and the registration's next version (Event.registration_version)."""
    event.registration_version = (event.registration_version or 0) + 1
    return {
        **_ref(event),
        "account_id": account_id,
        **data,
        "registration_version": event.registration_version,
    }


def _ref(event: Event) -> dict:
    """What every event about an event carries."""
    return {
        "event_id": event.id,
        "title": event.title,
        "organiser_group_id": event.organiser_group_id,
        "starts_at": iso(event.starts_at),
    }


# --- lookups and permissions ------------------------------------------------------------


def _event(session, event_id: str) -> Event:
    event = session.get(Event, event_id)
    if event is None:
        raise NotFound("no such event")
    return event


def _locked_event(session, event_id: str) -> Event:
    """The event, its row locked until the transaction ends (PostgreSQL); read fresh, so
    what a concurrent transaction committed meanwhile is seen."""
    event = session.execute(
        select(Event)
        .where(Event.id == event_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if event is None:
        raise NotFound("no such event")
    return event


def _require_organiser(session, actor: dict, event: Event, staff_too: bool, what: str) -> None:
    if staff_too and actor.get("is_staff"):
        return
    if not group_facts.is_group_admin(session, event.organiser_group_id, actor["account_id"]):
        who = (
            "an admin of the organiser group or staff"
            if staff_too
            else "an admin of the organiser group"
        )
        raise Forbidden(f"only {who} may {what}")


def _require_scheduled(event: Event, now: datetime, what: str) -> None:
    if event.status == "cancelled":
        raise Conflict(f"the event is cancelled: cannot {what}")
    if event.status == "completed" or event.ends_at <= now:
        raise Conflict(f"the event is over: cannot {what}")


def _confirmed_count(session, event_id: str) -> int:
    return session.execute(
        select(func.count())
        .select_from(Registration)
        .where(Registration.event_id == event_id, Registration.status == "confirmed")
    ).scalar_one()


def _waitlist_length(session, event_id: str) -> int:
    return session.execute(
        select(func.count())
        .select_from(Registration)
        .where(Registration.event_id == event_id, Registration.status == "waitlisted")
    ).scalar_one()


def registrant_ids(session, event_id: str) -> list[str]:
    """Confirmed registrants (in the order they got their place), then the waiting list."""
    rows = session.execute(
        select(Registration.account_id, Registration.status)
        .where(Registration.event_id == event_id)
        .order_by(
            Registration.status,
            Registration.confirmed_at,
            Registration.position,
            Registration.account_id,
        )
    ).all()
    return [account_id for account_id, status in rows if status == "confirmed"] + [
        account_id for account_id, status in rows if status == "waitlisted"
    ]


def confirmed_ids(session, event_id: str) -> list[str]:
    return list(
        session.execute(
            select(Registration.account_id)
            .where(Registration.event_id == event_id, Registration.status == "confirmed")
            .order_by(Registration.confirmed_at, Registration.account_id)
        ).scalars()
    )


# --- reading ----------------------------------------------------------------------------


def list_events(
    uow,
    actor: dict | None,
    starts_from=None,
    starts_to=None,
    kind=None,
    group_id=None,
    page: int = 1,
    per_page: int = 20,
    now: datetime | None = None,
) -> dict:
    """Events (past ones too) overlapping the window, soonest first."""
    session = uow.session
    query = select(Event)
    if starts_from is not None:
        query = query.where(Event.ends_at > starts_from)
    if starts_to is not None:
        query = query.where(Event.starts_at < starts_to)
    if kind is not None:
        query = query.where(Event.kind == kind)
    if group_id is not None:
        query = query.where(Event.organiser_group_id == group_id)
    events, total = paginate(session, query.order_by(Event.starts_at, Event.id), page, per_page)
    viewer = actor["account_id"] if actor else None
    return {
        "items": event_views(session, events, viewer, now),
        "total": total,
        "page": page,
        "per_page": per_page,
    }


def get_event(uow, actor: dict | None, event_id: str, now: datetime | None = None) -> dict:
    session = uow.session
    return event_view(
        session, _event(session, event_id), actor["account_id"] if actor else None, now
    )


def list_registrants(uow, actor: dict, event_id: str, page: int = 1, per_page: int = 100) -> dict:
    """Who is registered and who has been checked in (the organiser's list)."""
    session = uow.session
    event = _event(session, event_id)
    _require_organiser(session, actor, event, staff_too=True, what="see the registrants")
    query = (
        select(Registration)
        .where(Registration.event_id == event.id)
        .order_by(
            Registration.status,
            Registration.confirmed_at,
            Registration.position,
            Registration.account_id,
        )
    )
    rows, total = paginate(session, query, page, per_page)
    checked_in = set(
        session.execute(
            select(CheckIn.account_id).where(
                CheckIn.event_id == event.id,
                CheckIn.account_id.in_([row.account_id for row in rows]),
            )
        ).scalars()
    )
    return {
        "items": [
            {
                "account_id": row.account_id,
                "status": row.status,
                "position": row.position,
                "registered_at": row.created_at,
                "checked_in": row.account_id in checked_in,
            }
            for row in rows
        ],
        "total": total,
        "page": page,
        "per_page": per_page,
    }


# --- organising -------------------------------------------------------------------------


def create_event(
    uow,
    actor: dict,
    title: str,
    kind: str,
    starts_at: datetime,
    ends_at: datetime,
    location: str,
    organiser_group_id: str,
    description: str = "",
    online_url: str | None = None,
    capacity: int | None = None,
    proposal_id: str | None = None,
    project_id: str | None = None,
    now: datetime | None = None,
) -> dict:
    session = uow.session
    now = now or utcnow()
    group = group_facts.group(session, organiser_group_id)
    if group is None:
        raise ValidationError(
            "no such group",
            fields={
                "organiser_group_id": [
                    "No such group (a new group is known here a moment after it is created)."
                ]
            },
        )
    if not actor.get("is_staff") and not group_facts.is_group_admin(
        session, group.group_id, actor["account_id"]
    ):
        raise Forbidden("only an admin of the organiser group or staff may schedule its events")
    if starts_at <= now:
        raise ValidationError(
            "an event is scheduled ahead of time",
            fields={"starts_at": ["The start must be in the future."]},
        )
    event = Event(
        id=new_id(),
        kind=kind,
        title=title,
        description=description,
        starts_at=starts_at,
        ends_at=ends_at,
        location=location,
        online_url=online_url,
        capacity=capacity,
        organiser_group_id=group.group_id,
        proposal_id=proposal_id,
        project_id=project_id,
        status="scheduled",
        attendance_count=0,
        sequence=0,
        created_by=actor["account_id"],
        created_at=now,
        updated_at=now,
    )
    session.add(event)
    session.flush()
    uow.publish(
        "event_scheduled",
        {
            **_ref(event),
            "kind": kind,
            "ends_at": iso(ends_at),
            "location": location,
            "capacity": capacity,
            "proposal_id": proposal_id,
            "project_id": project_id,
            "created_by": actor["account_id"],
        },
        actor_id=actor["account_id"],
    )
    return event_view(session, event, actor["account_id"], now)


def change_event(
    uow, actor: dict, event_id: str, changes: dict, now: datetime | None = None
) -> dict:
    """Change what the organiser set. A change of time or place is told to registrants
    (event_changed); a larger capacity promotes from the waiting list at once."""
    session = uow.session
    now = now or utcnow()
    event = _locked_event(session, event_id)
    _require_organiser(session, actor, event, staff_too=True, what="change the event")
    _require_scheduled(event, now, "change it")
    if event.starts_at <= now:
        raise Conflict("the event has started: it can no longer be changed")
    starts_at = changes.get("starts_at", event.starts_at)
    ends_at = changes.get("ends_at", event.ends_at)
    if "starts_at" in changes and starts_at <= now:
        raise ValidationError(
            "an event is moved to a time ahead",
            fields={"starts_at": ["The start must be in the future."]},
        )
    problem = api.times_problem(starts_at, ends_at)
    if problem:
        raise ValidationError("the input is not valid", fields={"ends_at": [problem]})
    if "capacity" in changes and changes["capacity"] is not None:
        taken = _confirmed_count(session, event.id)
        if changes["capacity"] < taken:
            raise Conflict(f"{taken} places are taken already: the capacity cannot be smaller")
    changed = [
        name for name in CHANGEABLE if name in changes and changes[name] != getattr(event, name)
    ]
    if not changed:
        return event_view(session, event, actor["account_id"], now)
    previous_starts_at, previous_location = event.starts_at, event.location
    for name in changed:
        setattr(event, name, changes[name])
    event.updated_at = now
    if any(name in TIME_OR_PLACE for name in changed):
        event.sequence += 1
    if "starts_at" in changed:
        event.reminder_sent_at = None  # the new start is due its own reminder
    session.flush()
    if "capacity" in changed:
        _fill_places(uow, event, now, actor["account_id"])
    uow.publish(
        "event_changed",
        {
            **_ref(event),
            "ends_at": iso(event.ends_at),
            "location": event.location,
            "changed": changed,
            "previous_starts_at": iso(previous_starts_at),
            "previous_location": previous_location,
            "registrant_ids": registrant_ids(session, event.id),
        },
        actor_id=actor["account_id"],
    )
    return event_view(session, event, actor["account_id"], now)


def cancel_event(uow, actor: dict, event_id: str, reason: str, now: datetime | None = None) -> dict:
    session = uow.session
    now = now or utcnow()
    event = _locked_event(session, event_id)
    _require_organiser(session, actor, event, staff_too=True, what="cancel the event")
    _require_scheduled(event, now, "cancel it")
    event.status = "cancelled"
    event.cancel_reason = reason
    event.cancelled_at = now
    event.updated_at = now
    event.sequence += 1
    uow.publish(
        "event_cancelled",
        {**_ref(event), "reason": reason, "registrant_ids": registrant_ids(session, event.id)},
        actor_id=actor["account_id"],
    )
    return event_view(session, event, actor["account_id"], now)


def publish_agenda(uow, actor: dict, event_id: str, body: str, now: datetime | None = None) -> dict:
    session = uow.session
    now = now or utcnow()
    event = _locked_event(session, event_id)
    _require_organiser(session, actor, event, staff_too=False, what="publish the agenda")
    if event.status == "cancelled":
        raise Conflict("the event is cancelled: it has no agenda")
    revised = event.agenda is not None
    event.agenda, event.agenda_published_at, event.updated_at = body, now, now
    uow.publish(
        "agenda_published",
        {**_ref(event), "revised": revised, "registrant_ids": registrant_ids(session, event.id)},
        actor_id=actor["account_id"],
    )
    return event_view(session, event, actor["account_id"], now)


def publish_minutes(
    uow, actor: dict, event_id: str, body: str, now: datetime | None = None
) -> dict:
    """Minutes follow the event: they are published once it has begun (and revised by
    publishing again)."""
    session = uow.session
    now = now or utcnow()
    event = _locked_event(session, event_id)
    _require_organiser(session, actor, event, staff_too=False, what="publish the minutes")
    if event.status == "cancelled":
        raise Conflict("the event is cancelled: it has no minutes")
    if now < event.starts_at:
        raise Conflict("minutes are published once the event has taken place")
    revised = event.minutes is not None
    event.minutes, event.minutes_published_at, event.updated_at = body, now, now
    attendees = list(
        session.execute(
            select(CheckIn.account_id)
            .where(CheckIn.event_id == event.id)
            .order_by(CheckIn.checked_in_at, CheckIn.account_id)
        ).scalars()
    )
    uow.publish(
        "minutes_published",
        {
            **_ref(event),
            "revised": revised,
            "registrant_ids": confirmed_ids(session, event.id),
            "attendee_ids": attendees,
        },
        actor_id=actor["account_id"],
    )
    return event_view(session, event, actor["account_id"], now)


def check_in(uow, actor: dict, event_id: str, account_id: str, now: datetime | None = None) -> dict:
    """The organiser checks in a registrant (confirmed, or waitlisted and let in at the
    door); each attendee counts once."""
    session = uow.session
    now = now or utcnow()
    event = _locked_event(session, event_id)
    _require_organiser(session, actor, event, staff_too=False, what="check people in")
    if event.status == "cancelled":
        raise Conflict("the event is cancelled: nobody attends it")
    if now < event.starts_at - CHECKIN_OPENS:
        raise Conflict("check-in opens an hour before the start")
    if session.get(Registration, (event.id, account_id)) is None:
        raise NotFound("this account is not registered for the event")
    if session.get(CheckIn, (event.id, account_id)) is not None:
        raise Conflict("this attendee is checked in already")
    session.add(
        CheckIn(
            event_id=event.id,
            account_id=account_id,
            checked_in_at=now,
            checked_in_by=actor["account_id"],
        )
    )
    event.attendance_count += 1
    event.updated_at = now
    flush_unique(session, "this attendee is checked in already")
    uow.publish(
        "attendee_checked_in",
        {**_ref(event), "account_id": account_id, "attendance_count": event.attendance_count},
        actor_id=actor["account_id"],
    )
    return {
        "event_id": event.id,
        "account_id": account_id,
        "checked_in_at": now,
        "attendance_count": event.attendance_count,
    }


# --- registrations ----------------------------------------------------------------------


def register(uow, actor: dict, event_id: str, now: datetime | None = None) -> dict:
    """A confirmed place while places are left, else the end of the waiting list."""
    session = uow.session
    now = now or utcnow()
    account_id = actor["account_id"]
    event = _locked_event(session, event_id)
    if event.status == "cancelled":
        raise Conflict("the event is cancelled")
    if now >= event.starts_at:
        raise Conflict("registration closed when the event started")
    if session.get(Registration, (event.id, account_id)) is not None:
        raise Conflict("already registered for this event")
    confirmed = event.capacity is None or _confirmed_count(session, event.id) < event.capacity
    position = None if confirmed else _waitlist_length(session, event.id) + 1
    registration = Registration(
        event_id=event.id,
        account_id=account_id,
        status="confirmed" if confirmed else "waitlisted",
        position=position,
        created_at=now,
        confirmed_at=now if confirmed else None,
    )
    session.add(registration)
    flush_unique(session, "already registered for this event")
    if confirmed:
        data = _registration_fact(event, account_id)
        uow.publish("registration_confirmed", data, actor_id=account_id)
    else:
        data = _registration_fact(event, account_id, position=position)
        uow.publish("registration_waitlisted", data, actor_id=account_id)
    return registration_answer(registration)


def cancel_registration(uow, actor: dict, event_id: str, now: datetime | None = None) -> None:
    """Give up one's place (the first on the waiting list gets it at once) or leave the
    waiting list (those behind move up)."""
    session = uow.session
    now = now or utcnow()
    account_id = actor["account_id"]
    event = _locked_event(session, event_id)
    registration = session.get(Registration, (event.id, account_id))
    if registration is None:
        raise NotFound("not registered for this event")
    if event.status == "cancelled":
        raise Conflict("the event is cancelled already")
    if now >= event.starts_at:
        raise Conflict("the event has started: the registration stands")
    was = registration.status
    _remove_registration(uow, event, registration, now, actor_id=account_id)
    uow.publish(
        "registration_cancelled",
        _registration_fact(event, account_id, was=was),
        actor_id=account_id,
    )
    return None


def _remove_registration(
    uow, event: Event, registration: Registration, now: datetime, actor_id: str | None
) -> None:
    """Delete a registration of the locked `event`, close up the waiting list, and give
    a freed place to the next in line."""
    session = uow.session
    status, position = registration.status, registration.position
    session.delete(registration)
    session.flush()
    if status == "waitlisted":
        session.execute(
            update(Registration)
            .where(
                Registration.event_id == event.id,
                Registration.status == "waitlisted",
                Registration.position > position,
            )
            .values(position=Registration.position - 1)
            .execution_options(synchronize_session=False)
        )
    else:
        _fill_places(uow, event, now, actor_id)


def _fill_places(uow, event: Event, now: datetime, actor_id: str | None) -> list[str]:
    """Promote the head of the waiting list into the places left (the event row is
    locked by the caller). Only before the start of a scheduled event."""
    session = uow.session
    if event.status != "scheduled" or now >= event.starts_at:
        return []
    query = (
        select(Registration)
        .where(Registration.event_id == event.id, Registration.status == "waitlisted")
        .order_by(Registration.position)
        .execution_options(populate_existing=True)
    )
    if event.capacity is not None:
        free = event.capacity - _confirmed_count(session, event.id)
        if free <= 0:
            return []
        query = query.limit(free)
    promoted = list(session.execute(query).scalars())
    if not promoted:
        return []
    for registration in promoted:
        registration.status, registration.position = "confirmed", None
        registration.confirmed_at = now
    session.flush()
    session.execute(
        update(Registration)
        .where(Registration.event_id == event.id, Registration.status == "waitlisted")
        .values(position=Registration.position - len(promoted))
        .execution_options(synchronize_session=False)
    )
    for registration in promoted:
        uow.publish(
            "waitlist_promoted",
            _registration_fact(event, registration.account_id),
            actor_id=actor_id,
        )
    return [registration.account_id for registration in promoted]


# --- the timer: reminders and completion ------------------------------------------------


def events_due_a_reminder(session, now: datetime) -> list[str]:
    return list(
        session.execute(
            select(Event.id)
            .where(
                Event.status == "scheduled",
                Event.reminder_sent_at.is_(None),
                Event.starts_at > now,
                Event.starts_at <= now + REMINDER_LEAD,
            )
            .order_by(Event.starts_at)
        ).scalars()
    )


def send_reminder(uow, event_id: str, now: datetime) -> bool:
    """Claim the event's reminder and publish it, in one transaction. The claim is one
    conditional UPDATE: of two instances trying at once, exactly one changes the row
    (the other waits for its lock, then finds it claimed), so one reminder is sent."""
    session = uow.session
    claimed = session.execute(
        update(Event)
        .where(
            Event.id == event_id,
            Event.reminder_sent_at.is_(None),
            Event.status == "scheduled",
            Event.starts_at > now,
        )
        .values(reminder_sent_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return False
    event = session.execute(
        select(Event).where(Event.id == event_id).execution_options(populate_existing=True)
    ).scalar_one()
    uow.publish(
        "event_reminder_due",
        {
            **_ref(event),
            "ends_at": iso(event.ends_at),
            "location": event.location,
            "account_ids": confirmed_ids(session, event.id),
        },
    )
    return True


def events_ended(session, now: datetime) -> list[str]:
    return list(
        session.execute(
            select(Event.id)
            .where(Event.status == "scheduled", Event.ends_at <= now)
            .order_by(Event.ends_at)
        ).scalars()
    )


def complete_event(uow, event_id: str, now: datetime) -> bool:
    """Record that an event took place; claimed like a reminder, so told once."""
    session = uow.session
    claimed = session.execute(
        update(Event)
        .where(Event.id == event_id, Event.status == "scheduled", Event.ends_at <= now)
        .values(status="completed", updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return False
    event = session.execute(
        select(Event).where(Event.id == event_id).execution_options(populate_existing=True)
    ).scalar_one()
    uow.publish(
        "event_completed",
        {**_ref(event), "ends_at": iso(event.ends_at), "attendance_count": event.attendance_count},
    )
    return True


# --- feeds ------------------------------------------------------------------------------

FEED_HISTORY = timedelta(days=365)
FEED_LIMIT = 2000


def feed_events(
    uow, group_id: str | None = None, now: datetime | None = None
) -> tuple[list[Event], str]:
    """The events of a calendar feed (from a year back on) and the feed's name."""
    session = uow.session
    now = now or utcnow()
    name = "Civic"
    query = select(Event).where(Event.ends_at > now - FEED_HISTORY)
    if group_id is not None:
        group = group_facts.group(session, group_id)
        if group is None:
            raise NotFound("no such group")
        name = group.name
        query = query.where(Event.organiser_group_id == group_id)
    events = (
        session.execute(query.order_by(Event.starts_at, Event.id).limit(FEED_LIMIT)).scalars().all()
    )
    return list(events), name


# --- personal data ----------------------------------------------------------------------


def export_account(uow, account_id: str) -> dict:
    session = uow.session
    rows = session.execute(
        select(Registration, Event.title, Event.starts_at)
        .join(Event, Event.id == Registration.event_id)
        .where(Registration.account_id == account_id)
        .order_by(Registration.created_at)
    ).all()
    checkins = session.execute(
        select(CheckIn, Event.title)
        .join(Event, Event.id == CheckIn.event_id)
        .where(CheckIn.account_id == account_id)
        .order_by(CheckIn.checked_in_at)
    ).all()
    created = session.execute(
        select(Event.id, Event.title, Event.created_at)
        .where(Event.created_by == account_id)
        .order_by(Event.created_at)
    ).all()
    return {
        "registrations": [
            {
                "event_id": r.event_id,
                "event_title": title,
                "event_starts_at": iso(to_town(starts_at)),
                "status": r.status,
                "position": r.position,
                "registered_at": iso(to_town(r.created_at)),
            }
            for r, title, starts_at in rows
        ],
        "checkins": [
            {
                "event_id": c.event_id,
                "event_title": title,
                "checked_in_at": iso(to_town(c.checked_in_at)),
            }
            for c, title in checkins
        ],
        "events_created": [
            {"event_id": event_id, "title": title, "created_at": iso(to_town(created_at))}
            for event_id, title, created_at in created
        ],
    }


def erase_account(uow, account_id: str, now: datetime | None = None) -> None:
    """Remove the account's registrations (a freed place goes to the waiting list at
    once) and check-ins; forget that it created events or checked anyone in; drop it
    from the read model."""
    session = uow.session
    now = now or utcnow()
    event_ids = sorted(
        session.execute(
            select(Registration.event_id).where(Registration.account_id == account_id)
        ).scalars()
    )
    for event_id in event_ids:  # in id order, so concurrent erasures never deadlock
        event = _locked_event(session, event_id)
        registration = session.get(Registration, (event_id, account_id))
        if registration is not None:
            _remove_registration(uow, event, registration, now, actor_id=None)
    session.execute(delete(CheckIn).where(CheckIn.account_id == account_id))
    session.execute(
        update(CheckIn)
        .where(CheckIn.checked_in_by == account_id)
        .values(checked_in_by=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Event)
        .where(Event.created_by == account_id)
        .values(created_by=None)
        .execution_options(synchronize_session=False)
    )
    group_facts.account_erased(session, account_id)
