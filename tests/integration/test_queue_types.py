"""Issue 15, quorum queues: every durable Civic queue is of CIVIC_QUEUE_TYPE (quorum by
default), a quorum queue dead-letters a message past its delivery limit (at least
once), and `civic queues migrate` moves a broker's classic queues with their messages."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests
from kombu import Connection
from nameko import config as nameko_config

from civic import deadletters, topology
from civic.contracts import new_envelope
from civic.messaging import DEAD_LETTER_QUEUE, DELIVERY_LIMIT, retry_queue_name
from civic.topology import QueuesInUse, QueueTypeMismatch
from tests.conftest import wait_for
from tests.integration.test_reliability import SINK_QUEUE
from tests.integration.toys import ToySink, ToySource

RPC_QUEUE = "rpc-toysource"

pytestmark = pytest.mark.quorum


def broker_queue(world, name: str) -> dict:
    """The management API's view of one queue of the test's vhost."""
    settings = world.settings
    vhost = topology.vhost_of(world.amqp_uri)
    base = settings["RABBIT_MANAGEMENT_URI"].rstrip("/")
    response = requests.get(
        f"{base}/api/queues/{quote(vhost, safe='')}/{quote(name, safe='')}",
        auth=("guest", "guest"),
        timeout=5,
    )
    response.raise_for_status()
    return response.json()


def noted(n: int) -> dict:
    return new_envelope(
        "toy_noted", {"n": n}, producer="toysource", correlation_id=f"corr-{n}"
    ).to_dict()


def test_every_durable_civic_queue_is_a_quorum_queue_by_default(toys_world):
    world = toys_world
    assert world.settings["CIVIC_QUEUE_TYPE"] == "quorum"
    world.declare(ToySink)
    world.start(ToySource)  # its RPC queue, declared by the service itself

    retry = retry_queue_name(SINK_QUEUE, world.settings["CIVIC_RETRY_DELAYS"][0])
    for name in (SINK_QUEUE, retry, DEAD_LETTER_QUEUE, RPC_QUEUE):
        assert broker_queue(world, name)["type"] == "quorum", name
    handler = broker_queue(world, SINK_QUEUE)["arguments"]
    assert handler["x-delivery-limit"] == DELIVERY_LIMIT
    assert handler["x-dead-letter-routing-key"] == DEAD_LETTER_QUEUE
    assert handler["x-dead-letter-strategy"] == "at-least-once"
    assert broker_queue(world, retry)["arguments"]["x-dead-letter-routing-key"] == SINK_QUEUE
    assert broker_queue(world, RPC_QUEUE)["arguments"]["x-delivery-limit"] == DELIVERY_LIMIT


def test_a_message_returned_past_the_delivery_limit_is_dead_lettered(toys_world):
    """A consumer that dies holding a message, again and again (nothing acks it): the
    broker itself moves it to the dead letters, which staff see and can replay."""
    world = toys_world
    world.declare(ToySink)
    envelope = noted(7)
    world.publish_event(envelope)

    returned = 0
    with Connection(world.amqp_uri) as connection:
        channel = connection.default_channel
        for _ in range(DELIVERY_LIMIT + 5):
            message = channel.basic_get(SINK_QUEUE, no_ack=False)
            if message is None:
                break
            channel.basic_reject(message.delivery_tag, requeue=True)
            returned += 1
    assert returned == DELIVERY_LIMIT + 1, "the broker kept delivering past its limit"
    wait_for(lambda: world.queue_depth(DEAD_LETTER_QUEUE) == 1, message="the dead letter")

    [letter] = deadletters.list_dead_letters(world.amqp_uri)
    assert letter["id"] == envelope["id"]
    assert letter["queue"] == SINK_QUEUE
    assert letter["service"] == "toysink"
    assert letter["handler"] == "toysink.on_noted"
    assert "delivery limit" in letter["error"]
    assert letter["failed_at"]

    deadletters.replay(world.amqp_uri, envelope["id"])
    [(message_id, headers, _)] = world.drain(SINK_QUEUE)
    assert message_id == envelope["id"]
    assert not any(key.startswith(("x-death", "x-first-death")) for key in headers), headers
    assert world.queue_depth(DEAD_LETTER_QUEUE) == 0


def test_queues_migrate_moves_classic_queues_with_their_messages(toys_world):
    world = toys_world
    management = world.settings["RABBIT_MANAGEMENT_URI"]
    with nameko_config.patch({"CIVIC_QUEUE_TYPE": "classic"}, clear=False):
        world.declare(ToySink)
    kept = noted(1)
    world.publish_event(kept)
    retry = retry_queue_name(SINK_QUEUE, world.settings["CIVIC_RETRY_DELAYS"][-1])
    world.publish_raw({"waiting": True}, routing_key=retry, message_id="in-retry")
    assert broker_queue(world, SINK_QUEUE)["type"] == "classic"

    # Quorum configured: the old queues are refused, with the way out named.
    with pytest.raises(QueueTypeMismatch, match="civic queues migrate"):
        world.declare(ToySink)

    listing = topology.management_queues(management, world.amqp_uri)
    to_move = {queue.name for queue in topology.queues_to_move(listing, [ToySink])}
    assert {SINK_QUEUE, retry, DEAD_LETTER_QUEUE} <= to_move

    moved = topology.migrate_queues(management, world.amqp_uri, services=[ToySink])
    assert {row["name"]: row["messages"] for row in moved}[SINK_QUEUE] == 1
    for name in (SINK_QUEUE, retry, DEAD_LETTER_QUEUE):
        assert broker_queue(world, name)["type"] == "quorum", name
    names = {row["name"] for row in topology.management_queues(management, world.amqp_uri)}
    assert not [name for name in names if name.endswith(topology.HOLDING_SUFFIX)]
    assert world.declare(ToySink)  # as the services will at start: no mismatch left

    # The message is still there, and the new queue is bound to its producer. The retry
    # queue's message waits out its new TTL (0.4 s in tests) and goes back to the sink
    # queue too; it may arrive before or between the two events, so it is collected
    # until all three are seen and only the events' order is asserted.
    after = noted(2)
    world.publish_event(after)
    seen: list[str] = []

    def all_three_arrived() -> bool:
        seen.extend(message_id for message_id, _, _ in world.drain(SINK_QUEUE))
        return {kept["id"], after["id"], "in-retry"} <= set(seen)

    wait_for(all_three_arrived, message="both events and the retry's message")
    assert [message_id for message_id in seen if message_id != "in-retry"] == [
        kept["id"],
        after["id"],
    ]
    assert seen.count("in-retry") == 1
    assert (
        topology.queues_to_move(topology.management_queues(management, world.amqp_uri), [ToySink])
        == []
    )


def test_queues_migrate_refuses_while_a_service_consumes(toys_world):
    world = toys_world
    with nameko_config.patch({"CIVIC_QUEUE_TYPE": "classic"}, clear=False):
        world.declare(ToySink)
        world.start(ToySink)
    with pytest.raises(QueuesInUse) as refused:
        topology.migrate_queues(
            world.settings["RABBIT_MANAGEMENT_URI"], world.amqp_uri, services=[ToySink]
        )
    assert SINK_QUEUE in refused.value.names
    assert broker_queue(world, SINK_QUEUE)["type"] == "classic"
