"""Helpers the test suites share: events as their producers publish them, what a service
wrote to its outbox, and what the domain services published on the broker (the
`published` fixture of tests/conftest.py)."""

from __future__ import annotations

import json
import os
import uuid

from kombu import Connection, Producer, Queue
from sqlalchemy import func, select

from civic.config import DOMAIN_SERVICES
from civic.contracts import CATALOGUE, Envelope, new_envelope
from civic.outbox import context_headers, event_exchange


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
