"""Read models of the groups service's facts, kept by the services that need them.

Proposals, events and openings decide who administers a group (and show names) from
their own copies of accounts, groups and memberships, built from groups' events, so they
keep working while groups is down. Each keeps its own tables (its database is its own),
declared here by `declare_group_facts` on the service's declarative base, so the copies
cannot drift apart; `GroupFacts` applies the facts to them and answers the questions
asked of them, the same way everywhere.

Every event type travels on its own queue, so facts may arrive out of order (a leave
before its join, a handover before the join it follows). The groups service stamps each
fact about a membership with that membership's version (`membership_version`, going up
with every change of it, in the transaction that changes it), and a membership row
keeps the version of the fact it holds: a fact is applied only when its version is
newer (`supersedes`). Not the producer's clock: two groups instances whose clocks
disagree would otherwise lose a leave. Facts from before versions (no
`membership_version`) fall back to their time (`as_of`). A verification may come before
its group; an erasure may come before a late join, so erased accounts are remembered
(in `known_accounts`, or a tombstone table where names are not kept) and a fact about
one changes nothing. Idempotence per envelope is the inbox's job.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Integer, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from civic.contracts import GROUP_KINDS, MEMBER_ROLES
from civic.db import UTCDateTime, one_of
from civic.messaging import event_handler

ADMIN = "admin"


def supersedes(
    version: int | None,
    occurred_at: datetime,
    *,
    held_version: int | None,
    held_as_of: datetime | None,
) -> bool:
    """Whether a fact about an entity (a membership, a registration) replaces the one a
    read model holds: by the producer's per-entity versions when both have one (the
    same version again is the same fact: not newer), else by the facts' times, as before
    versions (a tie goes to the fact that arrives last); with nothing held, it does."""
    if version is not None and held_version is not None:
        return version > held_version
    return held_as_of is None or occurred_at >= held_as_of


def declare_group_facts(
    base, *, with_accounts: bool = True, with_verified: bool = False, kind_check: bool = False
) -> GroupFacts:
    """Declare the read-model tables on a service's declarative `base` and return the
    `GroupFacts` that keeps and asks them.

    `known_groups` and `known_memberships` always; `known_accounts` `with_accounts`
    (names beside what people wrote, and a record of erasures), else `erased_accounts`
    (the record of erasures alone: ids, no names); `known_groups.verified`
    `with_verified` (which groups staff verified); then a group's name and kind may be
    unknown (null) for a while, since its verification may overtake its creation.
    `kind_check` adds a CHECK that the kind is one of GROUP_KINDS. The options follow
    what each service's migrations built: its schema stays as it is.
    """

    known_account = None
    if with_accounts:

        class KnownAccount(base):
            """From account_registered / account_erased: the name shown beside what one
            wrote."""

            __tablename__ = "known_accounts"

            account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
            # None once erased.
            display_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
            erased: Mapped[bool] = mapped_column(Boolean, default=False)

        known_account = KnownAccount
        erased_account = None
    else:

        class ErasedAccount(base):
            """From account_erased: an erased account's id and nothing else, so a late
            fact about it (another queue, a retry) brings no membership back."""

            __tablename__ = "erased_accounts"

            account_id: Mapped[str] = mapped_column(String(64), primary_key=True)

        erased_account = ErasedAccount

    class KnownGroup(base):
        """From group_created (and group_verified): which groups exist, of what kind."""

        __tablename__ = "known_groups"
        __table_args__ = (
            (CheckConstraint(one_of("kind", GROUP_KINDS), name="kind"),) if kind_check else ()
        )

        group_id: Mapped[str] = mapped_column(String(64), primary_key=True)
        # Unknown (None) while only its verification has arrived.
        name: Mapped[str | None] = mapped_column(String(100), nullable=with_verified)
        kind: Mapped[str | None] = mapped_column(String(20), nullable=with_verified)
        if with_verified:
            verified: Mapped[bool] = mapped_column(Boolean, default=False)

    class KnownMembership(base):
        """From member_joined / member_left / admin_appointed: a membership as last
        heard of. `version` (the producer's membership version) keeps a late, older
        fact from undoing a newer one; `as_of` (the fact's time) does for facts from
        before versions."""

        __tablename__ = "known_memberships"
        __table_args__ = (CheckConstraint(one_of("role", MEMBER_ROLES), name="role"),)

        group_id: Mapped[str] = mapped_column(String(64), primary_key=True)
        account_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
        role: Mapped[str] = mapped_column(String(10))
        active: Mapped[bool] = mapped_column(Boolean)
        as_of: Mapped[datetime] = mapped_column(UTCDateTime)
        # Null while only facts from before versions were heard of.
        version: Mapped[int | None] = mapped_column(Integer, nullable=True)

    return GroupFacts(
        group=KnownGroup,
        membership=KnownMembership,
        account=known_account,
        erased=erased_account,
    )


class GroupFacts:
    """Applies groups' facts to a service's read models and answers from them.

    `known_account`, `known_group` and `known_membership` are the service's declarative
    classes (made by `declare_group_facts`); `known_account` is None where names are not
    needed (then `erased_account` records erasures), and `verified` is kept only where
    the group model has that column.
    """

    def __init__(self, *, group, membership, account=None, erased=None):
        self.known_account = account
        self.known_group = group
        self.known_membership = membership
        self.erased_account = erased

    # --- asking ---------------------------------------------------------------------

    def group(self, session, group_id: str):
        """The known group, or None (unknown, or not heard of yet)."""
        return session.get(self.known_group, group_id)

    def group_names(self, session, group_ids) -> dict[str, str | None]:
        """The names of the known groups among `group_ids` (None ones are skipped)."""
        wanted = {group_id for group_id in group_ids if group_id}
        if not wanted:
            return {}
        group = self.known_group
        return dict(
            session.execute(
                select(group.group_id, group.name).where(group.group_id.in_(wanted))
            ).all()
        )

    def is_group_admin(self, session, group_id: str, account_id: str | None) -> bool:
        """Whether the account is an active admin of the group (never for no account)."""
        if not account_id:
            return False
        row = session.get(self.known_membership, (group_id, account_id))
        return row is not None and row.active and row.role == ADMIN

    def administered(self, session, account_id: str | None, group_ids) -> set[str]:
        """Which of these groups the account administers."""
        wanted = {group_id for group_id in group_ids if group_id}
        if not account_id or not wanted:
            return set()
        membership = self.known_membership
        return set(
            session.execute(
                select(membership.group_id).where(
                    membership.account_id == account_id,
                    membership.group_id.in_(wanted),
                    membership.role == ADMIN,
                    membership.active.is_(True),
                )
            ).scalars()
        )

    def admin_ids(self, session, group_id: str) -> list[str]:
        """The group's active admins, longest-standing first."""
        membership = self.known_membership
        return list(
            session.execute(
                select(membership.account_id)
                .where(
                    membership.group_id == group_id,
                    membership.role == ADMIN,
                    membership.active.is_(True),
                )
                .order_by(membership.as_of, membership.account_id)
            ).scalars()
        )

    def display_names(
        self, session, account_ids, erased_as: str | None = None
    ) -> dict[str, str | None]:
        """The names to show for the known accounts among `account_ids`: the display
        name, `erased_as` once erased; needs `known_account`."""
        wanted = {account_id for account_id in account_ids if account_id}
        if not wanted:
            return {}
        account = self.known_account
        rows = session.execute(
            select(account.account_id, account.display_name, account.erased).where(
                account.account_id.in_(wanted)
            )
        ).all()
        return {
            account_id: erased_as if erased else display_name
            for account_id, display_name, erased in rows
        }

    # --- accounts -------------------------------------------------------------------

    def account_registered(self, session, account_id: str, display_name: str) -> None:
        if self.known_account is None:
            return
        account = session.get(self.known_account, account_id)
        if account is None:
            session.add(
                self.known_account(account_id=account_id, display_name=display_name, erased=False)
            )
        elif not account.erased:  # an erasure that overtook its registration stays
            account.display_name = display_name

    def account_erased(self, session, account_id: str) -> None:
        if self.known_account is None:
            if session.get(self.erased_account, account_id) is None:
                session.add(self.erased_account(account_id=account_id))
        else:
            account = session.get(self.known_account, account_id)
            if account is None:
                session.add(
                    self.known_account(account_id=account_id, display_name=None, erased=True)
                )
            else:
                account.display_name, account.erased = None, True
        # An erased account administers nothing (groups also sends member_left for each);
        # the record of its erasure keeps a late fact from bringing a membership back.
        membership = self.known_membership
        session.execute(delete(membership).where(membership.account_id == account_id))

    def is_erased(self, session, account_id: str) -> bool:
        if self.known_account is None:
            return session.get(self.erased_account, account_id) is not None
        account = session.get(self.known_account, account_id)
        return account is not None and account.erased

    # --- groups ---------------------------------------------------------------------

    def group_created(self, session, group_id: str, name: str, kind: str) -> None:
        group = session.get(self.known_group, group_id)
        if group is None:
            session.add(self.known_group(group_id=group_id, name=name, kind=kind))
        else:  # its verification came first: keep it
            group.name, group.kind = name, kind

    def group_verified(self, session, group_id: str) -> None:
        if not hasattr(self.known_group, "verified"):
            return
        group = session.get(self.known_group, group_id)
        if group is None:
            session.add(self.known_group(group_id=group_id, name=None, kind=None, verified=True))
        else:
            group.verified = True

    # --- memberships ----------------------------------------------------------------

    # `version` is the fact's membership_version (None: from before versions).

    def member_joined(
        self,
        session,
        group_id: str,
        account_id: str,
        role: str,
        occurred_at: datetime,
        version: int | None = None,
    ) -> None:
        self._membership(
            session, group_id, account_id, occurred_at, version, active=True, role=role
        )

    def member_left(
        self,
        session,
        group_id: str,
        account_id: str,
        occurred_at: datetime,
        version: int | None = None,
    ) -> None:
        self._membership(session, group_id, account_id, occurred_at, version, active=False)

    def admin_appointed(
        self,
        session,
        group_id: str,
        account_id: str,
        occurred_at: datetime,
        version: int | None = None,
    ) -> None:
        """The account is an active admin of the group from then on (a handover or
        staff's appointment)."""
        self.member_joined(session, group_id, account_id, ADMIN, occurred_at, version)

    def _membership(
        self, session, group_id, account_id, occurred_at, version, *, active, role=None
    ):
        if self.is_erased(session, account_id):
            return  # a fact that arrives after the erasure (another queue, a retry) is stale
        # Locked: two handlers (instances, or workers of one) applying facts about the
        # same membership at once would each compare with the version they read, and
        # the later commit would win even with the older fact (a leave lost). The second
        # now waits for the first's commit and compares with what it wrote. (Two first
        # facts at once: one insert fails on the key, and its retry finds the row.)
        row = session.get(self.known_membership, (group_id, account_id), with_for_update=True)
        if row is None:
            session.add(
                self.known_membership(
                    group_id=group_id,
                    account_id=account_id,
                    role=role or "member",
                    active=active,
                    as_of=occurred_at,
                    version=version,
                )
            )
            return
        if not supersedes(version, occurred_at, held_version=row.version, held_as_of=row.as_of):
            return  # a newer fact about this membership is already here
        row.active, row.as_of = active, occurred_at
        if version is not None:
            row.version = version
        if role is not None:
            row.role = role


class KeepsGroupFacts:
    """Service mixin: keeps the service's `group_facts` (a GroupFacts) up to date from
    groups' events. Erasure stays with each service, which has more to erase."""

    group_facts: GroupFacts

    @event_handler("groups", "account_registered", name="on_account_registered")
    def on_account_registered(self, envelope, uow):
        self.group_facts.account_registered(
            uow.session, envelope.data["account_id"], envelope.data["display_name"]
        )

    @event_handler("groups", "group_created", name="on_group_created")
    def on_group_created(self, envelope, uow):
        data = envelope.data
        self.group_facts.group_created(uow.session, data["group_id"], data["name"], data["kind"])

    @event_handler("groups", "group_verified", name="on_group_verified")
    def on_group_verified(self, envelope, uow):
        self.group_facts.group_verified(uow.session, envelope.data["group_id"])

    @event_handler("groups", "member_joined", name="on_member_joined")
    def on_member_joined(self, envelope, uow):
        data = envelope.data
        self.group_facts.member_joined(
            uow.session,
            data["group_id"],
            data["account_id"],
            data["role"],
            envelope.occurred_at,
            data.get("membership_version"),
        )

    @event_handler("groups", "member_left", name="on_member_left")
    def on_member_left(self, envelope, uow):
        data = envelope.data
        self.group_facts.member_left(
            uow.session,
            data["group_id"],
            data["account_id"],
            envelope.occurred_at,
            data.get("membership_version"),
        )

    @event_handler("groups", "admin_appointed", name="on_admin_appointed")
    def on_admin_appointed(self, envelope, uow):
        data = envelope.data
        self.group_facts.admin_appointed(
            uow.session,
            data["group_id"],
            data["account_id"],
            envelope.occurred_at,
            data.get("membership_version"),
        )
