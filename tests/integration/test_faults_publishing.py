"""Issue 12, the publishing side: the outbox relay under faults, on the real broker and DB.

- finding 2: a broker that stops answering (without closing the connection) freezes
  neither a unit of work nor the service's database;
- finding 7: an event the broker returns as unroutable is kept and published once its
  queue exists (an event type nobody consumes is let go);
- finding 9: a row that always fails is parked after N attempts and blocks nothing;
- finding 10: sent outbox rows, inbox records and command records are pruned after
  their retention periods, by a timer every service runs.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import eventlet
from nameko import config as nameko_config
from nameko.standalone.rpc import ClusterRpcClient
from sqlalchemy import func, insert, select

from civic.clock import utcnow
from civic.contracts import new_envelope
from civic.outbox import store_event
from tests.conftest import wait_for
from tests.integration.toys import ToySource

# --- a broker that stops answering -------------------------------------------------------


class FreezableProxy:
    """A TCP proxy in front of RabbitMQ that can stop forwarding without closing
    anything: the shape of a memory alarm or a network partition."""

    def __init__(self, amqp_uri: str):
        parts = urlsplit(amqp_uri)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 5672)
        self.listener = eventlet.listen(("127.0.0.1", 0))
        port = self.listener.getsockname()[1]
        netloc = f"{parts.username}:{parts.password}@127.0.0.1:{port}"
        self.uri = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        self.flowing = threading.Event()
        self.flowing.set()
        self.sockets: list = []
        self.pumps: list = []
        self.server = eventlet.spawn(self._serve)

    def _serve(self) -> None:
        while True:
            client, _ = self.listener.accept()
            upstream = eventlet.connect(self.target)
            self.sockets += [client, upstream]
            self.pumps.append(eventlet.spawn(self._pump, client, upstream))
            self.pumps.append(eventlet.spawn(self._pump, upstream, client))

    def _pump(self, source, destination) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                self.flowing.wait()  # frozen: the bytes are held, nothing is closed
                destination.sendall(data)
            destination.shutdown(socket.SHUT_WR)  # pass the end of the stream on
        except OSError:
            pass

    def freeze(self) -> None:
        self.flowing.clear()

    def thaw(self) -> None:
        self.flowing.set()

    def close(self) -> None:
        # The green threads first, then each socket once: an eventlet listener left on
        # a closed descriptor would be woken when the number is reused elsewhere.
        for thread in [self.server, *self.pumps]:
            thread.kill()
        self.listener.close()
        self.flowing.set()
        for sock in self.sockets:
            try:
                sock.close()
            except OSError:
                pass


def test_frozen_broker_freezes_neither_a_unit_of_work_nor_the_database(toys_world):
    world = toys_world
    world.counting_queue("frozen-toy-noted", "toysource", "toy_noted")
    proxy = FreezableProxy(world.amqp_uri)
    with nameko_config.patch({"CIVIC_PUBLISH_TIMEOUT": 2.0}, clear=False):
        database = world.database("toysource", amqp_uri=proxy.uri)
        relay = eventlet.spawn(database.relay.run_forever)
        try:
            with database.unit_of_work({"correlation_id": "corr-flowing"}) as uow:
                uow.publish("toy_noted", {"n": 1})
            wait_for(
                lambda: world.queue_depth("frozen-toy-noted") == 1,
                message="the first event published through the proxy",
            )

            proxy.freeze()
            started = time.monotonic()
            with eventlet.Timeout(5):  # the old relay waited for the confirm forever
                with database.unit_of_work({"correlation_id": "corr-frozen"}) as uow:
                    frozen = uow.publish("toy_noted", {"n": 2})
            assert time.monotonic() - started < 1.0, "the unit of work waited on the broker"

            # The relay is now talking to the frozen broker: the row is claimed, unsent.
            wait_for(
                lambda: world.outbox_row("toysource", frozen.id).claimed_until is not None,
                message="the relay publishing the row",
            )
            started = time.monotonic()
            with eventlet.Timeout(5):
                with database.sessions() as session:
                    rows = session.execute(
                        select(func.count()).select_from(database.outbox)
                    ).scalar_one()
            assert rows == 2
            assert time.monotonic() - started < 1.0, "a read waited behind the broker"
            assert world.outbox_row("toysource", frozen.id).sent_at is None

            proxy.thaw()
            wait_for(
                lambda: world.outbox_row("toysource", frozen.id).sent_at is not None,
                timeout=30,
                message="the event published after the thaw",
            )
            delivered = [
                json.loads(message.body)["id"] for _, _, message in world.drain("frozen-toy-noted")
            ]
            assert frozen.id in delivered
        finally:
            proxy.thaw()
            database.relay.close()
            relay.kill()
            proxy.close()


# --- unroutable events are kept ------------------------------------------------------------


def test_event_published_before_its_queue_exists_reaches_it(toys_world):
    world = toys_world
    database = world.database("toysource")
    # Who consumes what (the services' topology): toy_noted has a consumer, toy_flaked none.
    database.relay.consumed_types = lambda: frozenset({"toy_noted"})

    with database.unit_of_work({"correlation_id": "corr-early"}) as uow:
        kept = uow.publish("toy_noted", {"n": 7})
        let_go = uow.publish("toy_flaked", {"n": 8})

    # Nothing is bound to toysource.events yet: the broker returned both.
    row = world.outbox_row("toysource", kept.id)
    assert row.sent_at is None, "an unroutable event was confirmed and dropped"
    assert row.attempts == 1 and row.last_error == "unroutable"
    assert world.outbox_row("toysource", let_go.id).sent_at is not None

    # The consumer's queue arrives later (its service deployed after the producer).
    world.counting_queue("late-toy-noted", "toysource", "toy_noted")

    def relayed():
        database.relay.publish_pending()
        return world.queue_depth("late-toy-noted") == 1

    wait_for(relayed, timeout=20, message="the kept event published to the new queue")
    assert world.outbox_row("toysource", kept.id).sent_at is not None
    [(message_id, _, _)] = world.drain("late-toy-noted")
    assert message_id == kept.id


# --- a poison row is parked ---------------------------------------------------------------


def test_poison_row_is_parked_after_max_attempts_and_newer_rows_are_published(toys_world):
    world = toys_world
    world.counting_queue("poison-toy-noted", "toysource", "toy_noted")
    database = world.database("toysource")
    outbox = database.outbox
    poison_id = str(uuid.uuid4())
    with nameko_config.patch({"CIVIC_OUTBOX_MAX_ATTEMPTS": 3}, clear=False):
        with database.sessions() as session, session.begin():
            # The oldest row, whose envelope cannot be read back: it always fails.
            session.execute(
                insert(outbox).values(
                    id=poison_id,
                    type="toy_noted",
                    envelope="{not json",
                    created_at=utcnow() - timedelta(minutes=1),
                    attempts=0,
                )
            )
            # Newer events, written while nothing published them.
            envelopes = [
                new_envelope("toy_noted", {"n": n}, producer="toysource", correlation_id="p")
                for n in range(5)
            ]
            for envelope in envelopes:
                store_event(session, outbox, envelope)

        def relayed():
            database.relay.publish_pending()
            return world.outbox_row("toysource", poison_id).parked_at is not None

        wait_for(relayed, timeout=20, message="the poison row parked")
        wait_for(
            lambda: world.queue_depth("poison-toy-noted") == 5,
            message="every newer event published",
        )
        poison = world.outbox_row("toysource", poison_id)
        assert poison.sent_at is None and poison.attempts == 3 and poison.last_error
        assert world.log_events("outbox_row_parked", message_id=poison_id)
        for envelope in envelopes:
            assert world.outbox_row("toysource", envelope.id).sent_at is not None
        assert database.relay.unsent_count() == 0

        # Staff see it in the service's health.
        world.start(ToySource)
        with ClusterRpcClient() as client:
            health = client.toysource.health()
        assert health["outbox_parked"] == 1 and health["outbox_unsent"] == 0

        # …and can put it back in line once its cause is fixed.
        assert database.relay.unpark() == 1
        row = world.outbox_row("toysource", poison_id)
        assert row.parked_at is None and row.attempts == 0


# --- retention ----------------------------------------------------------------------------

NOW = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)


def _outbox_row(id_, created, sent=None, parked=None):
    return {
        "id": id_,
        "type": "toy_noted",
        "envelope": "{}",
        "created_at": created,
        "sent_at": sent,
        "parked_at": parked,
        "attempts": 0,
    }


def _seed_old_rows(database, now):
    day = timedelta(days=1)
    commands = database.metadata.tables["commands"]
    with database.sessions() as session, session.begin():
        session.execute(
            insert(database.outbox),
            [
                _outbox_row("sent-8-days-ago", now - 9 * day, sent=now - 8 * day),
                _outbox_row("sent-6-days-ago", now - 6 * day, sent=now - 6 * day),
                _outbox_row("sent-10-days-ago", now - 11 * day, sent=now - 10 * day),
                _outbox_row("unsent-100-days", now - 100 * day),
                _outbox_row("parked-100-days", now - 100 * day, parked=now - 99 * day),
            ],
        )
        session.execute(
            insert(database.inbox),
            [
                {"message_id": "m-31", "handler": "h.a", "handled_at": now - 31 * day},
                {"message_id": "m-31", "handler": "h.b", "handled_at": now - 31 * day},
                {"message_id": "m-40", "handler": "h.a", "handled_at": now - 40 * day},
                {"message_id": "m-29", "handler": "h.a", "handled_at": now - 29 * day},
            ],
        )
        session.execute(
            insert(commands),
            [
                {
                    "request_id": request_id,
                    "method": "note",
                    "fingerprint": "0" * 64,
                    "response": "{}",
                    "created_at": now - age * day,
                }
                for request_id, age in (("r-3", 3), ("r-45", 45), ("r-1", 1))
            ],
        )


def _left(database):
    commands = database.metadata.tables["commands"]
    with database.sessions() as session:
        return (
            sorted(session.execute(select(database.outbox.c.id)).scalars()),
            sorted(
                f"{m}/{h}"
                for m, h in session.execute(
                    select(database.inbox.c.message_id, database.inbox.c.handler)
                )
            ),
            sorted(session.execute(select(commands.c.request_id)).scalars()),
        )


def test_old_sent_outbox_inbox_and_command_rows_are_pruned(toys_world):
    world = toys_world
    database = world.database("toysource")
    _seed_old_rows(database, NOW)

    # In batches of two, with the clock given: 7 days for the outbox, 30 for the inbox,
    # 2 for the command records.
    pruned = database.prune(now=NOW, batch=2)

    assert pruned == {"outbox": 2, "inbox": 3, "deliveries": 0, "commands": 2}
    outbox_left, inbox_left, commands_left = _left(database)
    assert outbox_left == ["parked-100-days", "sent-6-days-ago", "unsent-100-days"]
    assert inbox_left == ["m-29/h.a"]
    assert commands_left == ["r-1"]
    assert database.prune(now=NOW) == {"outbox": 0, "inbox": 0, "deliveries": 0, "commands": 0}


def test_a_service_prunes_on_its_retention_timer(toys_world):
    world = toys_world
    database = world.databases["toysource"]
    _seed_old_rows(database, utcnow())
    with nameko_config.patch({"CIVIC_RETENTION_INTERVAL": 0.2}, clear=False):
        world.start(ToySource)
        wait_for(
            lambda: (
                _left(database)
                == (
                    ["parked-100-days", "sent-6-days-ago", "unsent-100-days"],
                    ["m-29/h.a"],
                    ["r-1"],
                )
            ),
            message="the service's retention timer pruning",
        )
