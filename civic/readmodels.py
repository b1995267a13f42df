"""Read models of the groups service's facts, kept by the services that need them.

Proposals, events and openings decide who administers a group (and show names) from
their own copies of accounts, groups and memberships, built from groups' events, so they
keep working while groups is down. Each keeps its own tables (its database is its own);
`GroupFacts` applies the facts to them, the same way everywhere.

Every event type travels on its own queue, so facts may arrive out of order: a
membership row remembers when the fact it holds happened and an older fact never
overwrites a newer one; a verification may come before its group; an erasure may come
before a late join. Idempotence per envelope is the inbox's job.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update

from civic.messaging import event_handler


class GroupFacts:
    """Applies groups' facts to a service's `account`, `group` and `membership` models
    (declarative classes of that service; `account` may be None where names are not
    needed, and `verified` is kept only where the group model has that column)."""

    def __init__(self, *, group, membership, account=None):
        self.account = account
        self.group = group
        self.membership = membership

    # --- accounts -------------------------------------------------------------------

    def account_registered(self, session, account_id: str, display_name: str) -> None:
        if self.account is None:
            return
        account = session.get(self.account, account_id)
        if account is None:
            session.add(self.account(account_id=account_id, display_name=display_name,
                                     erased=False))
        elif not account.erased:  # an erasure that overtook its registration stays
            account.display_name = display_name

    def account_erased(self, session, account_id: str) -> None:
        membership = self.membership
        if self.account is None:
            # With no record of the erasure, keep the rows (inactive): a late, older
            # member_joined then cannot bring the account back as an admin.
            session.execute(update(membership).where(membership.account_id == account_id)
                            .values(active=False).execution_options(synchronize_session=False))
            return
        account = session.get(self.account, account_id)
        if account is None:
            session.add(self.account(account_id=account_id, display_name=None, erased=True))
        else:
            account.display_name, account.erased = None, True
        # An erased account administers nothing (groups also sends member_left for each).
        session.execute(delete(membership).where(membership.account_id == account_id))

    # --- groups ---------------------------------------------------------------------

    def group_created(self, session, group_id: str, name: str, kind: str) -> None:
        group = session.get(self.group, group_id)
        if group is None:
            session.add(self.group(group_id=group_id, name=name, kind=kind))
        else:  # its verification came first: keep it
            group.name, group.kind = name, kind

    def group_verified(self, session, group_id: str) -> None:
        if not hasattr(self.group, "verified"):
            return
        group = session.get(self.group, group_id)
        if group is None:
            session.add(self.group(group_id=group_id, name=None, kind=None, verified=True))
        else:
            group.verified = True

    # --- memberships ----------------------------------------------------------------

    def member_joined(self, session, group_id: str, account_id: str, role: str,
                      occurred_at: datetime) -> None:
        if self.account is not None:
            account = session.get(self.account, account_id)
            if account is not None and account.erased:
                return  # a join that arrives after the erasure (it was retried) is stale
        self._membership(session, group_id, account_id, occurred_at, active=True, role=role)

    def member_left(self, session, group_id: str, account_id: str,
                    occurred_at: datetime) -> None:
        self._membership(session, group_id, account_id, occurred_at, active=False)

    def admin_appointed(self, session, group_id: str, account_id: str,
                        occurred_at: datetime) -> None:
        """The account is an active admin of the group from then on (a handover or
        staff's appointment); like a join, it is stale after the account's erasure."""
        self.member_joined(session, group_id, account_id, "admin", occurred_at)

    def _membership(self, session, group_id, account_id, occurred_at, *, active, role=None):
        row = session.get(self.membership, (group_id, account_id))
        if row is None:
            session.add(self.membership(group_id=group_id, account_id=account_id,
                                        role=role or "member", active=active,
                                        as_of=occurred_at))
            return
        if row.as_of > occurred_at:
            return  # a newer fact about this membership is already here
        row.active, row.as_of = active, occurred_at
        if role is not None:
            row.role = role


class KeepsGroupFacts:
    """Service mixin: keeps the service's `group_facts` (a GroupFacts) up to date from
    groups' events. Erasure stays with each service, which has more to erase."""

    group_facts: GroupFacts

    @event_handler("groups", "account_registered")
    def on_account_registered(self, envelope):
        self.group_facts.account_registered(self.db.session, envelope.data["account_id"],
                                            envelope.data["display_name"])

    @event_handler("groups", "group_created")
    def on_group_created(self, envelope):
        data = envelope.data
        self.group_facts.group_created(self.db.session, data["group_id"], data["name"],
                                       data["kind"])

    @event_handler("groups", "group_verified")
    def on_group_verified(self, envelope):
        self.group_facts.group_verified(self.db.session, envelope.data["group_id"])

    @event_handler("groups", "member_joined")
    def on_member_joined(self, envelope):
        data = envelope.data
        self.group_facts.member_joined(self.db.session, data["group_id"], data["account_id"],
                                       data["role"], envelope.occurred_at)

    @event_handler("groups", "member_left")
    def on_member_left(self, envelope):
        data = envelope.data
        self.group_facts.member_left(self.db.session, data["group_id"], data["account_id"],
                                     envelope.occurred_at)

    @event_handler("groups", "admin_appointed")
    def on_admin_appointed(self, envelope):
        data = envelope.data
        self.group_facts.admin_appointed(self.db.session, data["group_id"],
                                         data["account_id"], envelope.occurred_at)
