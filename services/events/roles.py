"""The rules of an event's volunteer roles ("2 förare, 5 plockare") and the offers that
fill them, as plain functions (the conventions of domain.py).

Offers change only while the event's row is locked (domain._locked_event), so two
residents offering for the last place of a role at once get one place and one 409,
and a role is never cut below the offers it has. An accepted invitation with a role
(groups' volunteer_invitation_answered) gives the role the same way, if a place is left.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select

from civic.clock import iso, to_town
from civic.db import flush_unique, new_id, utcnow
from civic.errors import Conflict, NotFound
from civic.log import get_logger
from services.events.domain import (
    _event,
    _locked_event,
    _require_organiser,
    _require_scheduled,
    role_views,
)
from services.events.models import Event, EventRole, RoleOffer

log = get_logger(__name__)


def _offer_count(session, role_id: str) -> int:
    return session.execute(
        select(func.count()).select_from(RoleOffer).where(RoleOffer.role_id == role_id)
    ).scalar_one()


def _role_fact(event: Event, role: EventRole, account_id: str) -> dict:
    return {
        "event_id": event.id,
        "title": event.title,
        "role_id": role.id,
        "role_name": role.name,
        "account_id": account_id,
        "organiser_group_id": event.organiser_group_id,
    }


def _role_of(session, event: Event, role_id: str) -> EventRole:
    role = session.get(EventRole, role_id)
    if role is None or role.event_id != event.id:
        raise NotFound("no such role at this event")
    return role


# --- the organiser ----------------------------------------------------------------------


def set_roles(uow, actor: dict, event_id: str, roles: list[dict], now: datetime | None = None):
    """Replace the event's roles (organiser-group admin, staff). A role is kept when
    named by its id or by its name; roles left out are removed. 409 for a cancelled or
    finished event, and when a role with offers would be removed or cut below them."""
    session = uow.session
    now = now or utcnow()
    event = _locked_event(session, event_id)
    _require_organiser(session, actor, event, staff_too=True, what="set the volunteer roles")
    _require_scheduled(event, now, "change its volunteer roles")
    existing = (
        session.execute(select(EventRole).where(EventRole.event_id == event.id)).scalars().all()
    )
    by_id = {role.id: role for role in existing}
    by_name = {role.name.casefold(): role for role in existing}
    counts = dict(
        session.execute(
            select(RoleOffer.role_id, func.count())
            .where(RoleOffer.event_id == event.id)
            .group_by(RoleOffer.role_id)
        ).all()
    )
    kept: list[tuple[EventRole | None, dict]] = []
    for wanted in roles:
        if wanted.get("id"):
            role = by_id.get(wanted["id"])
            if role is None:
                raise NotFound("no such role at this event")
        else:
            role = by_name.get(wanted["name"].casefold())
        if role is not None and any(role is other for other, _ in kept):
            raise Conflict("a role is given twice")
        kept.append((role, wanted))
    kept_ids = {role.id for role, _ in kept if role is not None}
    for role in existing:
        if role.id not in kept_ids and counts.get(role.id, 0):
            raise Conflict(f"the role “{role.name}” has offers: it cannot be removed")
    for role, wanted in kept:
        if role is not None and wanted["needed"] < counts.get(role.id, 0):
            raise Conflict(
                f"the role “{role.name}” has {counts[role.id]} offers: it needs at least as many"
            )
    for role in existing:
        if role.id not in kept_ids:
            session.delete(role)
    session.flush()
    for position, (role, wanted) in enumerate(kept):
        if role is None:
            role = EventRole(id=new_id(), event_id=event.id, created_at=now)
            session.add(role)
        role.name, role.needed, role.position = wanted["name"], wanted["needed"], position
    session.flush()
    return {"roles": role_views(session, [event.id], actor["account_id"])[event.id]}


def list_helpers(uow, actor: dict, event_id: str, page: int = 1, per_page: int = 100) -> dict:
    """Who has a place in which role (organiser-group admin, staff), by role; names are
    the gateway's to add (this service keeps none)."""
    session = uow.session
    event = _event(session, event_id)
    _require_organiser(session, actor, event, staff_too=True, what="see the helpers")
    query = (
        select(RoleOffer, EventRole.name)
        .join(EventRole, EventRole.id == RoleOffer.role_id)
        .where(RoleOffer.event_id == event.id)
        .order_by(EventRole.position, RoleOffer.created_at, RoleOffer.account_id)
    )
    total = session.execute(
        select(func.count()).select_from(RoleOffer).where(RoleOffer.event_id == event.id)
    ).scalar_one()
    rows = session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    return {
        "items": [
            {
                "role_id": offer.role_id,
                "role_name": name,
                "account_id": offer.account_id,
                "display_name": None,
                "source": offer.source,
                "created_at": offer.created_at,
            }
            for offer, name in rows
        ],
        "total": total,
        "page": page,
        "per_page": per_page,
    }


# --- residents --------------------------------------------------------------------------


def _take_place(uow, event: Event, role: EventRole, account_id: str, source: str, now) -> dict:
    session = uow.session
    session.add(
        RoleOffer(
            role_id=role.id,
            account_id=account_id,
            event_id=event.id,
            source=source,
            created_at=now,
        )
    )
    flush_unique(session, "already offered for this role")
    uow.publish("volunteer_role_filled", _role_fact(event, role, account_id), actor_id=account_id)
    return {"role_id": role.id, "role_name": role.name, "event_id": event.id, "created_at": now}


def offer(uow, actor: dict, event_id: str, role_id: str, now: datetime | None = None) -> dict:
    """Take a place in a role: 409 when the role is full, when offered already, and for a
    cancelled or finished event."""
    session = uow.session
    now = now or utcnow()
    account_id = actor["account_id"]
    event = _locked_event(session, event_id)
    role = _role_of(session, event, role_id)
    _require_scheduled(event, now, "offer to help")
    if session.get(RoleOffer, (role.id, account_id)) is not None:
        raise Conflict("already offered for this role")
    if _offer_count(session, role.id) >= role.needed:
        raise Conflict("the role is full")
    return _take_place(uow, event, role, account_id, "offer", now)


def withdraw(uow, actor: dict, event_id: str, role_id: str) -> None:
    """Give up one's place in a role (404 when one has none)."""
    session = uow.session
    account_id = actor["account_id"]
    event = _locked_event(session, event_id)
    role = _role_of(session, event, role_id)
    found = session.get(RoleOffer, (role.id, account_id))
    if found is None:
        raise NotFound("no offer of yours for this role")
    session.delete(found)
    session.flush()
    uow.publish("volunteer_role_left", _role_fact(event, role, account_id), actor_id=account_id)
    return None


def invitation_answered(uow, data: dict, now: datetime | None = None) -> bool:
    """groups' volunteer_invitation_answered: an accepted invitation to an event with a
    role gives the volunteer the role if a place is left (else nothing: the inviter sees
    the role is full). True when a place was given."""
    if data["answer"] != "accepted" or data["target_type"] != "event" or not data.get("role_id"):
        return False
    session = uow.session
    now = now or utcnow()
    try:
        event = _locked_event(session, data["target_id"])
        role = _role_of(session, event, data["role_id"])
    except NotFound:
        log.info("volunteer_role_unknown", event_id=data["target_id"], role_id=data["role_id"])
        return False
    account_id = data["volunteer_id"]
    if (
        event.status != "scheduled"
        or event.ends_at <= now
        or session.get(RoleOffer, (role.id, account_id)) is not None
        or _offer_count(session, role.id) >= role.needed
    ):
        log.info("volunteer_role_not_given", event_id=event.id, role_id=role.id)
        return False
    _take_place(uow, event, role, account_id, "invitation", now)
    return True


# --- personal data ----------------------------------------------------------------------


def export_account(session, account_id: str) -> dict:
    rows = session.execute(
        select(RoleOffer, EventRole.name, Event.title, Event.starts_at)
        .join(EventRole, EventRole.id == RoleOffer.role_id)
        .join(Event, Event.id == RoleOffer.event_id)
        .where(RoleOffer.account_id == account_id)
        .order_by(RoleOffer.created_at)
    ).all()
    return {
        "volunteer_roles": [
            {
                "event_id": offer.event_id,
                "event_title": title,
                "event_starts_at": iso(to_town(starts_at)),
                "role_id": offer.role_id,
                "role_name": name,
                "source": offer.source,
                "offered_at": iso(to_town(offer.created_at)),
            }
            for offer, name, title, starts_at in rows
        ]
    }


def erase_account(session, account_id: str) -> None:
    """The account's places in volunteer roles are given up (nobody is told)."""
    session.execute(delete(RoleOffer).where(RoleOffer.account_id == account_id))
