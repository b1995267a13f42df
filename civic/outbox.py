"""The outbox: its table, the write of an event into it, and the relay that publishes
committed events with publisher confirms.

A unit of work (civic.db) writes each event it publishes into the `outbox` table with
`store_event`, in its own transaction, so the event exists if and only if the change that
caused it was committed. The row is written already claimed by this process's relay
(`claimed_until = now + lease`), and after the commit the unit of work hands it over
(`publish_now`): the relay publishes it in its own green thread without a claim of its
own — a handler never talks to the broker, so a broker that stops answering cannot hold
a message unacked or a worker busy. (A process without a running relay — a script, the
command line — publishes at once, with the same timeouts.) Should the process die
before publishing, its rows' claim runs out and any relay takes them.

One relay pass, never holding a database transaction while it talks to the broker:

1. **claim** — the rows handed over by this process's commits, claimed when written;
   and every `CIVIC_RELAY_INTERVAL` (or when rows are unparked) one short transaction
   that sets `claimed_until = now + lease` on the oldest unsent, unparked rows whose
   claim is free or expired (`UPDATE … RETURNING`; on PostgreSQL the candidates are
   picked `FOR UPDATE SKIP LOCKED`), so N relays of N instances each claim different
   rows: those that failed before, and those of a process that died;
2. **publish** — the batch goes out on one channel in confirm mode, every message
   `mandatory`, without waiting between messages; then the relay waits (with a deadline,
   `CIVIC_PUBLISH_TIMEOUT`) for every ack, nack and returned message;
3. **record** — another short transaction marks what was confirmed as sent.

What the broker returned as unroutable (no queue bound for it: its consumer is not
deployed yet) is kept and retried with backoff — unless no handler in the services'
topology consumes that type at all, then it is let go (marked sent). A row that fails
on its own (its envelope can't be read back, the broker nacks it, it makes the broker
close the channel) is retried with backoff and parked after `CIVIC_OUTBOX_MAX_ATTEMPTS`
failures: logged, counted in the service's health (`outbox_parked`), never blocking the
rows behind it; `unpark` puts it back in line. A broker that is away, refuses or stays
silent fails the whole pass (the rows are released, attempts counted, never parked).

The publisher connection has heartbeats and socket timeouts; a connection that timed
out is dropped (not closed politely: a frozen broker would not answer) and made anew on
the next pass. While there is a backlog the relay runs passes back to back.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import amqp
from amqp.exceptions import ChannelError
from kombu import Exchange
from nameko.events import get_event_exchange
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from civic import chaos, prebuilt
from civic import config as civic_config
from civic.brokers import establish
from civic.clock import utcnow
from civic.contracts import Envelope
from civic.log import get_logger
from civic.sqltypes import UTCDateTime

log = get_logger(__name__)

# Fail fast when the broker is away: the message stays where it is and is tried again
# later. (civic.messaging's forwarding publisher uses it too.)
FAST_RETRY = {"max_retries": 1, "interval_start": 0.1, "interval_step": 0.2, "interval_max": 0.3}
UNROUTABLE = "unroutable"
# The longest backoff of a row that failed (seconds), and the shortest claim lease.
BACKOFF_MAX = 60.0
LEASE_MIN = 15.0
# Rows per UPDATE when recording (well under every driver's parameter limit).
RECORD_CHUNK = 500
PERSISTENT = 2


def event_exchange(producer: str) -> Exchange:
    """The durable topic exchange `<producer>.events` a producer's events are published
    to: nameko's own (`get_event_exchange`), the one its event handlers bind to."""
    return get_event_exchange(producer)


def outbox_table(metadata: MetaData) -> Table:
    """The outbox table, added to a service's own metadata (see civic.db.kernel_tables)."""
    return Table(
        "outbox",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("type", String(100), nullable=False),
        Column("envelope", Text, nullable=False),
        Column("created_at", UTCDateTime, nullable=False, index=True),
        Column("sent_at", UTCDateTime, nullable=True, index=True),
        Column("attempts", Integer, nullable=False, default=0),
        Column("last_error", Text, nullable=True),
        # A relay publishing the row holds it until then (no transaction held meanwhile).
        Column("claimed_until", UTCDateTime, nullable=True),
        # Set once the row failed too often: no longer retried, shown to staff.
        Column("parked_at", UTCDateTime, nullable=True, index=True),
    )


def store_event(
    session: Session, outbox: Table, envelope: Envelope, claimed_until: datetime | None = None
) -> Claimed:
    """Write an event into the outbox, in the session's transaction; the relay publishes
    it once that transaction has committed. `claimed_until`: the row is born claimed by
    the relay it will be handed to (`OutboxRelay.born_claim`)."""
    row = Claimed(envelope.id, envelope.type, json.dumps(envelope.to_dict()), utcnow(), 0)
    session.execute(
        prebuilt.once(outbox, "insert", insert),
        {
            "id": row.id,
            "type": row.type,
            "envelope": row.envelope,
            "created_at": row.created_at,
            "attempts": 0,
            "claimed_until": claimed_until,
        },
    )
    # The event's first line in the logs (its trace shows where it came from); the relay
    # publishes it once the transaction commits.
    # Its own type, id and producer (a handler's context names the event it handles).
    log.info(
        "event_stored",
        event_type=envelope.type,
        message_id=envelope.id,
        event_source=envelope.producer,
    )
    return row


def context_headers(envelope: dict) -> dict:
    """nameko's context headers, so RPC calls made by a handler carry the same trace."""
    headers = {"nameko.correlation_id": envelope["correlation_id"]}
    if envelope.get("actor_id"):
        headers["nameko.actor_id"] = envelope["actor_id"]
    return headers


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def _setting(name: str, default):
    return civic_config.get(name, default)


# --- talking to the broker ----------------------------------------------------------------


class BrokerUnavailable(Exception):
    """The broker could not be reached, refused, or did not answer in time."""


@dataclass
class Outgoing:
    """One outbox row, ready to go: its id, routing key and AMQP message."""

    id: str
    type: str
    message: amqp.Message


@dataclass
class BatchResult:
    confirmed: set[str] = field(default_factory=set)
    returned: set[str] = field(default_factory=set)  # unroutable (and confirmed)
    nacked: set[str] = field(default_factory=set)


class ConfirmedPublisher:
    """One py-amqp connection and channel in confirm mode, publishing `mandatory`
    messages to one exchange in pipelined batches.

    Every wait on the broker has a deadline (`CIVIC_PUBLISH_TIMEOUT`: the connection
    handshake, socket reads and writes, the confirms of a batch); the connection has
    heartbeats (`CIVIC_AMQP_HEARTBEAT`). After any failure the connection is dropped
    without the closing handshake and made anew on the next batch.
    """

    def __init__(self, amqp_uri: str, exchange: Exchange):
        self.amqp_uri = amqp_uri
        self.exchange = exchange
        self.connection: amqp.Connection | None = None
        self.channel = None
        self._next_tag = 0
        self._waiting: dict[int, str] = {}  # delivery tag → row id, in publishing order
        self._result = BatchResult()

    @staticmethod
    def timeout() -> float:
        return float(_setting("CIVIC_PUBLISH_TIMEOUT", 10.0))

    def _connect(self) -> None:
        timeout = self.timeout()
        # One attempt at each broker of the list: the caller's next pass is the retry.
        connection = establish(
            self.amqp_uri,
            connect_timeout=timeout,
            heartbeat=max(1, round(float(_setting("CIVIC_AMQP_HEARTBEAT", 30.0)))),
            transport_options={"read_timeout": timeout, "write_timeout": timeout},
        )
        try:
            channel = connection.channel()
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            channel.events["basic_return"].add(self._on_return)
            self.exchange(channel).declare()
        except BaseException:
            connection.collect()
            raise
        self.connection, self.channel, self._next_tag = connection, channel, 0

    def publish_batch(self, batch: list[Outgoing], copies: int = 1) -> BatchResult:
        """Publish every message (`copies` times each), then wait for all confirms.

        Raises BrokerUnavailable (the batch's outcome unknown: publish it again) or
        amqp's ChannelError (the broker closed the channel because of a message)."""
        try:
            if self.connection is None:
                self._connect()
            self._waiting.clear()
            self._result = BatchResult()
            for outgoing in batch:
                for _ in range(copies):
                    self._next_tag += 1
                    self._waiting[self._next_tag] = outgoing.id
                    self.channel.basic_publish(
                        outgoing.message,
                        exchange=self.exchange.name,
                        routing_key=outgoing.type,
                        mandatory=True,
                    )
            deadline = time.monotonic() + self.timeout()
            while self._waiting:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no confirm within {self.timeout():g} s")
                self.connection.drain_events(timeout=remaining)
        except ChannelError:
            self.drop()
            raise
        except Exception as exc:
            self.drop()
            if isinstance(exc, BrokerUnavailable):
                raise
            raise BrokerUnavailable(_error(exc)) from exc
        result = self._result
        result.confirmed -= result.nacked
        return result

    def _settle(self, delivery_tag: int, multiple: bool, acked: bool) -> None:
        if multiple:
            tags = [tag for tag in self._waiting if tag <= delivery_tag]
        else:
            tags = [delivery_tag] if delivery_tag in self._waiting else []
        for tag in tags:
            row_id = self._waiting.pop(tag)
            (self._result.confirmed if acked else self._result.nacked).add(row_id)

    def _on_ack(self, delivery_tag, multiple):
        self._settle(delivery_tag, multiple, True)

    def _on_nack(self, delivery_tag, multiple):
        self._settle(delivery_tag, multiple, False)

    def _on_return(self, exc, exchange, routing_key, message):
        # RabbitMQ sends the return before the ack of the same message.
        row_id = (message.properties or {}).get("message_id")
        if row_id:
            self._result.returned.add(row_id)

    def heartbeat(self) -> None:
        """Read what the broker sent meanwhile (its heartbeats) and send ours when due;
        a connection that missed too many is dropped."""
        if self.connection is None:
            return
        try:
            try:
                self.connection.drain_events(timeout=0)
            except TimeoutError:  # socket.timeout: nothing to read
                pass
            self.connection.heartbeat_tick()
        except Exception as exc:
            log.info("outbox_publisher_reconnecting", error=_error(exc))
            self.drop()

    def drop(self) -> None:
        """Forget the connection without the closing handshake (the broker may not
        answer); the next batch connects anew."""
        connection, self.connection, self.channel = self.connection, None, None
        self._waiting.clear()
        if connection is not None:
            try:
                connection.collect()
            except Exception:  # already gone: nothing to release
                pass


# --- the relay ------------------------------------------------------------------------------


@dataclass
class Claimed:
    id: str
    type: str
    envelope: str
    created_at: datetime
    attempts: int


@dataclass
class PassOutcome:
    claimed: int = 0
    sent: list[str] = field(default_factory=list)
    unroutable: list[Claimed] = field(default_factory=list)
    row_faults: dict[str, str] = field(default_factory=dict)  # id → error: the row's fault
    broker_error: str | None = None
    broker_failed: list[str] = field(default_factory=list)  # ids the broker failure hit


class RelayStatements:
    """The relay's statements, built once per outbox table with their values as bind
    parameters: every pass runs them, and a statement built afresh each time made
    SQLAlchemy work out its cache key again — a sixth of a write's CPU in the service
    that filed it (issue 14's profile)."""

    def __init__(self, outbox: Table):
        moment = outbox.c.sent_at.type
        available = and_(
            outbox.c.sent_at.is_(None),
            outbox.c.parked_at.is_(None),
            or_(
                outbox.c.claimed_until.is_(None),
                outbox.c.claimed_until < bindparam("now", type_=moment),
            ),
        )
        self.claim = self._claim(outbox, select(outbox.c.id).where(available))
        self.mark_sent = (
            update(outbox)
            .where(outbox.c.id.in_(bindparam("ids", expanding=True)))
            .values(sent_at=bindparam("now", type_=moment), claimed_until=None)
        )

    @staticmethod
    def _claim(outbox: Table, candidates):
        # A CTE, so PostgreSQL picks and locks the candidates once (a plain subquery
        # may be run again per row, claiming more than a batch). The outer UPDATE
        # repeats no condition: the locked rows were re-checked when locked (SQLite runs
        # the one statement alone), and a repeated filter made PostgreSQL join the
        # backlog with the batch row by row.
        candidates = (
            candidates.order_by(outbox.c.created_at)
            .limit(bindparam("batch", type_=Integer))
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite serialises writers
            .cte("candidates")
        )
        return (
            update(outbox)
            .where(outbox.c.id.in_(select(candidates.c.id)))
            .values(claimed_until=bindparam("until", type_=outbox.c.claimed_until.type))
            .returning(
                outbox.c.id,
                outbox.c.type,
                outbox.c.envelope,
                outbox.c.created_at,
                outbox.c.attempts,
            )
        )


class OutboxRelay:
    """Publishes a service's outbox (see the module's docstring)."""

    def __init__(
        self,
        database,
        amqp_uri: str,
        consumed_types: Callable[[], Iterable[str]] | None = None,
    ):
        self.database = database
        self.exchange = event_exchange(database.service)
        self.publisher = ConfirmedPublisher(amqp_uri, self.exchange)
        # Which event types some handler consumes (the services' topology), asked once,
        # the first time the broker returns an event; None: every type is consumed.
        self.consumed_types = consumed_types
        self._consumed: frozenset[str] | None = None
        self._wake = threading.Event()
        self._running = False
        # Rows this process's commits handed over (`publish_now`), claimed when written:
        # published without a claim transaction of their own, in commit order.
        self._handed: deque[Claimed] = deque()
        # When the relay next claims from the table (time.monotonic; 0: at once).
        self._sweep_at = 0.0
        # Held by the relay's green thread for a pass: a graceful stop waits for the pass
        # in flight (whose claimed rows another pass would skip) before its last one.
        self._passing = threading.Lock()
        self._statements = prebuilt.once(database.outbox, "relay", RelayStatements)

    # --- settings -------------------------------------------------------------------------

    @staticmethod
    def batch_size() -> int:
        return int(_setting("CIVIC_OUTBOX_BATCH", 1000))

    @staticmethod
    def max_attempts() -> int:
        return int(_setting("CIVIC_OUTBOX_MAX_ATTEMPTS", 10))

    @staticmethod
    def interval() -> float:
        return float(_setting("CIVIC_RELAY_INTERVAL", 2.0))

    def lease(self) -> timedelta:
        """How long a claim holds: past the longest a pass may take (connect + confirms)."""
        return timedelta(seconds=max(LEASE_MIN, 3 * ConfirmedPublisher.timeout()))

    def backoff(self, attempts: int) -> timedelta:
        """When a row that failed `attempts` times is tried again."""
        return timedelta(seconds=min(BACKOFF_MAX, self.interval() * 2 ** max(0, attempts - 1)))

    # --- publishing -----------------------------------------------------------------------

    def born_claim(self) -> datetime:
        """The claim a row is written with (see `store_event`): this relay's for a lease,
        so no other relay takes it while this one publishes it after the commit."""
        return utcnow() + self.lease()

    def publish_now(self, rows: list[Claimed]) -> int:
        """Rows just committed, born claimed: hand them to the relay, which publishes them
        in its own green thread. Without a running relay (a script), publish them here
        and now."""
        if self._running:
            self._handed.extend(rows)
            self._wake.set()
            return 0
        try:
            return len(self._pass(rows).sent)
        except Exception as exc:  # the commit stands; a relay will publish later
            log.warning(
                "outbox_publish_deferred", error=f"{type(exc).__name__}: {exc}", count=len(rows)
            )
            return 0

    def publish_pending(self) -> int:
        """One pass over the oldest batch of unsent rows; returns how many were sent."""
        return len(self._pass().sent)

    def drain(self) -> int:
        """Claims from the table back to back while a full batch was claimed and the
        broker answers; returns how many rows were sent."""
        sent = 0
        while True:
            outcome = self._pass()
            sent += len(outcome.sent)
            if outcome.claimed < self.batch_size() or outcome.broker_error:
                return sent
            time.sleep(0)  # let the process's other green threads run between batches

    def drain_handed(self) -> int:
        """Publish the rows handed over, a batch at a time, until none is left or the
        broker fails (the failed batch is released; the rest are tried on the next
        wake); returns how many were sent."""
        sent = 0
        while self._handed:
            rows = self._take_handed()
            if not rows:
                return sent
            outcome = self._pass(rows)
            sent += len(outcome.sent)
            if outcome.broker_error:
                return sent
            time.sleep(0)
        return sent

    def _take_handed(self) -> list[Claimed]:
        """Up to a batch of the handed-over rows, oldest first. A row whose claim could run
        out before its confirm arrives (it waited long in the queue) is left to a claim
        from the table once it has: no two relays publish it at the same time."""
        fresh_after = utcnow() - self.lease() + timedelta(seconds=2 * ConfirmedPublisher.timeout())
        rows: list[Claimed] = []
        batch = self.batch_size()
        while self._handed and len(rows) < batch:
            row = self._handed.popleft()
            if row.created_at > fresh_after:
                rows.append(row)
        return rows

    def _pass(self, rows: list[Claimed] | None = None) -> PassOutcome:
        """Publish `rows` (already claimed), or the oldest batch claimed from the table."""
        if rows is None:
            rows = self._claim()
        outcome = PassOutcome(claimed=len(rows))
        if rows:
            self._publish(rows, outcome)
            self._record(rows, outcome)
        return outcome

    def _claim(self) -> list[Claimed]:
        """Claim the oldest available rows, in one short transaction."""
        now = utcnow()
        values = {"now": now, "until": now + self.lease(), "batch": self.batch_size()}
        with self.database.sessions() as session, session.begin():
            rows = [Claimed(*row) for row in session.execute(self._statements.claim, values)]
        rows.sort(key=lambda row: row.created_at)
        return rows

    @staticmethod
    def _outgoing(row: Claimed) -> Outgoing:
        envelope = json.loads(row.envelope)
        message = amqp.Message(
            row.envelope.encode("utf-8"),
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=PERSISTENT,
            message_id=envelope["id"],
            application_headers=context_headers(envelope),
        )
        if envelope["id"] != row.id:
            raise ValueError("the envelope's id is not the row's")
        return Outgoing(row.id, row.type, message)

    def _publish(self, rows: list[Claimed], outcome: PassOutcome) -> None:
        """Publish the claimed rows, with no transaction open."""
        ready: list[Outgoing] = []
        for row in rows:
            try:
                ready.append(self._outgoing(row))
            except Exception as exc:  # its envelope can't be read back: it never will
                outcome.row_faults[row.id] = _error(exc)
        if not ready:
            return
        copies = chaos.copies()  # more than one only under the chaos suite
        try:
            results = [self.publisher.publish_batch(ready, copies)]
        except ChannelError as batch_error:
            # One message made the broker close the channel: find it, one at a time.
            results = []
            refused: dict[str, str] = {}
            for single in ready:
                try:
                    results.append(self.publisher.publish_batch([single], copies))
                except ChannelError as exc:
                    refused[single.id] = _error(exc)
                except BrokerUnavailable as exc:
                    outcome.broker_error = str(exc)
                    break
            if refused and len(refused) == len(ready):
                # Every one refused alone: the channel's fault (permissions…), not theirs.
                outcome.broker_error = _error(batch_error)
            else:
                outcome.row_faults.update(refused)
        except BrokerUnavailable as exc:
            outcome.broker_error = str(exc)
            results = []
        settled: set[str] = set()
        by_id = {row.id: row for row in rows}
        for result in results:
            for row_id in result.nacked:
                outcome.row_faults[row_id] = "nacked by the broker"
            for row_id in result.returned - result.nacked:
                outcome.unroutable.append(by_id[row_id])
            outcome.sent.extend(sorted(result.confirmed - result.returned))
            settled |= result.confirmed | result.nacked | result.returned
        if outcome.broker_error:
            outcome.broker_failed = [
                item.id
                for item in ready
                if item.id not in settled and item.id not in outcome.row_faults
            ]

    def _consumes(self, event_type: str) -> bool:
        if self.consumed_types is None:
            return True
        if self._consumed is None:
            try:
                self._consumed = frozenset(self.consumed_types())
            except Exception as exc:  # can't tell: keep every returned event
                log.warning("outbox_topology_unknown", error=_error(exc))
                return True
        return event_type in self._consumed

    def _record(self, rows: list[Claimed], outcome: PassOutcome) -> None:
        """Write down what happened to each claimed row, in one short transaction."""
        outbox = self.database.outbox
        now = utcnow()
        by_id = {row.id: row for row in rows}
        let_go = [row for row in outcome.unroutable if not self._consumes(row.type)]
        kept = [row for row in outcome.unroutable if self._consumes(row.type)]
        max_attempts = self.max_attempts()
        parked: list[Claimed] = []
        with self.database.sessions() as session, session.begin():
            sent = outcome.sent + [row.id for row in let_go]
            for start in range(0, len(sent), RECORD_CHUNK):
                session.execute(
                    self._statements.mark_sent,
                    {"ids": sent[start : start + RECORD_CHUNK], "now": now},
                )
            for row in kept:
                session.execute(
                    update(outbox)
                    .where(outbox.c.id == row.id)
                    .values(
                        attempts=row.attempts + 1,
                        last_error=UNROUTABLE,
                        claimed_until=now + self.backoff(row.attempts + 1),
                    )
                )
            for row_id, error in outcome.row_faults.items():
                attempts = by_id[row_id].attempts + 1
                values = {"attempts": attempts, "last_error": error}
                if attempts >= max_attempts:
                    values.update(parked_at=now, claimed_until=None)
                    parked.append(by_id[row_id])
                else:
                    values["claimed_until"] = now + self.backoff(attempts)
                session.execute(update(outbox).where(outbox.c.id == row_id).values(**values))
            failed = outcome.broker_failed
            for start in range(0, len(failed), RECORD_CHUNK):
                session.execute(
                    update(outbox)
                    .where(outbox.c.id.in_(failed[start : start + RECORD_CHUNK]))
                    .values(
                        attempts=outbox.c.attempts + 1,
                        last_error=outcome.broker_error,
                        claimed_until=None,
                    )
                )
        for row in let_go:
            log.info("outbox_unroutable_let_go", message_id=row.id, event_type=row.type)
        for row in kept:
            log.warning("outbox_unroutable_kept", message_id=row.id, event_type=row.type)
        for row_id, error in outcome.row_faults.items():
            log.warning(
                "outbox_publish_failed",
                message_id=row_id,
                event_type=by_id[row_id].type,
                error=error,
            )
        for row in parked:
            log.error(
                "outbox_row_parked",
                message_id=row.id,
                event_type=row.type,
                attempts=row.attempts + 1,
                error=outcome.row_faults[row.id],
            )
        if failed:
            log.warning(
                "outbox_publish_failed",
                message_id=failed[0],
                event_type=by_id[failed[0]].type,
                count=len(failed),
                error=outcome.broker_error,
            )

    # --- what staff see ---------------------------------------------------------------------

    def unsent_count(self) -> int:
        """Rows waiting to be published (not the parked ones)."""
        outbox = self.database.outbox
        with self.database.sessions() as session:
            return session.execute(
                select(func.count())
                .select_from(outbox)
                .where(outbox.c.sent_at.is_(None), outbox.c.parked_at.is_(None))
            ).scalar_one()

    def oldest_unsent_at(self):
        """When the oldest row still waiting to be published was written (None: none)."""
        outbox = self.database.outbox
        with self.database.sessions() as session:
            return session.execute(
                select(func.min(outbox.c.created_at)).where(
                    outbox.c.sent_at.is_(None), outbox.c.parked_at.is_(None)
                )
            ).scalar_one()

    def parked_count(self) -> int:
        outbox = self.database.outbox
        with self.database.sessions() as session:
            return session.execute(
                select(func.count()).select_from(outbox).where(outbox.c.parked_at.is_not(None))
            ).scalar_one()

    def unpark(self, ids: list[str] | None = None) -> int:
        """Put parked rows (all, or `ids`) back in line, attempts reset; returns how many."""
        outbox = self.database.outbox
        statement = update(outbox).where(outbox.c.parked_at.is_not(None))
        if ids is not None:
            statement = statement.where(outbox.c.id.in_(ids))
        with self.database.sessions() as session, session.begin():
            count = session.execute(
                statement.values(parked_at=None, attempts=0, claimed_until=None)
            ).rowcount
        if count:
            log.info("outbox_unparked", count=count)
            self._sweep_at = 0.0  # they are claimed from the table: at once
            self._wake.set()
        return count

    # --- the green thread -----------------------------------------------------------------

    def run_forever(self) -> None:
        """Publish the rows each commit hands over as soon as it does; every
        `CIVIC_RELAY_INTERVAL` seconds (and at start) claim from the table what is left:
        rows that failed before, rows of a process that died."""
        self._running = True
        while self._running:
            self._wake.wait(max(0.0, self._sweep_at - time.monotonic()))
            self._wake.clear()
            if not self._running:
                break
            self.publisher.heartbeat()
            try:
                with self._passing:
                    count = self.drain_handed()
                    if time.monotonic() >= self._sweep_at:
                        self._sweep_at = time.monotonic() + self.interval()
                        count += self.drain()
                if count:
                    # A backlog drained is news; the rows of each commit are routine.
                    level = log.info if count >= self.batch_size() else log.debug
                    level("outbox_relayed", count=count)
            except Exception as exc:
                log.warning("outbox_relay_failed", error=_error(exc))

    def stop(self) -> None:
        self._running = False
        self._wake.set()

    def final_drain(self) -> int:
        """After `stop`: let the relay's pass in flight finish, then publish what the
        last workers committed; returns how many rows this last drain sent."""
        with self._passing:
            return self.drain_handed() + self.drain()

    def close(self) -> None:
        self.stop()
        self.publisher.drop()
