"""Poison messages: bounded retries, the dead-letter queue, listing and replaying it."""

import json
from datetime import datetime

import pytest
from kombu import Connection, Queue

from civic import deadletters
from civic.contracts import new_envelope
from civic.errors import Conflict, NotFound, Unavailable, ValidationError
from civic.messaging import DEAD_LETTER_QUEUE, queue_name, retry_queues
from tests.conftest import wait_for
from tests.integration.conftest import closed_port
from tests.integration.toys import FLAKY, ToyFlaky

FLAKY_QUEUE = queue_name("toysource", "toy_flaked", "toyflaky", "on_flaked")


def write_flaked(world, n, correlation_id):
    """toysource writes a toy_flaked through its unit of work (outbox, then publish)."""
    with world.databases["toysource"].unit_of_work({"correlation_id": correlation_id}) as uow:
        return uow.publish("toy_flaked", {"n": n})


def dead_letters(world, limit=100):
    return deadletters.list_dead_letters(world.amqp_uri, limit=limit)


def test_failing_handler_is_dead_lettered_after_every_attempt_then_replayed(toys_world):
    world = toys_world
    delays = world.settings["CIVIC_RETRY_DELAYS"]
    FLAKY.reset("always_fail")
    world.declare(ToyFlaky)
    world.start(ToyFlaky)

    envelope = write_flaked(world, 3, "corr-poison")
    [entry] = wait_for(lambda: dead_letters(world), message="the message dead-lettered")

    assert FLAKY.calls == [envelope.id] * (1 + len(delays))
    assert entry["id"] == envelope.id
    assert entry["type"] == "toy_flaked"
    assert entry["queue"] == FLAKY_QUEUE
    assert entry["service"] == "toyflaky"
    assert entry["handler"] == "toyflaky.on_flaked"
    assert entry["attempts"] == 1 + len(delays)
    assert "ToyFailure: toy handler refuses n=3" in entry["error"]
    assert datetime.fromisoformat(entry["failed_at"]).utcoffset() is not None
    # The first retry recorded when its trouble began; the later ones kept it.
    assert entry["first_failed_at_estimated"] is False
    first_failed = datetime.fromisoformat(entry["first_failed_at"])
    assert first_failed < datetime.fromisoformat(entry["failed_at"])
    assert entry["correlation_id"] == "corr-poison"
    assert entry["envelope"] == envelope.to_dict()
    assert world.log_events("handler_failed_dead_lettered", queue=FLAKY_QUEUE)
    # Nothing left behind to be tried again, and listing consumed nothing.
    assert world.queue_depth(FLAKY_QUEUE) == 0
    assert all(world.queue_depth(queue.name) == 0 for queue in retry_queues(FLAKY_QUEUE))
    assert dead_letters(world) == [entry]
    assert world.queue_depth(DEAD_LETTER_QUEUE) == 1
    assert world.flaked() == []

    # Replayed while the handler still fails: its attempts start again from zero.
    replayed = deadletters.replay(world.amqp_uri, envelope.id)
    assert replayed["id"] == envelope.id and replayed["queue"] == FLAKY_QUEUE
    [again] = wait_for(lambda: dead_letters(world), message="dead-lettered again")
    assert again["attempts"] == 1 + len(delays)
    assert FLAKY.calls == [envelope.id] * 2 * (1 + len(delays))

    # Fixed, replayed once more: handled, and gone from the dead-letter queue.
    FLAKY.mode = "ok"
    deadletters.replay(world.amqp_uri, envelope.id)
    wait_for(lambda: world.flaked() == [(envelope.id, 3)], message="replayed message handled")
    assert dead_letters(world) == []
    assert world.queue_depth(DEAD_LETTER_QUEUE) == 0
    assert world.inbox_count("toyflaky", envelope.id) == 1


def test_unreadable_message_goes_straight_to_dead_letters(toys_world):
    world = toys_world
    world.declare(ToyFlaky)
    world.start(ToyFlaky)
    envelope = new_envelope(
        "toy_flaked", {"n": 1}, producer="toysource", correlation_id="corr-future"
    ).to_dict()
    envelope["version"] = 99  # written by a newer producer this code cannot read

    world.publish_event(envelope)
    [entry] = wait_for(lambda: dead_letters(world), message="the message dead-lettered")

    assert entry["id"] == envelope["id"]
    assert entry["attempts"] == 0
    assert entry["queue"] == FLAKY_QUEUE
    assert entry["error"].startswith("ContractError: toy_flaked version 99 cannot be read")
    assert entry["envelope"] == envelope
    assert entry["correlation_id"] == "corr-future"
    assert FLAKY.calls == []
    assert world.log_events("message_unreadable", queue=FLAKY_QUEUE, level="error")


def test_listing_is_bounded_and_replay_takes_only_its_message(toys_world):
    world = toys_world
    target = "replay-target"
    world.declare()  # no subscriptions: just the dead-letter queue
    with Connection(world.amqp_uri) as connection:
        Queue(target, durable=True, auto_delete=False)(connection.default_channel).declare()

    def park(body, message_id=None, **headers):
        world.publish_raw(
            body,
            routing_key=DEAD_LETTER_QUEUE,
            message_id=message_id,
            headers={
                "x-civic-queue": target,
                "x-civic-attempts": 3,
                "x-civic-error": "boom",
                **headers,
            },
        )

    first = new_envelope(
        "toy_noted", {"n": 1}, producer="toysource", correlation_id="corr-1"
    ).to_dict()
    second = new_envelope(
        "toy_noted", {"n": 2}, producer="toysource", correlation_id="corr-2"
    ).to_dict()
    park(first, first["id"])
    park(b"\x00 not json {", None)  # no message id, unreadable body
    park(second, second["id"], **{"nameko.correlation_id": "corr-2"})

    listed = dead_letters(world)
    assert [entry["id"] for entry in listed][0::2] == [first["id"], second["id"]]
    raw = listed[1]
    assert raw["envelope"].endswith("not json {") and raw["type"] is None
    assert raw["correlation_id"] is None and raw["attempts"] == 3
    # A stable id for a message that has none: the same on every listing.
    assert dead_letters(world)[1]["id"] == raw["id"]
    assert [entry["id"] for entry in dead_letters(world, limit=2)] == [first["id"], raw["id"]]
    assert deadletters.count_dead_letters(world.amqp_uri) == 3

    with pytest.raises(NotFound):
        deadletters.replay(world.amqp_uri, "00000000-0000-0000-0000-000000000000")
    assert world.queue_depth(DEAD_LETTER_QUEUE) == 3

    summary = deadletters.replay(world.amqp_uri, second["id"])
    assert summary["id"] == second["id"] and summary["envelope"] == second
    assert summary["replayed_at"]
    [(message_id, headers, message)] = world.drain(target)
    assert message_id == second["id"]
    assert message.content_type == "application/json"
    assert deadletters.raw_body(message) == json.dumps(second).encode("utf-8")
    assert headers["x-civic-attempts"] == 0
    assert headers["x-civic-replayed-at"] == summary["replayed_at"]
    assert headers["nameko.correlation_id"] == "corr-2"
    assert "x-civic-queue" not in headers and "x-civic-error" not in headers
    # The others stayed, in their order.
    assert [entry["id"] for entry in dead_letters(world)] == [first["id"], raw["id"]]

    deadletters.replay(world.amqp_uri, raw["id"])
    [(_, _, message)] = world.drain(target)
    assert deadletters.raw_body(message) == b"\x00 not json {"
    assert [entry["id"] for entry in dead_letters(world)] == [first["id"]]


def test_replay_to_a_queue_that_is_gone_leaves_the_dead_letter(toys_world):
    world = toys_world
    envelope = new_envelope(
        "toy_noted", {"n": 1}, producer="toysource", correlation_id="corr-gone"
    ).to_dict()
    world.declare()
    world.publish_raw(
        envelope,
        routing_key=DEAD_LETTER_QUEUE,
        message_id=envelope["id"],
        headers={"x-civic-queue": "no-such-queue", "x-civic-attempts": 3},
    )

    with pytest.raises(Conflict):
        deadletters.replay(world.amqp_uri, envelope["id"])
    assert [entry["id"] for entry in dead_letters(world)] == [envelope["id"]]


def test_dead_letters_of_a_fresh_broker(civic_settings):
    """Neither call needs the topology to exist already."""
    amqp_uri = civic_settings["AMQP_URI"]
    assert deadletters.list_dead_letters(amqp_uri) == []
    with pytest.raises(NotFound):
        deadletters.replay(amqp_uri, "00000000-0000-0000-0000-000000000000")
    assert deadletters.count_dead_letters(amqp_uri) == 0


def test_dead_letters_when_the_broker_is_unreachable():
    unreachable = f"amqp://guest:guest@127.0.0.1:{closed_port()}/"
    with pytest.raises(Unavailable):
        deadletters.list_dead_letters(unreachable)
    with pytest.raises(Unavailable):
        deadletters.replay(unreachable, "00000000-0000-0000-0000-000000000000")


@pytest.mark.parametrize("limit", [0, -1, "10", None, True])
def test_listing_refuses_a_bad_limit(limit):
    with pytest.raises(ValidationError):  # before it even connects
        deadletters.list_dead_letters(f"amqp://127.0.0.1:{closed_port()}/", limit=limit)


def test_undecodable_message_goes_straight_to_dead_letters(toys_world):
    world = toys_world
    world.declare(ToyFlaky)
    world.start(ToyFlaky)

    world.publish_raw(
        b"{not json",
        exchange="toysource.events",
        routing_key="toy_flaked",
        message_id="0b0e5a5e-0000-4000-8000-000000000001",
    )

    def dropped_by_kombu():
        return [
            line
            for line in world.log_lines()
            if str(line.get("event")).startswith("Can't decode message body")
        ]

    wait_for(
        lambda: dead_letters(world) or dropped_by_kombu(),
        message="the undecodable message dead-lettered (or dropped)",
    )
    [entry] = dead_letters(world)
    assert entry["envelope"] == "{not json"
    assert entry["queue"] == FLAKY_QUEUE
    assert FLAKY.calls == []


def _park_for(world, queue, envelope, attempts=4, **headers):
    world.publish_raw(
        envelope,
        routing_key=DEAD_LETTER_QUEUE,
        message_id=envelope["id"],
        headers={
            "x-civic-queue": queue,
            "x-civic-attempts": attempts,
            "x-civic-error": "boom",
            "x-civic-failed-at": "2026-12-01T10:00:10+00:00",
            **headers,
        },
    )


def test_replaying_every_dead_letter_of_one_queue_leaves_the_others(toys_world):
    world = toys_world
    world.declare()
    with Connection(world.amqp_uri) as connection:
        for name in ("fixed-handler", "other-handler"):
            Queue(name, durable=True, auto_delete=False)(connection.default_channel).declare()

    def envelope(n):
        return new_envelope(
            "toy_noted", {"n": n}, producer="toysource", correlation_id=f"corr-{n}"
        ).to_dict()

    fixed = [envelope(1), envelope(2)]
    other = envelope(3)
    _park_for(world, "fixed-handler", fixed[0])
    _park_for(world, "other-handler", other)
    _park_for(world, "fixed-handler", fixed[1])

    assert deadletters.count_for_queue(world.amqp_uri, "fixed-handler") == 2
    assert deadletters.count_for_queue(world.amqp_uri, "nobody") == 0
    assert deadletters.count_dead_letters(world.amqp_uri) == 3  # counting consumed none

    done = deadletters.replay_queue(world.amqp_uri, "fixed-handler")
    assert done == {"queue": "fixed-handler", "replayed": 2}
    sent = world.drain("fixed-handler")
    assert [message_id for message_id, _, _ in sent] == [item["id"] for item in fixed]
    assert all(headers["x-civic-attempts"] == 0 for _, headers, _ in sent)
    [left] = dead_letters(world)
    assert left["id"] == other["id"] and left["queue"] == "other-handler"
    # Nothing left of that queue: replaying again sends nothing.
    assert deadletters.replay_queue(world.amqp_uri, "fixed-handler")["replayed"] == 0
    assert world.drain("fixed-handler") == []

    with pytest.raises(ValidationError):
        deadletters.replay_queue(world.amqp_uri, " ")


def test_replaying_a_queue_that_is_gone_leaves_its_dead_letters(toys_world):
    world = toys_world
    world.declare()
    gone = new_envelope("toy_noted", {"n": 1}, producer="toysource", correlation_id="c").to_dict()
    _park_for(world, "no-such-queue-any-more", gone)
    with pytest.raises(Conflict):
        deadletters.replay_queue(world.amqp_uri, "no-such-queue-any-more")
    assert [item["id"] for item in dead_letters(world)] == [gone["id"]]


def test_first_failure_is_recorded_or_estimated_from_the_retry_delays(toys_world):
    world = toys_world
    world.declare()
    delays = world.settings["CIVIC_RETRY_DELAYS"]
    recorded, estimated, once = (
        new_envelope("toy_noted", {"n": n}, producer="toysource", correlation_id="c").to_dict()
        for n in (1, 2, 3)
    )
    _park_for(
        world,
        "q",
        recorded,
        attempts=1 + len(delays),
        **{"x-civic-first-failed-at": "2026-12-01T10:00:00+00:00"},
    )
    _park_for(world, "q", estimated, attempts=1 + len(delays))
    _park_for(world, "q", once, attempts=1)
    by_id = {item["id"]: item for item in dead_letters(world)}

    assert by_id[recorded["id"]]["first_failed_at"] == "2026-12-01T10:00:00+00:00"
    assert by_id[recorded["id"]]["first_failed_at_estimated"] is False
    first = datetime.fromisoformat(by_id[estimated["id"]]["first_failed_at"])
    last = datetime.fromisoformat("2026-12-01T10:00:10+00:00")
    assert (last - first).total_seconds() == pytest.approx(sum(delays))
    assert by_id[estimated["id"]]["first_failed_at_estimated"] is True
    assert by_id[once["id"]]["first_failed_at"] == "2026-12-01T10:00:10+00:00"
    assert by_id[once["id"]]["first_failed_at_estimated"] is False
