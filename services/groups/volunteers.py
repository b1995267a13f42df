"""The rules of volunteering, as plain functions: the skill list staff keep, volunteer
profiles, the search for volunteers and invitations to volunteer.

Like domain.py, each function takes an entered unit of work and values the caller has
validated (api.py) and returns plain data; a broken rule raises a civic error and the
caller's `with` block rolls everything back. Times can be given (`now`) so the rules
are testable without the wall clock.

Privacy: the search shows only profiles whose owners agreed to be contacted
(`contact_ok`), of live accounts, and never an email address; contact goes through an
invitation, which the volunteer is told of (volunteer_invited). Events carry ids and
the target's title, never the free texts (other skills, the inviter's message).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, func, select, update

from civic.clock import iso
from civic.db import flush_unique, new_id, paginate, utcnow
from civic.errors import Conflict, Forbidden, NotFound, ValidationError
from services.groups.domain import _actor, _publish_membership
from services.groups.models import (
    Account,
    Group,
    Membership,
    VolunteerChoice,
    VolunteerInvitation,
    VolunteerProfile,
    VolunteerSkill,
)

# The profile's multi-valued fields and the choice kind each is stored as.
CHOICE_FIELDS = (
    ("skills", "skill"),
    ("availability", "availability"),
    ("seasons", "season"),
    ("interests", "interest"),
)


# --- who is acting ----------------------------------------------------------------------


def _live(session, account_id: str) -> Account | None:
    account = session.get(Account, account_id)
    return account if account is not None and account.erased_at is None else None


def _is_active_admin(session, group_id: str, account_id: str) -> bool:
    membership = session.get(Membership, (group_id, account_id))
    return membership is not None and membership.status == "active" and membership.role == "admin"


def _admin_of_any_group(session, account_id: str) -> bool:
    return (
        session.execute(
            select(Membership.group_id)
            .where(
                Membership.account_id == account_id,
                Membership.role == "admin",
                Membership.status == "active",
            )
            .limit(1)
        ).first()
        is not None
    )


# --- skills -----------------------------------------------------------------------------


def skill_view(skill: VolunteerSkill) -> dict:
    return {
        "key": skill.key,
        "name_sv": skill.name_sv,
        "name_en": skill.name_en,
        "active": skill.active,
    }


def list_skills(uow, include_retired: bool = False) -> dict:
    """The skills a volunteer may choose (retired ones are left out), by key.
    `include_retired`: those taken off the list too (`active` false) — a profile keeps
    a retired skill until it is saved again, and a page showing it needs its name."""
    query = select(VolunteerSkill).order_by(VolunteerSkill.key)
    if not include_retired:
        query = query.where(VolunteerSkill.active.is_(True))
    skills = uow.session.execute(query).scalars().all()
    items = [skill_view(skill) for skill in skills]
    return {"items": items, "total": len(items), "page": 1, "per_page": max(len(items), 1)}


def add_skill(uow, actor_id: str, key: str, name_sv: str, name_en: str, now=None) -> dict:
    """Staff add a skill to the list (409 when it is on it); a retired skill's key
    brings it back, with the names given."""
    session = uow.session
    if not _actor(session, actor_id).is_staff:
        raise Forbidden("only staff keep the list of skills")
    skill = session.get(VolunteerSkill, key)
    if skill is not None and skill.active:
        raise Conflict("a skill with this key is on the list already")
    if skill is None:
        skill = VolunteerSkill(key=key, created_at=now or utcnow())
        session.add(skill)
    skill.name_sv, skill.name_en, skill.active = name_sv, name_en, True
    flush_unique(session, "a skill with this key is on the list already")
    return skill_view(skill)


def retire_skill(uow, actor_id: str, key: str) -> None:
    """Staff take a skill off the list: it is offered no more (404 when not on it)."""
    session = uow.session
    if not _actor(session, actor_id).is_staff:
        raise Forbidden("only staff keep the list of skills")
    skill = session.get(VolunteerSkill, key)
    if skill is None or not skill.active:
        raise NotFound("no such skill on the list")
    skill.active = False
    return None


# --- profiles ---------------------------------------------------------------------------


def _choices(session, account_ids: list[str]) -> dict[str, dict[str, list[str]]]:
    """The chosen values of each profile, by field, sorted."""
    found = {account_id: {field: [] for field, _ in CHOICE_FIELDS} for account_id in account_ids}
    if not account_ids:
        return found
    field_of = {kind: field for field, kind in CHOICE_FIELDS}
    for account_id, kind, value in session.execute(
        select(VolunteerChoice.account_id, VolunteerChoice.kind, VolunteerChoice.value)
        .where(VolunteerChoice.account_id.in_(account_ids))
        .order_by(VolunteerChoice.account_id, VolunteerChoice.kind, VolunteerChoice.value)
    ):
        found[account_id][field_of[kind]].append(value)
    return found


def profile_view(session, profile: VolunteerProfile) -> dict:
    return {
        "account_id": profile.account_id,
        **_choices(session, [profile.account_id])[profile.account_id],
        "other_skills": profile.other_skills,
        "contact_ok": profile.contact_ok,
        "created_at": profile.created_at,
        "updated_at": profile.updated_at,
    }


def _next_version(session, account_id: str) -> int:
    """A new version for a fact about the account's profile (Account.volunteer_version)."""
    return session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(volunteer_version=Account.volunteer_version + 1)
        .returning(Account.volunteer_version)
        .execution_options(synchronize_session=False)
    ).scalar_one()


def get_profile(uow, actor_id: str) -> dict:
    session = uow.session
    _actor(session, actor_id)
    profile = session.get(VolunteerProfile, actor_id)
    if profile is None:
        raise NotFound("no volunteer profile")
    return profile_view(session, profile)


def save_profile(
    uow,
    actor_id: str,
    skills: list[str],
    availability: list[str],
    seasons: list[str],
    interests: list[str],
    contact_ok: bool,
    other_skills: str = "",
    now: datetime | None = None,
) -> dict:
    """Create or replace the actor's profile. Skills are keys of the list's active
    skills (400 otherwise)."""
    session = uow.session
    account = _actor(session, actor_id)
    now = now or utcnow()
    skills = sorted(set(skills))
    if skills:
        known = set(
            session.execute(
                select(VolunteerSkill.key).where(
                    VolunteerSkill.key.in_(skills), VolunteerSkill.active.is_(True)
                )
            ).scalars()
        )
        unknown = [key for key in skills if key not in known]
        if unknown:
            raise ValidationError(
                "the input is not valid",
                fields={"skills": [f"Not a skill on the list: {', '.join(unknown)}."]},
            )
    profile = session.get(VolunteerProfile, account.id)
    if profile is None:
        profile = VolunteerProfile(account_id=account.id, created_at=now)
        session.add(profile)
    profile.other_skills, profile.contact_ok, profile.updated_at = other_skills, contact_ok, now
    session.flush()
    session.execute(delete(VolunteerChoice).where(VolunteerChoice.account_id == account.id))
    values = {"skills": skills, "availability": availability, "seasons": seasons}
    values["interests"] = interests
    for field, kind in CHOICE_FIELDS:
        for value in sorted(set(values[field])):
            session.add(VolunteerChoice(account_id=account.id, kind=kind, value=value))
    session.flush()
    uow.publish(
        "volunteer_profile_saved",
        {
            "account_id": account.id,
            "contact_ok": contact_ok,
            "interests": sorted(set(interests)),
            "skills": skills,
            "version": _next_version(session, account.id),
        },
        actor_id=account.id,
    )
    return profile_view(session, profile)


def _remove_profile(uow, account_id: str, actor_id: str | None) -> bool:
    session = uow.session
    profile = session.get(VolunteerProfile, account_id)
    if profile is None:
        return False
    session.execute(delete(VolunteerChoice).where(VolunteerChoice.account_id == account_id))
    session.delete(profile)
    session.flush()
    uow.publish(
        "volunteer_profile_removed",
        {"account_id": account_id, "version": _next_version(session, account_id)},
        actor_id=actor_id,
    )
    return True


def delete_profile(uow, actor_id: str) -> None:
    _actor(uow.session, actor_id)
    if not _remove_profile(uow, actor_id, actor_id):
        raise NotFound("no volunteer profile")
    return None


# --- search -----------------------------------------------------------------------------


def _has(kind: str, value: str):
    return exists().where(
        VolunteerChoice.account_id == VolunteerProfile.account_id,
        VolunteerChoice.kind == kind,
        VolunteerChoice.value == value,
    )


def search(
    uow,
    actor_id: str,
    skill: str | None = None,
    availability: str | None = None,
    season: str | None = None,
    interest: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> dict:
    """Volunteers who agreed to be contacted, by name: for staff and the admins of any
    group. Never an email address."""
    session = uow.session
    actor = _actor(session, actor_id)
    if not (actor.is_staff or _admin_of_any_group(session, actor.id)):
        raise Forbidden("only staff and the admins of a group search for volunteers")
    query = (
        select(VolunteerProfile, Account.display_name)
        .join(Account, Account.id == VolunteerProfile.account_id)
        .where(VolunteerProfile.contact_ok.is_(True), Account.erased_at.is_(None))
    )
    for kind, value in (
        ("skill", skill),
        ("availability", availability),
        ("season", season),
        ("interest", interest),
    ):
        if value is not None:
            query = query.where(_has(kind, value))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(
        query.order_by(Account.display_name, Account.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    choices = _choices(session, [profile.account_id for profile, _ in rows])
    return {
        "items": [
            {
                "account_id": profile.account_id,
                "display_name": display_name,
                **choices[profile.account_id],
                "other_skills": profile.other_skills,
            }
            for profile, display_name in rows
        ],
        "total": total,
        "page": page,
        "per_page": per_page,
    }


# --- invitations ------------------------------------------------------------------------


def _invitation_fact(invitation: VolunteerInvitation, invited_by: str) -> dict:
    return {
        "invitation_id": invitation.id,
        "volunteer_id": invitation.volunteer_id,
        "invited_by": invited_by,
        "group_id": invitation.group_id,
        "target_type": invitation.target_type,
        "target_id": invitation.target_id,
        "target_title": invitation.target_title,
        "role_id": invitation.role_id,
    }


def _invitation_views(session, invitations: list[VolunteerInvitation]) -> list[dict]:
    """Invitations with the group's name and the volunteer's and inviter's names."""
    group_ids = {invitation.group_id for invitation in invitations}
    account_ids = {invitation.volunteer_id for invitation in invitations} | {
        invitation.invited_by for invitation in invitations if invitation.invited_by
    }
    groups = dict(
        session.execute(select(Group.id, Group.name).where(Group.id.in_(group_ids))).all()
        if group_ids
        else []
    )
    names = dict(
        session.execute(
            select(Account.id, Account.display_name).where(Account.id.in_(account_ids))
        ).all()
        if account_ids
        else []
    )
    return [
        {
            "id": invitation.id,
            "volunteer_id": invitation.volunteer_id,
            "volunteer_name": names.get(invitation.volunteer_id),
            "invited_by": invitation.invited_by,
            "invited_by_name": names.get(invitation.invited_by),
            "group_id": invitation.group_id,
            "group_name": groups.get(invitation.group_id),
            "target_type": invitation.target_type,
            "target_id": invitation.target_id,
            "target_title": invitation.target_title,
            "role_id": invitation.role_id,
            "message": invitation.message,
            "status": invitation.status,
            "created_at": invitation.created_at,
            "answered_at": invitation.answered_at,
        }
        for invitation in invitations
    ]


def invite(
    uow,
    actor_id: str,
    volunteer_id: str,
    group_id: str,
    target_type: str,
    target_id: str,
    target_title: str | None = None,
    role_id: str | None = None,
    message: str = "",
    now: datetime | None = None,
) -> dict:
    """An admin of `group_id` (or staff) invites a volunteer who agreed to be contacted.

    A group's own invitation names the group as its target (its title is the group's
    name); an event's or a project's title comes from the gateway, which checked with
    the events or proposals service that the group organises or leads it. 404 when the
    volunteer cannot be contacted (no profile, not contact_ok, erased); 409 when an
    invitation to the same target and role is pending, or the volunteer is a member of
    the group already (a group's invitation)."""
    session = uow.session
    actor = _actor(session, actor_id)
    now = now or utcnow()
    group = session.get(Group, group_id)
    if group is None:
        raise NotFound("no such group")
    if not (actor.is_staff or _is_active_admin(session, group.id, actor.id)):
        raise Forbidden("only an admin of the group, or staff, may invite for it")
    volunteer = _live(session, volunteer_id)
    profile = session.get(VolunteerProfile, volunteer_id) if volunteer is not None else None
    if profile is None or not profile.contact_ok:
        raise NotFound("no such volunteer who agreed to be contacted")
    if target_type == "group":
        if target_id != group.id:
            raise ValidationError(
                "the input is not valid",
                fields={"target_id": ["A group's invitation is to the group itself."]},
            )
        target_title = group.name
        membership = session.get(Membership, (group.id, volunteer_id))
        if membership is not None and membership.status == "active":
            raise Conflict("the volunteer is a member of the group already")
    elif not target_title:
        raise ValidationError(
            "the input is not valid", fields={"target_title": ["Missing data for required field."]}
        )
    if role_id is not None and target_type != "event":
        raise ValidationError(
            "the input is not valid", fields={"role_id": ["Only an event's invitation has a role."]}
        )
    role_key = role_id or ""
    pending = session.execute(
        select(VolunteerInvitation.id).where(
            VolunteerInvitation.volunteer_id == volunteer_id,
            VolunteerInvitation.target_type == target_type,
            VolunteerInvitation.target_id == target_id,
            VolunteerInvitation.role_key == role_key,
            VolunteerInvitation.status == "pending",
        )
    ).first()
    if pending is not None:
        raise Conflict("an invitation to this is pending already")
    invitation = VolunteerInvitation(
        id=new_id(),
        volunteer_id=volunteer_id,
        invited_by=actor.id,
        group_id=group.id,
        target_type=target_type,
        target_id=target_id,
        target_title=target_title[:200],
        role_id=role_id,
        role_key=role_key,
        message=message or "",
        status="pending",
        created_at=now,
    )
    session.add(invitation)
    flush_unique(session, "an invitation to this is pending already")
    uow.publish("volunteer_invited", _invitation_fact(invitation, actor.id), actor_id=actor.id)
    return _invitation_views(session, [invitation])[0]


def list_my_invitations(
    uow, actor_id: str, status: str | None = None, page: int = 1, per_page: int = 20
) -> dict:
    """The actor's invitations, pending first, newest first."""
    session = uow.session
    _actor(session, actor_id)
    query = select(VolunteerInvitation).where(VolunteerInvitation.volunteer_id == actor_id)
    if status is not None:
        query = query.where(VolunteerInvitation.status == status)
    query = query.order_by(
        VolunteerInvitation.status != "pending",
        VolunteerInvitation.created_at.desc(),
        VolunteerInvitation.id,
    )
    invitations, total = paginate(session, query, page, per_page)
    return {
        "items": _invitation_views(session, invitations),
        "total": total,
        "page": page,
        "per_page": per_page,
    }


def list_group_invitations(
    uow, actor_id: str, group_id: str, page: int = 1, per_page: int = 20
) -> dict:
    """What a group sent, with the answers, newest first: for its admins and staff."""
    session = uow.session
    actor = _actor(session, actor_id)
    group = session.get(Group, group_id)
    if group is None:
        raise NotFound("no such group")
    if not (actor.is_staff or _is_active_admin(session, group.id, actor.id)):
        raise Forbidden("only the group's admins see its invitations")
    query = (
        select(VolunteerInvitation)
        .where(VolunteerInvitation.group_id == group.id)
        .order_by(VolunteerInvitation.created_at.desc(), VolunteerInvitation.id)
    )
    invitations, total = paginate(session, query, page, per_page)
    return {
        "items": _invitation_views(session, invitations),
        "total": total,
        "page": page,
        "per_page": per_page,
    }


def answer_invitation(
    uow, actor_id: str, invitation_id: str, answer: str, now: datetime | None = None
) -> dict:
    """The volunteer accepts or declines (404 when it is not theirs, 409 when answered
    already). Accepting a group's invitation makes them a member at once (an active
    member of an open or closed group alike: the group asked)."""
    session = uow.session
    actor = _actor(session, actor_id)
    now = now or utcnow()
    invitation = session.execute(
        select(VolunteerInvitation)
        .where(VolunteerInvitation.id == invitation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if invitation is None or invitation.volunteer_id != actor.id:
        raise NotFound("no such invitation")
    if invitation.status != "pending":
        raise Conflict(f"the invitation was {invitation.status} already")
    # The conditional UPDATE decides between two answers at once: only one changes it.
    changed = session.execute(
        update(VolunteerInvitation)
        .where(VolunteerInvitation.id == invitation.id, VolunteerInvitation.status == "pending")
        .values(status=answer, answered_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise Conflict("the invitation was answered already")
    invitation.status, invitation.answered_at = answer, now
    if answer == "accepted" and invitation.target_type == "group":
        group = session.get(Group, invitation.group_id)
        membership = session.get(Membership, (group.id, actor.id))
        if membership is None:
            session.add(
                Membership(
                    group_id=group.id,
                    account_id=actor.id,
                    role="member",
                    status="active",
                    created_at=now,
                )
            )
            flush_unique(session, "already a member of this group")
            _publish_membership(uow, "member_joined", group.id, actor.id, actor.id, role="member")
        elif membership.status != "active":
            membership.status = "active"
            _publish_membership(
                uow, "member_joined", group.id, actor.id, actor.id, role=membership.role
            )
    uow.publish(
        "volunteer_invitation_answered",
        {**_invitation_fact(invitation, invitation.invited_by or actor.id), "answer": answer},
        actor_id=actor.id,
    )
    return _invitation_views(session, [invitation])[0]


# --- personal data ----------------------------------------------------------------------


def export_account(session, account_id: str) -> dict:
    """The volunteer profile and the invitations received and sent, as exported."""
    profile = session.get(VolunteerProfile, account_id)
    received = (
        session.execute(
            select(VolunteerInvitation)
            .where(VolunteerInvitation.volunteer_id == account_id)
            .order_by(VolunteerInvitation.created_at)
        )
        .scalars()
        .all()
    )
    sent = (
        session.execute(
            select(VolunteerInvitation)
            .where(VolunteerInvitation.invited_by == account_id)
            .order_by(VolunteerInvitation.created_at)
        )
        .scalars()
        .all()
    )

    def exported(invitation: VolunteerInvitation, with_volunteer: bool) -> dict:
        row = {
            "id": invitation.id,
            "group_id": invitation.group_id,
            "target_type": invitation.target_type,
            "target_id": invitation.target_id,
            "target_title": invitation.target_title,
            "role_id": invitation.role_id,
            "message": invitation.message,
            "status": invitation.status,
            "created_at": iso(invitation.created_at),
            "answered_at": iso(invitation.answered_at),
        }
        if with_volunteer:
            row["volunteer_id"] = invitation.volunteer_id
        return row

    view = None
    if profile is not None:
        view = {
            key: iso(value) if isinstance(value, datetime) else value
            for key, value in profile_view(session, profile).items()
        }
    return {
        "volunteer_profile": view,
        "volunteer_invitations_received": [exported(i, False) for i in received],
        "volunteer_invitations_sent": [exported(i, True) for i in sent],
    }


def erase_account(uow, account_id: str) -> None:
    """Delete the profile and the invitations the account received; the ones it sent
    stay (they are its group's) without its id."""
    session = uow.session
    _remove_profile(uow, account_id, account_id)
    session.execute(
        delete(VolunteerInvitation).where(VolunteerInvitation.volunteer_id == account_id)
    )
    session.execute(
        update(VolunteerInvitation)
        .where(VolunteerInvitation.invited_by == account_id)
        .values(invited_by=None)
        .execution_options(synchronize_session=False)
    )
