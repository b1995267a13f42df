"""The openings service's tables: openings, returnee profiles, expressions of interest,
the matches already announced, and the read models built from the groups service's
events.

The read models (`known_*`) are this service's own copy of what it needs to know about
accounts, groups and memberships (names, which businesses staff verified, who
administers them), kept up to date from groups' events, so it authorises and answers
without asking the groups service anything.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from civic.contracts import EMPLOYMENT_TYPES, OPENING_STATUSES, SECTORS
from civic.db import UTCDateTime, kernel_tables, one_of, service_metadata
from civic.readmodels import declare_group_facts

metadata = service_metadata()
outbox, inbox = kernel_tables(metadata)


class Base(DeclarativeBase):
    metadata = metadata


# --- openings ------------------------------------------------------------------------------


class Opening(Base):
    __tablename__ = "openings"
    __table_args__ = (
        CheckConstraint(one_of("status", OPENING_STATUSES), name="status"),
        CheckConstraint(one_of("sector", SECTORS), name="sector"),
        CheckConstraint(one_of("employment_type", EMPLOYMENT_TYPES), name="employment_type"),
        CheckConstraint(
            "salary_min IS NULL OR salary_max IS NULL OR salary_min <= salary_max",
            name="salary_range",
        ),
        # The public list (open ones, newest first) and the expiry timer's search.
        Index("ix_openings_status_created", "status", "created_at"),
        Index("ix_openings_status_expires", "status", "expires_at"),
        Index("ix_openings_group_created", "business_group_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    business_group_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(150))
    description: Mapped[str] = mapped_column(Text)
    sector: Mapped[str] = mapped_column(String(20))
    employment_type: Mapped[str] = mapped_column(String(20))
    # Where the work is; may be left out for remote work.
    location: Mapped[str | None] = mapped_column(String(200), nullable=True)
    remote: Mapped[bool] = mapped_column(Boolean, default=False)
    # The town's calendar dates (no time of day, no zone).
    apply_by: Mapped[date] = mapped_column(Date)
    start_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    # Kronor a month, before tax.
    salary_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    salary_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    contact: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(10))
    # The end of the apply-by day in the town's time zone, in UTC: the timer expires
    # what is still open after it.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The admin who posted it; null once that account is erased (the opening stays: it
    # is the business's).
    created_by: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When it stopped being open (closed by an admin, or expired).
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Interest(Base):
    """A resident's expression of interest in an opening; one per resident and opening."""

    __tablename__ = "interests"
    __table_args__ = (
        UniqueConstraint("opening_id", "account_id", name="uq_interests_opening_account"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    opening_id: Mapped[str] = mapped_column(ForeignKey("openings.id"))
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OpeningMatch(Base):
    """A returnee already told about an opening: a changed profile does not tell them
    again."""

    __tablename__ = "opening_matches"

    opening_id: Mapped[str] = mapped_column(ForeignKey("openings.id"), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- returnee profiles ---------------------------------------------------------------------


class ReturneeProfile(Base):
    """What a returnee is looking for; one per account."""

    __tablename__ = "returnee_profiles"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    available_from: Mapped[date] = mapped_column(Date)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProfileSector(Base):
    """One sector of a profile: a row each, so "every profile in this sector" is an
    index lookup."""

    __tablename__ = "returnee_profile_sectors"
    __table_args__ = (
        CheckConstraint(one_of("sector", SECTORS), name="sector"),
        Index("ix_returnee_profile_sectors_sector", "sector", "account_id"),
    )

    account_id: Mapped[str] = mapped_column(
        ForeignKey("returnee_profiles.account_id"), primary_key=True
    )
    sector: Mapped[str] = mapped_column(String(20), primary_key=True)


class ProfileEmploymentType(Base):
    __tablename__ = "returnee_profile_employment_types"
    __table_args__ = (
        CheckConstraint(one_of("employment_type", EMPLOYMENT_TYPES), name="employment_type"),
    )

    account_id: Mapped[str] = mapped_column(
        ForeignKey("returnee_profiles.account_id"), primary_key=True
    )
    employment_type: Mapped[str] = mapped_column(String(20), primary_key=True)


# --- read models, from the groups service's events ---------------------------------------
# Accounts (names), groups with their verification, and memberships (who administers).

group_facts = declare_group_facts(Base, with_accounts=True, with_verified=True)
KnownAccount = group_facts.known_account
KnownGroup = group_facts.known_group
KnownMembership = group_facts.known_membership
