"""Faults on the consuming side (issue 12, findings 1, 6, 7, 8 and 12), with the toy
services of `toys.py` on the real broker and database.

- a database that is away longer than every retry delay together costs no attempt and
  no dead letter (finding 1);
- a handler that hangs is cut off by the handler timeout; a delivery that never finished
  (its worker died: here the broker closes the consumer's connection) counts as an
  attempt; both end in the dead letters after the attempts (finding 6);
- a queue of Civic's naming that no handler declares any more is reported (finding 7);
- a retry or dead-letter copy that cannot be routed leaves the original where it was
  (finding 8);
- a dead letter keeps its bytes and properties, so a replay is the message as it was
  published (finding 12).
"""

from __future__ import annotations

import threading

import amqp
from kombu import Connection, Queue
from nameko import config as nameko_config
from sqlalchemy import event

from civic import deadletters, topology
from civic.db import Database
from civic.messaging import event_handler, queue_name, retry_queues
from tests.conftest import wait_for
from tests.integration.toys import FLAKY, ToyFlaky

FLAKY_QUEUE = queue_name("toysource", "toy_flaked", "toyflaky", "on_flaked")


# --- helpers ---------------------------------------------------------------------------


def write_flaked(world, n, correlation_id="corr-faults"):
    """toysource writes a toy_flaked through its unit of work (outbox, then publish)."""
    with world.databases["toysource"].unit_of_work({"correlation_id": correlation_id}) as uow:
        return uow.publish("toy_flaked", {"n": n})


def dead_letters(world):
    return deadletters.list_dead_letters(world.amqp_uri)


def running_database(runner):
    """The ServiceDatabase of the (one) service a runner runs."""
    [container] = runner.containers
    [provider] = [dep for dep in container.dependencies if isinstance(dep, Database)]
    return provider.database


class DatabaseOutage:
    """While active, every statement on an engine fails the way a database that is away
    makes it fail: the driver's own OperationalError (SQLite: a missing table; PostgreSQL:
    SQLSTATE 53300, too many connections), raised by the database itself and wrapped by
    SQLAlchemy as usual. The kernel's probe meets it too."""

    def __init__(self, engine):
        self.engine = engine
        self.active = False
        self.refused = 0
        if engine.dialect.name == "sqlite":
            self.failing = "INSERT INTO civic_test_database_away DEFAULT VALUES"
        else:
            self.failing = (
                "DO $$ BEGIN RAISE EXCEPTION 'the database is away (test)' "
                "USING ERRCODE = '53300'; END $$"
            )

        def rewrite(conn, cursor, statement, parameters, context, executemany):
            if not self.active:
                return statement, parameters
            self.refused += 1
            return self.failing, [()] if executemany else ()

        self.listener = rewrite
        event.listen(engine, "before_cursor_execute", rewrite, retval=True)

    def remove(self):
        event.remove(self.engine, "before_cursor_execute", self.listener)


HANG = threading.Event()  # never set: a handler waiting on it hangs


class HangingFlaky(ToyFlaky):
    """toyflaky whose handler never returns (its database is toyflaky's)."""

    @event_handler("toysource", "toy_flaked", name="on_flaked")
    def on_flaked(self, envelope, uow):
        FLAKY.record(envelope.id)
        HANG.wait()


# --- finding 1: an outage of the database is not a poison message ---------------------


def test_db_outage_does_not_dead_letter(toys_world):
    world = toys_world
    delays = world.settings["CIVIC_RETRY_DELAYS"]
    world.declare(ToyFlaky)
    runner = world.start(ToyFlaky)
    outage = DatabaseOutage(running_database(runner).engine)
    try:
        outage.active = True
        envelope = write_flaked(world, 21)
        # The database stays away far longer than every retry delay together.
        wait_for(lambda: outage.refused >= 3, timeout=10, message="the handler meeting the outage")
        threading.Event().wait(4 * sum(delays) + 2)  # the outage lasts on
        assert dead_letters(world) == [], "a healthy message was dead-lettered"
        assert world.flaked() == []
        outage.active = False

        wait_for(lambda: world.flaked(), timeout=40, message="the message handled after the outage")
    finally:
        outage.active = False
        outage.remove()
    assert world.flaked() == [(envelope.id, 21)]
    assert FLAKY.calls == [envelope.id]  # the handler itself ran once: it never failed
    assert world.inbox_count("toyflaky", envelope.id) == 1
    assert dead_letters(world) == []
    assert not world.log_events("handler_failed_will_retry")
    assert world.queue_depth(FLAKY_QUEUE) == 0
    assert all(world.queue_depth(queue.name) == 0 for queue in retry_queues(FLAKY_QUEUE))


# --- finding 6: deliveries are counted, not only exceptions ---------------------------


def test_hung_handler_times_out_and_is_dead_lettered(toys_world):
    world = toys_world
    delays = world.settings["CIVIC_RETRY_DELAYS"]
    FLAKY.reset()
    with nameko_config.patch({"CIVIC_HANDLER_TIMEOUT": 0.5}, clear=False):
        world.declare(HangingFlaky)
        world.start(HangingFlaky)
        envelope = write_flaked(world, 6)
        [entry] = wait_for(lambda: dead_letters(world), timeout=30, message="dead-lettered")
    assert entry["id"] == envelope.id
    assert entry["attempts"] == 1 + len(delays)
    assert "HandlerTimeout" in entry["error"]
    assert FLAKY.calls == [envelope.id] * (1 + len(delays))
    assert world.queue_depth(FLAKY_QUEUE) == 0


def test_worker_death_is_counted_and_dead_lettered(toys_world):
    world = toys_world
    delays = world.settings["CIVIC_RETRY_DELAYS"]
    FLAKY.reset()
    world.declare(HangingFlaky)
    runner = world.start(HangingFlaky)
    envelope = write_flaked(world, 66, "corr-dies")

    # Each delivery hangs its worker, and the process then dies (killed: its unacked
    # message goes back to the queue flagged redelivered) and is started again. Counted,
    # the message ends in the dead letters after the attempts; uncounted, it would come
    # back forever.
    deaths = 0
    while True:
        wait_for(
            lambda deaths=deaths: len(FLAKY.calls) > deaths or dead_letters(world),
            timeout=15,
            message="the next delivery (or the dead letter)",
        )
        if dead_letters(world):
            break
        assert deaths <= 1 + len(delays), f"delivered {len(FLAKY.calls)} times, never counted"
        runner.kill()
        deaths += 1
        runner = world.start(HangingFlaky)

    [entry] = dead_letters(world)
    assert entry["id"] == envelope.id
    assert entry["attempts"] == 1 + len(delays)
    assert entry["correlation_id"] == "corr-dies"
    assert deaths == 1 + len(delays)
    assert FLAKY.calls == [envelope.id] * (1 + len(delays))
    assert world.log_events("delivery_unfinished_counted")


# --- finding 8: a copy that cannot be routed leaves the original ----------------------


def test_forward_to_missing_queue_keeps_the_original(toys_world):
    world = toys_world
    settings = world.settings
    delays = settings["CIVIC_RETRY_DELAYS"]
    FLAKY.reset("always_fail")
    world.declare(ToyFlaky)
    runner = world.start(ToyFlaky)
    first_retry = retry_queues(FLAKY_QUEUE)[0].name
    with Connection(world.amqp_uri) as connection:
        connection.default_channel.queue_delete(first_retry)  # e.g. deleted by hand

    envelope = write_flaked(world, 8)
    wait_for(
        lambda: world.log_events("forward_failed_held", target=first_retry),
        message="the failed forward noticed (not the original acked, its copy dropped)",
    )
    runner.kill()  # the held original goes back to its queue
    # (A quorum queue takes it back once it has seen the consumer's channel go.)
    wait_for(lambda: world.queue_depth(FLAKY_QUEUE) == 1, message="the original back")
    assert dead_letters(world) == []

    # The queue is back: the forward goes through, the message runs its course.
    world.declare(ToyFlaky)
    world.start(ToyFlaky)
    [entry] = wait_for(lambda: dead_letters(world), timeout=30, message="dead-lettered")
    assert entry["id"] == envelope.id
    assert entry["attempts"] == 1 + len(delays)
    assert world.queue_depth(FLAKY_QUEUE) == 0


# --- finding 12: a dead letter keeps its bytes ----------------------------------------


def test_dead_letter_without_content_type_is_replayed_byte_for_byte(toys_world):
    world = toys_world
    world.declare(ToyFlaky)
    runner = world.start(ToyFlaky)
    body = b"\xff\xfe odd \x00 bytes \x80{"
    message_id = "5e1d0000-0000-4000-8000-00000000000c"
    with Connection(
        world.amqp_uri, connect_timeout=5, transport_options={"confirm_publish": True}
    ) as connection:
        # No content type, no encoding: exactly what some other client might send.
        connection.default_channel.basic_publish(
            amqp.Message(body, message_id=message_id, delivery_mode=2),
            exchange="toysource.events",
            routing_key="toy_flaked",
        )
    [entry] = wait_for(lambda: dead_letters(world), message="dead-lettered")
    assert entry["id"] == message_id and entry["queue"] == FLAKY_QUEUE

    runner.kill()  # nobody consumes the queue: the replayed copy stays for the test
    deadletters.replay(world.amqp_uri, message_id)
    [(replayed_id, headers, message)] = world.drain(FLAKY_QUEUE)
    assert replayed_id == message_id
    assert deadletters.raw_body(message) == body
    assert message.content_type is None and message.content_encoding is None
    assert headers["x-civic-attempts"] == 0
    assert dead_letters(world) == []


# --- finding 7: orphaned queues -------------------------------------------------------


def test_orphaned_queue_is_reported(civic_settings):
    settings = civic_settings
    amqp_uri = settings["AMQP_URI"]
    topology.declare(amqp_uri)
    orphan = "evt-groups-member_joined--proposals.old_name"
    with Connection(amqp_uri) as connection:
        channel = connection.default_channel
        Queue(orphan, durable=True, auto_delete=False)(channel).declare()
        Queue(f"{orphan}.retry-1000ms", durable=True, auto_delete=False)(channel).declare()
        Queue("someone-elses-queue", durable=True, auto_delete=False)(channel).declare()
    with Connection(
        amqp_uri, connect_timeout=5, transport_options={"confirm_publish": True}
    ) as connection:
        # An event its old handler never got to: it waits there, for nobody.
        connection.default_channel.basic_publish(
            amqp.Message(b'{"type": "member_joined"}', delivery_mode=2),
            exchange="",
            routing_key=orphan,
        )

    def orphans():
        found = topology.orphaned_queues(settings["RABBIT_MANAGEMENT_URI"], amqp_uri)
        return found if any(item["messages"] for item in found) else None

    found = wait_for(orphans, message="the orphan's message counted by the management API")
    assert found == [
        {"name": orphan, "service": "proposals", "messages": 1},
        {"name": f"{orphan}.retry-1000ms", "service": "proposals", "messages": 0},
    ]

    from services.gateway import staff

    class Down:
        def health(self, timeout):
            raise TimeoutError

    health = staff.system_health(
        {name: Down() for name in ("proposals",)},
        ["proposals"],
        settings["RABBIT_MANAGEMENT_URI"],
        amqp_uri,
    )
    assert health["orphaned_queues"] == found
