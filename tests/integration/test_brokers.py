"""A list of brokers (a cluster's nodes, `;`-separated): the kernel's own connections
take the first node that answers, and remember it (issue 15)."""

from __future__ import annotations

import time

import amqp
import pytest

from civic import brokers
from tests.integration.conftest import closed_port


def node_uri(amqp_uri: str, port: int) -> str:
    vhost = amqp_uri.rsplit("/", 1)[1]
    return f"amqp://guest:guest@127.0.0.1:{port}/{vhost}"


def test_a_stopped_node_is_passed_over_and_the_answering_one_remembered(civic_settings):
    amqp_uri = civic_settings["AMQP_URI"]
    listed = ";".join([node_uri(amqp_uri, closed_port()), node_uri(amqp_uri, 5672)])
    connection = brokers.establish(listed, connect_timeout=2)
    try:
        assert connection.connected
        assert connection.host.endswith(":5672")
        assert isinstance(connection, brokers.LeanConnection)  # on the second node too
    finally:
        connection.collect()
    assert brokers._last_good[listed] == 1  # the next connection tries it first


def test_no_node_answering_is_the_last_nodes_error(civic_settings):
    amqp_uri = civic_settings["AMQP_URI"]
    listed = ";".join(node_uri(amqp_uri, closed_port()) for _ in range(2))
    with pytest.raises(OSError):
        brokers.establish(listed, connect_timeout=2)


def test_a_publish_does_not_read_the_socket_first(civic_settings):
    """py-amqp reads the socket before each publish when it asked for `connection.blocked`
    notifications; the kernel's connections don't ask, so a publish only writes (the RPC
    line's reader is then the one green thread reading its socket)."""
    connection = brokers.establish(civic_settings["AMQP_URI"], connect_timeout=2)
    reads = []
    drain_events = connection.drain_events

    def counted_drain_events(*args, **kwargs):
        reads.append(kwargs)
        return drain_events(*args, **kwargs)

    connection.drain_events = counted_drain_events
    try:
        assert connection.client_properties["capabilities"]["connection.blocked"] is False
        channel = connection.channel()
        queue, _, _ = channel.queue_declare("", exclusive=True)
        reads.clear()  # declaring waits for the broker's answer: a read
        for number in range(3):
            channel.basic_publish(amqp.Message(str(number)), "", queue)
        assert reads == []
        delivered = []
        deadline = time.monotonic() + 10
        while len(delivered) < 3 and time.monotonic() < deadline:
            message = channel.basic_get(queue, no_ack=True)
            if message is not None:
                delivered.append(message.body)
        assert delivered == ["0", "1", "2"]
    finally:
        connection.collect()
