"""Alembic, one migration history per service (each in its own database or schema)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from civic.config import ROOT
from civic.db import database_url, ensure_schema, make_engine, schema_name

VERSION_TABLE = "alembic_version"


def alembic_config(service: str, url: str | None = None) -> Config:
    url = url or database_url(service)
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "services" / service / "migrations"))
    cfg.attributes["civic_url"] = url
    cfg.attributes["civic_schema"] = None if url.startswith("sqlite") else schema_name(service)
    return cfg


def upgrade(service: str, url: str | None = None) -> None:
    cfg = alembic_config(service, url)
    if cfg.attributes["civic_schema"]:
        ensure_schema(cfg.attributes["civic_url"], cfg.attributes["civic_schema"])
    command.upgrade(cfg, "head")


def make_revision(service: str, message: str, url: str | None = None) -> None:
    """Autogenerate a revision from the service's models (developers only)."""
    upgrade(service, url)
    command.revision(alembic_config(service, url), message=message, autogenerate=True)


def run_env(metadata) -> None:
    """The body of every service's migrations/env.py."""
    from alembic import context

    cfg = context.config
    url, schema = cfg.attributes["civic_url"], cfg.attributes["civic_schema"]
    engine = make_engine(url, schema)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=metadata,
                version_table=VERSION_TABLE,
                render_as_batch=url.startswith("sqlite"),
                compare_type=True,
                # The kernel's column types (civic.sqltypes) are written
                # as `civic.db.<Type>`, which every migration imports.
                user_module_prefix="civic.db.",
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


def upgrade_kernel_faults() -> None:
    """The kernel tables' second version, the same in every service (called from each
    service's migration `kernel: command records, outbox claims and parking`): the
    outbox's claim and parking columns, the command records (civic.commands) and the
    counted starts of suspect deliveries (civic.messaging)."""
    import sqlalchemy as sa
    from alembic import op

    from civic.sqltypes import UTCDateTime

    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_until", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("parked_at", UTCDateTime(timezone=True), nullable=True))
        batch.create_index(batch.f("ix_outbox_parked_at"), ["parked_at"], unique=False)
    op.create_table(
        "commands",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=100), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_commands")),
    )
    with op.batch_alter_table("commands") as batch:
        batch.create_index(batch.f("ix_commands_created_at"), ["created_at"], unique=False)
    op.create_table(
        "deliveries",
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("handler", sa.String(length=200), nullable=False),
        sa.Column("started", sa.Integer(), nullable=False),
        sa.Column("last_started_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", "handler", name=op.f("pk_deliveries")),
    )


def downgrade_kernel_faults() -> None:
    from alembic import op

    op.drop_table("deliveries")
    with op.batch_alter_table("commands") as batch:
        batch.drop_index(batch.f("ix_commands_created_at"))
    op.drop_table("commands")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index(batch.f("ix_outbox_parked_at"))
        batch.drop_column("parked_at")
        batch.drop_column("claimed_until")
