"""Databases, the unit of work, and the outbox and inbox tables every service has.

Each service owns one database: a SQLite file under `var/` by default, or a schema of
its own in PostgreSQL (`CIVIC_DATABASE_URL`). The `Database` dependency gives every
worker a `UnitOfWork`; `with self.db as uow:` opens a transaction that commits when the
block ends cleanly, inside the entrypoint, so it is committed before nameko acks the
message. Events written with `uow.publish` go into the outbox in that same transaction
and are published after the commit: the outbox table, that write and the relay are
civic.outbox's; this module calls into it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from nameko.extensions import DependencyProvider
from sqlalchemy import Column, MetaData, String, Table, create_engine, event, func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool
from sqlalchemy.schema import CreateSchema, DropSchema

from civic import config as civic_config

# utcnow and UTCDateTime are also for the services: models and migrations name
# `civic.db.UTCDateTime`, domain code `civic.db.utcnow` (both defined once, elsewhere).
from civic.clock import utcnow
from civic.commands import commands_table
from civic.contracts import Envelope, new_envelope
from civic.errors import Conflict
from civic.log import get_logger
from civic.outbox import OutboxRelay, outbox_table, store_event
from civic.sqltypes import UTCDateTime

log = get_logger(__name__)


def new_id() -> str:
    return str(uuid.uuid4())


# Named constraints: alembic's batch mode (SQLite) can only alter what has a name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata() -> MetaData:
    """A service's MetaData, with the constraint names every migration relies on."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def one_of(column: str, values) -> str:
    """A CHECK constraint's text: `column IN ('a', 'b')`.

    The values are the code's own constants (kinds, statuses), never input."""
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def flush_unique(session: Session, message: str) -> None:
    """Flush; a unique constraint that trips (a concurrent twin got there first) is a
    Conflict. The transaction is then unusable and the caller's `with` rolls it back."""
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(message) from None


def paginate(session: Session, query, page: int, per_page: int) -> tuple[list, int]:
    """One page of `query`'s rows (scalars) and the total count."""
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.offset((page - 1) * per_page).limit(per_page)).scalars()
    return list(rows), total


def kernel_tables(metadata: MetaData) -> tuple[Table, Table]:
    """The outbox (civic.outbox's), inbox and command record (civic.commands') tables,
    added to a service's own metadata."""
    inbox = Table(
        "inbox",
        metadata,
        Column("message_id", String(36), primary_key=True),
        Column("handler", String(200), primary_key=True),
        Column("handled_at", UTCDateTime, nullable=False),
    )
    commands_table(metadata)  # metadata.tables["commands"]: see civic.commands
    return outbox_table(metadata), inbox


def schema_name(service: str) -> str:
    return f"{civic_config.get('CIVIC_SCHEMA_PREFIX', '')}{service}"


def database_url(service: str) -> str:
    databases = civic_config.get("CIVIC_DATABASES") or {}
    try:
        return databases[service]
    except KeyError:
        raise civic_config.ConfigError(f"no database configured for {service!r}") from None


def make_engine(url: str, schema: str | None = None) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # One connection per process: a second green thread waits (cooperatively) in the
        # pool instead of blocking the whole hub inside SQLite's busy handler.
        engine = create_engine(
            url,
            poolclass=QueuePool,
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
            connect_args={"check_same_thread": False, "timeout": 30},
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    connect_args = {"options": f"-csearch_path={schema}"} if schema else {}
    return create_engine(
        url, pool_size=5, max_overflow=10, pool_pre_ping=True, connect_args=connect_args
    )


def ensure_schema(url: str, schema: str) -> None:
    if url.startswith("sqlite"):
        return
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(CreateSchema(_safe_ident(schema), if_not_exists=True))
    finally:
        engine.dispose()


def drop_schema(url: str, schema: str) -> None:
    if url.startswith("sqlite"):
        return
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(DropSchema(_safe_ident(schema), cascade=True, if_exists=True))
    finally:
        engine.dispose()


def _safe_ident(name: str) -> str:
    # Schema names come from configuration: only plain names are accepted.
    if not name.replace("_", "").isalnum() or len(name) > 63:
        raise civic_config.ConfigError(f"not a usable schema name: {name!r}")
    return name


class ServiceDatabase:
    """One service's engine, sessions, outbox and inbox: usable with or without nameko."""

    def __init__(
        self, service: str, metadata: MetaData, url: str | None = None, amqp_uri: str | None = None
    ):
        self.service = service
        self.metadata = metadata
        self.url = url or database_url(service)
        self.schema = None if self.url.startswith("sqlite") else schema_name(service)
        self.engine = make_engine(self.url, self.schema)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.outbox = metadata.tables["outbox"]
        self.inbox = metadata.tables["inbox"]
        self.relay = OutboxRelay(self, amqp_uri or civic_config.get("AMQP_URI"))

    def unit_of_work(self, context_data: dict | None = None) -> UnitOfWork:
        return UnitOfWork(self, context_data or {})

    def create_all(self) -> None:
        """Tables straight from the models: for tests; `civic migrate` runs alembic."""
        ensure_schema(self.url, self.schema) if self.schema else None
        self.metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.relay.close()
        self.engine.dispose()


class UnitOfWork:
    """One transaction: `with uow:` commits on a clean exit and rolls back on an error.

    Re-entrant: nested `with` blocks share the outer transaction. After the outermost
    commit, the events it wrote are handed to the outbox relay to publish now.
    """

    def __init__(self, database: ServiceDatabase, context_data: dict):
        self.database = database
        self.context_data = context_data
        self.session: Session | None = None
        self._depth = 0
        self._written: list[str] = []

    def __enter__(self) -> UnitOfWork:
        if self._depth == 0:
            self.session = self.database.sessions()
            self._written = []
        self._depth += 1
        return self

    def __exit__(self, exc_type, exc, tb):
        self._depth -= 1
        if self._depth:
            return False
        session, self.session = self.session, None
        try:
            if exc_type is None:
                session.commit()
            else:
                session.rollback()
        finally:
            session.close()
        if exc_type is None and self._written:
            self.database.relay.publish_now(self._written)
        return False

    def _require_session(self) -> Session:
        if self.session is None:
            raise RuntimeError("use the unit of work inside `with self.db:`")
        return self.session

    def publish(
        self,
        event_type: str,
        data: dict,
        actor_id: str | None = None,
        occurred_at: datetime | None = None,
    ) -> Envelope:
        """Write an event to the outbox, in this transaction. `occurred_at` is the
        caller's clock (a domain function's injected `now`); the wall clock if not given."""
        session = self._require_session()
        envelope = new_envelope(
            event_type,
            data,
            producer=self.database.service,
            correlation_id=self.context_data.get("correlation_id"),
            actor_id=actor_id if actor_id is not None else self.context_data.get("actor_id"),
            occurred_at=occurred_at,
        )
        store_event(session, self.database.outbox, envelope)
        self._written.append(envelope.id)
        return envelope

    def claim_message(self, message_id: str, handler: str) -> bool:
        """Record that `handler` handles `message_id`; False if it already did.

        The row is written in the handler's own transaction, so the record and the
        effect commit together or not at all.
        """
        session = self._require_session()
        inbox = self.database.inbox
        seen = session.execute(
            select(inbox.c.message_id).where(
                inbox.c.message_id == message_id, inbox.c.handler == handler
            )
        ).first()
        if seen:
            return False
        # A concurrent duplicate fails on the primary key at insert or commit; its
        # handler then raises, is retried, and finds the record on the next attempt.
        session.execute(
            insert(inbox).values(message_id=message_id, handler=handler, handled_at=utcnow())
        )
        return True


class Database(DependencyProvider):
    """nameko dependency: `self.db` is a UnitOfWork bound to the current worker."""

    def __init__(self, metadata: MetaData):
        self.metadata = metadata
        self.database: ServiceDatabase | None = None

    def setup(self):
        self.database = ServiceDatabase(self.container.service_name, self.metadata)

    def start(self):
        self.container.spawn_managed_thread(
            self.database.relay.run_forever, identifier="outbox_relay"
        )

    def stop(self):
        self.database.relay.stop()
        self.database.dispose()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx) -> UnitOfWork:
        return self.database.unit_of_work(worker_ctx.context_data)
