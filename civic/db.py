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

import functools
import io
import os
import sqlite3
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import eventlet
from nameko.extensions import DependencyProvider
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    tuple_,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool
from sqlalchemy.schema import CreateSchema, DropSchema

from civic import config as civic_config
from civic import green, prebuilt

# utcnow and UTCDateTime are also for the services: models and migrations name
# `civic.db.UTCDateTime`, domain code `civic.db.utcnow` (both defined once, elsewhere).
from civic.clock import utcnow
from civic.commands import commands_table
from civic.contracts import Envelope, new_envelope
from civic.errors import Conflict
from civic.log import get_logger
from civic.outbox import Claimed, OutboxRelay, outbox_table, store_event
from civic.sqltypes import UTCDateTime

log = get_logger(__name__)


def new_id() -> str:
    return str(uuid.uuid4())


def new_ids(count: int) -> list[str]:
    """`count` random (version 4) UUIDs as new_id() makes them, from one read of the
    system's randomness and without a UUID object each: a fan-out to 10,000 members
    makes 10,000 ids (issue 14: uuid4() was 6% of its time)."""
    raw = os.urandom(16 * count).hex()
    ids = []
    for start in range(0, 32 * count, 32):
        h = raw[start : start + 32]
        variant = "89ab"[int(h[16], 16) & 3]
        ids.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}")
    return ids


def insert_rows(session: Session, table: Table, rows: list[dict], chunk: int = 1000) -> None:
    """Insert many rows of one table, in the session's transaction. On PostgreSQL with
    `COPY … FROM STDIN` (text format, every value escaped, the column names quoted as
    identifiers): a fan-out's inbox rows go in faster than a plain bulk INSERT of the
    same rows (issue 14, goal 5); elsewhere in INSERTs of `chunk` rows."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        for start in range(0, len(rows), chunk):
            session.execute(insert(table), rows[start : start + chunk])
        return
    from psycopg2 import sql

    columns = list(rows[0])
    unknown = set(columns) - set(table.c.keys())
    if unknown:
        raise ValueError(f"{table.name} has no column {sorted(unknown)}")
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(_copy_text(row[column]) for column in columns))
        buffer.write("\n")
    buffer.seek(0)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    from psycopg2 import extensions

    cursor = connection.connection.dbapi_connection.cursor()
    # psycopg2 refuses COPY while a wait callback makes it cooperative (civic.green):
    # the COPY runs without one, blocking the process for its few milliseconds — no
    # other green thread can run meanwhile, so none finds the callback missing.
    waiting = extensions.get_wait_callback()
    extensions.set_wait_callback(None)
    try:
        cursor.copy_expert(statement, buffer)
    finally:
        extensions.set_wait_callback(waiting)
        cursor.close()


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value) -> str:
    """One value in COPY's text format: \\N for NULL; backslash, tab, newline and carriage
    return escaped; times as ISO 8601 with their offset (aware UTC, as UTCDateTime)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Civic stores aware UTC times only")
        return value.astimezone(UTC).isoformat()
    return str(value).translate(_COPY_ESCAPES)


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


def paginate(
    session: Session, query, page: int, per_page: int, values: dict | None = None
) -> tuple[list, int]:
    """One page of `query`'s rows (scalars) and the total count.

    One query: each row of the page carries the count of all rows (a window function,
    `count(*) OVER ()`), where a separate count query cost every list a second round
    through SQLAlchemy and the database (issue 14). A page past the end has no row to
    carry it: only then is the total counted on its own. (A DISTINCT query would count
    its rows before they are made distinct: it is counted on its own too.)

    `query` may be a `civic.prebuilt.Paged` built once, with its bind parameters'
    `values`: its page is the table's rows as they are (the count column after them),
    not scalars, and no statement is built or keyed per call."""
    start = (page - 1) * per_page
    if isinstance(query, prebuilt.Paged):
        values = values or {}
        rows = session.execute(
            query.page, {**values, "page_offset": start, "page_limit": per_page}
        ).all()
        if rows:
            return rows, rows[0][-1]
        return [], (session.execute(query.total, values).scalar_one() if page > 1 else 0)

    def counted_apart() -> int:
        return session.execute(select(func.count()).select_from(query.subquery())).scalar_one()

    if query._distinct:
        rows = session.execute(query.offset(start).limit(per_page)).scalars()
        return list(rows), counted_apart()
    window = query.add_columns(func.count().over())
    rows = session.execute(window.offset(start).limit(per_page)).all()
    if rows:
        return [row[0] for row in rows], rows[0][-1]
    return [], (counted_apart() if page > 1 else 0)


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
    # How often a redelivered message's handler started while it ran alone (see
    # civic.messaging.SuspectIsolation): committed before it runs, so it survives the
    # death of the process it may have killed.
    Table(
        "deliveries",
        metadata,
        Column("message_id", String(36), primary_key=True),
        Column("handler", String(200), primary_key=True),
        Column("started", Integer, nullable=False),
        Column("last_started_at", UTCDateTime, nullable=False),
    )
    return outbox_table(metadata), inbox


def schema_name(service: str) -> str:
    return f"{civic_config.get('CIVIC_SCHEMA_PREFIX', '')}{service}"


def database_url(service: str) -> str:
    databases = civic_config.get("CIVIC_DATABASES") or {}
    try:
        return databases[service]
    except KeyError:
        raise civic_config.ConfigError(f"no database configured for {service!r}") from None


# SQLite's own wait for another process's lock, in milliseconds. It blocks the whole
# process (the hub stalls inside sqlite3's busy handler), so it is kept short and the
# rest of the wait (CIVIC_SQLITE_BUSY_WAIT) is spent in eventlet.sleep between tries.
SQLITE_BUSY_TIMEOUT_MS = 50
SQLITE_RETRY_PAUSE_MAX = 0.2


def _sqlite_busy(exc: BaseException) -> bool:
    """Another connection holds the lock (worth waiting for). Not SQLITE_BUSY_SNAPSHOT:
    a read transaction that fell behind a writer never succeeds by waiting."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    name = getattr(exc, "sqlite_errorname", None)
    if name is not None:
        return name == "SQLITE_BUSY"
    return "database is locked" in str(exc)


def _retry_while_busy(call):
    """Run `call` again while SQLite is busy, sleeping cooperatively between tries (the
    other green threads run meanwhile), for at most CIVIC_SQLITE_BUSY_WAIT seconds."""
    deadline = time.monotonic() + float(civic_config.get("CIVIC_SQLITE_BUSY_WAIT", 30.0))
    pause = 0.005
    while True:
        try:
            return call()
        except sqlite3.OperationalError as exc:
            if not _sqlite_busy(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)  # green under eventlet's monkey patching
        pause = min(pause * 2, SQLITE_RETRY_PAUSE_MAX)


def _sqlite_engine(url: str) -> Engine:
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
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _):
        cursor = dbapi_connection.cursor()
        _retry_while_busy(lambda: cursor.execute("PRAGMA journal_mode=WAL"))
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_MS)}")
        cursor.close()

    # Every statement (and the BEGIN sqlite3 issues before a write) waits out another
    # process's lock cooperatively.
    @event.listens_for(engine, "do_execute")
    def _execute(cursor, statement, parameters, context):
        _retry_while_busy(lambda: cursor.execute(statement, parameters))
        return True

    @event.listens_for(engine, "do_execute_no_params")
    def _execute_no_params(cursor, statement, context):
        _retry_while_busy(lambda: cursor.execute(statement))
        return True

    @event.listens_for(engine, "do_executemany")
    def _executemany(cursor, statement, parameters, context):
        _retry_while_busy(lambda: cursor.executemany(statement, parameters))
        return True

    return engine


def make_engine(url: str, schema: str | None = None) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    green.cooperative_postgresql()
    connect_args = {"options": f"-csearch_path={schema}"} if schema else {}
    # Connections per process: pool + overflow. Budget: services x instances x
    # (CIVIC_DB_POOL_SIZE + CIVIC_DB_MAX_OVERFLOW) must stay under max_connections.
    return create_engine(
        url,
        pool_size=int(civic_config.get("CIVIC_DB_POOL_SIZE", 5)),
        max_overflow=int(civic_config.get("CIVIC_DB_MAX_OVERFLOW", 10)),
        pool_timeout=float(civic_config.get("CIVIC_DB_POOL_TIMEOUT", 30.0)),
        pool_pre_ping=True,
        connect_args=connect_args,
    )


def ensure_schema(url: str, schema: str) -> None:
    if url.startswith("sqlite"):
        return
    green.cooperative_postgresql()
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(CreateSchema(_safe_ident(schema), if_not_exists=True))
    finally:
        engine.dispose()


def drop_schema(url: str, schema: str) -> None:
    if url.startswith("sqlite"):
        return
    green.cooperative_postgresql()
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


@functools.cache
def consumed_event_types() -> frozenset[str]:
    """Every event type some handler in the services' topology consumes: the relay lets
    an unroutable event of any other type go. Computed once per process."""
    from civic import topology

    return frozenset(subscription.event_type for subscription in topology.subscriptions())


# Rows deleted per transaction when pruning: short transactions, no long locks.
PRUNE_BATCH = 1000


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
        self.relay = OutboxRelay(
            self, amqp_uri or civic_config.get("AMQP_URI"), consumed_types=consumed_event_types
        )

    def unit_of_work(self, context_data: dict | None = None) -> UnitOfWork:
        return UnitOfWork(self, context_data or {})

    def create_all(self) -> None:
        """Tables straight from the models: for tests; `civic migrate` runs alembic."""
        ensure_schema(self.url, self.schema) if self.schema else None
        self.metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.relay.close()
        self.engine.dispose()

    def prune(self, now: datetime | None = None, batch: int = PRUNE_BATCH) -> dict[str, int]:
        """Delete what has been kept long enough; returns how many rows of each table.

        Sent outbox rows after CIVIC_OUTBOX_RETENTION (unsent and parked rows stay);
        inbox records after CIVIC_INBOX_RETENTION, which must be longer than a dead
        letter may wait for its replay (the inbox still has to recognise a replayed
        message it handled); command records after CIVIC_COMMAND_RETENTION (they hold
        answers, which may name a person: kept no longer than retries need them).
        Plain `DELETE … WHERE older than` in batches of `batch` rows, each its own short
        transaction: safe with N instances at once.
        """
        now = now or utcnow()

        def kept(setting: str, default: float) -> datetime:
            return now - timedelta(seconds=float(civic_config.get(setting, default)))

        tables = self.metadata.tables
        outbox, inbox = self.outbox, self.inbox
        deliveries, commands = tables["deliveries"], tables["commands"]
        inbox_since = kept("CIVIC_INBOX_RETENTION", 2592000)
        retention = {
            "outbox": (
                outbox,
                [outbox.c.id],
                outbox.c.sent_at < kept("CIVIC_OUTBOX_RETENTION", 604800),
            ),
            "inbox": (
                inbox,
                [inbox.c.message_id, inbox.c.handler],
                inbox.c.handled_at < inbox_since,
            ),
            "deliveries": (
                deliveries,
                [deliveries.c.message_id, deliveries.c.handler],
                deliveries.c.last_started_at < inbox_since,
            ),
            "commands": (
                commands,
                [commands.c.request_id],
                commands.c.created_at < kept("CIVIC_COMMAND_RETENTION", 172800),
            ),
        }
        return {
            name: self._delete_older(table, key, older, batch)
            for name, (table, key, older) in retention.items()
        }

    def _delete_older(self, table: Table, key: list, older, batch: int) -> int:
        key_of = key[0] if len(key) == 1 else tuple_(*key)
        total = 0
        while True:
            oldest = select(*key).where(older).limit(batch)
            with self.sessions() as session, session.begin():
                deleted = session.execute(delete(table).where(key_of.in_(oldest))).rowcount
            total += deleted
            if deleted < batch:
                return total
            time.sleep(0)  # let the process's other green threads run between batches


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
        self._written: list[Claimed] = []  # the outbox rows it wrote, born claimed

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
        anonymous: bool = False,
    ) -> Envelope:
        """Write an event to the outbox, in this transaction. `occurred_at` is the
        caller's clock (a domain function's injected `now`); the wall clock if not given.
        The envelope names `actor_id`, else the caller's; with `anonymous`, nobody (an
        anonymous consultation's answer)."""
        session = self._require_session()
        if anonymous:
            actor_id = None
        elif actor_id is None:
            actor_id = self.context_data.get("actor_id")
        envelope = new_envelope(
            event_type,
            data,
            producer=self.database.service,
            correlation_id=self.context_data.get("correlation_id"),
            actor_id=actor_id,
            occurred_at=occurred_at,
        )
        claim = self.database.relay.born_claim()
        self._written.append(store_event(session, self.database.outbox, envelope, claim))
        return envelope

    def claim_message(self, message_id: str, handler: str) -> bool:
        """Record that `handler` handles `message_id`; False if it already did.

        The row is written in the handler's own transaction, so the record and the
        effect commit together or not at all.
        """
        session = self._require_session()
        inbox = self.database.inbox
        key = {"message_id": message_id, "handler": handler}
        if session.execute(prebuilt.once(inbox, "seen", _inbox_seen), key).first():
            return False
        # A concurrent duplicate fails on the primary key at insert or commit; its
        # handler then raises, is retried, and finds the record on the next attempt.
        session.execute(prebuilt.once(inbox, "insert", insert), {**key, "handled_at": utcnow()})
        return True


def _inbox_seen(inbox: Table):
    return select(inbox.c.message_id).where(
        inbox.c.message_id == bindparam("message_id"), inbox.c.handler == bindparam("handler")
    )


class Database(DependencyProvider):
    """nameko dependency: `self.db` is a UnitOfWork bound to the current worker.

    It also runs the service's outbox relay and its retention timer (`prune` every
    CIVIC_RETENTION_INTERVAL seconds, the first time soon after start), each in a green
    thread of its own.
    """

    def __init__(self, metadata: MetaData):
        self.metadata = metadata
        self.database: ServiceDatabase | None = None
        self._stopping = threading.Event()

    def setup(self):
        self.database = ServiceDatabase(self.container.service_name, self.metadata)

    def start(self):
        self._stopping.clear()
        self.container.spawn_managed_thread(
            self.database.relay.run_forever, identifier="outbox_relay"
        )
        self.container.spawn_managed_thread(self._prune_forever, identifier="retention")

    def _prune_forever(self) -> None:
        interval = float(civic_config.get("CIVIC_RETENTION_INTERVAL", 3600))
        # Soon after start too: a service restarted more often than the interval prunes.
        wait = min(interval, 60.0)
        while not self._stopping.wait(wait):
            wait = interval
            try:
                pruned = self.database.prune()
            except Exception as exc:  # the database away: next time
                log.warning("retention_prune_failed", error=f"{type(exc).__name__}: {exc}")
                continue
            if any(pruned.values()):
                log.info("retention_pruned", **pruned)

    def stop(self):
        self._stopping.set()
        self.database.relay.stop()
        # A graceful stop publishes what its last workers committed (the relay was only
        # woken for it, or is publishing it), within the publish timeout; what is left
        # waits for the next start.
        try:
            with eventlet.Timeout(float(civic_config.get("CIVIC_PUBLISH_TIMEOUT", 10))):
                self.database.relay.final_drain()
        except (Exception, eventlet.Timeout) as exc:
            log.warning("outbox_final_drain_failed", error=f"{type(exc).__name__}: {exc}")
        self.database.dispose()

    def kill(self):
        self._stopping.set()
        self.database.relay.stop()
        self.database.dispose()

    def get_dependency(self, worker_ctx) -> UnitOfWork:
        return self.database.unit_of_work(worker_ctx.context_data)
