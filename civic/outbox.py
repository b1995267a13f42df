"""The outbox: its table, the write of an event into it, and the relay that publishes
committed events with publisher confirms.

A unit of work (civic.db) writes each event it publishes into the `outbox` table with
`store_event`, in its own transaction, so the event exists if and only if the change that
caused it was committed. Right after the commit, the unit of work's own rows are
published (`publish_now`); a periodic pass (`run_forever`) publishes whatever is still
unsent — the broker was down, the process died between commit and publish. Rows are claimed with
`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL, so two instances of a service never
publish the same row in the normal case; consumers are idempotent for the rest.
"""

from __future__ import annotations

import json
import time

from kombu import Exchange
from nameko.amqp.publish import Publisher
from nameko.constants import PERSISTENT
from nameko.events import get_event_exchange
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, func, insert, select, update
from sqlalchemy.orm import Session

from civic import chaos
from civic.clock import utcnow
from civic.contracts import Envelope
from civic.log import get_logger
from civic.sqltypes import UTCDateTime

log = get_logger(__name__)

# Fail fast when the broker is away: the row stays in the outbox and the relay retries.
FAST_RETRY = {"max_retries": 1, "interval_start": 0.1, "interval_step": 0.2, "interval_max": 0.3}
BATCH = 100


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


def store_event(session: Session, outbox: Table, envelope: Envelope) -> None:
    """Write an event into the outbox, in the session's transaction; the relay publishes
    it once that transaction has committed."""
    session.execute(
        insert(outbox).values(
            id=envelope.id,
            type=envelope.type,
            envelope=json.dumps(envelope.to_dict()),
            created_at=utcnow(),
            attempts=0,
        )
    )


def context_headers(envelope: dict) -> dict:
    """nameko's context headers, so RPC calls made by a handler carry the same trace."""
    headers = {"nameko.correlation_id": envelope["correlation_id"]}
    if envelope.get("actor_id"):
        headers["nameko.actor_id"] = envelope["actor_id"]
    return headers


class OutboxRelay:
    def __init__(self, database, amqp_uri: str):
        self.database = database
        self.exchange = event_exchange(database.service)
        self.publisher = Publisher(
            amqp_uri,
            use_confirms=True,
            serializer="json",
            delivery_mode=PERSISTENT,
            retry=True,
            retry_policy=FAST_RETRY,
        )
        self._running = False

    def publish_now(self, ids: list[str]) -> int:
        """Publish rows just committed; a failure is logged and left to the relay."""
        try:
            return self.publish_pending(ids)
        except Exception as exc:  # the commit stands; the relay will publish later
            log.warning(
                "outbox_publish_deferred", error=f"{type(exc).__name__}: {exc}", count=len(ids)
            )
            return 0

    def publish_pending(self, ids: list[str] | None = None) -> int:
        """Publish unsent rows (all of them, or just `ids`); returns how many were sent."""
        outbox = self.database.outbox
        query = select(outbox.c.id, outbox.c.type, outbox.c.envelope).where(
            outbox.c.sent_at.is_(None)
        )
        if ids is not None:
            query = query.where(outbox.c.id.in_(ids))
        query = query.order_by(outbox.c.created_at).limit(BATCH).with_for_update(skip_locked=True)
        sent: list[str] = []
        with self.database.sessions() as session, session.begin():
            for row in session.execute(query).all():
                try:
                    self._publish(row.type, row.envelope)
                except Exception as exc:
                    session.execute(
                        update(outbox)
                        .where(outbox.c.id == row.id)
                        .values(
                            attempts=outbox.c.attempts + 1,
                            last_error=f"{type(exc).__name__}: {exc}"[:500],
                        )
                    )
                    log.warning(
                        "outbox_publish_failed",
                        message_id=row.id,
                        event_type=row.type,
                        error=f"{type(exc).__name__}: {exc}",
                    )
                    break  # keep the order: what follows waits for the next pass
                sent.append(row.id)
            if sent:
                session.execute(
                    update(outbox).where(outbox.c.id.in_(sent)).values(sent_at=utcnow())
                )
        for message_id in sent:
            log.debug("outbox_published", message_id=message_id)
        return len(sent)

    def _publish(self, event_type: str, envelope_json: str) -> None:
        envelope = json.loads(envelope_json)
        for _ in range(chaos.copies()):  # more than one only under the chaos suite
            self.publisher.publish(
                envelope,
                exchange=self.exchange,
                routing_key=event_type,
                declare=[self.exchange],
                message_id=envelope["id"],
                extra_headers=context_headers(envelope),
            )

    def unsent_count(self) -> int:
        outbox = self.database.outbox
        with self.database.sessions() as session:
            return session.execute(
                select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
            ).scalar_one()

    def run_forever(self) -> None:
        from civic import config

        interval = config.get("CIVIC_RELAY_INTERVAL", 2.0)
        self._running = True
        while self._running:
            time.sleep(interval)
            try:
                count = self.publish_pending()
                if count:
                    log.info("outbox_relayed", count=count)
            except Exception as exc:
                log.warning("outbox_relay_failed", error=f"{type(exc).__name__}: {exc}")

    def stop(self) -> None:
        self._running = False

    def close(self) -> None:
        self._running = False
