"""Listing and replaying the poison messages parked in `civic.dead-letters`.

Used by the gateway (`GET /staff/dead-letters`, `POST /staff/dead-letters/{id}/replay`)
and by the `civic` command line. Both operations read the queue with `basic_get`
without acking: the messages they look at stay unacknowledged on one channel, and are
handed back to the queue (rejected with requeue, and in any case when the channel
closes), so reading never loses or consumes a message. Only the message being replayed
is acked, and only after its copy was confirmed by the broker on its original queue.

While one of these calls holds messages, a concurrent call does not see them; that is
harmless for a staff tool and keeps the queue intact. An event that failed twice (a
duplicate delivery of a poison message) is listed twice under the same id; each replay
sends one copy back, and the consumer's inbox makes sure it has its effect once.

A dead letter is the failed message as it came — its bytes and properties, a missing
content type still missing (civic.messaging copies it so) — and a replay sends exactly
that back, byte for byte, with only Civic's own headers changed.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import datetime, timedelta

from kombu import Connection

from civic import clock
from civic.errors import Conflict, NotFound, Unavailable, ValidationError
from civic.log import get_logger
from civic.messaging import (
    ATTEMPTS_HEADER,
    DELIVERY_LIMIT,
    FIRST_FAILED_AT_HEADER,
    copy_of,
    dead_letter_queue,
    publish_copy,
    queue_owner,
    raw_body,
    retry_delays,
)

__all__ = [
    "count_dead_letters",
    "count_for_queue",
    "list_dead_letters",
    "raw_body",
    "replay",
    "replay_queue",
    "summary",
]

log = get_logger(__name__)

CIVIC_HEADER_PREFIX = "x-civic-"
# What the kernel and the broker wrote about the failure: not sent back on a replay.
BROKER_AND_CIVIC_HEADERS = (CIVIC_HEADER_PREFIX, "x-death", "x-first-death-", "x-last-death-")
REPLAYED_AT_HEADER = "x-civic-replayed-at"
MAX_LIST = 1000
# How many messages `replay` looks through to find the one asked for.
MAX_SCAN = 10000
CONNECT_TIMEOUT = 5.0
# Bounds every socket read/write, so a broker that stops answering cannot hang a caller.
IO_TIMEOUT = 10.0
# How long a reader waits for the messages it held to be back in the queue.
HANDBACK_WAIT = 2.0


def _connection(amqp_uri: str, confirms: bool = False) -> Connection:
    return Connection(
        amqp_uri,
        connect_timeout=CONNECT_TIMEOUT,
        transport_options={
            "confirm_publish": confirms,
            "read_timeout": IO_TIMEOUT,
            "write_timeout": IO_TIMEOUT,
        },
    )


def _message_id(message) -> str:
    """The envelope id the message carries; a stable id from its body when it has none.

    The fallback is shaped as a UUID, so every dead-letter id looks alike to callers.
    """
    message_id = (message.properties or {}).get("message_id")
    if message_id:
        return str(message_id)
    digest = hashlib.sha256(raw_body(message)).digest()
    return str(uuid.UUID(bytes=digest[:16]))


def _parse_body(message):
    """The parsed JSON body, or its text when it is not JSON (it may be why it is here)."""
    text = raw_body(message).decode(message.content_encoding or "utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _first_failure(headers: dict, attempts, failed_at) -> tuple[str | None, bool]:
    """(when the message first failed, whether that is an estimate). Recorded by the
    retry path when it can be; else, for a message tried more than once, the last
    failure less the retry delays it waited (an estimate: it leaves out the time its
    handler ran on each attempt)."""
    recorded = headers.get(FIRST_FAILED_AT_HEADER)
    if recorded:
        return str(recorded), False
    if not failed_at or not attempts or attempts <= 1:
        return failed_at, False
    try:
        last = datetime.fromisoformat(str(failed_at))
    except ValueError:
        return None, False
    waited = sum(retry_delays()[: attempts - 1])
    return clock.iso(last - timedelta(seconds=waited)), True


def _broker_death(headers: dict) -> dict | None:
    """The broker's own record of dead-lettering the message (a quorum queue's delivery
    limit), when it was the broker and not the kernel that put it here."""
    if headers.get("x-civic-queue"):
        return None
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
        if isinstance(deaths[0].get("queue"), str):
            return deaths[0]
    return None


def failed_on(headers: dict) -> str | None:
    """The queue a dead letter failed on: the kernel's header, else the broker's record."""
    death = _broker_death(headers)
    return death["queue"] if death else headers.get("x-civic-queue")


def _death_summary(death: dict) -> dict:
    queue = death["queue"]
    owner = queue_owner(queue)
    handler = queue.rsplit("--", 1)[1] if owner and "--" in queue else None
    when = death.get("time")
    reason = death.get("reason")
    if reason == "delivery_limit":
        error = (
            f"delivered {DELIVERY_LIMIT} times and never acked (its consumer died or lost "
            "its connection each time): the broker's delivery limit"
        )
    else:
        error = f"dead-lettered by the broker ({reason})"
    return {
        "queue": queue,
        "service": owner,
        "handler": handler,
        "error": error,
        "failed_at": clock.iso(when) if isinstance(when, datetime) else None,
    }


def summary(message) -> dict:
    """What staff see of one dead letter (JSON-serialisable)."""
    headers = message.headers or {}
    envelope = _parse_body(message)
    envelope_fields = envelope if isinstance(envelope, dict) else {}
    death = _broker_death(headers)
    about = (
        _death_summary(death)
        if death
        else {
            "queue": headers.get("x-civic-queue"),
            "service": headers.get("x-civic-service"),
            "handler": headers.get("x-civic-handler"),
            "error": headers.get("x-civic-error"),
            "failed_at": headers.get("x-civic-failed-at"),
        }
    )
    attempts = _int_or_none(headers.get(ATTEMPTS_HEADER))
    failed_at = about["failed_at"]
    first_failed_at, estimated = _first_failure(headers, attempts, failed_at)
    return {
        "id": _message_id(message),
        "type": envelope_fields.get("type"),
        "queue": about["queue"],
        "service": about["service"],
        "handler": about["handler"],
        "error": about["error"],
        "attempts": attempts,
        "failed_at": failed_at,
        "first_failed_at": first_failed_at,
        "first_failed_at_estimated": estimated,
        "correlation_id": envelope_fields.get("correlation_id"),
        "envelope": envelope,
    }


class _HeldMessages:
    """Messages taken with basic_get and not acked; all handed back on exit."""

    def __init__(self, amqp_uri: str, confirms: bool = False):
        self.connection = _connection(amqp_uri, confirms)
        self.held = []

    def __enter__(self) -> _HeldMessages:
        try:
            self.connection.ensure_connection(
                max_retries=1,
                interval_start=0.2,
                interval_step=0.2,
                interval_max=0.5,
                timeout=2 * CONNECT_TIMEOUT,
            )
            self.channel = self.connection.channel()
            # Declared as civic.topology does (idempotent): it may not exist yet.
            self.queue = dead_letter_queue()(self.channel)
            self.queue.declare()
        except Exception as exc:
            self.connection.release()
            log.warning("dead_letters_unreachable", error=f"{type(exc).__name__}: {exc}")
            raise Unavailable("the message broker cannot be reached") from exc
        return self

    def next(self):
        """The next message of the queue (held, not acked), or None when it is empty."""
        message = self.queue.get(no_ack=False)
        if message is not None:
            self.held.append(message)
        return message

    def ack(self, message) -> None:
        message.ack()
        self.held.remove(message)

    def __exit__(self, *exc_info):
        try:
            # Back to the queue at their original places; closing the channel would do
            # the same, this just does not rely on it.
            ready = self._ready() if self.held else 0
            for message in self.held:
                message.reject(requeue=True)
            if self.held:
                self._wait_until_ready(ready + len(self.held))
        except Exception as exc:  # the broker requeues them when the channel closes
            log.warning("dead_letters_requeue_failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            self.held = []
            self.connection.release()
        return False

    def _ready(self) -> int:
        _, count, _ = self.queue.queue_declare(passive=True)
        return count

    def _wait_until_ready(self, expected: int) -> None:
        """A quorum queue takes rejected messages back a moment later (a classic one at
        once): wait for it, so the next reader — a count right after a listing — sees
        them. At most HANDBACK_WAIT; more may have arrived meanwhile, never fewer."""
        deadline = time.monotonic() + HANDBACK_WAIT
        while self._ready() < expected and time.monotonic() < deadline:
            time.sleep(0.01)


def list_dead_letters(amqp_uri: str, limit: int = 100) -> list[dict]:
    """Up to `limit` dead letters, oldest first, without consuming them."""
    limit = _check_limit(limit, "limit", MAX_LIST)
    entries = []
    with _HeldMessages(amqp_uri) as held:
        while len(entries) < limit:
            message = held.next()
            if message is None:
                break
            entries.append(summary(message))
    return entries


def count_dead_letters(amqp_uri: str) -> int:
    """How many messages wait in the dead-letter queue (not counting any held by a reader)."""
    with _HeldMessages(amqp_uri) as held:
        _, message_count, _ = held.queue.queue_declare(passive=True)
        return message_count


def replay(amqp_uri: str, dead_letter_id: str, scan_limit: int = MAX_SCAN) -> dict:
    """Send one dead letter back to the queue it failed on, then remove it from the DLQ.

    The copy is published with confirms (and `mandatory`, so a queue that no longer
    exists is an error, not a silent drop) before the dead letter is acked; if anything
    fails in between, the dead letter stays where it was.
    """
    if not isinstance(dead_letter_id, str) or not dead_letter_id.strip():
        raise ValidationError("a dead-letter id is required", {"id": "required"})
    scan_limit = _check_limit(scan_limit, "scan_limit", MAX_SCAN)
    with _HeldMessages(amqp_uri, confirms=True) as held:
        for _ in range(scan_limit):
            message = held.next()
            if message is None:
                break
            if _message_id(message) == dead_letter_id:
                return _republish(held, message)
    raise NotFound(f"no dead letter {dead_letter_id!r}")


def count_for_queue(amqp_uri: str, queue: str, limit: int = MAX_SCAN) -> int:
    """How many dead letters failed on `queue` (of the first `limit`), consuming none."""
    _check_queue(queue)
    limit = _check_limit(limit, "limit", MAX_SCAN)
    found = 0
    with _HeldMessages(amqp_uri) as held:
        for _ in range(limit):
            message = held.next()
            if message is None:
                break
            if failed_on(message.headers or {}) == queue:
                found += 1
    return found


def replay_queue(amqp_uri: str, queue: str, scan_limit: int = MAX_SCAN) -> dict:
    """Send every dead letter that failed on `queue` back to it (after its handler was
    fixed): `{"queue", "replayed"}`.

    Only the messages in the dead-letter queue when it starts are looked at, so one
    that fails again at once and comes back is not sent round a second time. Each is
    replayed as `replay` does (confirmed copy first, then acked); if one cannot be,
    the error is raised and it and the rest stay where they were (those already sent
    are gone from the queue, so asking again replays only the rest).
    """
    _check_queue(queue)
    scan_limit = _check_limit(scan_limit, "scan_limit", MAX_SCAN)
    replayed = 0
    with _HeldMessages(amqp_uri, confirms=True) as held:
        _, waiting, _ = held.queue.queue_declare(passive=True)
        for _ in range(min(waiting, scan_limit)):
            message = held.next()
            if message is None:
                break
            if failed_on(message.headers or {}) == queue:
                _republish(held, message)
                replayed += 1
    log.info("dead_letters_replayed", queue=queue, count=replayed)
    return {"queue": queue, "replayed": replayed}


def _check_queue(queue) -> None:
    if not isinstance(queue, str) or not queue.strip() or len(queue) > 255:
        raise ValidationError("a queue name is required", {"queue": "invalid"})


def _republish(held: _HeldMessages, message) -> dict:
    entry = summary(message)
    queue = entry["queue"]
    if not queue:
        raise Conflict(
            "this dead letter does not say which queue it failed on", {"id": entry["id"]}
        )
    replayed_at = clock.iso(clock.utcnow())
    headers = {
        key: value
        for key, value in (message.headers or {}).items()
        if not key.startswith(BROKER_AND_CIVIC_HEADERS)
    }
    headers[ATTEMPTS_HEADER] = 0
    headers[REPLAYED_AT_HEADER] = replayed_at
    channel = held.connection.channel()
    try:
        publish_copy(channel, copy_of(message, headers), queue, timeout=IO_TIMEOUT)
    except Exception as exc:
        # NO_ROUTE: the queue it failed on is gone; the dead letter stays in the DLQ.
        if "NO_ROUTE" in str(exc) or "312" in str(getattr(exc, "code", "")):
            raise Conflict(f"queue {queue!r} no longer exists", {"id": entry["id"]}) from exc
        log.warning(
            "dead_letter_replay_failed",
            message_id=entry["id"],
            queue=queue,
            error=f"{type(exc).__name__}: {exc}",
        )
        raise Unavailable("the dead letter could not be replayed") from exc
    finally:
        try:
            channel.close()
        except Exception:  # closed with its connection anyway
            pass
    held.ack(message)
    log.info("dead_letter_replayed", message_id=entry["id"], queue=queue, event_type=entry["type"])
    return {**entry, "replayed_at": replayed_at}


def _check_limit(value, name: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"{name} must be a whole number above zero", {name: "invalid"})
    return min(value, maximum)
