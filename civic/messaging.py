"""Receiving events: validation, idempotence, retry with backoff, dead-lettering.

`@event_handler("groups", "account_erased", name="on_account_erased")` replaces nameko's
`@event_handler`:

- `name` names the handler for good: its queue (`evt-<source>-<type>--<service>.<name>`)
  and its inbox key (`<service>.<name>`) follow it, not the method's name, so renaming a
  method orphans nothing (civic.topology reports Civic queues no handler declares);

- the body is parsed into an `Envelope` and checked against the catalogue; a message
  that cannot be read (unknown type, unreadable version, bad data) goes straight to the
  dead-letter queue, logged as an error;
- the handler runs inside `with self.db:` together with an inbox record of the
  envelope id, so a redelivered message has its effect once;
- the message is acked only after that transaction committed;
- a handler that raises is retried after each delay of `CIVIC_RETRY_DELAYS` (the
  message waits in `<queue>.retry-<ms>ms`, whose TTL dead-letters it back) and
  then lands in `civic.dead-letters` — never dropped, never requeued forever;
- only the handler's own failures count. An error of the infrastructure (the database
  unreachable or locked, its pool exhausted) keeps the message unacked — the prefetch
  limit then pauses the queue — while one probe per service (`SELECT 1`) waits, longer
  each time up to `CIVIC_BACKOFF_MAX`, for the database to answer; then the message is
  handled again, its attempts untouched;
- deliveries count too, but only the guilty one's: a message that arrives flagged
  `redelivered` was delivered before and never finished — its worker died, or the
  connection dropped — and so were the messages handled or prefetched beside it. Such a
  *suspect* runs alone (`SuspectIsolation`: it waits until no other handler of the
  process runs, and none starts meanwhile), and its start is counted first in the
  service's `deliveries` table, committed. A suspect that dies again was the one that
  killed the process; after `len(CIVIC_RETRY_DELAYS)` such starts it goes to the dead
  letters without running. The innocent ones run alone once and are done. A handler
  that runs longer than `CIVIC_HANDLER_TIMEOUT` is stopped and has failed;
- a retry or dead-letter copy is the message as it came — its bytes and properties,
  a missing content type stays missing — published with confirms and `mandatory`; the
  original is acked only once the broker confirmed the copy reached a queue. Until then
  (broker away, queue gone) the original is held and the copy retried, longer each time.

`@all_events_handler()` is the same for a handler of every event type in the catalogue
(an activity feed, notifications): one durable queue, `evt-all--<service>.<method>`,
bound to each producer's `<producer>.events` exchange with the routing key of each of
its catalogued types — never `#`, so a type nobody catalogued never arrives. The
service's own events are left out unless `include_own=True` (it knows what it said).
"""

from __future__ import annotations

import functools
import re
import sqlite3
import sys
import traceback

import amqp
import eventlet
from eventlet.event import Event
from eventlet.semaphore import Semaphore
from kombu import Connection, Queue, binding
from nameko.events import SERVICE_POOL, EventHandler
from nameko.extensions import SharedExtension
from nameko.messaging import Consumer
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy import exc as sa_exc

from civic import chaos, clock, config
from civic.contracts import CATALOGUE, get_contract, parse_envelope
from civic.errors import ContractError
from civic.log import get_logger
from civic.outbox import event_exchange

log = get_logger(__name__)

ATTEMPTS_HEADER = "x-civic-attempts"
# When a message first failed: set on its first retry, kept across the others, so the
# dead letter shows when its trouble began (civic.deadletters).
FIRST_FAILED_AT_HEADER = "x-civic-first-failed-at"

# --- Civic's queue names -----------------------------------------------------------------
# Civic names every queue its handlers consume from and builds the queues itself, here:
# the subscriptions below consume from them and civic.topology declares them, so the two
# cannot drift apart. The names must not change: deployed brokers hold these queues.

DEAD_LETTER_QUEUE = "civic.dead-letters"


# Every durable queue is of the type CIVIC_QUEUE_TYPE says. Quorum queues (replicated on
# a cluster's nodes) count each message's deliveries: one returned DELIVERY_LIMIT times
# (its consumer died or dropped its connection each time, never acking it) is
# dead-lettered by the broker itself — the kernel's own count of unfinished starts
# (`SuspectIsolation`) acts long before, but needs the database to count. Dead-lettering
# out of a quorum queue is at-least-once (the broker keeps the message until the target
# queue confirmed it), which RabbitMQ allows only with `reject-publish` overflow.
# A queue's arguments cannot change in place: a broker's queues are moved from one type
# to the other by `civic queues migrate` (civic.topology).
DELIVERY_LIMIT = 20
QUORUM = "quorum"


def queue_type() -> str:
    return config.get("CIVIC_QUEUE_TYPE", QUORUM)


def _of_the_type() -> dict:
    return {"x-queue-type": QUORUM} if queue_type() == QUORUM else {}


def _dead_lettering_to(queue: str) -> dict:
    """Arguments of a queue whose dead (expired, or past the delivery limit) messages go
    to `queue` through the default exchange."""
    arguments = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": queue}
    if queue_type() == QUORUM:
        arguments.update(
            {
                "x-queue-type": QUORUM,
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            }
        )
    return arguments


def handler_queue_arguments() -> dict:
    """A handler's queue: a quorum queue's deliveries are limited (then dead-lettered)."""
    if queue_type() != QUORUM:
        return {}
    return {**_dead_lettering_to(DEAD_LETTER_QUEUE), "x-delivery-limit": DELIVERY_LIMIT}


def rpc_queue_arguments() -> dict:
    """A service's RPC queue: a request returned DELIVERY_LIMIT times is dropped (its
    caller had its timeout long before; it is no event to keep)."""
    if queue_type() != QUORUM:
        return {}
    return {"x-queue-type": QUORUM, "x-delivery-limit": DELIVERY_LIMIT}


def queue_name(source: str, event_type: str, service: str, handler: str) -> str:
    """The queue of one handler (`service.handler`, the handler's `name`) for one event
    type of one producer: `evt-<source>-<event_type>--<service>.<handler>`.

    It is the name nameko gives a service-pool event handler's queue (built inline in
    nameko's `EventHandler.setup`, which has no function for it) when the handler's name
    is its method's: the handlers written before Civic named them explicitly have their
    method's name, so their queues stay in use.
    """
    return f"evt-{source}-{event_type}--{service}.{handler}"


def subscription_queue(source: str, event_type: str, service: str, handler: str) -> Queue:
    """That durable queue, bound to the producer's exchange with the event type."""
    return Queue(
        queue_name(source, event_type, service, handler),
        exchange=event_exchange(source),
        routing_key=event_type,
        durable=True,
        auto_delete=False,
        queue_arguments=handler_queue_arguments(),
    )


def all_events_queue_name(service: str, handler: str) -> str:
    """The one queue of an `@all_events_handler`: `evt-all--<service>.<handler>`."""
    return f"evt-all--{service}.{handler}"


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
        queue_arguments=handler_queue_arguments(),
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
            **_dead_lettering_to(queue),
            "x-message-ttl": int(delay * 1000),
        },
    )


def retry_queues(queue: str) -> list[Queue]:
    return [retry_queue(queue, delay) for delay in retry_delays()]


def dead_letter_queue() -> Queue:
    return Queue(DEAD_LETTER_QUEUE, durable=True, auto_delete=False, queue_arguments=_of_the_type())


# --- what counts as an attempt ----------------------------------------------------------


class HandlerTimeout(Exception):
    """A handler ran longer than CIVIC_HANDLER_TIMEOUT: it failed (and is retried)."""


def _driver_outage_errors() -> tuple[type[BaseException], ...]:
    """The drivers' own outage errors. psycopg2's only once it is loaded: a process that
    never loaded it cannot get its errors, and need not carry it (civic.green)."""
    errors: list[type[BaseException]] = [sqlite3.OperationalError]
    psycopg2 = sys.modules.get("psycopg2")
    if psycopg2 is not None:
        errors.append(psycopg2.OperationalError)
    return tuple(errors)


# The database unreachable, refusing, locked or restarting; its pool exhausted; a
# connection lost mid-way. (SQLite's "no such table" is an OperationalError too: a deploy
# that forgot its migration, kept and retried rather than dead-lettered.)
_INFRASTRUCTURE_ERRORS = (
    sa_exc.OperationalError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
)


def is_infrastructure_error(error: BaseException | None) -> bool:
    """Whether `error`, or an error it was raised from, is the infrastructure's fault
    rather than the handler's: such a failure is not an attempt."""
    infrastructure = _INFRASTRUCTURE_ERRORS + _driver_outage_errors()
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, infrastructure):
            return True
        if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
            return True
        error = error.__cause__ or error.__context__
    return False


def handler_timeout() -> float:
    return float(config.get("CIVIC_HANDLER_TIMEOUT", 60))


def backoff_max() -> float:
    return float(config.get("CIVIC_BACKOFF_MAX", 30))


def backoff_delays(first: float = 0.5):
    """0.5, 1, 2, 4 … seconds, each at most CIVIC_BACKOFF_MAX."""
    delay = first
    while True:
        yield min(delay, backoff_max())
        delay *= 2


# --- copies of a message -----------------------------------------------------------------

# A copy's publish (connect, confirm) never waits longer than this.
COPY_TIMEOUT = 10.0
# The properties a copy keeps; absent ones stay absent (a message without a content type
# is copied without one, so its bytes are never re-serialised).
COPIED_PROPERTIES = (
    "content_type",
    "content_encoding",
    "message_id",
    "correlation_id",
    "type",
    "app_id",
    "timestamp",
    "priority",
    "reply_to",
)


def raw_body(message) -> bytes:
    """The body's bytes as published (py-amqp hands over text when it could decode it)."""
    body = message.body
    if isinstance(body, bytes):
        return body
    return str(body).encode(message.content_encoding or "utf-8")


def copy_of(message, headers: dict) -> amqp.Message:
    """The message as it came (bytes and properties), persistent, with these headers."""
    properties = message.properties or {}
    kept = {key: properties[key] for key in COPIED_PROPERTIES if properties.get(key) is not None}
    return amqp.Message(raw_body(message), application_headers=headers, delivery_mode=2, **kept)


def publish_copy(channel, copy: amqp.Message, queue: str, timeout: float = COPY_TIMEOUT) -> None:
    """Publish `copy` to `queue` on a channel in confirm mode, with `mandatory`: returns
    once the broker confirmed it reached the queue. A queue that does not exist raises
    (NO_ROUTE, reply code 312), as do a nack and a confirm that does not come in time."""
    channel.basic_publish(
        copy, exchange="", routing_key=queue, mandatory=True, confirm_timeout=timeout
    )


def confirming_connection(amqp_uri: str, timeout: float = COPY_TIMEOUT) -> Connection:
    return Connection(
        amqp_uri,
        connect_timeout=timeout,
        transport_options={
            "confirm_publish": True,
            "read_timeout": timeout,
            "write_timeout": timeout,
        },
    )


# --- the database gate -------------------------------------------------------------------


def service_database(container):
    """The service's ServiceDatabase (its Database dependency's), None without one."""
    for dependency in container.dependencies:
        database = getattr(dependency, "database", None)
        if database is not None and hasattr(database, "engine"):
            return database
    return None


class DatabaseGate(SharedExtension):
    """One per service: closed while its database is away, with one probe waiting for it.

    A handler that met an infrastructure error closes the gate and its message waits
    here (unacked); messages delivered meanwhile wait too, before they run. The probe
    asks the database `SELECT 1` after 0.5, 1, 2 … s (at most CIVIC_BACKOFF_MAX); when it
    answers, the gate opens and the held messages run again. An outage that comes back
    right away makes the next probe wait longer: the steps reset only once a handler got
    through.
    """

    PROBE_TIMEOUT = 5.0

    def setup(self):
        self.outage: Event | None = None
        self.steps = 0

    @property
    def closed(self) -> bool:
        return self.outage is not None

    def close(self, error: str) -> None:
        if self.outage is not None:
            return
        self.outage = Event()
        log.warning("database_unavailable_holding_messages", error=error)
        self.container.spawn_managed_thread(self._probe, identifier="database_probe")

    def wait(self) -> None:
        outage = self.outage
        if outage is not None:
            outage.wait()

    def passed(self) -> None:
        self.steps = 0

    def _probe(self) -> None:
        outage = self.outage
        try:
            delays = backoff_delays()
            for _ in range(self.steps):
                next(delays)
            while True:
                delay = next(delays)
                self.steps += 1
                eventlet.sleep(delay)
                if self._answers():
                    log.info("database_answers_again", probes=self.steps)
                    return
        finally:
            self.outage = None
            outage.send(True)

    def _answers(self) -> bool:
        database = service_database(self.container)
        if database is None:
            return True
        engine = database.engine
        answered = False
        with eventlet.Timeout(self.PROBE_TIMEOUT, False):
            try:
                with engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
                answered = True
            except Exception as exc:
                log.info("database_probe_failed", error=type(exc).__name__)
        return answered


# --- suspects run alone -------------------------------------------------------------------


class SuspectIsolation(SharedExtension):
    """One per service process: a readers-writer gate around its event handlers.

    Ordinary handlers run side by side (`enter`/`leave`); a suspect (a redelivered
    message) takes the gate for itself (`isolate`): it waits until the handlers running
    have finished, and no handler starts until it has finished (`release`). If the
    process dies then, the suspect was the only message in a handler: its counted start
    says it killed the process.
    """

    def setup(self):
        self.running = 0
        self.lock = Semaphore(1)
        self.idle = Event()
        self.idle.send(True)

    def enter(self) -> None:
        with self.lock:  # waits while a suspect holds the gate
            self.running += 1
            if self.idle.ready():
                self.idle = Event()

    def leave(self) -> None:
        self.running -= 1
        if self.running <= 0:
            self.running = 0
            if not self.idle.ready():
                self.idle.send(True)

    def isolate(self) -> None:
        self.lock.acquire()
        self.idle.wait()

    def release(self) -> None:
        self.lock.release()


def count_start(database, message_id: str, handler: str) -> int:
    """Record, committed, that a suspect's handler starts; returns how many times it has."""
    deliveries = database.metadata.tables["deliveries"]
    key = (deliveries.c.message_id == message_id) & (deliveries.c.handler == handler)
    now = clock.utcnow()
    with database.sessions() as session, session.begin():
        started = session.execute(select(deliveries.c.started).where(key)).scalar()
        if started is None:
            started = 1
            session.execute(
                insert(deliveries).values(
                    message_id=message_id, handler=handler, started=1, last_started_at=now
                )
            )
        else:
            started += 1
            session.execute(
                update(deliveries).where(key).values(started=started, last_started_at=now)
            )
    return started


def forget_starts(database, message_id: str, handler: str) -> None:
    """A suspect finished: its counted starts are no longer needed (best effort; the
    retention timer prunes what is left)."""
    deliveries = database.metadata.tables["deliveries"]
    try:
        with database.sessions() as session, session.begin():
            session.execute(
                delete(deliveries).where(
                    (deliveries.c.message_id == message_id) & (deliveries.c.handler == handler)
                )
            )
    except Exception as exc:  # noqa: BLE001 - only tidying
        log.info("delivery_count_not_cleared", error=type(exc).__name__)


# --- the subscriptions -------------------------------------------------------------------

_HANDLER_NAME = re.compile(r"[A-Za-z_]\w*")


def check_handler_name(name) -> str:
    if not isinstance(name, str) or not _HANDLER_NAME.fullmatch(name):
        raise ValueError(f"a handler's name must be a word of letters, digits and _, got {name!r}")
    return name


class EventSubscription(EventHandler):
    """A durable, service-pooled event consumer that never drops a failed message."""

    gate = DatabaseGate()
    isolation = SuspectIsolation()

    def __init__(self, source_service: str, event_type: str, handler_name: str, **kwargs):
        self.handler_name = check_handler_name(handler_name)
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

    def _setup_queue_and_consumer(self):
        # Civic's queue (the one civic.topology declares) instead of the one nameko's
        # EventHandler.setup would build: the same binding and durability.
        self.queue = subscription_queue(
            self.source_service, self.event_type, self.container.service_name, self.handler_name
        )
        Consumer.setup(self)

    @property
    def handler_key(self) -> str:
        return f"{self.container.service_name}.{self.handler_name}"

    def _read(self, body):
        return parse_envelope(body, self.event_type)

    def start(self):
        # A retry or dead letter sent to a queue that does not exist would be refused.
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
        self._dead_letter(message, error, self._attempts(message), inline=False)

    def handle_message(self, body, message):
        suspect = bool((message.delivery_info or {}).get("redelivered"))
        self._run(body, message, suspect=suspect)

    def _start_suspect(self, envelope, message) -> bool:
        """Count the start of a suspect (it holds the isolation); False when it has
        killed its worker too often already and was dead-lettered instead."""
        database = service_database(self.container)
        if database is None:
            return True
        started = count_start(database, envelope.id, self.handler_key)
        limit = len(retry_delays())
        # The first unfinished delivery ran beside others (not counted); each counted
        # start since ran alone and never finished either.
        log.warning(
            "delivery_unfinished_counted",
            queue=self.queue.name,
            message_id=envelope.id,
            unfinished=started,
            limit=limit,
        )
        if started <= limit:
            return True
        self._dead_letter(
            message,
            f"its handler never finished {started} times (the process died while it ran, "
            "alone since its first redelivery): a message that kills or hangs its worker",
            started,
            inline=False,
        )
        forget_starts(database, envelope.id, self.handler_key)
        return False

    def _run(self, body, message, suspect: bool = False):
        try:
            envelope = self._read(body)
        except ContractError as exc:
            log.error(
                "message_unreadable",
                queue=self.queue.name,
                error=str(exc),
                message_id=message.properties.get("message_id"),
            )
            self._dead_letter(
                message, f"ContractError: {exc}", self._attempts(message), inline=False
            )
            return
        context_data = {"correlation_id": envelope.correlation_id}
        if envelope.actor_id:
            context_data["actor_id"] = envelope.actor_id

        def spawn_worker():
            self.gate.wait()  # while the database is away, the message waits here
            if suspect:
                self.isolation.isolate()
                try:
                    go_on = self._start_suspect(envelope, message)
                except Exception as exc:
                    self.isolation.release()
                    if is_infrastructure_error(exc):
                        self._hold_until_the_database_answers(body, message, exc, suspect)
                    else:
                        self.consumer.requeue_message(message)
                    return
                if not go_on:
                    self.isolation.release()
                    return
            else:
                self.isolation.enter()
            try:
                self.container.spawn_worker(
                    self,
                    (envelope,),
                    {},
                    context_data=context_data,
                    handle_result=functools.partial(self._handled, body, message, suspect),
                )
            except Exception:  # container being killed: leave it for another consumer
                self._done(envelope_id=None, suspect=suspect)
                self.consumer.requeue_message(message)

        self.container.spawn_managed_thread(
            spawn_worker, identifier=f"wait_for_worker_pool[{self.queue.name}]"
        )

    def _handled(self, body, message, suspect, worker_ctx, result=None, exc_info=None):
        envelope_id = worker_ctx.args[0].id if worker_ctx.args else None
        try:
            if exc_info is None:
                self.gate.passed()
                self.consumer.ack_message(message)
            elif is_infrastructure_error(exc_info[1]):
                self._hold_until_the_database_answers(body, message, exc_info[1], suspect)
            else:
                error = "".join(traceback.format_exception_only(exc_info[0], exc_info[1])).strip()
                self._retry_or_dead_letter(message, self._attempts(message) + 1, error)
        finally:
            self._done(envelope_id, suspect)
        return result, exc_info

    def _done(self, envelope_id, suspect: bool) -> None:
        if not suspect:
            self.isolation.leave()
            return
        # Its counted starts are forgotten before the next suspect may run: should that
        # one kill the process, this one (acked, but the ack perhaps lost with the
        # socket) comes back with no unfinished start against it.
        try:
            database = service_database(self.container)
            if database is not None and envelope_id is not None:
                forget_starts(database, envelope_id, self.handler_key)
        finally:
            self.isolation.release()

    def _hold_until_the_database_answers(self, body, message, error, suspect=False) -> None:
        """Not an attempt: the message stays unacked (so the prefetch limit pauses the
        queue) until the database answers, then runs again."""
        log.warning(
            "handler_infrastructure_error_held",
            queue=self.queue.name,
            error=f"{type(error).__name__}: {str(error).splitlines()[0][:300]}",
        )
        self.gate.close(type(error).__name__)

        def run_again():
            self.gate.wait()
            if not message.channel.connection:
                return  # the broker took it back; it comes again, flagged redelivered
            self._run(body, message, suspect=suspect)

        self.container.spawn_managed_thread(
            run_again, identifier=f"held_for_database[{self.queue.name}]"
        )

    def _retry_or_dead_letter(self, message, attempts: int, error: str, inline=True) -> None:
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
            self._forward(
                message, retry_queue_name(self.queue.name, delay), attempts, inline=inline
            )
        else:
            log.error(
                "handler_failed_dead_lettered",
                queue=self.queue.name,
                attempts=attempts,
                error=error,
            )
            self._dead_letter(message, error, attempts, inline=inline)

    @staticmethod
    def _attempts(message) -> int:
        try:
            return max(0, int((message.headers or {}).get(ATTEMPTS_HEADER, 0)))
        except (TypeError, ValueError):
            return 0

    def _dead_letter(self, message, error: str, attempts: int, inline=True) -> None:
        self._forward(
            message,
            DEAD_LETTER_QUEUE,
            attempts,
            extra_headers={
                "x-civic-queue": self.queue.name,
                "x-civic-service": self.container.service_name,
                "x-civic-handler": self.handler_key,
                "x-civic-error": error[-2000:],
                "x-civic-failed-at": clock.iso(clock.utcnow()),
            },
            inline=inline,
        )

    def _forward(self, message, target: str, attempts: int, extra_headers=None, inline=True):
        """Copy the message to another queue, then ack it.

        Until the broker confirmed the copy reached its queue the original is held
        (unacked) and the copy retried, longer each time; if the consumer's connection
        goes meanwhile, the broker has the original back. `inline`: the first try runs in
        the calling green thread (a worker); otherwise all of it runs apart, so the
        consumer's own thread never waits on a publish.
        """
        headers = {key: value for key, value in (message.headers or {}).items() if key != "x-death"}
        headers[ATTEMPTS_HEADER] = attempts
        headers.setdefault(FIRST_FAILED_AT_HEADER, clock.iso(clock.utcnow()))
        headers.update(extra_headers or {})
        copy = copy_of(message, headers)

        def send() -> bool:
            try:
                with confirming_connection(self.amqp_uri) as connection:
                    publish_copy(connection.channel(), copy, target)
            except Exception as exc:
                log.warning(
                    "forward_failed_held",
                    queue=self.queue.name,
                    target=target,
                    error=f"{type(exc).__name__}: {exc}",
                )
                return False
            self.consumer.ack_message(message)
            return True

        def send_until_confirmed():
            for delay in backoff_delays():
                if not message.channel.connection:
                    return  # the broker took the original back
                if send():
                    return
                eventlet.sleep(delay)

        if inline and send():
            return
        self.container.spawn_managed_thread(
            send_until_confirmed, identifier=f"forward[{self.queue.name}->{target}]"
        )


class AllEventsSubscription(EventSubscription):
    """Every catalogued event type of every producer, through one durable queue.

    The queue is bound with explicit routing keys (the catalogue's types), so an event
    type nobody catalogued is never delivered; one a newer producer added reaches it once
    this code knows the type (its binding is declared at start and by `civic migrate`).
    """

    def __init__(self, handler_name: str, include_own: bool = False, **kwargs):
        self.include_own = include_own
        super().__init__("*", "*", handler_name, **kwargs)

    def routes(self, service: str) -> list[tuple[str, str]]:
        """What the queue of a handler in `service` is bound to."""
        return catalogued_routes(None if self.include_own else service)

    def _setup_queue_and_consumer(self):
        service = self.container.service_name
        self.queue = all_events_queue(
            all_events_queue_name(service, self.handler_name), self.routes(service)
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


def _idempotent(method, name: str):
    @functools.wraps(method)
    def handle(self, envelope):
        handler = f"{self.name}.{name}"
        chaos.before_handle(self.name, envelope.correlation_id)
        seconds = handler_timeout()
        # A hung handler is stopped (at its next cooperative wait) and has failed.
        with eventlet.Timeout(seconds, HandlerTimeout(f"{handler} ran longer than {seconds:g} s")):
            with self.db as uow:
                if not uow.claim_message(envelope.id, handler):
                    log.info("duplicate_skipped", message_id=envelope.id, handler=handler)
                    return None
                return method(self, envelope, uow)

    return handle


def event_handler(source_service: str, event_type: str, *, name: str):
    """Decorate a service method `(self, envelope, uow)` as an idempotent event handler.

    `name` is the handler's name for good: its queue and its inbox records are named
    after it (see `queue_name`), so the method can be renamed freely; changing `name`
    makes a new queue and leaves the old one orphaned (civic.topology reports it).

    The service must have its `Database` dependency at `self.db`; the handler is given
    the entered unit of work (`uow`, its session at `uow.session`), the one transaction
    that also records the envelope in the inbox — it never opens its own.
    """
    check_handler_name(name)

    def decorate(method):
        return EventSubscription.decorator(source_service, event_type, handler_name=name)(
            _idempotent(method, name)
        )

    return decorate


def all_events_handler(*, name: str, include_own: bool = False):
    """Like `event_handler`, for every event type in the catalogue (see
    `AllEventsSubscription`): `envelope.type` says which one arrived."""
    check_handler_name(name)

    def decorate(method):
        return AllEventsSubscription.decorator(handler_name=name, include_own=include_own)(
            _idempotent(method, name)
        )

    return decorate
