"""Helpers the test suites share: events as their producers publish them, what a service
wrote to its outbox, and what the domain services published on the broker (the
`published` fixture of tests/conftest.py), a service's database migrated."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from contextlib import closing
from pathlib import Path
from urllib.parse import unquote, urlsplit

from kombu import Connection, Producer, Queue
from nameko import config as nameko_config
from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import NullPool

from civic import migrations
from civic.config import DOMAIN_SERVICES
from civic.contracts import CATALOGUE, Envelope, new_envelope
from civic.db import database_url, drop_schema, schema_name
from civic.outbox import context_headers, event_exchange

# Each service's database migrated to head once per test run; each test gets a copy
# (alembic takes 0.1–0.3 s a service, about a second of every test that wants all six).
_MIGRATED_SQLITE: dict[str, Path] = {}
# On PostgreSQL, the schema alembic migrated once, as pg_dump writes it: its name is a
# random token, replaced by the test's schema name. None: pg_dump is not at hand.
_MIGRATED_POSTGRESQL: dict[str, tuple[str, str] | None] = {}


def migrate(service: str) -> None:
    """The service's database of this test migrated to head, as `civic migrate` leaves
    it: a copy (sqlite3's backup, or pg_dump's statements replayed) of one that alembic
    migrated once in this test run; alembic itself where pg_dump is missing."""
    url = database_url(service)
    if url.startswith("sqlite:///"):
        _copy_migrated_sqlite(service, Path(url.removeprefix("sqlite:///")))
    elif not _replay_migrated_postgresql(service, url):
        migrations.upgrade(service)


def _copy_migrated_sqlite(service: str, target: Path) -> None:
    template = _MIGRATED_SQLITE.get(service)
    if template is None:
        directory = Path(tempfile.mkdtemp(prefix="civic-migrated-"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        template = directory / f"{service}.db"
        migrations.upgrade(service, f"sqlite:///{template}")
        _MIGRATED_SQLITE[service] = template
    target.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)


def _replay_migrated_postgresql(service: str, url: str) -> bool:
    if service not in _MIGRATED_POSTGRESQL:
        _MIGRATED_POSTGRESQL[service] = _dump_migrated_postgresql(service, url)
    dumped = _MIGRATED_POSTGRESQL[service]
    if dumped is None:
        return False
    template_schema, statements = dumped
    engine = create_engine(url, poolclass=NullPool)
    try:
        connection = engine.raw_connection()
        try:
            # No parameters: psycopg2 sends the text as it is, every statement in one go.
            connection.cursor().execute(statements.replace(template_schema, schema_name(service)))
            connection.commit()
        finally:
            connection.close()
    finally:
        engine.dispose()
    return True


def _dump_migrated_postgresql(service: str, url: str) -> tuple[str, str] | None:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        return None
    token = f"civicmigrated{uuid.uuid4().hex}_"
    with nameko_config.patch({"CIVIC_SCHEMA_PREFIX": token}, clear=False):
        migrations.upgrade(service, url)
    schema = token + service
    try:
        dumped = subprocess.run(
            [
                pg_dump,
                "--no-owner",
                "--no-privileges",
                "--inserts",
                "-n",
                schema,
                "-d",
                url.replace("+psycopg2", ""),
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    finally:
        drop_schema(url, schema)
    # psql's own commands (\restrict and \unrestrict in newer pg_dumps) are not SQL.
    statements = "\n".join(line for line in dumped.splitlines() if not line.startswith("\\"))
    return schema, statements


def process_env(settings: dict, **extra: str) -> dict:
    """The environment a `civic` or `python -m civic.runner` process needs to run on the
    test's broker (and its queue type), databases, var directory and timings; `extra`
    settings on top."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CIVIC_")}
    env.update(
        {
            "CIVIC_AMQP_URI": settings["AMQP_URI"],
            "CIVIC_QUEUE_TYPE": settings["CIVIC_QUEUE_TYPE"],
            "CIVIC_VAR_DIR": settings["CIVIC_VAR_DIR"],
            "CIVIC_RETRY_DELAYS": ",".join(str(d) for d in settings["CIVIC_RETRY_DELAYS"]),
            "CIVIC_RELAY_INTERVAL": str(settings["CIVIC_RELAY_INTERVAL"]),
            "CIVIC_LOG_LEVEL": "INFO",
        }
    )
    database = settings["CIVIC_DATABASES"]["groups"]
    if database.startswith("postgresql"):
        env["CIVIC_DATABASE_URL"] = database
        env["CIVIC_SCHEMA_PREFIX"] = settings["CIVIC_SCHEMA_PREFIX"]
    env.update(extra)
    return env


def envelope(event_type: str, data: dict, actor_id: str | None = None) -> Envelope:
    """A validated envelope of this type from its real producer."""
    return new_envelope(
        event_type,
        data,
        producer=CATALOGUE[event_type].producer,
        correlation_id=None,
        actor_id=actor_id,
    )


def publish(amqp_uri: str, *envelopes: Envelope) -> None:
    """Publish envelopes to their producers' exchanges, as the outbox relay does."""
    with Connection(
        amqp_uri, connect_timeout=5, transport_options={"confirm_publish": True}
    ) as connection:
        producer = Producer(connection.default_channel)
        for item in envelopes:
            body = item.to_dict()
            producer.publish(
                body,
                exchange=event_exchange(item.producer),
                routing_key=item.type,
                message_id=item.id,
                headers=context_headers(body),
                serializer="json",
                delivery_mode=2,
                retry=False,
                declare=[event_exchange(item.producer)],
            )


def outbox_envelopes(database, type_: str | None = None) -> list[dict]:
    """The envelopes a service's units of work wrote to its outbox (a `ServiceDatabase`),
    oldest first, sent or not; only those of `type_` if given."""
    outbox = database.outbox
    query = select(outbox.c.envelope).order_by(outbox.c.created_at)
    if type_ is not None:
        query = query.where(outbox.c.type == type_)
    with database.sessions() as session:
        return [json.loads(row) for row in session.execute(query).scalars()]


class Publications:
    """What the domain services publish from the moment this is made: a queue bound to
    each one's event exchange for every event type, read without a consumer.

    `publications("groups")` are the envelopes groups published, in the order they
    arrived; `deliveries` adds each message's AMQP id. The relay publishes at least once:
    an event delivered twice is there twice, unless asked for `distinct` events.
    """

    def __init__(self, amqp_uri: str, services=DOMAIN_SERVICES):
        self.connection = Connection(amqp_uri)
        channel = self.connection.default_channel
        suffix = uuid.uuid4().hex[:8]
        self.queues = {}
        for service in services:
            queue = Queue(
                f"test.published.{service}.{suffix}",
                exchange=event_exchange(service),
                routing_key="#",
                durable=False,
                auto_delete=False,
            )(channel)
            queue.declare()
            self.queues[service] = queue
        self.seen: dict[str, list[tuple[str, dict]]] = {service: [] for service in services}

    def deliveries(self, service: str, type_: str | None = None) -> list[tuple[str, dict]]:
        """(message_id, envelope) of every message `service` published so far, in the order
        they arrived; only those of `type_` if given."""
        seen = self.seen[service]
        while (message := self.queues[service].get(no_ack=True)) is not None:
            seen.append((message.properties.get("message_id"), message.payload))
        return [
            (message_id, envelope)
            for message_id, envelope in seen
            if type_ is None or envelope["type"] == type_
        ]

    def __call__(
        self, service: str, type_: str | None = None, *, distinct: bool = False
    ) -> list[dict]:
        """The envelopes `service` published so far, in the order they arrived; only those
        of `type_` if given; each event once if `distinct` (a redelivery has the same id)."""
        envelopes = [envelope for _, envelope in self.deliveries(service, type_)]
        if distinct:
            envelopes = list({envelope["id"]: envelope for envelope in envelopes}.values())
        return envelopes

    def close(self) -> None:
        self.connection.release()


def count(database, model, *where) -> int:
    """How many rows of `model` (a mapped class or a table) match `where`."""
    with database.sessions() as session:
        return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def vhost_of(amqp_uri: str) -> str:
    """The RabbitMQ vhost an AMQP URI names (`/` when it names none)."""
    return unquote(urlsplit(amqp_uri).path[1:]) or "/"
