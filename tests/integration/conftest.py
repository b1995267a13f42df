"""Fixtures for the messaging reliability tests: the toy services of `toys.py` with their
own databases in the test's vhost, and small helpers to look at queues and logs."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from kombu import Connection, Producer, Queue
from nameko.runners import ServiceRunner
from sqlalchemy import func, select

from civic import topology
from civic.db import ServiceDatabase, drop_schema
from civic.outbox import event_exchange
from tests.integration import toys


def pytest_collection_modifyitems(config, items):
    """Stopping RabbitMQ breaks every other test using it at that moment (other suites,
    other people's runs): the broker_restart tests run only when asked for by name,
    `-m broker_restart`, or with CIVIC_TEST_BROKER_RESTART=1."""
    markexpr = config.getoption("markexpr", "") or ""
    asked = (
        "broker_restart" in markexpr and "not broker_restart" not in markexpr
    ) or os.environ.get("CIVIC_TEST_BROKER_RESTART") == "1"
    if asked:
        return
    skip = pytest.mark.skip(reason="stops RabbitMQ: run alone with -m broker_restart")
    for item in items:
        if item.get_closest_marker("broker_restart"):
            item.add_marker(skip)


def closed_port() -> int:
    """A local TCP port nothing listens on (a broker that is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ToyWorld:
    """The toy services' databases, runners and the test's view of the broker."""

    def __init__(self, settings: dict):
        self.settings = settings
        self.amqp_uri = settings["AMQP_URI"]
        self.urls = toys.database_urls(settings)
        # The kernel's Database dependency finds each service's URL in the config.
        settings["CIVIC_DATABASES"].update(self.urls)
        self.runners: list[ServiceRunner] = []
        self.opened: list[ServiceDatabase] = []
        self.databases = {name: self.database(name) for name in toys.SERVICES}
        for database in self.databases.values():
            database.create_all()

    # --- services -----------------------------------------------------------------------

    def database(self, name: str, amqp_uri: str | None = None) -> ServiceDatabase:
        """A toy service's database as a process of that service would open it."""
        database = ServiceDatabase(
            name, toys.METADATA[name], url=self.urls[name], amqp_uri=amqp_uri
        )
        self.opened.append(database)
        return database

    def declare(self, *service_classes) -> list[str]:
        return topology.declare(self.amqp_uri, services=list(service_classes))

    def start(self, *service_classes) -> ServiceRunner:
        runner = ServiceRunner()
        for cls in service_classes:
            runner.add_service(cls)
        self.runners.append(runner)
        runner.start()
        return runner

    def close(self) -> None:
        for runner in reversed(self.runners):
            try:
                runner.kill()
            except Exception:  # already dead: nothing left to clean
                pass
        for database in self.opened:
            database.dispose()
        if not self.urls["toysource"].startswith("sqlite"):
            for name in toys.SERVICES:
                drop_schema(self.urls[name], self.settings["CIVIC_SCHEMA_PREFIX"] + name)

    # --- what the toys did --------------------------------------------------------------

    def noted(self) -> list[tuple]:
        """(message_id, n, correlation_id) of every toy_noted `toysink` handled."""
        table = toys.noted
        with self.databases["toysink"].sessions() as session:
            return [
                tuple(row)
                for row in session.execute(
                    select(table.c.message_id, table.c.n, table.c.correlation_id).order_by(
                        table.c.id
                    )
                )
            ]

    def flaked(self) -> list[tuple]:
        table = toys.flaked
        with self.databases["toyflaky"].sessions() as session:
            return [
                tuple(row)
                for row in session.execute(
                    select(table.c.message_id, table.c.n).order_by(table.c.id)
                )
            ]

    def registered(self) -> list[tuple]:
        """(message_id, account_id) of every account_registered `toyaudit` handled."""
        table = toys.registered
        with self.databases["toyaudit"].sessions() as session:
            return [
                tuple(row)
                for row in session.execute(
                    select(table.c.message_id, table.c.account_id).order_by(table.c.id)
                )
            ]

    def inbox_count(self, name: str, message_id: str) -> int:
        inbox = self.databases[name].inbox
        with self.databases[name].sessions() as session:
            return session.execute(
                select(func.count()).select_from(inbox).where(inbox.c.message_id == message_id)
            ).scalar_one()

    def outbox_row(self, name: str, message_id: str):
        outbox = self.databases[name].outbox
        with self.databases[name].sessions() as session:
            return session.execute(select(outbox).where(outbox.c.id == message_id)).one()

    def log_lines(self) -> list[dict]:
        """Lines this test process logged (in-process containers log here too)."""
        return read_log_lines([Path(self.settings["CIVIC_LOG_DIR"]) / "tests.log"])

    def log_events(self, event: str, **fields) -> list[dict]:
        return [
            line
            for line in self.log_lines()
            if line.get("event") == event
            and all(line.get(key) == value for key, value in fields.items())
        ]

    # --- the broker ---------------------------------------------------------------------

    def queue_depth(self, queue: str) -> int:
        """Ready messages in a queue (not those a consumer holds unacked)."""
        with Connection(self.amqp_uri, connect_timeout=5) as connection:
            _, count, _ = connection.default_channel.queue_declare(queue=queue, passive=True)
            return count

    def publish_raw(
        self,
        body,
        *,
        exchange="",
        routing_key: str,
        message_id=None,
        headers=None,
        content_type="application/json",
    ) -> None:
        """Publish exactly these bytes (or this JSON) with confirms, as any client could."""
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode("utf-8")
        with Connection(
            self.amqp_uri, connect_timeout=5, transport_options={"confirm_publish": True}
        ) as connection:
            properties = {"message_id": message_id} if message_id else {}
            Producer(connection.default_channel).publish(
                body,
                exchange=exchange,
                routing_key=routing_key,
                headers=headers or {},
                content_type=content_type,
                content_encoding="utf-8",
                delivery_mode=2,
                retry=False,
                **properties,
            )

    def publish_event(self, envelope: dict, **kwargs) -> None:
        """Publish an envelope to its producer's exchange, as the outbox relay would."""
        self.publish_raw(
            envelope,
            exchange=event_exchange(envelope["producer"]).name,
            routing_key=envelope["type"],
            message_id=envelope.get("id"),
            **kwargs,
        )

    def counting_queue(self, name: str, producer: str, event_type: str) -> None:
        """A queue bound next to the subscribers': it sees every delivery of the event."""
        with Connection(self.amqp_uri, connect_timeout=5) as connection:
            Queue(
                name,
                exchange=event_exchange(producer),
                routing_key=event_type,
                durable=True,
                auto_delete=False,
            )(connection.default_channel).declare()

    def drain(self, queue: str, limit: int = 10000) -> list:
        """Take (and ack) every message of a queue: [(message_id, headers, message)]."""
        taken = []
        with Connection(self.amqp_uri, connect_timeout=5) as connection:
            bound = Queue(queue)(connection.default_channel)
            while len(taken) < limit:
                message = bound.get(no_ack=True)
                if message is None:
                    break
                taken.append((message.properties.get("message_id"), message.headers or {}, message))
        return taken


def read_log_lines(paths) -> list[dict]:
    """Every JSON line of these log files (missing files have none)."""
    found = []
    for path in paths:
        if not Path(path).exists():
            continue
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return found


@pytest.fixture
def toys_world(civic_settings):
    """Toy services with fresh databases (SQLite files or PostgreSQL schemas)."""
    toys.FLAKY.reset()
    world = ToyWorld(civic_settings)
    try:
        yield world
    finally:
        world.close()
        toys.FLAKY.reset()
