"""What the proposals service knows of accounts, groups and memberships.

Built only from the groups service's events (see service.py's handlers), so proposals
reads names and decides who administers a group without a call to groups: it keeps
working while groups is down. Each `apply_*` function takes a session inside the
handler's transaction; being idempotent per envelope is the inbox's job, but the
functions also tolerate facts arriving out of order (different queues).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from services.proposals.models import KnownAccount, KnownGroup, KnownMembership

FORMER_RESIDENT = "former resident"


# --- applying the groups service's facts ------------------------------------------------

def apply_account_registered(session, account_id: str, display_name: str) -> None:
    account = session.get(KnownAccount, account_id)
    if account is None:
        session.add(KnownAccount(account_id=account_id, display_name=display_name,
                                 erased=False))
    elif not account.erased:  # an erasure that overtook its registration stays
        account.display_name = display_name


def apply_account_erased(session, account_id: str) -> None:
    account = session.get(KnownAccount, account_id)
    if account is None:
        session.add(KnownAccount(account_id=account_id, display_name=None, erased=True))
    else:
        account.display_name = None
        account.erased = True
    # An erased account administers nothing (groups also sends member_left for each).
    session.execute(delete(KnownMembership).where(KnownMembership.account_id == account_id))


def apply_group_created(session, group_id: str, name: str, kind: str) -> None:
    group = session.get(KnownGroup, group_id)
    if group is None:
        session.add(KnownGroup(group_id=group_id, name=name, kind=kind))
    else:
        group.name, group.kind = name, kind


def _apply_membership(session, group_id: str, account_id: str, occurred_at: datetime,
                      *, active: bool, role: str | None = None) -> None:
    row = session.get(KnownMembership, (group_id, account_id))
    if row is None:
        session.add(KnownMembership(group_id=group_id, account_id=account_id,
                                    role=role or "member", active=active,
                                    as_of=occurred_at))
        return
    if row.as_of > occurred_at:
        return  # a newer fact about this membership is already here
    row.active, row.as_of = active, occurred_at
    if role is not None:
        row.role = role


def apply_member_joined(session, group_id: str, account_id: str, role: str,
                        occurred_at: datetime) -> None:
    account = session.get(KnownAccount, account_id)
    if account is not None and account.erased:
        return  # a join that arrives after the erasure (it was retried) is stale
    _apply_membership(session, group_id, account_id, occurred_at, active=True, role=role)


def apply_member_left(session, group_id: str, account_id: str,
                      occurred_at: datetime) -> None:
    _apply_membership(session, group_id, account_id, occurred_at, active=False)


# --- asking ------------------------------------------------------------------------------

def group(session, group_id: str) -> KnownGroup | None:
    return session.get(KnownGroup, group_id)


def group_names(session, group_ids) -> dict[str, str]:
    wanted = {group_id for group_id in group_ids if group_id}
    if not wanted:
        return {}
    return dict(session.execute(select(KnownGroup.group_id, KnownGroup.name)
                                .where(KnownGroup.group_id.in_(wanted))).all())


def is_group_admin(session, group_id: str, account_id: str) -> bool:
    row = session.get(KnownMembership, (group_id, account_id))
    return row is not None and row.active and row.role == "admin"


def author_names(session, account_ids) -> dict[str, str | None]:
    """The names to show beside what these accounts wrote: the display name, "former
    resident" once erased, None while the account is not known here yet."""
    wanted = {account_id for account_id in account_ids if account_id}
    if not wanted:
        return {}
    rows = session.execute(select(KnownAccount.account_id, KnownAccount.display_name,
                                  KnownAccount.erased)
                           .where(KnownAccount.account_id.in_(wanted))).all()
    return {account_id: (FORMER_RESIDENT if erased else display_name)
            for account_id, display_name, erased in rows}
