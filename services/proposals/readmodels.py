"""What the proposals service knows of accounts, groups and memberships.

Built only from the groups service's events (see service.py's handlers), so proposals
reads names and decides who administers a group without a call to groups: it keeps
working while groups is down. Each `apply_*` function takes a session inside the
handler's transaction; being idempotent per envelope is the inbox's job, but the
functions also tolerate facts arriving out of order (different queues).
"""
from __future__ import annotations

from sqlalchemy import select

from civic.readmodels import GroupFacts
from services.proposals.models import KnownAccount, KnownGroup, KnownMembership

FORMER_RESIDENT = "former resident"

FACTS = GroupFacts(account=KnownAccount, group=KnownGroup, membership=KnownMembership)


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


def author_names(session, account_ids) -> dict[str | None, str | None]:
    """The names to show beside what these accounts wrote: the display name, "former
    resident" once erased (and for None: erasure took the author's id off what they
    wrote), None while the account is not known here yet."""
    names: dict[str | None, str | None] = {None: FORMER_RESIDENT}
    wanted = {account_id for account_id in account_ids if account_id}
    if not wanted:
        return names
    rows = session.execute(select(KnownAccount.account_id, KnownAccount.display_name,
                                  KnownAccount.erased)
                           .where(KnownAccount.account_id.in_(wanted))).all()
    names.update((account_id, FORMER_RESIDENT if erased else display_name)
                 for account_id, display_name, erased in rows)
    return names
