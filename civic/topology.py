"""Declares every queue of every service before anything publishes, and finds the queues
no handler declares any more.

nameko publishes events with `mandatory=False`: an event sent before its subscriber's
queue exists is dropped without a word. So the whole topology — each subscription's
durable queue bound to its producer's exchange, its retry queue, the dead-letter
queue — is read from the code (the services' `@event_handler`s) and declared by
`civic migrate`, `civic up` and every service at start.

Each handler names its queue (`name=`), so renaming a method changes nothing on the
broker; changing a handler's name (or removing it) leaves its old queue behind, maybe
with messages in it. `orphaned_queues` lists those: queues of Civic's naming
(`evt-…--<service>.<handler>` and their retry queues) that no current handler declares,
with their message counts, read from the RabbitMQ management API (staff health shows
them, and `civic status`).
"""

from __future__ import annotations

import functools
import importlib
import inspect
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

import requests
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
    queue_owner,
    retry_queues,
    subscription_queue,
)
from civic.outbox import event_exchange


@dataclass(frozen=True)
class Subscription:
    service: str
    method: str  # the Python method (free to change)
    source: str
    event_type: str
    # The one queue an `@all_events_handler` receives every type on; None: its own queue.
    shared_queue: str | None = None
    # The handler's name for good (its queue and inbox key); the method's if not given.
    name: str | None = None

    @property
    def handler(self) -> str:
        return self.name or self.method

    @property
    def queue(self) -> str:
        return self.shared_queue or queue_name(
            self.source, self.event_type, self.service, self.handler
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
                name = (
                    entrypoint.handler_name if isinstance(entrypoint, EventSubscription) else None
                )
                if isinstance(entrypoint, AllEventsSubscription):
                    shared = all_events_queue_name(cls.name, name)
                    routes = entrypoint.routes(cls.name)
                    found.extend(
                        Subscription(cls.name, method_name, producer, event_type, shared, name)
                        for producer, event_type in routes
                    )
                elif isinstance(entrypoint, EventSubscription):
                    found.append(
                        Subscription(
                            cls.name,
                            method_name,
                            entrypoint.source_service,
                            entrypoint.event_type,
                            name=name,
                        )
                    )
    check(found)
    return found


def check(found: list[Subscription]) -> None:
    """Every subscription must name a catalogued event of its real producer, and no two
    methods of a service may share a handler name (they would share an inbox key)."""
    methods: dict[tuple[str, str], str] = {}
    for sub in found:
        other = methods.setdefault((sub.service, sub.handler), sub.method)
        if other != sub.method:
            raise LookupError(
                f"{sub.service}.{sub.method} and {sub.service}.{other} are both named "
                f"{sub.handler!r}: each handler needs a name of its own"
            )
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
        declared.append(subscription_queue(sub.source, sub.event_type, sub.service, sub.handler))
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


# --- orphaned queues ---------------------------------------------------------------------

MANAGEMENT_TIMEOUT = 3.0


@functools.lru_cache(maxsize=8)
def _declared_names(services: tuple) -> frozenset[str]:
    return frozenset(queue.name for queue in queues(subscriptions(services)))


def orphans(listing, services=DOMAIN_SERVICES) -> list[dict]:
    """The queues of `listing` (`[{name, messages, …}]`, as the management API lists
    them) named like a Civic handler's queue or retry queue that no handler of `services`
    declares: `[{name, service, messages}]`, sorted by name."""
    declared = _declared_names(tuple(services))
    found = []
    for queue in listing:
        name = queue["name"]
        service = queue_owner(name)
        if service is None or name in declared:
            continue
        found.append(
            {"name": name, "service": service, "messages": int(queue.get("messages") or 0)}
        )
    return sorted(found, key=lambda queue: queue["name"])


def vhost_of(amqp_uri: str) -> str:
    """The vhost an AMQP URI names ("/" when it names none)."""
    path = urlsplit(amqp_uri).path
    return unquote(path[1:]) if len(path) > 1 else "/"


_QUEUE_COLUMNS = (
    "name,messages,messages_ready,messages_unacknowledged,consumers,"
    "message_stats.publish_details.rate,message_stats.deliver_get_details.rate"
)


def _rate(row: dict, name: str) -> float:
    stats = row.get("message_stats") or {}
    details = stats.get(f"{name}_details") or {}
    rate = details.get("rate")
    return round(float(rate), 2) if isinstance(rate, (int, float)) else 0.0


def management_queues(management_uri: str, amqp_uri: str, timeout: float = MANAGEMENT_TIMEOUT):
    """`[{name, messages, ready, unacknowledged, consumers, publish_rate, deliver_rate}]`
    of every queue of the AMQP URI's vhost (rates in messages per second), from the
    RabbitMQ management API (raises when it cannot be asked)."""
    parts = urlsplit(management_uri)
    base = f"{parts.scheme}://{parts.hostname}"
    if parts.port:
        base += f":{parts.port}"
    base += parts.path.rstrip("/")
    auth = (unquote(parts.username or "guest"), unquote(parts.password or "guest"))
    response = requests.get(
        f"{base}/api/queues/{quote(vhost_of(amqp_uri), safe='')}",
        params={"columns": _QUEUE_COLUMNS},
        auth=auth,
        timeout=timeout,
    )
    response.raise_for_status()
    return [
        {
            "name": row["name"],
            "messages": int(row.get("messages") or 0),
            "ready": int(row.get("messages_ready") or 0),
            "unacknowledged": int(row.get("messages_unacknowledged") or 0),
            "consumers": int(row.get("consumers") or 0),
            "publish_rate": _rate(row, "publish"),
            "deliver_rate": _rate(row, "deliver_get"),
        }
        for row in response.json()
    ]


def orphaned_queues(management_uri: str, amqp_uri: str, services=DOMAIN_SERVICES) -> list[dict]:
    """Civic queues on the broker that no current handler declares (see `orphans`)."""
    return orphans(management_queues(management_uri, amqp_uri), services)
