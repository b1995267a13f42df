"""What this service keeps from other services' events, and the automatic follows.

Recipients are found here, never by asking another service while an event is handled:
accounts' locales (account_registered), groups' names and kinds, memberships and admins
(member_joined/left, admin_appointed), event registrations, and the things one can
follow (proposals, projects, events, groups). An author follows their proposal, a
registrant their event, a member their group, the creator of a project their project —
automatically; leaving a group or giving up a place ends the automatic follow (a follow
made by hand stays). Erased accounts are remembered by id only (`erased_accounts`), so
a fact about one that arrives late brings nothing back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select

from civic.contracts import Envelope
from services.notifications.models import (
    Account,
    ErasedAccount,
    Follow,
    Group,
    Membership,
    Registration,
    Target,
)

REGISTERED = ("registration_confirmed", "registration_waitlisted", "waitlist_promoted")


def _put(session, model, key: dict, **values) -> None:
    """Insert or update one row by its primary key."""
    found = session.get(model, tuple(key.values()) if len(key) > 1 else next(iter(key.values())))
    if found is None:
        session.add(model(**key, **values))
    else:
        for name, value in values.items():
            setattr(found, name, value)


def is_erased(session, account_id: str | None) -> bool:
    return bool(account_id) and session.get(ErasedAccount, account_id) is not None


def auto_follow(session, account_id: str, target_type: str, target_id: str, now: datetime) -> None:
    if session.get(Follow, (account_id, target_type, target_id)) is None:
        session.add(
            Follow(
                account_id=account_id,
                target_type=target_type,
                target_id=target_id,
                source="auto",
                created_at=now,
            )
        )


def end_auto_follow(session, account_id: str, target_type: str, target_id: str) -> None:
    session.execute(
        delete(Follow).where(
            Follow.account_id == account_id,
            Follow.target_type == target_type,
            Follow.target_id == target_id,
            Follow.source == "auto",
        )
    )


def _target(session, target_type: str, target_id: str, title: str) -> None:
    _put(session, Target, {"type": target_type, "id": target_id}, title=title[:200])


def apply(session, envelope: Envelope, now: datetime) -> None:
    """Bring the read models and automatic follows up to date with one event."""
    data, kind = envelope.data, envelope.type
    if kind == "account_registered":
        _put(session, Account, {"id": data["account_id"]}, locale=data["locale"])
    elif kind == "group_created":
        _put(session, Group, {"id": data["group_id"]}, name=data["name"][:200], kind=data["kind"])
        _target(session, "group", data["group_id"], data["name"])
    elif kind in ("member_joined", "admin_appointed"):
        if is_erased(session, data["account_id"]):
            return  # a late fact about an erased account must not bring it back
        role = "admin" if kind == "admin_appointed" else data["role"]
        _put(
            session,
            Membership,
            {"group_id": data["group_id"], "account_id": data["account_id"]},
            role=role,
        )
        auto_follow(session, data["account_id"], "group", data["group_id"], now)
    elif kind == "member_left":
        session.execute(
            delete(Membership).where(
                Membership.group_id == data["group_id"], Membership.account_id == data["account_id"]
            )
        )
        end_auto_follow(session, data["account_id"], "group", data["group_id"])
    elif kind in REGISTERED:
        if is_erased(session, data["account_id"]):
            return
        status = "waitlisted" if kind == "registration_waitlisted" else "confirmed"
        _put(
            session,
            Registration,
            {"event_id": data["event_id"], "account_id": data["account_id"]},
            status=status,
        )
        auto_follow(session, data["account_id"], "event", data["event_id"], now)
    elif kind == "registration_cancelled":
        session.execute(
            delete(Registration).where(
                Registration.event_id == data["event_id"],
                Registration.account_id == data["account_id"],
            )
        )
        end_auto_follow(session, data["account_id"], "event", data["event_id"])
    elif kind == "proposal_submitted":
        _target(session, "proposal", data["proposal_id"], data["title"])
        auto_follow(session, data["author_id"], "proposal", data["proposal_id"], now)
    elif kind == "proposal_merged":
        _follow_merged(session, data["proposal_id"], data["into_id"], now)
    elif kind == "project_registered":
        _target(session, "project", data["project_id"], data["title"])
        auto_follow(session, data["created_by"], "project", data["project_id"], now)
    elif kind == "event_scheduled":
        _target(session, "event", data["event_id"], data["title"])


def _follow_merged(session, duplicate_id: str, into_id: str, now: datetime) -> None:
    """Who followed a duplicate follows the proposal it was merged into."""
    followers = set(
        session.execute(
            select(Follow.account_id).where(
                Follow.target_type == "proposal", Follow.target_id == duplicate_id
            )
        ).scalars()
    )
    already = set(
        session.execute(
            select(Follow.account_id).where(
                Follow.target_type == "proposal", Follow.target_id == into_id
            )
        ).scalars()
    )
    rows = [
        {
            "account_id": account_id,
            "target_type": "proposal",
            "target_id": into_id,
            "source": "auto",
            "created_at": now,
        }
        for account_id in sorted(followers - already)
    ]
    if rows:
        session.execute(insert(Follow), rows)
