"""Gateways agree: every gateway process forgets an account's cached sessions as soon as
the groups service says they may no longer be what they were.

Each gateway caches checked tokens (`auth.PrincipalCache`, CIVIC_AUTH_CACHE_SECONDS).
What makes a cached principal wrong is announced by the groups service, through its
outbox, in the transaction of the change: `signed_out`, `account_erased`,
`email_confirmed`, `staff_role_changed` (`REVOKING`). Every gateway instance hears every
one of them: it consumes from a queue of its own, `gateway.revocations.<instance id>`
(exclusive, auto-delete: it goes with its connection, nothing is left behind), bound to
the groups service's event exchange (`groups.events`) with each of those event types as
routing key — a broadcast, where the domain services' durable queues are shared by their
instances. Each message is read as an envelope of the catalogue
(`civic.contracts.parse_envelope`); one that cannot be read is logged and dropped. A
message is acked as it is delivered: there is nothing to retry, and a lost one costs at
most the cache's lifetime.

The listener runs in a managed green thread of the gateway's container, as
`civic.service.InstanceAnswers` does, and reconnects (waiting longer each time, up to
10 s) when the broker goes away. Every time it is listening again — the first time
too — it forgets the whole cache: the events published while it was not listening were
not kept for it (its queue went with its connection), so anything cached before may
have missed its revocation. While it is not listening the cache is what it was before
gateways agreed: at most CIVIC_AUTH_CACHE_SECONDS stale (and the broker that carries
these events carries the RPC calls that would check a token too).

Plain kombu under eventlet (the gateway's sockets are green); `RevocationListener` runs
without nameko too (its tests).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

import eventlet
from kombu import Connection

from civic.contracts import get_contract, parse_envelope
from civic.errors import ContractError
from civic.log import get_logger
from civic.outbox import event_exchange
from civic.service import QueueListener
from services.gateway.auth import Authentication

log = get_logger(__name__)

PRODUCER = "groups"
# The events after which a cached principal of the account may be wrong.
REVOKING = ("signed_out", "account_erased", "email_confirmed", "staff_role_changed")
QUEUE_PREFIX = "gateway.revocations."
# A revocation is a small envelope; anything much bigger is not one.
MAX_BODY_BYTES = 64 * 1024
RECONNECT_FIRST, RECONNECT_MAX = 0.5, 10.0
# The longest a starting gateway waits for its listener to hear (seconds).
START_WAIT = 5.0


def queue_name(instance_id: str) -> str:
    return f"{QUEUE_PREFIX}{instance_id}"


def account_revoked(body) -> tuple[str, str]:
    """(event type, account id) of a revocation's message body (bytes, text or the
    decoded JSON); ContractError for anything else."""
    if isinstance(body, (bytes, bytearray)):
        if len(body) > MAX_BODY_BYTES:
            raise ContractError("message too large for a revocation")
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ContractError("message body is not UTF-8") from None
    if isinstance(body, str):
        if len(body) > MAX_BODY_BYTES:
            raise ContractError("message too large for a revocation")
        try:
            body = json.loads(body)
        except ValueError:
            raise ContractError("message body is not JSON") from None
    envelope = parse_envelope(body)
    if envelope.type not in REVOKING:
        raise ContractError(f"{envelope.type} is not a revocation")
    if envelope.producer != PRODUCER or get_contract(envelope.type).producer != PRODUCER:
        raise ContractError(f"{envelope.type} must come from {PRODUCER!r}")
    return envelope.type, envelope.data["account_id"]


class RevocationListener:
    """Consumes this gateway instance's revocations and forgets what they name.

    `forget_account(account_id)` and `forget_all()` act on the cache (a PrincipalCache's
    methods). `run(stopped)` connects, declares, listens until `stopped()` is true, and
    reconnects when the broker goes away; `listening` says whether it hears right now.
    """

    def __init__(
        self,
        amqp_uri: str,
        forget_account: Callable[[str], None],
        forget_all: Callable[[], None],
        instance_id: str | None = None,
        heartbeat: float = 30.0,
    ):
        self.amqp_uri = amqp_uri
        self.forget_account = forget_account
        self.forget_all = forget_all
        self.instance_id = instance_id or uuid.uuid4().hex[:12]
        self.heartbeat = heartbeat
        self.listening = False
        # How many times it started listening (1 after the first connection).
        self.connections = 0

    @property
    def queue_name(self) -> str:
        return queue_name(self.instance_id)

    def run(self, stopped: Callable[[], bool], sleep: Callable[[float], None] = time.sleep):
        delay = RECONNECT_FIRST
        while not stopped():
            listened = self.connections
            try:
                with Connection(
                    self.amqp_uri, connect_timeout=5, heartbeat=self.heartbeat
                ) as connection:
                    connection.ensure_connection(max_retries=1)
                    self._listen(connection, stopped)
                    return
            except Exception as exc:  # noqa: BLE001 - the broker went away: come back
                if self.connections != listened:
                    delay = RECONNECT_FIRST  # it had listened: a new outage starts over
                self.listening = False
                log.warning(
                    "revocations_reconnecting",
                    error=type(exc).__name__,
                    retry_in_s=delay,
                    queue=self.queue_name,
                )
            if stopped():
                return
            sleep(delay)
            delay = min(RECONNECT_MAX, delay * 2)

    def _listen(self, connection, stopped) -> None:
        channel = connection.channel()
        exchange = event_exchange(PRODUCER)
        exchange(channel).declare()
        channel.queue_declare(
            queue=self.queue_name, durable=False, exclusive=True, auto_delete=True
        )
        for event_type in REVOKING:
            channel.queue_bind(
                queue=self.queue_name, exchange=exchange.name, routing_key=event_type
            )
        channel.basic_consume(queue=self.queue_name, no_ack=True, callback=self._on_message)
        # Listening from here on. What was published while this gateway was not (before
        # its first connection, or during a broker outage) never reached it: its queue
        # goes with its connection. Anything cached until now may have missed its
        # revocation, so all of it goes; the next request of each session asks groups.
        self.forget_all()
        self.listening = True
        self.connections += 1
        log.info(
            "revocations_listening",
            queue=self.queue_name,
            event_types=list(REVOKING),
            cache_forgotten=True,
            reconnected=self.connections > 1,
        )
        try:
            while not stopped():
                try:
                    connection.drain_events(timeout=1)
                except TimeoutError:
                    connection.heartbeat_check()
        finally:
            self.listening = False

    def _on_message(self, message) -> None:
        try:
            self.handle(message.body)
        except Exception as exc:  # noqa: BLE001 - one message never stops the listener
            log.error("revocation_failed", error=type(exc).__name__)

    def handle(self, body) -> str | None:
        """Forget what one message names; the account id, or None when the message is
        not a revocation (logged and dropped)."""
        try:
            event_type, account_id = account_revoked(body)
        except ContractError as exc:
            # The reason only: it names fields and types, never their values.
            log.warning("revocation_dropped", reason=str(exc)[:200])
            return None
        self.forget_account(account_id)
        log.info("principals_forgotten", event_type=event_type, account_id=account_id)
        return account_id


class Revocations(QueueListener):
    """The gateway's listener for revocations (see the module's docstring). Needs an
    `auth.Authentication()` dependency on the same service: it forgets in its cache.
    The dependency a worker gets says whether this gateway hears revocations now."""

    def setup(self):
        from civic import config

        self.listener = None
        self._amqp_uri = config.get("AMQP_URI")
        self._heartbeat = float(config.get("CIVIC_AMQP_HEARTBEAT", 30))

    def start(self):
        found = [dep for dep in self.container.dependencies if isinstance(dep, Authentication)]
        if not found:
            raise TypeError("Revocations needs an Authentication() dependency on the service")
        cache = found[0].cache
        self.listener = RevocationListener(
            self._amqp_uri, cache.forget_account, cache.forget_all, heartbeat=self._heartbeat
        )
        self.run_listener(self.listener, "gateway.revocations")
        # The container counts as started once it hears revocations (the broker answering,
        # which takes milliseconds), so nothing it caches from then on misses one; with
        # the broker away it starts anyway and the listener keeps trying.
        deadline = time.monotonic() + START_WAIT
        while not self.listener.listening and time.monotonic() < deadline:
            eventlet.sleep(0.01)

    def get_dependency(self, worker_ctx):
        return {"listening": bool(self.listener and self.listener.listening)}
