"""What this service keeps from other services' events, and the automatic follows.

Recipients are found here, never by asking another service while an event is handled:
accounts' locales (account_registered), groups' names and kinds, memberships and admins
(member_joined/left, admin_appointed), event registrations, volunteers' interests
(volunteer_profile_saved/removed), and the things one can follow (proposals, projects,
events, groups, consultations). An author follows their proposal, a
registrant their event, a member their group, the creator of a project their project —
automatically; leaving a group or giving up a place ends the automatic follow (a follow
made by hand stays). Erased accounts are remembered by id only (`erased_accounts`), so
a fact about one that arrives late brings nothing back.

Facts arrive in any order (each event type has its own queue). A membership, a
registration or a volunteer profile is changed only by a fact newer than the last one
applied to it (`fact_versions`, kept after it ends): by the producer's per-entity version
(`membership_version`, `registration_version`, a profile's `version`), or by the facts'
times for events from before versions. So a leave that overtook its join leaves no
ghost member (nor admin, who would be told of requests to join), a promotion that
overtook the waiting-list place stays a confirmed place, and a profile saved before its
removal brings no interests back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select

from civic import prebuilt
from civic.contracts import Envelope
from civic.readmodels import supersedes
from services.notifications.models import (
    VOLUNTEER_PROFILE,
    Account,
    ErasedAccount,
    FactVersion,
    Follow,
    Group,
    Membership,
    Registration,
    Target,
    VolunteerInterest,
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
    if not account_id:
        return False
    # Asked for most events (their actor): a statement built once, in Core.
    erased = prebuilt.row_with(ErasedAccount.__table__, "account_id")
    return session.execute(erased, {"account_id": account_id}).first() is not None


def is_newer(
    session, subject: str, scope_id: str, account_id: str, version, occurred_at: datetime
) -> bool:
    """Whether this fact about a membership or registration (`subject`; `scope_id` its
    group or event) is newer than the last one applied to it; if so, it is the last one
    from now on."""
    # Locked, so concurrent handlers of facts about one subject compare in turn (see
    # civic.readmodels.GroupFacts._membership).
    held = session.get(FactVersion, (subject, scope_id, account_id), with_for_update=True)
    if held is None:
        session.add(
            FactVersion(
                subject=subject,
                scope_id=scope_id,
                account_id=account_id,
                version=version,
                as_of=occurred_at,
            )
        )
        return True
    if not supersedes(version, occurred_at, held_version=held.version, held_as_of=held.as_of):
        return False
    held.as_of = occurred_at
    if version is not None:
        held.version = version
    return True


def _membership_fact(session, envelope: Envelope) -> bool:
    """Whether a membership fact is to be applied: not about an erased account, newer."""
    data = envelope.data
    return not is_erased(session, data["account_id"]) and is_newer(
        session,
        "membership",
        data["group_id"],
        data["account_id"],
        data.get("membership_version"),
        envelope.occurred_at,
    )


def _registration_fact(session, envelope: Envelope) -> bool:
    """Whether a registration fact is to be applied: not about an erased account, newer."""
    data = envelope.data
    return not is_erased(session, data["account_id"]) and is_newer(
        session,
        "registration",
        data["event_id"],
        data["account_id"],
        data.get("registration_version"),
        envelope.occurred_at,
    )


def _volunteer_profile(session, envelope: Envelope) -> None:
    """A profile saved (its interests replace the ones held) or removed (none left), if
    it is newer than the last fact applied and the account is not erased."""
    data = envelope.data
    account_id = data["account_id"]
    if is_erased(session, account_id):
        return  # a profile that arrives after the erasure brings nothing back
    version, occurred_at = data.get("version"), envelope.occurred_at
    if not is_newer(session, "volunteer", VOLUNTEER_PROFILE, account_id, version, occurred_at):
        return
    session.execute(delete(VolunteerInterest).where(VolunteerInterest.account_id == account_id))
    if envelope.type == "volunteer_profile_saved":
        rows = [
            {"account_id": account_id, "category": category}
            for category in sorted(set(data["interests"]))
        ]
        if rows:
            session.execute(insert(VolunteerInterest), rows)


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
        if is_erased(session, data["account_id"]):
            return  # a registration that arrives after the erasure brings nothing back
        _put(session, Account, {"id": data["account_id"]}, locale=data["locale"])
    elif kind == "account_erased":
        # The rest of the account goes in domain.erase_account; what was last heard of
        # its memberships and places is not needed once its erasure is remembered.
        session.execute(delete(FactVersion).where(FactVersion.account_id == data["account_id"]))
    elif kind == "group_created":
        _put(session, Group, {"id": data["group_id"]}, name=data["name"][:200], kind=data["kind"])
        _target(session, "group", data["group_id"], data["name"])
    elif kind in ("member_joined", "admin_appointed"):
        if not _membership_fact(session, envelope):
            return  # about an erased account, or older than what is known: changes nothing
        role = "admin" if kind == "admin_appointed" else data["role"]
        _put(
            session,
            Membership,
            {"group_id": data["group_id"], "account_id": data["account_id"]},
            role=role,
        )
        auto_follow(session, data["account_id"], "group", data["group_id"], now)
    elif kind == "member_left":
        if not _membership_fact(session, envelope):
            return
        session.execute(
            delete(Membership).where(
                Membership.group_id == data["group_id"], Membership.account_id == data["account_id"]
            )
        )
        end_auto_follow(session, data["account_id"], "group", data["group_id"])
    elif kind in REGISTERED:
        if not _registration_fact(session, envelope):
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
        if not _registration_fact(session, envelope):
            return
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
    elif kind in ("volunteer_profile_saved", "volunteer_profile_removed"):
        _volunteer_profile(session, envelope)
    elif kind in ("consultation_opened", "consultation_results_published"):
        # Followable once its opening is known (its results say it too, should they
        # overtake it); its title as last heard.
        _target(session, "consultation", data["consultation_id"], data["title"])


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
