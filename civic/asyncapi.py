"""The catalogue of event contracts as an AsyncAPI 2.6 document, generated from the code.

One channel per event type: the routing key (the event type) on its producer's topic
exchange `<producer>.events`. Each message's payload is the envelope, whose `data` is the
JSON schema converted from the contract's marshmallow schema (apispec's
MarshmallowPlugin, the same converter the gateway's OpenAPI document uses). The
subscribers listed on each channel are read from the services' `@event_handler`s, the
same list `civic migrate` declares queues from, so the document cannot drift from what
runs.
"""

from __future__ import annotations

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

import civic
from civic.contracts import CATALOGUE, EnvelopeSchema
from civic.messaging import DEAD_LETTER_QUEUE
from civic.outbox import event_exchange

ASYNCAPI_VERSION = "2.6.0"
AMQP_BINDING_VERSION = "0.2.0"
ENVELOPE = "Envelope"

DESCRIPTION = f"""Every event Civic's services publish on RabbitMQ.

Each event is one JSON envelope (`id`, `type`, `version`, `occurred_at`, `producer`,
`correlation_id`, `actor_id`, `data`), published with publisher confirms and persistent
delivery from the producer's transactional outbox to its topic exchange
`<producer>.events`, with the event type as routing key. Delivery is at least once:
consumers skip an envelope id they have already handled. Consumers ignore fields they do
not know and reject a version they cannot read. A message that keeps failing is retried
with backoff and then parked in the `{DEAD_LETTER_QUEUE}` queue
(`civic dead-letters list|replay`)."""


def data_schemas() -> dict[str, dict]:
    """The JSON schema of each event type's `data` (plus any nested schema), by name."""
    spec = APISpec(
        title="civic",
        version=civic.__version__,
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
    )
    for event_type, found in sorted(CATALOGUE.items()):
        spec.components.schema(event_type, schema=found.schema)
    spec.components.schema(ENVELOPE, schema=EnvelopeSchema)
    schemas = spec.to_dict()["components"]["schemas"]
    for schema in schemas.values():
        # Producers validate strictly, but consumers must ignore unknown fields: the
        # document describes what a consumer may rely on, so it allows extra fields.
        schema.pop("additionalProperties", None)
    return schemas


def _subscribers(subscriptions) -> dict[str, list[dict]]:
    by_type: dict[str, list[dict]] = {}
    for sub in subscriptions:
        by_type.setdefault(sub.event_type, []).append(
            {"service": sub.service, "handler": f"{sub.service}.{sub.method}", "queue": sub.queue}
        )
    return by_type


def build_document(subscriptions=None) -> dict:
    """The AsyncAPI 2.6 document (a JSON-able dict)."""
    if subscriptions is None:
        from civic.topology import subscriptions as find_subscriptions

        subscriptions = find_subscriptions()
    subscribers = _subscribers(subscriptions)
    schemas = data_schemas()
    channels, messages = {}, {}
    for event_type, found in sorted(CATALOGUE.items()):
        exchange = event_exchange(found.producer)
        channels[event_type] = {
            "description": f"`{event_type}` events on the `{exchange.name}` exchange "
            f"(routing key `{event_type}`).",
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {
                        "name": exchange.name,
                        "type": exchange.type,
                        "durable": True,
                        "autoDelete": False,
                        "vhost": "/",
                    },
                    "bindingVersion": AMQP_BINDING_VERSION,
                }
            },
            "subscribe": {
                "operationId": f"on_{event_type}",
                "summary": found.description,
                "bindings": {
                    "amqp": {
                        "deliveryMode": 2,
                        "mandatory": False,
                        "bindingVersion": AMQP_BINDING_VERSION,
                    }
                },
                "message": {"$ref": f"#/components/messages/{event_type}"},
            },
            "x-civic-producer": found.producer,
            "x-civic-subscribers": sorted(
                subscribers.get(event_type, []), key=lambda item: item["queue"]
            ),
        }
        messages[event_type] = {
            "name": event_type,
            "title": event_type.replace("_", " ").capitalize(),
            "summary": found.description,
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {
                    "nameko.correlation_id": {
                        "type": "string",
                        "description": "The correlation id again, for nameko's RPC calls.",
                    },
                },
            },
            "correlationId": {
                "description": "One id follows a request through every service it touches.",
                "location": "$message.payload#/correlation_id",
            },
            "payload": {
                "allOf": [
                    {"$ref": f"#/components/schemas/{ENVELOPE}"},
                    {
                        "type": "object",
                        "required": ["data"],
                        "properties": {
                            "type": {"type": "string", "const": event_type},
                            "version": {"type": "integer", "const": found.version},
                            "producer": {"type": "string", "const": found.producer},
                            "data": {"$ref": f"#/components/schemas/{event_type}"},
                        },
                    },
                ]
            },
            "bindings": {
                "amqp": {
                    "contentEncoding": "utf-8",
                    "messageType": event_type,
                    "bindingVersion": AMQP_BINDING_VERSION,
                }
            },
            "x-civic-version": found.version,
        }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:civic:events",
        "info": {"title": "Civic events", "version": civic.__version__, "description": DESCRIPTION},
        "servers": {
            "rabbitmq": {
                "url": "{host}:{port}",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "variables": {"host": {"default": "127.0.0.1"}, "port": {"default": "5672"}},
            }
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "components": {"schemas": schemas, "messages": messages},
    }
