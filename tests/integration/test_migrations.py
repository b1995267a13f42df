"""Each service's alembic history builds exactly the tables its models describe."""

import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from civic.config import DOMAIN_SERVICES
from civic.db import ServiceDatabase


@pytest.mark.parametrize("service", DOMAIN_SERVICES)
def test_migrations_match_models(migrated, service):
    metadata = importlib.import_module(f"services.{service}.models").metadata
    database = ServiceDatabase(service, metadata)
    try:
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
    finally:
        database.dispose()
    assert differences == []
    assert {"outbox", "inbox"} <= set(metadata.tables)
