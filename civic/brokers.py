"""One connection to the first broker of a list that answers.

`CIVIC_AMQP_URI` may name every node of a RabbitMQ cluster, `;`-separated (kombu's
failover list: `amqp://a/;amqp://b/;amqp://c/`). kombu's own consumers and producers
move along the list when they reconnect; the kernel's lean connections (the outbox
relay's publisher, the RPC line) connect through `establish`, which tries each node
once, starting with the one that answered last, so a stopped node costs one refused
connect and not one per reconnect.
"""

from __future__ import annotations

import amqp
from kombu import Connection


class LeanConnection(amqp.Connection):
    """A py-amqp connection that does not ask to be told when the broker blocks it.

    py-amqp asks for `connection.blocked` notifications by default, and then reads the
    socket (a `drain_events(timeout=0)`) before every message it publishes, to notice
    one: a system call and a pass through the reader per publish, 5% of the gateway's
    CPU per request (issue 14). On the RPC line it also had two green threads reading
    one socket: the publisher's read and the line's own reader. Nothing in Civic acts on
    the notification: a blocked broker (its memory or disk alarm) shows as a publish
    that does not finish or is not confirmed within CIVIC_PUBLISH_TIMEOUT, as it did."""

    negotiate_capabilities = {
        **amqp.Connection.negotiate_capabilities,
        "connection.blocked": False,
    }


# The node (index in its URI's list) that answered last, per URI.
_last_good: dict[str, int] = {}


def establish(amqp_uri: str, **options) -> amqp.Connection:
    """An open py-amqp connection to one of the brokers of `amqp_uri` (one attempt at
    each); raises the last node's error when none answers. `options` are kombu
    Connection's (connect_timeout, heartbeat, transport_options)."""
    params = Connection(amqp_uri, **options)
    nodes = params.alt or [amqp_uri]
    first = _last_good.get(amqp_uri, 0) % len(nodes)
    failure: BaseException | None = None
    for step in range(len(nodes)):
        index = (first + step) % len(nodes)
        if len(nodes) > 1:
            params.switch(nodes[index])
        params.transport.Connection = LeanConnection  # (a switch makes a new transport)
        try:
            connection = params.transport.establish_connection()
        except Exception as exc:  # refused, timed out, refused us: the next node
            failure = exc
            continue
        _last_good[amqp_uri] = index
        return connection
    assert failure is not None
    raise failure
