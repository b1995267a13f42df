"""The groups service's tables: accounts, sessions, groups, memberships, network links.

Accounts are never deleted: erasure replaces the personal data with a tombstone, so the
ids other services keep (authors, organisers) still point at something.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from civic.contracts import GROUP_KINDS, MEMBER_ROLES
from civic.db import UTCDateTime, kernel_tables, one_of, service_metadata
from services.groups.api import LOCALES

metadata = service_metadata()
outbox, inbox = kernel_tables(metadata)

STATUSES = ("active", "pending")


class Base(DeclarativeBase):
    metadata = metadata


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint(one_of("locale", LOCALES), name="locale"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    # Null once erased (and for nobody else: every account signs in with a password).
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    display_name: Mapped[str] = mapped_column(String(100))
    locale: Mapped[str] = mapped_column(String(5))
    is_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # When the owner followed the emailed confirmation link (null: not yet confirmed).
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SessionToken(Base):
    """A signed-in session; only the SHA-256 of the bearer token is kept."""

    __tablename__ = "session_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Group(Base):
    __tablename__ = "groups"
    __table_args__ = (
        CheckConstraint(one_of("kind", GROUP_KINDS), name="kind"),
        Index("ix_groups_kind_name_key", "kind", "name_key"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # The name folded to lower case: two groups may not differ only in case.
    name_key: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text, default="")
    open: Mapped[bool] = mapped_column(Boolean)
    verified: Mapped[bool] = mapped_column(Boolean)
    created_by: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when the group lost its last member (no admin can be handed over): staff
    # appoint one. Cleared when an admin is appointed.
    needs_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # When staff refused to verify the organisation, and why (its admins are told: the
    # group leaves the list waiting for verification). Verifying it later clears both.
    verification_refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    verification_refusal: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The last version stamped on a fact about one of its memberships (member_joined,
    # member_left, admin_appointed carry it as membership_version, for read models that
    # must not trust arrival order). One counter per group, so a membership's versions
    # keep going up after it is deleted and made again (leaving, joining again), and
    # bumping it locks the group row: changes of its memberships are versioned in the
    # order they commit.
    membership_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Membership(Base):
    """An active membership, or a pending request to join a closed group."""

    __tablename__ = "memberships"
    __table_args__ = (
        CheckConstraint(one_of("role", MEMBER_ROLES), name="role"),
        CheckConstraint(one_of("status", STATUSES), name="status"),
    )

    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id"), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NetworkLink(Base):
    """A group belonging to a network (a group of kind `network`)."""

    __tablename__ = "network_links"

    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id"), primary_key=True)
    network_id: Mapped[str] = mapped_column(ForeignKey("groups.id"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
