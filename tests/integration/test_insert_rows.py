"""`civic.db.insert_rows` (COPY on PostgreSQL, INSERTs elsewhere) and `new_ids`, on the
suite's database: every kind of value comes back as it went in — text with tabs, new
lines, backslashes and quotes, NULLs, aware times — in the caller's transaction."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from civic import migrations
from civic.db import ServiceDatabase, insert_rows, new_ids
from services.notifications import email
from services.notifications.models import Email, metadata

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
AWKWARD = [
    "plain",
    "tab\there",
    "two\nlines\r\nand a return",
    "back\\slash \\N \\t",
    "quotes ' \" and ”svenska” åäö",
    "",
]


@pytest.fixture
def db(civic_settings):
    migrations.upgrade("notifications")
    database = ServiceDatabase("notifications", metadata)
    yield database
    database.dispose()


def test_new_ids_are_distinct_version_4_uuids():
    ids = new_ids(5000)
    assert len(set(ids)) == 5000 and new_ids(0) == []
    for made in ids[:200]:
        parsed = uuid.UUID(made)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == made
    assert all(
        re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", i)
        for i in ids
    )


def test_every_value_comes_back_as_it_went_in(db):
    rows = email.queue_rows(
        [
            {
                "account_id": f"account-{n}",
                "kind": "notification",
                "locale": "sv",
                "subject": text[:200] or "x",
                "body": text,
            }
            for n, text in enumerate(AWKWARD)
        ],
        NOW,
        correlation_id=None,
    )
    rows[0]["sent_at"] = NOW + timedelta(microseconds=123456)
    with db.unit_of_work() as uow:
        insert_rows(uow.session, Email.__table__, rows, chunk=2)
    with db.sessions() as session:
        stored = {
            found.id: found
            for found in session.execute(select(Email).where(Email.id.in_([r["id"] for r in rows])))
            .scalars()
            .all()
        }
    assert len(stored) == len(rows)
    for row in rows:
        found = stored[row["id"]]
        assert found.body == row["body"] and found.subject == row["subject"]
        assert found.correlation_id is None and found.last_error is None
        assert found.created_at == NOW
    assert stored[rows[0]["id"]].sent_at == NOW + timedelta(microseconds=123456)


def test_a_rolled_back_transaction_keeps_none_of_them(db):
    rows = email.queue_rows(
        [{"account_id": "a", "kind": "notification", "locale": "en", "subject": "s", "body": "b"}],
        NOW,
    )
    with pytest.raises(RuntimeError):
        with db.unit_of_work() as uow:
            insert_rows(uow.session, Email.__table__, rows)
            raise RuntimeError("refused after the rows")
    with db.sessions() as session:
        assert session.execute(select(Email).where(Email.id == rows[0]["id"])).first() is None


def test_an_unknown_column_is_refused(db):
    with db.unit_of_work() as uow:
        if uow.session.connection().dialect.name != "postgresql":
            pytest.skip("SQLAlchemy's INSERT refuses it in its own words")
        with pytest.raises(ValueError):
            insert_rows(uow.session, Email.__table__, [{"id": "x", "colour": "red"}])
