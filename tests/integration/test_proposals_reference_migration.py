"""Migration f13a00000002 gives every existing proposal a short reference of its own,
on SQLite and on PostgreSQL (CIVIC_TEST_DB=postgresql), then makes it required and
unique."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.exc import IntegrityError

from civic import migrations
from civic.db import UTCDateTime, ensure_schema, make_engine

BEFORE = "f12c00000002"
REFERENCE = re.compile(r"^JKM-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{5}$")

OLD_PROPOSALS = sa.table(
    "proposals",
    *(
        sa.column(name)
        for name in (
            "id",
            "title",
            "body",
            "search_text",
            "category",
            "status",
            "author_id",
            "channel",
            "support_count",
            "report_count",
            "hidden",
            "removed",
        )
    ),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)


def test_existing_proposals_get_unique_references(civic_settings):
    cfg = migrations.alembic_config("proposals")
    url, schema = cfg.attributes["civic_url"], cfg.attributes["civic_schema"]
    if schema:
        ensure_schema(url, schema)
    command.upgrade(cfg, BEFORE)
    engine = make_engine(url, schema)
    try:
        now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
        with engine.begin() as connection:
            connection.execute(
                OLD_PROPOSALS.insert(),
                [
                    {
                        "id": f"00000000-0000-0000-0000-00000000000{n}",
                        "title": f"Förslag {n}",
                        "body": "",
                        "search_text": f"förslag {n}",
                        "category": "other",
                        "status": "submitted",
                        "author_id": None,
                        "channel": "online",
                        "support_count": 0,
                        "report_count": 0,
                        "hidden": False,
                        "removed": False,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in range(1, 6)
                ],
            )
        command.upgrade(cfg, "head")
        with engine.begin() as connection:
            references = connection.execute(sa.text("SELECT reference FROM proposals")).scalars()
            references = list(references)
        assert len(references) == 5 and len(set(references)) == 5
        assert all(REFERENCE.match(reference) for reference in references), references
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(
                sa.text("UPDATE proposals SET reference = :taken"), {"taken": references[0]}
            )
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(sa.text("UPDATE proposals SET reference = NULL"))
    finally:
        engine.dispose()
