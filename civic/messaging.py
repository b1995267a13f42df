"""Receiving events: validation, idempotence, retry with backoff, dead-lettering.

`@event_handler("groups", "account_erased")` replaces nameko's `@event_handler`:

- the body is parsed into an `Envelope` and checked against the catalogue; a message
  that cannot be read (unknown type, unreadable version, bad data) goes straight to the
  dead-letter queue, logged as an error;
- the handler runs inside `with self.db:` together with an inbox record of the
  envelope id, so a redelivered message has its effect once;
- the message is acked only after that transaction committed;
- a handler that raises is retried after each delay of `CIVIC_RETRY_DELAYS` (the
  message waits in `<queue>.retry-<ms>ms`, whose TTL dead-letters it back) and
  then lands in `civic.dead-letters` — never dropped, never requeued forever.

`@all_events_handler()` is the same for a handler of every event type in the catalogue
(an activity feed, notifications): one durable queue, `evt-all--<service>.<method>`,
bound to each producer's `<producer>.events` exchange with the routing key of each of
its catalogued types — never `#`, so a type nobody catalogued never arrives. The
service's own events are left out unless `include_own=True` (it knows what it said).
"""

from __future__ import annotations

import functools
import re
import traceback

from kombu import Connection, Queue, binding
from nameko.amqp.publish import Publisher
from nameko.constants import PERSISTENT
from nameko.events import SERVICE_POOL, EventHandler
from nameko.messaging import Consumer

from civic import chaos, clock, config
from civic.contracts import CATALOGUE, get_contract, parse_envelope
from civic.errors import ContractError
from civic.log import get_logger
from civic.outbox import FAST_RETRY, event_exchange

log = get_logger(__name__)

ATTEMPTS_HEADER = "x-civic-attempts"

# --- Civic's queue names -----------------------------------------------------------------
# Civic names every queue its handlers consume from and builds the queues itself, here:
# the subscriptions below consume from them and civic.topology declares them, so the two
# cannot drift apart. The names must not change: deployed brokers hold these queues.

DEAD_LETTER_QUEUE = "civic.dead-letters"


def queue_name(source: str, event_type: str, service: str, method: str) -> str:
    """The queue of one handler (`service.method`) for one event type of one producer:
    `evt-<source>-<event_type>--<service>.<method>`.

    It is the name nameko gives a service-pool event handler's queue (built inline in
    nameko's `EventHandler.setup`, which has no function for it), so the queues of
    handlers written before Civic named them stay in use.
    """
    return f"evt-{source}-{event_type}--{service}.{method}"


def subscription_queue(source: str, event_type: str, service: str, method: str) -> Queue:
    """That durable queue, bound to the producer's exchange with the event type."""
    return Queue(
        queue_name(source, event_type, service, method),
        exchange=event_exchange(source),
        routing_key=event_type,
        durable=True,
        auto_delete=False,
    )


def all_events_queue_name(service: str, method: str) -> str:
    """The one queue of an `@all_events_handler`: `evt-all--<service>.<method>`."""
    return f"evt-all--{service}.{method}"


# What a handler's queue name (above, or one of its retry queues below) says of its owner.
_HANDLER_QUEUE = re.compile(r"evt-.+--(?P<service>[\w-]+)\.\w+(?:\.retry-\d+ms)?")


def queue_owner(name: str) -> str | None:
    """The service whose handler consumes the queue `name` (a handler's queue or one of
    its retry queues), None for any other queue."""
    found = _HANDLER_QUEUE.fullmatch(name)
    return found.group("service") if found else None


def catalogued_routes(service: str | None = None) -> list[tuple[str, str]]:
    """(producer, event type) of every catalogued event (not produced by `service`)."""
    return sorted(
        (found.producer, found.type) for found in CATALOGUE.values() if found.producer != service
    )


def all_events_queue(name: str, routes) -> Queue:
    """One durable queue bound to each producer's exchange, once per event type."""
    return Queue(
        name,
        bindings=[
            binding(event_exchange(producer), routing_key=event_type)
            for producer, event_type in routes
        ],
        durable=True,
        auto_delete=False,
    )


def retry_delays() -> list[float]:
    return list(config.get("CIVIC_RETRY_DELAYS", [1, 4, 15]))


def retry_queue_name(queue: str, delay: float) -> str:
    """Where a message of `queue` waits `delay` seconds: `<queue>.retry-<ms>ms`."""
    return f"{queue}.retry-{int(delay * 1000)}ms"


def retry_queue(queue: str, delay: float) -> Queue:
    """Where a failed message waits out one backoff step before going back to `queue`.

    One queue per delay, with a queue-level TTL: every message in it expires in order,
    so a short wait never sits behind a long one. The delay is in the name, so changing
    CIVIC_RETRY_DELAYS makes new queues instead of clashing with the old arguments.
    """
    return Queue(
        retry_queue_name(queue, delay),
        durable=True,
        auto_delete=False,
        queue_arguments={
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": queue,
            "x-message-ttl": int(delay * 1000),
        },
    )


def retry_queues(queue: str) -> list[Queue]:
    return [retry_queue(queue, delay) for delay in retry_delays()]


def dead_letter_queue() -> Queue:
    return Queue(DEAD_LETTER_QUEUE, durable=True, auto_delete=False)


class EventSubscription(EventHandler):
    """A durable, service-pooled event consumer that never drops a failed message."""

    def __init__(self, source_service: str, event_type: str, **kwargs):
        super().__init__(
            source_service,
            event_type,
            handler_type=SERVICE_POOL,
            reliable_delivery=True,
            requeue_on_error=False,
            **kwargs,
        )

    def setup(self):
        # kombu acks and drops a body it cannot decode (bad JSON, a refused content
        # type) unless told otherwise: such a message is poison, so dead-letter it.
        self.consumer_options["on_decode_error"] = self._on_decode_error
        self._setup_queue_and_consumer()
        self.publisher = Publisher(
            self.amqp_uri,
            use_confirms=True,
            delivery_mode=PERSISTENT,
            retry=True,
            retry_policy=FAST_RETRY,
        )

    def _setup_queue_and_consumer(self):
        # Civic's queue (the one civic.topology declares) instead of the one nameko's
        # EventHandler.setup would build: the same name, binding and durability.
        self.queue = subscription_queue(
            self.source_service, self.event_type, self.container.service_name, self.method_name
        )
        Consumer.setup(self)

    def _read(self, body):
        return parse_envelope(body, self.event_type)

    def start(self):
        # A retry or dead letter sent to a queue that does not exist would be dropped.
        with Connection(self.amqp_uri, connect_timeout=10) as connection:
            channel = connection.default_channel
            for queue in retry_queues(self.queue.name):
                queue(channel).declare()
            dead_letter_queue()(channel).declare()
        super().start()

    def _on_decode_error(self, message, exc):
        error = f"{type(exc).__name__}: {exc}"
        log.error(
            "message_undecodable",
            queue=self.queue.name,
            error=error,
            message_id=message.properties.get("message_id"),
        )
        self._dead_letter(message, error, self._attempts(message))

    def handle_message(self, body, message):
        try:
            envelope = self._read(body)
        except ContractError as exc:
            log.error(
                "message_unreadable",
                queue=self.queue.name,
                error=str(exc),
                message_id=message.properties.get("message_id"),
            )
            self._dead_letter(message, f"ContractError: {exc}", self._attempts(message))
            return
        context_data = {"correlation_id": envelope.correlation_id}
        if envelope.actor_id:
            context_data["actor_id"] = envelope.actor_id

        def spawn_worker():
            try:
                self.container.spawn_worker(
                    self,
                    (envelope,),
                    {},
                    context_data=context_data,
                    handle_result=functools.partial(self.handle_result, message),
                )
            except Exception:  # container being killed: leave it for another consumer
                self.consumer.requeue_message(message)

        self.container.spawn_managed_thread(
            spawn_worker, identifier=f"wait_for_worker_pool[{self.queue.name}]"
        )

    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is None:
            self.consumer.ack_message(message)
            return
        attempts = self._attempts(message) + 1
        error = "".join(traceback.format_exception_only(exc_info[0], exc_info[1])).strip()
        delays = retry_delays()
        if attempts <= len(delays):
            delay = delays[attempts - 1]
            log.warning(
                "handler_failed_will_retry",
                queue=self.queue.name,
                attempt=attempts,
                retry_in_s=delay,
                error=error,
            )
            self._forward(message, retry_queue_name(self.queue.name, delay), attempts)
        else:
            log.error(
                "handler_failed_dead_lettered",
                queue=self.queue.name,
                attempts=attempts,
                error=error,
            )
            self._dead_letter(message, error, attempts)

    @staticmethod
    def _attempts(message) -> int:
        try:
            return max(0, int((message.headers or {}).get(ATTEMPTS_HEADER, 0)))
        except (TypeError, ValueError):
            return 0

    def _dead_letter(self, message, error: str, attempts: int) -> None:
        self._forward(
            message,
            DEAD_LETTER_QUEUE,
            attempts,
            extra_headers={
                "x-civic-queue": self.queue.name,
                "x-civic-service": self.container.service_name,
                "x-civic-handler": f"{self.container.service_name}.{self.method_name}",
                "x-civic-error": error[-2000:],
                "x-civic-failed-at": clock.iso(clock.utcnow()),
            },
        )

    def _forward(self, message, routing_key: str, attempts: int, extra_headers=None) -> None:
        """Copy the message to another queue, then ack it; requeue if that fails."""
        headers = {key: value for key, value in (message.headers or {}).items() if key != "x-death"}
        headers[ATTEMPTS_HEADER] = attempts
        headers.update(extra_headers or {})
        try:
            self.publisher.publish(
                message.body,
                exchange="",
                routing_key=routing_key,
                headers=headers,
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                message_id=message.properties.get("message_id"),
            )
        except Exception as exc:
            log.error(
                "forward_failed_requeued",
                queue=self.queue.name,
                target=routing_key,
                error=f"{type(exc).__name__}: {exc}",
            )
            self.consumer.requeue_message(message)
            return
        self.consumer.ack_message(message)


class AllEventsSubscription(EventSubscription):
    """Every catalogued event type of every producer, through one durable queue.

    The queue is bound with explicit routing keys (the catalogue's types), so an event
    type nobody catalogued is never delivered; one a newer producer added reaches it once
    this code knows the type (its binding is declared at start and by `civic migrate`).
    """

    def __init__(self, include_own: bool = False, **kwargs):
        self.include_own = include_own
        super().__init__("*", "*", **kwargs)

    def routes(self, service: str) -> list[tuple[str, str]]:
        """What the queue of a handler in `service` is bound to."""
        return catalogued_routes(None if self.include_own else service)

    def _setup_queue_and_consumer(self):
        service = self.container.service_name
        self.queue = all_events_queue(
            all_events_queue_name(service, self.method_name), self.routes(service)
        )
        Consumer.setup(self)

    def _read(self, body):
        envelope = parse_envelope(body)
        producer = get_contract(envelope.type).producer
        if envelope.producer != producer:
            raise ContractError(
                f"{envelope.type} comes from {producer!r}, not {envelope.producer!r}"
            )
        return envelope


def _idempotent(method):
    @functools.wraps(method)
    def handle(self, envelope):
        handler = f"{self.name}.{method.__name__}"
        chaos.before_handle(self.name, envelope.correlation_id)
        with self.db as uow:
            if not uow.claim_message(envelope.id, handler):
                log.info("duplicate_skipped", message_id=envelope.id, handler=handler)
                return None
            return method(self, envelope, uow)

    return handle


def event_handler(source_service: str, event_type: str):
    """Decorate a service method `(self, envelope, uow)` as an idempotent event handler.

    The service must have its `Database` dependency at `self.db`; the handler is given
    the entered unit of work (`uow`, its session at `uow.session`), the one transaction
    that also records the envelope in the inbox — it never opens its own.
    """

    def decorate(method):
        return EventSubscription.decorator(source_service, event_type)(_idempotent(method))

    return decorate


def all_events_handler(include_own: bool = False):
    """Like `event_handler`, for every event type in the catalogue (see
    `AllEventsSubscription`): `envelope.type` says which one arrived."""

    def decorate(method):
        return AllEventsSubscription.decorator(include_own=include_own)(_idempotent(method))

    return decorate
