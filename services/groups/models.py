"""The groups service's tables: accounts, sessions, groups, memberships, network links,
and the attempts its rate limits count (failed sign-ins, registrations).

Accounts are never deleted: erasure replaces the personal data with a tombstone, so the
ids other services keep (authors, organisers) still point at something.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from civic.contracts import (
    GROUP_KINDS,
    INVITATION_TARGET_TYPES,
    MEMBER_ROLES,
    SKILL_KEY_MAX,
)
from civic.db import UTCDateTime, kernel_tables, one_of, service_metadata
from services.groups.api import LOCALES

metadata = service_metadata()
outbox, inbox = kernel_tables(metadata)

STATUSES = ("active", "pending")
# What an attempt was counted for (limits.py): a failed sign-in per address and account,
# per address and per account; a registration per address.
ATTEMPT_SCOPES = ("signin_pair", "signin_address", "signin_account", "signup_address")


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
    # The last version stamped on a fact about the account's volunteer profile
    # (volunteer_profile_saved/removed): it keeps going up when a profile is removed
    # and made again.
    volunteer_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


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


class Attempt(Base):
    """One counted attempt of a rate limit (limits.py), shared by every gateway: a
    failed sign-in (three rows, one per way it is counted) or a registration.

    `key` is an HMAC (CIVIC_SECRET_KEY) of what was counted, never the email or client
    address itself. A row matters for its limit's window only and is deleted after it.
    """

    __tablename__ = "attempts"
    __table_args__ = (
        CheckConstraint(one_of("scope", ATTEMPT_SCOPES), name="scope"),
        Index("ix_attempts_scope_key_at", "scope", "key", "at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    scope: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


# --- volunteers (volunteers.py) -------------------------------------------------------------

# What a volunteer profile's choice rows hold (one row per chosen value).
CHOICE_KINDS = ("skill", "availability", "season", "interest")
INVITATION_STATUSES = ("pending", "accepted", "declined")


class VolunteerSkill(Base):
    """A skill of the list staff keep; a retired one is offered no more (profiles that
    chose it keep it until they are saved again)."""

    __tablename__ = "volunteer_skills"

    key: Mapped[str] = mapped_column(String(SKILL_KEY_MAX), primary_key=True)
    name_sv: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class VolunteerProfile(Base):
    """A resident's offer of help; one per account."""

    __tablename__ = "volunteer_profiles"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    other_skills: Mapped[str] = mapped_column(Text, default="")
    contact_ok: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class VolunteerChoice(Base):
    """One chosen value of a profile (a skill key, an availability, a season, an
    interest): a row each, so a search by any of them is an index lookup."""

    __tablename__ = "volunteer_choices"
    __table_args__ = (
        CheckConstraint(one_of("kind", CHOICE_KINDS), name="kind"),
        Index("ix_volunteer_choices_kind_value", "kind", "value", "account_id"),
    )

    account_id: Mapped[str] = mapped_column(
        ForeignKey("volunteer_profiles.account_id"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[str] = mapped_column(String(SKILL_KEY_MAX), primary_key=True)


class VolunteerInvitation(Base):
    """An invitation of a volunteer to a group, an event or a joint project, from an
    admin of `group_id` (or staff). One pending invitation per volunteer, target and
    role (a partial unique index); answered ones stay for both sides to see."""

    __tablename__ = "volunteer_invitations"
    __table_args__ = (
        CheckConstraint(one_of("target_type", INVITATION_TARGET_TYPES), name="target_type"),
        CheckConstraint(one_of("status", INVITATION_STATUSES), name="status"),
        Index(
            "uq_volunteer_invitations_pending",
            "volunteer_id",
            "target_type",
            "target_id",
            "role_key",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_volunteer_invitations_volunteer", "volunteer_id", "created_at"),
        Index("ix_volunteer_invitations_group", "group_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    volunteer_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    # Null once the inviting account is erased (the invitation is the group's).
    invited_by: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id"))
    target_type: Mapped[str] = mapped_column(String(10))
    target_id: Mapped[str] = mapped_column(String(64))
    target_title: Mapped[str] = mapped_column(String(200))
    role_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # role_id, or "" without one: what the unique index compares (NULLs never collide).
    role_key: Mapped[str] = mapped_column(String(64), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
