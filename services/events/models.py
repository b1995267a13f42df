"""The events service's tables: events, registrations, check-ins, and the read models of
groups and memberships built from the groups service's events.

Times are stored in UTC (`UTCDateTime`); the counts a reader sees (confirmed places,
waiting list) are counted from the registrations, never kept twice. The attendance
count is kept on the event, so erasing an attendee's check-in leaves history intact.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from civic.contracts import EVENT_KINDS, REGISTRATION_STATUSES
from civic.db import UTCDateTime, kernel_tables, one_of, service_metadata
from civic.readmodels import declare_group_facts
from services.events.api import EVENT_STATUSES

# How an account came to fill a volunteer role.
OFFER_SOURCES = ("offer", "invitation")

metadata = service_metadata()
outbox, inbox = kernel_tables(metadata)


class Base(DeclarativeBase):
    metadata = metadata


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint(one_of("kind", EVENT_KINDS), name="kind"),
        CheckConstraint(one_of("status", EVENT_STATUSES), name="status"),
        CheckConstraint("capacity IS NULL OR capacity >= 1", name="capacity"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("attendance_count >= 0", name="attendance_count"),
        Index("ix_events_status_starts_at", "status", "starts_at"),
        Index("ix_events_group_starts_at", "organiser_group_id", "starts_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(150))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    location: Mapped[str] = mapped_column(String(200))
    # For hybrid events: where to join online.
    online_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # None: no limit on places.
    capacity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    organiser_group_id: Mapped[str] = mapped_column(String(64))
    proposal_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    project_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    cancel_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attendance_count: Mapped[int] = mapped_column(Integer, default=0)
    agenda: Mapped[str | None] = mapped_column(Text, nullable=True)
    agenda_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    minutes: Mapped[str | None] = mapped_column(Text, nullable=True)
    minutes_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Set by the one instance that claims the 24-hour reminder; cleared when the start
    # moves, so the new time is reminded of too.
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # iCalendar's SEQUENCE: goes up with every change calendar clients must notice.
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    # The last version stamped on a fact about one of its registrations (registration_*
    # and waitlist_promoted carry it as registration_version, for read models that must
    # not trust arrival order). One counter per event, bumped while the event row is
    # locked (every change of a registration locks it), so a registration's versions
    # keep going up after it is given up and made again.
    registration_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Null once the creating account is erased.
    created_by: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Registration(Base):
    """One account's place at an event: confirmed, or waitlisted at `position` (1 is
    next in line). Positions are kept contiguous while the event row is locked."""

    __tablename__ = "registrations"
    __table_args__ = (
        CheckConstraint(one_of("status", REGISTRATION_STATUSES), name="status"),
        CheckConstraint(
            "(status = 'waitlisted') = (position IS NOT NULL)", name="position_iff_waitlisted"
        ),
        Index("ix_registrations_event_status_position", "event_id", "status", "position"),
    )

    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    status: Mapped[str] = mapped_column(String(20))
    position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CheckIn(Base):
    """An attendee the organiser checked in."""

    __tablename__ = "checkins"

    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime)
    checked_in_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


# --- read models, from the groups service's events -------------------------------------
# Groups (for their names) and memberships (who administers them); no accounts.

group_facts = declare_group_facts(Base, with_accounts=False)
KnownGroup, KnownMembership = group_facts.known_group, group_facts.known_membership


# --- volunteer roles (roles.py) ------------------------------------------------------------


class EventRole(Base):
    """A volunteer role of an event ("2 förare"): how many are `needed`; offers fill it."""

    __tablename__ = "event_roles"
    __table_args__ = (
        CheckConstraint("needed >= 1", name="needed"),
        Index("ix_event_roles_event_position", "event_id", "position"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"))
    name: Mapped[str] = mapped_column(String(60))
    needed: Mapped[int] = mapped_column(Integer)
    # The order the organiser listed the roles in.
    position: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RoleOffer(Base):
    """An account's place in a volunteer role: it offered, or accepted an invitation
    with the role (`source`). Offers change only while the event's row is locked, so a
    role never gets more than it needs."""

    __tablename__ = "role_offers"
    __table_args__ = (
        CheckConstraint(one_of("source", OFFER_SOURCES), name="source"),
        Index("ix_role_offers_event", "event_id"),
    )

    role_id: Mapped[str] = mapped_column(ForeignKey("event_roles.id"), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"))
    source: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
