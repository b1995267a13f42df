"""A list of brokers (a cluster's nodes, `;`-separated): the kernel's own connections
take the first node that answers, and remember it (issue 15)."""

from __future__ import annotations

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
    finally:
        connection.collect()
    assert brokers._last_good[listed] == 1  # the next connection tries it first


def test_no_node_answering_is_the_last_nodes_error(civic_settings):
    amqp_uri = civic_settings["AMQP_URI"]
    listed = ";".join(node_uri(amqp_uri, closed_port()) for _ in range(2))
    with pytest.raises(OSError):
        brokers.establish(listed, connect_timeout=2)
