"""The consultations service's tables: consultations with their questions, responses
with their answers, and who took part.

Anonymity is in the shape of the tables. A participation row (one per account and
consultation, its primary key: what makes "one answer per account" hold under
concurrency) has no time and no link to a response; a response of an anonymous
consultation has no account and no time either, and its id is random, so nothing orders
responses the way a log orders requests. A response of a non-anonymous consultation
keeps its account (for the resident's export and erasure) and when it came.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from civic.contracts import CONSULTATION_CHANNELS, CONSULTATION_STATUSES
from civic.db import UTCDateTime, kernel_tables, one_of, service_metadata

metadata = service_metadata()
outbox, inbox = kernel_tables(metadata)

QUESTION_KINDS = ("single", "multiple", "scale", "text", "ranking")
TEXT_STATUSES = ("pending", "approved", "hidden")
# Participations, responses and answers are stored in the order of their keys, not of
# their arrival: on SQLite a table's rowid would otherwise pair the n-th participation
# (or the n-th answerer, whom an event's `answer_count` and the logs name) with the n-th
# response. (PostgreSQL keeps no such number; see the README's design notes on
# what anonymity here does not cover.)
UNORDERED = {"sqlite_with_rowid": False}


class Base(DeclarativeBase):
    metadata = metadata


class Consultation(Base):
    __tablename__ = "consultations"
    __table_args__ = (
        CheckConstraint(one_of("status", CONSULTATION_STATUSES), name="status"),
        CheckConstraint("opens_at < closes_at", name="window"),
        CheckConstraint("answer_count >= 0", name="answer_count"),
        # The public list, and the timer's two searches.
        Index("ix_consultations_status_opens", "status", "opens_at"),
        Index("ix_consultations_status_closes", "status", "closes_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    intro: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    anonymous: Mapped[bool] = mapped_column(Boolean)
    # A list of proposal categories (civic.contracts.CONSULTATION_CATEGORIES).
    categories: Mapped[list] = mapped_column(JSON)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answer_count: Mapped[int] = mapped_column(Integer, default=0)
    # The staff member who created it; null once that account is erased.
    created_by: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    results_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Question(Base):
    __tablename__ = "consultation_questions"
    __table_args__ = (
        CheckConstraint(one_of("kind", QUESTION_KINDS), name="kind"),
        Index("ix_consultation_questions_position", "consultation_id", "position", unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    consultation_id: Mapped[str] = mapped_column(ForeignKey("consultations.id"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))
    prompt: Mapped[str] = mapped_column(String(500))
    # The options of a single, multiple or ranking question (a list of strings), else [].
    options: Mapped[list] = mapped_column(JSON)
    required: Mapped[bool] = mapped_column(Boolean)


class Response(Base):
    """One person's answers to a consultation. `account_id` only for an online answer
    to a non-anonymous consultation (never for staff entries, never when anonymous);
    `submitted_at` likewise."""

    __tablename__ = "consultation_responses"
    __table_args__ = (
        CheckConstraint(one_of("channel", CONSULTATION_CHANNELS), name="channel"),
        UNORDERED,
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    consultation_id: Mapped[str] = mapped_column(ForeignKey("consultations.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    account_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Answer(Base):
    """The answer to one question in a response: `value` (JSON) for the closed kinds,
    `text` with its moderation status for a free text."""

    __tablename__ = "consultation_answers"
    __table_args__ = (
        CheckConstraint(
            "text_status IS NULL OR " + one_of("text_status", TEXT_STATUSES), name="text_status"
        ),
        Index("ix_consultation_answers_response", "response_id", "question_id", unique=True),
        Index("ix_consultation_answers_question_status", "question_id", "text_status"),
        UNORDERED,
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    response_id: Mapped[str] = mapped_column(ForeignKey("consultation_responses.id"))
    question_id: Mapped[str] = mapped_column(ForeignKey("consultation_questions.id"))
    value: Mapped[object | None] = mapped_column(JSON, nullable=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    text_status: Mapped[str | None] = mapped_column(String(10), nullable=True)


class Participation(Base):
    """An account answered this consultation online: the whole row. No time, no
    response: it says only that they took part, which is what keeps them to one answer."""

    __tablename__ = "consultation_participations"
    __table_args__ = (UNORDERED,)

    consultation_id: Mapped[str] = mapped_column(ForeignKey("consultations.id"), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
