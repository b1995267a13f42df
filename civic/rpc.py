"""RPC between services, with a timeout, request ids and requests that expire.

`Services` is the services' RPC client: `self.services.groups.get_account(account_id)`.
Every call gives up after `CIVIC_RPC_TIMEOUT` seconds (or the `timeout=` given) and
raises `Unavailable`, as does a call to a service that is not running (no queue bound)
— at once, not at the timeout — and a call while the broker cannot be reached. The
whole call is inside that time, the request's publish too.

A request that timed out never runs later: its message expires (AMQP `expiration`)
when its caller stops waiting, so RabbitMQ drops it from the service's queue, and it
carries its deadline (`request_deadline_ms`) for a service that took it and would run
it late (civic.commands).

The caller's correlation and actor ids travel in the headers, as nameko does, and so
does a request id per call, when the worker has a request key (the gateway sets one
per HTTP request, see services.gateway.http) or is itself a command with a request id:
`sha256(key, service.method, n)` for the n-th call to that method in this worker, so
the same HTTP request sent again (an Idempotency-Key, a website form's key) asks each
service with the same ids, and a command recorded the first time answers as it did
then (civic.commands).

The wire format is nameko's (the services answer with nameko's own `@rpc`), but the
client side is lean (issue 14): nameko's client declared its reply queue before every
request, built a connection object and took a pooled producer per request, waited for
a publisher confirm per request (only to learn of an unroutable one), and acked every
reply. `RequestLine` keeps one connection and channel per process for the life of the
process: replies come over RabbitMQ's direct reply-to (`amq.rabbitmq.reply-to`: straight
to the channel that asked, with no reply queue for the broker to route to, store and
deliver from: a cheaper call for the broker, see the README's issue 14 figures) and
without acks,
requests go without confirms, and an unroutable request comes back as a `basic.return`
on the same channel, which fails that call with `Unavailable` at once. Losing the
connection fails every call waiting on it (`Unavailable`); the line connects again in
the background.

The services answer over the same line (`Rpc`, which `civic.service.rpc` declares):
nameko's responder built a connection object and took a pooled producer per answer,
and waited for a publisher confirm of each. An answer now goes out on the line's
channel without a confirm — a lost answer is a caller's timeout, which a confirm would
not have prevented — and the request is acked after it, as nameko does.
"""

from __future__ import annotations

import inspect
import sys
import time
import uuid
from collections import Counter

import amqp
import eventlet
from eventlet.event import Event
from eventlet.semaphore import Semaphore
from kombu import Queue
from kombu import serialization as kombu_serialization
from nameko.exceptions import (
    IncorrectSignature,
    UnserializableValueError,
    deserialize,
    serialize,
)
from nameko.extensions import DependencyProvider, SharedExtension
from nameko.messaging import encode_to_headers
from nameko.rpc import RPC_QUEUE_TEMPLATE, RpcConsumer, get_rpc_exchange
from nameko.rpc import Rpc as NamekoRpc

from civic import config
from civic.brokers import establish
from civic.commands import REQUEST_DEADLINE, REQUEST_ID, deadline_ms, derived_request_id
from civic.errors import Unavailable
from civic.log import get_logger
from civic.messaging import rpc_queue_arguments

log = get_logger(__name__)

# A worker's context key: what its calls' request ids are made from (see the docstring).
REQUEST_KEY = "request_key"
PERSISTENT = 2  # as nameko publishes requests
TRANSIENT = 1  # answers: a direct reply-to address (or a reply queue) keeps nothing anyway
JSON_ONLY = kombu_serialization.prepare_accept_content(["json"])
# How long the line waits before connecting again after losing the broker, at most.
RECONNECT_MAX_DELAY = 1.0
# How long one read of the connection waits before it checks heartbeats and stopping.
READ_TICK = 1.0
# How long an answer waits for the line to (re)connect before it is given up.
ANSWER_WAIT = 2.0
# RabbitMQ's pseudo-queue for replies sent straight to the asking channel.
DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"


class UnroutableRequest(Exception):
    """The broker returned the request: no queue of that service is bound."""


class RequestLine(SharedExtension):
    """One connection per process for RPC requests and their replies (see the module's
    docstring). A green thread reads the connection: replies and returned requests;
    requests are written by the callers, one at a time."""

    def __init__(self):
        super().__init__()
        self.pending: dict[str, Event] = {}
        self._connection: amqp.Connection | None = None
        self._channel = None
        self._writing = Semaphore(1)
        self._running = False
        self.idle_ticks = 0  # reads that found nothing (heartbeats checked): for tests

    # --- lifecycle ----------------------------------------------------------------------

    def setup(self):
        self.amqp_uri = config.get("AMQP_URI")
        self.exchange = get_rpc_exchange()

    def start(self):
        if self._running:  # started already, by the RPC entrypoints (see `Answers`)
            return
        self._running = True
        try:
            self._connect()
        except Exception as exc:  # the reading thread goes on trying
            log.warning("rpc_line_unavailable", error=_error(exc))
        self.container.spawn_managed_thread(self._read_forever, identifier="rpc_line")

    def stop(self):
        self._running = False
        self._drop("the service is stopping")

    def kill(self):
        self.stop()

    # --- the connection -----------------------------------------------------------------

    def _connect(self) -> None:
        timeout = float(config.get("CIVIC_PUBLISH_TIMEOUT", 10.0))
        # One attempt at each broker of the list: the caller's next pass is the retry.
        connection = establish(
            self.amqp_uri,
            connect_timeout=timeout,
            heartbeat=max(1, round(float(config.get("CIVIC_AMQP_HEARTBEAT", 30.0)))),
            transport_options={"read_timeout": timeout, "write_timeout": timeout},
        )
        try:
            channel = connection.channel()
            self.exchange(channel).declare()
            # Direct reply-to: consumed (no acks, as it must be) before the first request
            # names it; the broker gives each request a reply address of this channel.
            channel.basic_consume(DIRECT_REPLY_TO, callback=self._on_reply, no_ack=True)
            channel.events["basic_return"].add(self._on_return)
        except BaseException:
            connection.collect()
            raise
        self._connection, self._channel = connection, channel

    def _drop(self, why: str) -> None:
        """Forget the connection (no closing handshake: it may be gone) and fail every
        call waiting on it."""
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            try:
                connection.collect()
            except Exception:  # pragma: no cover - best effort on a broken socket
                pass
        waiting, self.pending = self.pending, {}
        for event in waiting.values():
            if not event.ready():
                event.send_exception(Unavailable(f"the RPC connection was lost: {why}"))

    def _read_forever(self) -> None:
        delay = 0.1
        while self._running:
            connection = self._connection
            if connection is None:
                try:
                    self._connect()
                    delay = 0.1
                    log.info("rpc_line_connected")
                except Exception as exc:
                    log.warning("rpc_line_unavailable", error=_error(exc))
                    eventlet.sleep(delay)
                    delay = min(RECONNECT_MAX_DELAY, delay * 2)
                continue
            try:
                connection.drain_events(timeout=READ_TICK)
            except TimeoutError:
                self.idle_ticks += 1
                try:
                    # Heartbeats are frames too: never in the middle of a request's.
                    if self._writing.acquire(blocking=False):
                        try:
                            connection.heartbeat_tick()
                        finally:
                            self._writing.release()
                except Exception as exc:
                    if self._running:
                        log.warning("rpc_line_lost", error=_error(exc))
                    self._drop(_error(exc))
            except Exception as exc:
                if self._running:
                    log.warning("rpc_line_lost", error=_error(exc))
                self._drop(_error(exc))

    # --- requests and replies -----------------------------------------------------------

    def request(
        self, service: str, method: str, args, kwargs, headers: dict, seconds: float
    ) -> Event:
        """Send one request; the event gets its reply (or the call's failure)."""
        content_type, encoding, body = kombu_serialization.dumps(
            {"args": args, "kwargs": kwargs}, serializer="json"
        )
        correlation_id = str(uuid.uuid4())
        message = amqp.Message(
            body,
            content_type=content_type,
            content_encoding=encoding,
            delivery_mode=PERSISTENT,
            reply_to=DIRECT_REPLY_TO,
            correlation_id=correlation_id,
            expiration=str(max(1, int(seconds * 1000))),
            application_headers=headers,
        )
        reply = Event()
        with self._writing:
            channel = self._channel
            if channel is None:
                raise Unavailable("the message broker cannot be reached")
            self.pending[correlation_id] = reply
            try:
                channel.basic_publish(
                    message, self.exchange.name, f"{service}.{method}", mandatory=True
                )
            except BaseException as exc:
                # A request half written leaves the channel unusable (a timeout, too).
                self.pending.pop(correlation_id, None)
                self._drop(_error(exc))
                if isinstance(exc, Exception):
                    raise Unavailable("the message broker cannot be reached") from None
                raise
        reply.correlation_id = correlation_id
        return reply

    def answer(self, request, result, exc_info):
        """Send the answer to an RPC `request` (a kombu message) to its caller, in
        nameko's format; returns `(result, exc_info)` as nameko's responder does (an
        answer that cannot be serialized is sent as an UnserializableValueError)."""
        error = serialize(exc_info[1]) if exc_info is not None else None
        try:
            content_type, encoding, body = kombu_serialization.dumps(
                {"result": result, "error": error}, serializer="json"
            )
        except Exception:
            exc_info = sys.exc_info()
            error = serialize(UnserializableValueError(result))
            result = None
            content_type, encoding, body = kombu_serialization.dumps(
                {"result": None, "error": error}, serializer="json"
            )
        properties = request.properties
        reply_to = properties.get("reply_to")
        if not reply_to:
            return result, exc_info  # nobody waits for it
        message = amqp.Message(
            body,
            content_type=content_type,
            content_encoding=encoding,
            delivery_mode=TRANSIENT,
            correlation_id=properties.get("correlation_id"),
        )
        waited_until = time.monotonic() + ANSWER_WAIT
        while self._channel is None and self._running and time.monotonic() < waited_until:
            eventlet.sleep(0.05)  # starting, or connecting again
        with self._writing:
            channel = self._channel
            if channel is None:
                log.warning("rpc_answer_lost", error="the message broker cannot be reached")
                return result, exc_info
            try:
                # A direct reply-to address goes through the default exchange; nameko's own
                # clients (their reply queue bound to the RPC exchange) still get answers.
                exchange = "" if reply_to.startswith(DIRECT_REPLY_TO) else self.exchange.name
                channel.basic_publish(message, exchange, reply_to)
            except BaseException as exc:
                self._drop(_error(exc))
                if not isinstance(exc, Exception):
                    raise
                # The caller's timeout answers it (503), as for any lost answer.
                log.warning("rpc_answer_lost", error=_error(exc))
        return result, exc_info

    def forget(self, reply: Event) -> None:
        self.pending.pop(getattr(reply, "correlation_id", None), None)

    def _on_reply(self, message) -> None:
        reply = self.pending.pop(message.properties.get("correlation_id"), None)
        if reply is None or reply.ready():
            return  # the caller stopped waiting
        try:
            body = kombu_serialization.loads(
                message.body,
                message.properties.get("content_type"),
                message.properties.get("content_encoding"),
                accept=JSON_ONLY,
            )
        except Exception as exc:
            reply.send_exception(Unavailable(f"an unreadable reply: {_error(exc)}"))
            return
        reply.send(body)

    def _on_return(self, exc, exchange, routing_key, message) -> None:
        reply = self.pending.pop(message.properties.get("correlation_id"), None)
        if reply is not None and not reply.ready():
            reply.send_exception(UnroutableRequest(routing_key))


def rpc_queue(service: str) -> Queue:
    """A service's queue of RPC requests, as nameko names and binds it, of Civic's queue
    type (civic.messaging)."""
    return Queue(
        RPC_QUEUE_TEMPLATE.format(service),
        exchange=get_rpc_exchange(),
        routing_key=f"{service}.*",
        durable=True,
        queue_arguments=rpc_queue_arguments(),
    )


class Answers(RpcConsumer):
    """nameko's consumer of a service's RPC requests, answering over the process's
    `RequestLine` instead of a publisher per answer (see the module's docstring)."""

    line = RequestLine()

    @property
    def sharing_key(self):
        # One consumer of the service's queue: a service that also declares nameko's own
        # `@rpc` methods shares this one (two would split the queue's requests between
        # them, each answering MethodNotFound for the other's methods).
        return RpcConsumer

    def setup(self):
        super().setup()
        # nameko builds a plain durable queue; Civic's are of its queue type (rpc_queue).
        self.queue.queue_arguments = rpc_queue(self.container.service_name).queue_arguments

    def start(self):
        self.line.start()  # before the first request can arrive
        super().start()

    def handle_result(self, message, result, exc_info):
        result, exc_info = self.line.answer(message, result, exc_info)
        self.consumer.ack_message(message)
        return result, exc_info


class SignatureKnown:
    """An entrypoint mixin: nameko's `check_signature` (are these the arguments the
    method takes?) ran `inspect.getcallargs` on every call, working the method's
    signature out again each time — 3% of a read's CPU in the gateway and again in the
    service (issue 14's profile). The signature is worked out once; each call binds to
    it, with the same verdict (the function as decorated, not what it wraps)."""

    _signature: inspect.Signature | None = None

    def check_signature(self, args, kwargs):
        signature = self._signature
        if signature is None:
            method = getattr(self.container.service_cls, self.method_name)
            signature = self._signature = inspect.signature(method, follow_wrapped=False)
        try:
            signature.bind(None, *args, **kwargs)  # None: the unbound method's `self`
        except TypeError as exc:
            raise IncorrectSignature(str(exc)) from None


class Rpc(SignatureKnown, NamekoRpc):
    """nameko's `@rpc` entrypoint, answered by `Answers`."""

    rpc_consumer = Answers()


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


class ServiceCall:
    def __init__(self, line: RequestLine, context: dict, service: str, timeout: float, calls):
        self._line = line
        self._context = context
        self._service = service
        self._default_timeout = timeout
        self._calls = calls

    def __getattr__(self, method: str):
        def call(*args, timeout: float | None = None, **kwargs):
            return self.call(method, *args, timeout=timeout, **kwargs)

        return call

    def call(self, method: str, *args, timeout: float | None = None, **kwargs):
        seconds = timeout or self._default_timeout
        target = f"{self._service}.{method}"
        reply = None
        started = time.monotonic()
        try:
            with eventlet.Timeout(seconds):
                headers = encode_to_headers(self._context_of_call(method, seconds))
                reply = self._line.request(self._service, method, args, kwargs, headers, seconds)
                response = reply.wait()
        except UnroutableRequest:
            raise Unavailable(f"the {self._service} service is not running") from None
        except eventlet.Timeout:
            if reply is not None:
                self._line.forget(reply)  # a late reply is dropped, not kept
            log.warning(
                "rpc_timeout",
                target=target,
                timeout_s=seconds,
                published=reply is not None,
                waited_ms=round((time.monotonic() - started) * 1000, 1),
            )
            raise Unavailable(f"the {self._service} service did not answer in time") from None
        error = response.get("error")
        if error:
            raise deserialize(error)
        return response["result"]

    def _context_of_call(self, method: str, seconds: float) -> dict:
        """The worker's context for one call's headers, with its request id and deadline."""
        context = dict(self._context)
        base = context.pop(REQUEST_ID, None) or context.pop(REQUEST_KEY, None)
        context.pop(REQUEST_KEY, None)
        if base:
            target = f"{self._service}.{method}"
            context[REQUEST_ID] = derived_request_id(base, target, self._calls[target])
            self._calls[target] += 1
        context[REQUEST_DEADLINE] = deadline_ms(seconds)
        return context


class ServiceClients:
    def __init__(self, line: RequestLine, context: dict, default_timeout: float):
        self._line = line
        self._context = context
        self._default_timeout = default_timeout
        self._calls = Counter()  # per worker: the n-th call of each service.method

    def __getattr__(self, service: str) -> ServiceCall:
        return ServiceCall(self._line, self._context, service, self._default_timeout, self._calls)

    def __getitem__(self, service: str) -> ServiceCall:
        return getattr(self, service)


class Services(DependencyProvider):
    """`self.services.groups.get_account(account_id)`: RPC with a bounded wait, over the
    process's `RequestLine`."""

    line = RequestLine()

    def get_dependency(self, worker_ctx):
        # The worker's own context, not a copy: the gateway learns the actor (and sets
        # it there) after this dependency is injected; each call copies it then.
        return ServiceClients(
            self.line, worker_ctx.context_data, config.get("CIVIC_RPC_TIMEOUT", 5.0)
        )
