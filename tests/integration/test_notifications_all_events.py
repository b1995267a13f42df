"""The kernel's `@all_events_handler` with a real broker: one queue gets every catalogued
event of every other producer, an uncatalogued type never arrives, a failure is
retried through the queue's retry queue."""

from __future__ import annotations

import threading
import uuid

import pytest
from kombu import Connection, Producer
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select

from civic import topology
from civic.db import Database, ServiceDatabase, drop_schema, kernel_tables
from civic.messaging import all_events_handler
from civic.outbox import event_exchange
from civic.service import ServiceBase
from tests.conftest import wait_for
from tests.support import envelope, publish

listener_meta = MetaData()
kernel_tables(listener_meta)
heard = Table(
    "heard",
    listener_meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(36)),
    Column("type", String(100)),
)
FAIL_ONCE: set[str] = set()
FAILED: list[str] = []
_lock = threading.Lock()


class EveryEventListener(ServiceBase):
    name = "everylistener"
    db = Database(listener_meta)

    @all_events_handler(name="on_event")
    def on_event(self, envelope, uow):
        with _lock:
            if envelope.id in FAIL_ONCE and envelope.id not in FAILED:
                FAILED.append(envelope.id)
                raise RuntimeError("the first attempt fails")
        uow.session.execute(insert(heard).values(message_id=envelope.id, type=envelope.type))


@pytest.fixture
def listener(civic_settings, runner_factory):
    url = civic_settings["CIVIC_DATABASES"]["groups"].replace("groups", "everylistener")
    civic_settings["CIVIC_DATABASES"]["everylistener"] = url
    database = ServiceDatabase("everylistener", listener_meta, url=url)
    database.create_all()
    names = topology.declare(civic_settings["AMQP_URI"], services=[EveryEventListener])
    assert "evt-all--everylistener.on_event" in names
    runner_factory(EveryEventListener).start()
    yield database
    database.dispose()
    if database.schema:
        drop_schema(url, civic_settings["CIVIC_SCHEMA_PREFIX"] + "everylistener")
    FAIL_ONCE.clear()
    FAILED.clear()


def heard_rows(database):
    with database.sessions() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(heard.c.message_id, heard.c.type).order_by(heard.c.id)
            )
        ]


def test_every_catalogued_event_of_every_producer_arrives_once(listener, civic_settings):
    group_event = envelope("group_verified", {"group_id": str(uuid.uuid4())})
    proposal_event = envelope(
        "proposal_hidden",
        {
            "proposal_id": str(uuid.uuid4()),
            "title": "T",
            "author_id": str(uuid.uuid4()),
            "report_count": 3,
        },
    )
    FAIL_ONCE.add(proposal_event.id)
    # A type nobody catalogued, on a producer's exchange: no binding, never delivered.
    with Connection(
        civic_settings["AMQP_URI"], connect_timeout=5, transport_options={"confirm_publish": True}
    ) as connection:
        Producer(connection.default_channel).publish(
            {**group_event.to_dict(), "id": str(uuid.uuid4()), "type": "group_renamed"},
            exchange=event_exchange("groups"),
            routing_key="group_renamed",
            serializer="json",
            retry=False,
        )
    publish(civic_settings["AMQP_URI"], group_event, proposal_event, group_event)

    wait_for(lambda: len(heard_rows(listener)) == 2, message="both events handled")
    assert sorted(heard_rows(listener)) == sorted(
        [(group_event.id, "group_verified"), (proposal_event.id, "proposal_hidden")]
    )
    assert FAILED == [proposal_event.id]  # it failed once, came back, and was handled
    with Connection(civic_settings["AMQP_URI"], connect_timeout=5) as connection:
        channel = connection.default_channel
        _, ready, consumers = channel.queue_declare(
            queue="evt-all--everylistener.on_event", passive=True
        )
        assert consumers == 1
        _, dead, _ = channel.queue_declare(queue="civic.dead-letters", passive=True)
    assert dead == 0
    with listener.sessions() as session:
        claimed = {row.message_id for row in session.execute(select(listener.inbox))}
    assert claimed == {group_event.id, proposal_event.id}
