"""The notifications service's tables.

What it owns: follows, preferences (with muted kinds), the in-app inbox, the email
queue and the staff activity feed. What it keeps from other services' events (read
models, never asked for synchronously): accounts' locales, groups' names and kinds,
memberships, event registrations, volunteers' interests, and the things one can follow.

An inbox row is small on purpose: the words of a message (in Swedish and English) are
written once per source event and rule in `messages`, and each recipient's row points
at them, so telling 10,000 members is 10,000 narrow rows inserted in bulk.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from civic.db import UTCDateTime, kernel_tables, one_of, service_metadata
from services.notifications.api import EMAIL_MODES, LOCALES, TARGET_TYPES

metadata = service_metadata()
outbox, inbox = kernel_tables(metadata)

DEFAULT_EMAIL_MODE = "daily"
FOLLOW_SOURCES = ("auto", "manual")
EMAIL_KINDS = ("notification", "digest", "confirmation")
# `sending`: handed to the SMTP server, not yet confirmed (a crash leaves it so)
EMAIL_STATUSES = ("queued", "sending", "sent", "failed")
DIGEST_PENDING = "pending"


class Base(DeclarativeBase):
    metadata = metadata


# --- read models, built from other services' events -----------------------------------


class Account(Base):
    """An account this service has heard of (account_registered): only its locale."""

    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint(one_of("locale", LOCALES), name="locale"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    locale: Mapped[str] = mapped_column(String(5))


class ErasedAccount(Base):
    """An erased account's id, and nothing else: events about it that arrive after its
    erasure (other queues, retries) are recorded without it and change no read model."""

    __tablename__ = "erased_accounts"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class Group(Base):
    __tablename__ = "groups"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))


class Membership(Base):
    __tablename__ = "memberships"

    group_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(10))


class Registration(Base):
    """A confirmed or waitlisted place at an event."""

    __tablename__ = "registrations"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    status: Mapped[str] = mapped_column(String(12))


# What a FactVersion is the version of.
FACT_SUBJECTS = ("membership", "registration", "volunteer")
# A volunteer profile's FactVersion.scope_id: an account has one profile.
VOLUNTEER_PROFILE = "profile"


class FactVersion(Base):
    """The last fact applied about one membership (`scope_id` the group), registration
    (`scope_id` the event) or volunteer profile (`scope_id` VOLUNTEER_PROFILE), kept
    after the membership, place or profile ends (its rows go): a fact is applied only
    when newer (civic.readmodels.supersedes), so a join that arrives after the leave, a
    waiting-list place after the promotion, or a profile saved before its removal,
    changes nothing. `version` is the producer's (null for events from before versions), `as_of`
    the fact's time."""

    __tablename__ = "fact_versions"
    __table_args__ = (CheckConstraint(one_of("subject", FACT_SUBJECTS), name="subject"),)

    subject: Mapped[str] = mapped_column(String(12), primary_key=True)
    scope_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)


class VolunteerInterest(Base):
    """From volunteer_profile_saved / volunteer_profile_removed (groups): a proposal
    category an account's volunteer profile says it is interested in (whoever may
    contact it: interest-based news is the resident's own choice; they can mute the
    kind). The newest profile fact wins (FactVersion, subject `volunteer`); an erased
    account's rows go, and its tombstone keeps a late profile from coming back."""

    __tablename__ = "volunteer_interests"
    __table_args__ = (Index("ix_volunteer_interests_category", "category"),)

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    category: Mapped[str] = mapped_column(String(40), primary_key=True)


class Target(Base):
    """Something one can follow, as its events made it known."""

    __tablename__ = "targets"
    __table_args__ = (CheckConstraint(one_of("type", TARGET_TYPES), name="type"),)

    type: Mapped[str] = mapped_column(String(12), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))


# --- what this service owns -----------------------------------------------------------


class Follow(Base):
    __tablename__ = "follows"
    __table_args__ = (
        CheckConstraint(one_of("target_type", TARGET_TYPES), name="target_type"),
        CheckConstraint(one_of("source", FOLLOW_SOURCES), name="source"),
        Index("ix_follows_target", "target_type", "target_id"),
    )

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    target_type: Mapped[str] = mapped_column(String(12), primary_key=True)
    target_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(6))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Preference(Base):
    """An account's email choice; an account without a row has the defaults."""

    __tablename__ = "preferences"
    __table_args__ = (CheckConstraint(one_of("email_mode", EMAIL_MODES), name="email_mode"),)

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    email_mode: Mapped[str] = mapped_column(String(10))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MutedKind(Base):
    """A kind of notification the account does not want at all (inbox nor email)."""

    __tablename__ = "muted_kinds"
    __table_args__ = (Index("ix_muted_kinds_kind", "kind"),)

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(60), primary_key=True)


class Message(Base):
    """The words of one rule applied to one event, in every locale."""

    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), index=True)
    event_type: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(60))
    title_sv: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str] = mapped_column(Text)
    body_sv: Mapped[str] = mapped_column(Text)
    body_en: Mapped[str] = mapped_column(Text)
    link: Mapped[str] = mapped_column(String(300))
    target_type: Mapped[str] = mapped_column(String(12))
    target_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Notification(Base):
    """One recipient's inbox entry: at most one per (source event, recipient)."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("event_id", "account_id", name="uq_notifications_event_account"),
        Index("ix_notifications_account_created", "account_id", "created_at"),
        Index("ix_notifications_account_read", "account_id", "read_at"),
        Index("ix_notifications_digest_account", "digest", "account_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36))
    account_id: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), index=True)
    kind: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # "pending" while it waits for the account's next daily or weekly digest.
    digest: Mapped[str | None] = mapped_column(String(8), nullable=True)


class Email(Base):
    """An email to send: the timer sends what is due, retrying with backoff.

    A sender claims a row by writing its own `lease_owner` token and a lease (in
    `next_attempt_at`); it changes only rows that still carry its token. `resent_at` is
    when a row found `sending` after a crash was handed over again (once at most).
    The Message-ID comes from `id`, so every copy of an email has the same one."""

    __tablename__ = "emails"
    __table_args__ = (
        CheckConstraint(one_of("kind", EMAIL_KINDS), name="kind"),
        CheckConstraint(one_of("status", EMAIL_STATUSES), name="status"),
        CheckConstraint(one_of("locale", LOCALES), name="locale"),
        Index("ix_emails_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    locale: Mapped[str] = mapped_column(String(5))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(36), nullable=True)
    resent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # What caused it (the event's correlation id); a digest's own for a digest.
    correlation_id: Mapped[str | None] = mapped_column(String(100), nullable=True)


class Activity(Base):
    """The staff audit feed: one row per domain event, never changed but for erasure,
    which takes the account's id out of it (actor, account subject)."""

    __tablename__ = "activity"
    __table_args__ = (
        Index("ix_activity_type_occurred", "type", "occurred_at"),
        Index("ix_activity_subject", "subject_type", "subject_id"),
        # The staff feed filtered by one request (and the trace's link back to it).
        Index("ix_activity_correlation_id", "correlation_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the envelope id
    type: Mapped[str] = mapped_column(String(100))
    producer: Mapped[str] = mapped_column(String(50))
    actor_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    correlation_id: Mapped[str] = mapped_column(String(100))
    subject_type: Mapped[str | None] = mapped_column(String(20), nullable=True)
    subject_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    summary: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- open data (issue 13): anonymised public datasets, built from events ----------------
# Public facts only: no account ids, names, emails, contact lines or texts residents
# wrote beyond a title. Each row keeps the time of the last fact applied to each of its
# parts (`*_as_of`), so a reordered or repeated event changes nothing (opendata.py).

OPEN_DATASETS = ("proposals", "events", "projects", "openings")
OPEN_VISIBILITIES = ("shown", "hidden", "removed")


class OpenDataset(Base):
    """When each open dataset last changed (its `dct:modified`)."""

    __tablename__ = "open_datasets"
    __table_args__ = (CheckConstraint(one_of("name", OPEN_DATASETS), name="name"),)

    name: Mapped[str] = mapped_column(String(12), primary_key=True)
    modified: Mapped[datetime] = mapped_column(UTCDateTime)


class OpenProposal(Base):
    """A proposal as the public may know it. Published once its submission is known
    and while `visibility` is shown (hidden by reports or removed by staff: left out)."""

    __tablename__ = "open_proposals"
    __table_args__ = (CheckConstraint(one_of("visibility", OPEN_VISIBILITIES), name="visibility"),)

    proposal_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(100), nullable=True)
    channel: Mapped[str | None] = mapped_column(String(20), nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    status_as_of: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    assigned_group_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    assigned_group_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    assigned_as_of: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    support_count: Mapped[int] = mapped_column(Integer, default=0)
    support_as_of: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    merged_into_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    visibility: Mapped[str] = mapped_column(String(8))
    visibility_as_of: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OpenEvent(Base):
    """An event (a meeting, a clean-up day…) as the public may know it; published once
    its scheduling is known."""

    __tablename__ = "open_events"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str | None] = mapped_column(String(20), nullable=True)
    organiser_group_id: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    location: Mapped[str | None] = mapped_column(Text, nullable=True)
    capacity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    proposal_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    project_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    details_as_of: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # scheduled, completed or cancelled (a cancellation is final)
    status: Mapped[str] = mapped_column(String(10))
    attendance_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OpenProject(Base):
    """A joint project as the public may know it; published once its registration is
    known. `partner_group_ids`: the partners' group ids, sorted, space-separated."""

    __tablename__ = "open_projects"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    lead_group_id: Mapped[str] = mapped_column(String(64))
    partner_group_ids: Mapped[str] = mapped_column(Text, default="")
    origin_proposal_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(10))
    status_as_of: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OpenOpening(Base):
    """An opening for returnees as the public may know it (no contact: events do not
    carry it); published once its posting is known. Closed and expired are final."""

    __tablename__ = "open_openings"

    opening_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    business_group_id: Mapped[str] = mapped_column(String(64))
    business_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    sector: Mapped[str | None] = mapped_column(String(20), nullable=True)
    employment_type: Mapped[str | None] = mapped_column(String(20), nullable=True)
    apply_by: Mapped[str | None] = mapped_column(String(10), nullable=True)  # ISO date
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(10))  # open, closed or expired
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
