"""The proposals service's tables: proposals with their supports, comments, reports and
history, joint projects, and the read models built from the groups service's events.

The read models (`known_*`) are this service's own copies of what it needs to know about
accounts, groups and memberships, kept up to date from groups' events, so it answers and
authorises without asking the groups service anything.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from civic.contracts import PROJECT_STATUSES, PROPOSAL_STATUSES
from civic.db import UTCDateTime, kernel_tables, one_of, service_metadata
from civic.readmodels import declare_group_facts
from services.proposals.api import CATEGORIES, CHANNELS

metadata = service_metadata()
outbox, inbox = kernel_tables(metadata)


class Base(DeclarativeBase):
    metadata = metadata


# --- proposals ---------------------------------------------------------------------------


class Proposal(Base):
    __tablename__ = "proposals"
    __table_args__ = (
        CheckConstraint(one_of("status", PROPOSAL_STATUSES), name="status"),
        CheckConstraint(one_of("category", CATEGORIES), name="category"),
        CheckConstraint(one_of("channel", CHANNELS), name="channel"),
        CheckConstraint("support_count >= 0", name="support_count"),
        Index("ix_proposals_listed_created", "hidden", "merged_into_id", "created_at"),
        Index("ix_proposals_listed_supports", "hidden", "merged_into_id", "support_count"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # Short, unique and easy to read out (api.REFERENCE_ALPHABET), e.g. JKM-7F3K2: on a
    # drop-in visitor's receipt, and typed back to find the proposal.
    reference: Mapped[str] = mapped_column(String(20), unique=True, index=True)
    title: Mapped[str] = mapped_column(String(150))
    body: Mapped[str] = mapped_column(Text)
    # Title and body case-folded, for a case-insensitive search that also folds å, ä, ö
    # (SQLite's own lower() and LIKE fold ASCII only).
    search_text: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    # The account that filed it: the resident, or the staff member who filed a visitor's
    # drop-in or town-hall proposal. Null once that account is erased: the proposal
    # stays, shown as a former resident's, with nothing that ties it to the rest.
    author_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    channel: Mapped[str] = mapped_column(String(20))
    # How staff can reach the visitor of a drop-in or town-hall proposal; staff only.
    contact: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # The visitor's name (drop-in, town hall); staff only, like the contact line.
    visitor_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    location_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    location_lat: Mapped[float | None] = mapped_column(Double, nullable=True)
    location_lon: Mapped[float | None] = mapped_column(Double, nullable=True)
    # Kept equal to the number of its support rows, changed only by atomic increments
    # while the proposal row is locked.
    support_count: Mapped[int] = mapped_column(Integer, default=0)
    report_count: Mapped[int] = mapped_column(Integer, default=0)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Why staff last hid, restored or removed it (staff only; events carry no texts).
    moderation_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    moderated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    merged_into_id: Mapped[str | None] = mapped_column(ForeignKey("proposals.id"), nullable=True)
    assigned_group_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    answer_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    answered_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProposalStep(Base):
    """One step of a proposal's history (its submission included)."""

    __tablename__ = "proposal_steps"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    proposal_id: Mapped[str] = mapped_column(ForeignKey("proposals.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_status: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # null: erased
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class Support(Base):
    """One account's support. The unique pair makes a second support a Conflict even when
    two arrive at once; an erased account's support stays, counted, with no account."""

    __tablename__ = "supports"
    __table_args__ = (
        UniqueConstraint("proposal_id", "account_id", name="uq_supports_proposal_account"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    proposal_id: Mapped[str] = mapped_column(ForeignKey("proposals.id"), index=True)
    account_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Comment(Base):
    """A comment; it stays when its author is erased, with no author (null). Reported
    like a proposal: reports from enough accounts, or staff, hide it until staff show it
    again; a hidden comment is shown to staff only."""

    __tablename__ = "comments"
    __table_args__ = (CheckConstraint("report_count >= 0", name="report_count"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    proposal_id: Mapped[str] = mapped_column(ForeignKey("proposals.id"), index=True)
    author_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Kept equal to the number of its report rows, moved by atomic increments while the
    # proposal's row is locked (as a proposal's own count).
    report_count: Mapped[int] = mapped_column(Integer, default=0, index=True)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    # Why staff last hid or restored it (staff only; events carry no texts).
    moderation_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    moderated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Report(Base):
    """A report for review. Reports are deleted when staff restore the proposal (they
    were dealt with); an erased account's report stays, with no reporter."""

    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("proposal_id", "reporter_id", name="uq_reports_proposal_reporter"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    proposal_id: Mapped[str] = mapped_column(ForeignKey("proposals.id"), index=True)
    reporter_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CommentReport(Base):
    """A report of a comment, as a proposal's Report: one per account, deleted when staff
    show the comment again; an erased account's report stays, with no reporter."""

    __tablename__ = "comment_reports"
    __table_args__ = (
        UniqueConstraint("comment_id", "reporter_id", name="uq_comment_reports_comment_reporter"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    comment_id: Mapped[str] = mapped_column(ForeignKey("comments.id"), index=True)
    reporter_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- joint projects ----------------------------------------------------------------------


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (CheckConstraint(one_of("status", PROJECT_STATUSES), name="status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    title: Mapped[str] = mapped_column(String(150))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)
    lead_group_id: Mapped[str] = mapped_column(String(64), index=True)
    origin_proposal_id: Mapped[str | None] = mapped_column(
        ForeignKey("proposals.id"), nullable=True, index=True
    )
    created_by: Mapped[str | None] = mapped_column(String(64), nullable=True)  # null: erased
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProjectPartner(Base):
    __tablename__ = "project_partners"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    group_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProjectStep(Base):
    __tablename__ = "project_steps"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_status: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # null: erased
    at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- read models of the groups service's facts ------------------------------------------
# Accounts (names beside what they wrote), groups (of a known kind), and memberships
# (who administers a group).

group_facts = declare_group_facts(Base, with_accounts=True, kind_check=True)
KnownAccount = group_facts.known_account
KnownGroup = group_facts.known_group
KnownMembership = group_facts.known_membership
