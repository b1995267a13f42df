"""Declares every queue of every service before anything publishes.

nameko publishes events with `mandatory=False`: an event sent before its subscriber's
queue exists is dropped without a word. So the whole topology — each subscription's
durable queue bound to its producer's exchange, its retry queue, the dead-letter
queue — is read from the code (the services' `@event_handler`s) and declared by
`civic migrate`, `civic up` and every service at start.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass

from kombu import Connection, Queue

from civic.config import DOMAIN_SERVICES
from civic.contracts import CATALOGUE
from civic.messaging import (
    AllEventsSubscription,
    EventSubscription,
    all_events_queue,
    all_events_queue_name,
    dead_letter_queue,
    queue_name,
    retry_queues,
    subscription_queue,
)
from civic.outbox import event_exchange


@dataclass(frozen=True)
class Subscription:
    service: str
    method: str
    source: str
    event_type: str
    # The one queue an `@all_events_handler` receives every type on; None: its own queue.
    shared_queue: str | None = None

    @property
    def queue(self) -> str:
        return self.shared_queue or queue_name(
            self.source, self.event_type, self.service, self.method
        )


def service_class(service: str):
    module = importlib.import_module(f"services.{service}.service")
    for _, value in inspect.getmembers(module, inspect.isclass):
        if getattr(value, "name", None) == service and value.__module__ == module.__name__:
            return value
    raise LookupError(f"services.{service}.service has no class named {service!r}")


def subscriptions(services=DOMAIN_SERVICES) -> list[Subscription]:
    """Every `@event_handler` of the given services (names, or service classes)."""
    found = []
    for service in services:
        cls = service if inspect.isclass(service) else service_class(service)
        for method_name, method in inspect.getmembers(cls, callable):
            for entrypoint in getattr(method, "nameko_entrypoints", ()):
                if isinstance(entrypoint, AllEventsSubscription):
                    shared = all_events_queue_name(cls.name, method_name)
                    routes = entrypoint.routes(cls.name)
                    found.extend(
                        Subscription(cls.name, method_name, producer, event_type, shared)
                        for producer, event_type in routes
                    )
                elif isinstance(entrypoint, EventSubscription):
                    found.append(
                        Subscription(
                            cls.name, method_name, entrypoint.source_service, entrypoint.event_type
                        )
                    )
    check(found)
    return found


def check(found: list[Subscription]) -> None:
    """Every subscription must name a catalogued event of its real producer."""
    for sub in found:
        contract = CATALOGUE.get(sub.event_type)
        if contract is None:
            raise LookupError(
                f"{sub.service}.{sub.method} handles {sub.event_type!r}, "
                "which is not in the catalogue"
            )
        if contract.producer != sub.source:
            raise LookupError(
                f"{sub.service}.{sub.method} expects {sub.event_type!r} from "
                f"{sub.source!r}, but {contract.producer!r} publishes it"
            )


def queues(found: list[Subscription]) -> list[Queue]:
    declared = [dead_letter_queue()]
    shared: dict[str, list[Subscription]] = {}
    for sub in found:
        if sub.shared_queue:
            shared.setdefault(sub.shared_queue, []).append(sub)
            continue
        declared.append(subscription_queue(sub.source, sub.event_type, sub.service, sub.method))
        declared.extend(retry_queues(sub.queue))
    for name, subs in shared.items():
        declared.append(all_events_queue(name, [(sub.source, sub.event_type) for sub in subs]))
        declared.extend(retry_queues(name))
    return declared


def declare(amqp_uri: str, services=DOMAIN_SERVICES) -> list[str]:
    """Declare exchanges and queues (idempotent); returns the queue names."""
    found = subscriptions(services)
    producers = {contract.producer for contract in CATALOGUE.values()}
    with Connection(amqp_uri, connect_timeout=10) as connection:
        channel = connection.default_channel
        for producer in sorted(producers):
            event_exchange(producer)(channel).declare()
        declared = queues(found)
        for queue in declared:
            queue(channel).declare()
    return [queue.name for queue in declared]
