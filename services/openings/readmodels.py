"""What the openings service knows of accounts, groups and memberships.

Built only from the groups service's events (see service.py's handlers), so openings
decides who may post for a business, and whether staff verified it, without a call to
groups: it keeps working while groups is down. Each `apply_*` function takes a session
inside the handler's transaction; being idempotent per envelope is the inbox's job, but
the functions also tolerate facts arriving out of order (each event type has its own
queue, so a group's verification may overtake its creation).
"""
from __future__ import annotations

from sqlalchemy import select

from civic.readmodels import GroupFacts
from services.openings.models import KnownAccount, KnownGroup, KnownMembership

BUSINESS = "business"

FACTS = GroupFacts(account=KnownAccount, group=KnownGroup, membership=KnownMembership)


# --- asking ------------------------------------------------------------------------------

def group(session, group_id: str) -> KnownGroup | None:
    return session.get(KnownGroup, group_id)


def group_names(session, group_ids) -> dict[str, str | None]:
    wanted = {group_id for group_id in group_ids if group_id}
    if not wanted:
        return {}
    return dict(session.execute(select(KnownGroup.group_id, KnownGroup.name)
                                .where(KnownGroup.group_id.in_(wanted))).all())


def is_group_admin(session, group_id: str, account_id: str | None) -> bool:
    if not account_id:
        return False
    row = session.get(KnownMembership, (group_id, account_id))
    return row is not None and row.active and row.role == "admin"


def administered(session, account_id: str | None, group_ids) -> set[str]:
    """Which of these groups the account administers."""
    wanted = {group_id for group_id in group_ids if group_id}
    if not account_id or not wanted:
        return set()
    return set(session.execute(
        select(KnownMembership.group_id)
        .where(KnownMembership.account_id == account_id,
               KnownMembership.group_id.in_(wanted),
               KnownMembership.role == "admin", KnownMembership.active.is_(True))
    ).scalars())


def admin_ids(session, group_id: str) -> list[str]:
    return list(session.execute(
        select(KnownMembership.account_id)
        .where(KnownMembership.group_id == group_id, KnownMembership.role == "admin",
               KnownMembership.active.is_(True))
        .order_by(KnownMembership.as_of, KnownMembership.account_id)).scalars())


def display_names(session, account_ids) -> dict[str, str | None]:
    """Display names of known accounts (None once erased)."""
    wanted = {account_id for account_id in account_ids if account_id}
    if not wanted:
        return {}
    return dict(session.execute(select(KnownAccount.account_id, KnownAccount.display_name)
                                .where(KnownAccount.account_id.in_(wanted))).all())
