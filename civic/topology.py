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

import amqp
import requests
from kombu import Connection, Queue

from civic.config import DOMAIN_SERVICES
from civic.contracts import CATALOGUE
from civic.messaging import (
    AllEventsSubscription,
    EventSubscription,
    all_events_queue,
    all_events_queue_name,
    confirming_connection,
    copy_of,
    dead_letter_queue,
    publish_copy,
    queue_name,
    queue_owner,
    queue_type,
    retry_delays,
    retry_queues,
    subscription_queue,
)
from civic.outbox import event_exchange
from civic.rpc import rpc_queue


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


class QueueTypeMismatch(RuntimeError):
    """A queue on the broker is of another type (or has other arguments) than Civic's
    configuration declares: it cannot change in place."""


def _declare(channel, producers: list[str], declared: list[Queue], nowait: bool) -> None:
    for producer in producers:
        event_exchange(producer)(channel).declare(nowait=nowait)
    for queue in declared:
        _declare_queue(channel, queue, nowait)


def _declare_queue(channel, queue: Queue, nowait: bool) -> None:
    try:
        queue(channel).declare(nowait=nowait)
    except amqp.exceptions.PreconditionFailed as exc:
        raise QueueTypeMismatch(
            f"queue {queue.name!r} exists on the broker with other arguments than "
            f"CIVIC_QUEUE_TYPE={queue_type()} gives it ({exc.reply_text}): stop the "
            "services and run `civic queues migrate`"
        ) from None


def declare(amqp_uri: str, services=DOMAIN_SERVICES) -> list[str]:
    """Declare exchanges and queues (idempotent); returns the queue names.

    The declarations go out without waiting for each answer (a queue and its bindings
    are three to five round trips, and the whole topology is some 180 queues), then one
    synchronous call: the broker answers a channel's methods in order, so its answer
    means every declaration before it took. If one did not (a queue of another type),
    the broker closes the channel: the declarations are made again one by one, which
    names the queue."""
    found = subscriptions(services)
    producers = sorted({contract.producer for contract in CATALOGUE.values()})
    declared = queues(found)
    with Connection(amqp_uri, connect_timeout=10) as connection:
        channel = connection.channel()
        try:
            _declare(channel, producers, declared, nowait=True)
            channel.basic_qos(prefetch_size=0, prefetch_count=0, a_global=False)
        except amqp.exceptions.PreconditionFailed:
            channel = connection.channel()
            _declare(channel, producers, declared, nowait=False)
        finally:
            channel.close()
    return [queue.name for queue in declared]


# --- moving queues to another type -------------------------------------------------------
# A queue's type (quorum, classic) is fixed when it is declared. `civic queues migrate`
# moves each Civic queue of the other type through a holding queue: every message is
# copied (confirmed) to `<queue>.migrating` and only then acked, the old queue is
# deleted (only if empty), the queue declared anew with its bindings, and the messages
# copied back the same way. An interrupted run leaves the holding queue, which the next
# run empties first: nothing is lost, a message may at worst be there twice (the
# handlers' inboxes take care of that). The services must be stopped: a consumer on a
# queue being moved would see it vanish.

HOLDING_SUFFIX = ".migrating"
# Broker-set headers that describe a delivery, not the message.
_DELIVERY_HEADERS = ("x-delivery-count",)


def civic_queues(services=DOMAIN_SERVICES) -> list[Queue]:
    """Every durable queue Civic declares: the handlers', their retry queues, the dead
    letters' and each service's RPC queue."""
    names = [service.name if inspect.isclass(service) else service for service in services]
    return queues(subscriptions(services)) + [rpc_queue(name) for name in names]


def queues_to_move(listing, services=DOMAIN_SERVICES) -> list[Queue]:
    """Those of `civic_queues` that `listing` (the management API's `[{name, type}]`)
    has of another type than CIVIC_QUEUE_TYPE, or with a holding queue left behind."""
    found = {row["name"]: row for row in listing}
    wanted = queue_type()
    return [
        queue
        for queue in civic_queues(services)
        if (queue.name in found and found[queue.name].get("type") != wanted)
        or queue.name + HOLDING_SUFFIX in found
    ]


def _transfer(channel, source: str, target: str) -> int:
    """Copy every message of `source` to `target` (each confirmed), acking each only
    after its copy was confirmed; returns how many."""
    moved = 0
    while True:
        message = channel.basic_get(queue=source, no_ack=False)
        if message is None:
            return moved
        headers = {
            key: value
            for key, value in (message.headers or {}).items()
            if key not in _DELIVERY_HEADERS
        }
        publish_copy(channel, copy_of(message, headers), target)
        channel.basic_ack(message.delivery_tag)
        moved += 1


def migrate_queues(
    management_uri: str, amqp_uri: str, services=DOMAIN_SERVICES, progress=None
) -> list[dict]:
    """Move every Civic queue of the other type to CIVIC_QUEUE_TYPE (see above);
    returns `[{name, messages}]` of those moved. Raises QueuesInUse, naming them, while
    anything consumes from a queue to move."""
    listing = management_queues(management_uri, amqp_uri)
    moving = queues_to_move(listing, services)
    existing = {row["name"] for row in listing}
    moved = []
    with confirming_connection(amqp_uri) as connection:
        # The broker's own count (the management API's lags by seconds).
        busy = sorted(
            queue.name
            for queue in moving
            if queue.name in existing and _consumers(connection, queue.name)
        )
        if busy:
            raise QueuesInUse(busy)
        for queue in moving:
            holding = Queue(queue.name + HOLDING_SUFFIX, durable=True, auto_delete=False)
            held = 0
            # A channel that knew the old queue must not see the new one (RabbitMQ 3.10
            # closes the connection, INTERNAL_ERROR): one channel each side of the swap.
            with connection.channel() as channel:
                holding(channel).declare()
                if queue.name in existing:
                    held = _transfer(channel, queue.name, holding.name)
                    channel.queue_delete(queue.name, if_empty=True)
            with connection.channel() as channel:
                queue(channel).declare()
                back = _transfer(channel, holding.name, queue.name)
                channel.queue_delete(holding.name, if_empty=True)
            moved.append({"name": queue.name, "messages": back})
            if progress is not None:
                progress(queue.name, held, back)
    return moved


def _consumers(connection, name: str) -> int:
    with connection.channel() as channel:
        return channel.queue_declare(queue=name, passive=True).consumer_count


class QueuesInUse(RuntimeError):
    def __init__(self, names: list[str]):
        self.names = names
        super().__init__(
            f"{len(names)} queue(s) to move have consumers (stop the services first): "
            + ", ".join(names[:5])
            + (" …" if len(names) > 5 else "")
        )


# --- orphaned queues ---------------------------------------------------------------------

MANAGEMENT_TIMEOUT = 3.0


@functools.lru_cache(maxsize=8)
def _declared_names(services: tuple, delays: tuple) -> frozenset[str]:
    # `delays` (CIVIC_RETRY_DELAYS) is in the key: the retry queues' names follow it.
    return frozenset(queue.name for queue in queues(subscriptions(services)))


def orphans(listing, services=DOMAIN_SERVICES) -> list[dict]:
    """The queues of `listing` (`[{name, messages, …}]`, as the management API lists
    them) named like a Civic handler's queue or retry queue that no handler of `services`
    declares: `[{name, service, messages}]`, sorted by name."""
    declared = _declared_names(tuple(services), tuple(retry_delays()))
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
    "name,type,messages,messages_ready,messages_unacknowledged,consumers,"
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
            "type": row.get("type"),
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
