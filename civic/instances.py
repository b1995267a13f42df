"""Ask every running instance of a service, wherever it runs: who it is, and what it
logged for one correlation id.

One question reaches *every* instance (not one of them, as an RPC would): each running
instance of each service consumes from a queue of its own, `instances.<service>.<id>`
(exclusive, auto-delete: it goes with its connection), bound to the topic exchange
`civic.instances` with the routing keys `<service>` and `all`. The asker publishes one
question there with its own reply queue, and each instance answers on it (JSON, never
pickle; every answer is checked before it is used).

How many answers to wait for is the broker's to say: each instance also consumes from
its service's *roster* queue, `instances.<service>` (auto-delete, never published to), and
only after its own queue is bound. A passive declare of the roster tells its consumer
count, i.e. how many instances are listening; the asker stops as soon as it has that many
answers, or at its timeout (an instance that hangs or just left), and says which
services answered fewer.

A trace answer is the instance's own log records for the correlation id, read from the
file(s) its process logs to (`CIVIC_LOG_DIR/<service>.log`): on several machines each
instance reads its own disk. Instances of one service on one machine share that file, so
each answers the same lines: the asker keeps each record once (records are compared
whole; `ts` has microseconds and `pid` says which process wrote it).

`civic.service.InstanceAnswers` runs the answering side in every service (the domain
services through `ServiceBase`, the gateway declares it). This module is plain kombu:
under eventlet (a service, the gateway) its sockets are green and nothing blocks the hub;
`civic logs --trace` uses it from a plain process.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import amqp
from kombu import Connection, Exchange

import civic
from civic import clock

EXCHANGE = "civic.instances"
ALL = "all"  # the routing key every instance is bound with
QUEUE_PREFIX = "instances."
# A question or an answer bigger than this is not read.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
# At most this many records per instance's answer (the newest are kept).
MAX_RECORDS = 5000
IDENTITY_KEYS = ("instance_id", "service", "host", "pid", "version", "started_at", "uptime_s")
# What a correlation id may look like (the gateway's are UUIDs; clients may send theirs).
CORRELATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")
SERVICE_NAME = re.compile(r"[a-z][a-z0-9_]{0,49}")
# An id a "find" question looks for in log lines (a proposal's, an account's).
MENTION = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{7,63}")
ASKS = ("identity", "trace", "find")
MAX_FOUND = 100

log = logging.getLogger(__name__)


def exchange() -> Exchange:
    return Exchange(EXCHANGE, type="topic", durable=True, auto_delete=False)


def roster_name(service: str) -> str:
    return f"{QUEUE_PREFIX}{service}"


def instance_queue_name(service: str, instance_id: str) -> str:
    return f"{QUEUE_PREFIX}{service}.{instance_id}"


def valid_correlation_id(value) -> bool:
    return isinstance(value, str) and CORRELATION_ID.fullmatch(value) is not None


def valid_mention(value) -> bool:
    return isinstance(value, str) and MENTION.fullmatch(value) is not None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


# --- the answering side --------------------------------------------------------------------


class Identity:
    """Who this instance is: made once when the process's service starts."""

    def __init__(self, service: str):
        self.service = service
        self.instance_id = uuid.uuid4().hex[:12]
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.started_at = datetime.now(UTC)
        self._started = time.monotonic()

    def as_dict(self) -> dict:
        return {
            "instance_id": self.instance_id,
            "service": self.service,
            "host": self.host,
            "pid": self.pid,
            "version": civic.__version__,
            "started_at": _iso(self.started_at),
            "uptime_s": round(time.monotonic() - self._started, 1),
        }


def own_log_files() -> list[Path]:
    """The files this process logs to (civic.log.configure's file handler)."""
    files = []
    for handler in logging.getLogger().handlers:
        name = getattr(handler, "baseFilename", None)
        if name:
            files.append(Path(name))
    return files


def records_mentioning(
    needle: str,
    files: Iterable[Path],
    pause: Callable[[], None] | None = None,
    every: int = 2000,
):
    """Each JSON object record of `files` whose line contains `needle`, in file order.
    `pause()` is called every `every` lines, so a long file read inside a green thread
    lets the others run."""
    wanted = needle.encode()
    for path in files:
        try:
            stream = open(path, "rb")
        except OSError:
            continue
        with stream:
            for number, raw in enumerate(stream):
                if pause is not None and number % every == every - 1:
                    pause()
                if wanted not in raw:
                    continue
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    yield record


def records_for(
    correlation_id: str,
    files: Iterable[Path],
    limit: int = MAX_RECORDS,
    pause: Callable[[], None] | None = None,
    every: int = 2000,
) -> list[dict]:
    """The JSON log records of `files` whose `correlation_id` is the one given, in file
    order (the newest `limit`)."""
    found = [
        record
        for record in records_mentioning(correlation_id, files, pause, every)
        if record.get("correlation_id") == correlation_id
    ]
    return found[-limit:]


def correlations_mentioning(
    token: str,
    files: Iterable[Path],
    limit: int = MAX_FOUND,
    pause: Callable[[], None] | None = None,
    every: int = 2000,
) -> list[dict]:
    """The correlation ids of the log lines of `files` that mention `token` (an id), each
    with the time of its first and last such line: the newest `limit`."""
    found: dict[str, dict] = {}
    for record in records_mentioning(token, files, pause, every):
        correlation_id = record.get("correlation_id")
        ts = record.get("ts")
        if not valid_correlation_id(correlation_id) or not isinstance(ts, str):
            continue
        entry = found.setdefault(
            correlation_id, {"correlation_id": correlation_id, "first_ts": ts, "last_ts": ts}
        )
        entry["first_ts"] = min(entry["first_ts"], ts)
        entry["last_ts"] = max(entry["last_ts"], ts)
    newest = sorted(found.values(), key=lambda entry: entry["last_ts"], reverse=True)
    return newest[:limit]


def read_question(body) -> dict | None:
    """A question as sent by `ask`, or None for anything else."""
    if isinstance(body, str):
        body = body.encode()
    if not isinstance(body, (bytes, bytearray)) or len(body) > 10_000:
        return None
    try:
        question = json.loads(body)
    except ValueError:
        return None
    if not isinstance(question, dict) or question.get("ask") not in ASKS:
        return None
    if not isinstance(question.get("id"), str) or len(question["id"]) > 100:
        return None
    if question["ask"] == "trace" and not valid_correlation_id(question.get("correlation_id")):
        return None
    if question["ask"] == "find" and not valid_mention(question.get("mention")):
        return None
    return question


class Responder:
    """The answering side of one instance: its queue, its roster seat, its answers.

    `run(stopped)` connects, declares, answers until `stopped()` is true, and reconnects
    (longer each time, up to 10 s) when the broker goes away.
    """

    def __init__(
        self,
        identity: Identity,
        amqp_uri: str,
        log_files: Callable[[], list[Path]] = own_log_files,
        pause: Callable[[], None] | None = None,
    ):
        self.identity = identity
        self.amqp_uri = amqp_uri
        self.log_files = log_files
        self.pause = pause
        self.ready = False

    @property
    def queue_name(self) -> str:
        return instance_queue_name(self.identity.service, self.identity.instance_id)

    def run(self, stopped: Callable[[], bool], sleep: Callable[[float], None] = time.sleep):
        delay = 0.5
        while not stopped():
            try:
                with Connection(self.amqp_uri, connect_timeout=5, heartbeat=0) as connection:
                    self._serve(connection, stopped)
                    return
            except Exception as exc:  # noqa: BLE001 - the broker went away: come back
                self.ready = False
                log.warning(
                    "instance_answers_reconnecting: %s", f"{type(exc).__name__}: {exc}"[:300]
                )
            if stopped():
                return
            sleep(delay)
            delay = min(10.0, delay * 2)

    def _serve(self, connection, stopped) -> None:
        channel = connection.channel()
        service = self.identity.service
        exchange()(channel).declare()
        channel.queue_declare(
            queue=self.queue_name, durable=False, exclusive=True, auto_delete=True
        )
        for key in (service, ALL):
            channel.queue_bind(queue=self.queue_name, exchange=EXCHANGE, routing_key=key)
        # Only now, with its queue bound, does this instance count in the roster.
        channel.queue_declare(
            queue=roster_name(service), durable=False, auto_delete=True, exclusive=False
        )
        channel.basic_consume(queue=roster_name(service), no_ack=True, callback=lambda m: None)

        def on_question(message):
            try:
                self._answer(channel, message)
            except Exception as exc:  # noqa: BLE001 - one bad question stops nothing
                log.warning("instance_answer_failed: %s", f"{type(exc).__name__}: {exc}"[:300])

        channel.basic_consume(queue=self.queue_name, no_ack=True, callback=on_question)
        self.ready = True
        while not stopped():
            try:
                connection.drain_events(timeout=1)
            except TimeoutError:
                continue

    def answer_to(self, question: dict) -> dict:
        answer = {"id": question["id"], "instance": self.identity.as_dict()}
        if question["ask"] == "trace":
            answer["records"] = records_for(
                question["correlation_id"], self.log_files(), pause=self.pause
            )
        elif question["ask"] == "find":
            answer["found"] = correlations_mentioning(
                question["mention"], self.log_files(), pause=self.pause
            )
        return answer

    def _answer(self, channel, message) -> None:
        reply_to = message.properties.get("reply_to")
        question = read_question(message.body)
        if question is None or not isinstance(reply_to, str) or not reply_to:
            return
        body = json.dumps(self.answer_to(question), default=str).encode()
        channel.basic_publish(
            amqp.Message(body, content_type="application/json", correlation_id=question["id"]),
            exchange="",
            routing_key=reply_to,
        )


# --- the asking side -----------------------------------------------------------------------


@dataclass
class Answers:
    """What came back: each instance's identity, every record (deduplicated, in time
    order), and how many instances of each service the broker said were listening."""

    instances: list[dict] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)
    expected: dict = field(default_factory=dict)  # service -> instances listening
    # For a "find": correlation ids whose lines mention the id, newest first.
    found: list[dict] = field(default_factory=list)

    def answered(self, service: str) -> int:
        return sum(1 for item in self.instances if item["service"] == service)

    @property
    def missing(self) -> dict:
        """Services that answered with fewer instances than the broker counted."""
        return {
            service: count - self.answered(service)
            for service, count in self.expected.items()
            if self.answered(service) < count
        }


def _valid_identity(value) -> dict | None:
    if not isinstance(value, dict):
        return None
    identity = {key: value.get(key) for key in IDENTITY_KEYS}
    strings = ("instance_id", "service", "host", "version", "started_at")
    if not all(isinstance(identity[key], str) and len(identity[key]) <= 200 for key in strings):
        return None
    if not isinstance(identity["pid"], int) or isinstance(identity["pid"], bool):
        return None
    if not isinstance(identity["uptime_s"], (int, float)) or isinstance(identity["uptime_s"], bool):
        return None
    return identity


def _valid_found(items) -> list[dict]:
    if not isinstance(items, list):
        return []
    kept = []
    for item in items[:MAX_FOUND]:
        if not isinstance(item, dict) or not valid_correlation_id(item.get("correlation_id")):
            continue
        if not all(isinstance(item.get(key), str) for key in ("first_ts", "last_ts")):
            continue
        kept.append({key: item[key][:100] for key in ("correlation_id", "first_ts", "last_ts")})
    return kept


def merge_found(items: Iterable[dict]) -> list[dict]:
    """Each correlation id once (earliest first line, latest last line), newest first."""
    merged: dict[str, dict] = {}
    for item in items:
        entry = merged.setdefault(item["correlation_id"], dict(item))
        entry["first_ts"] = min(entry["first_ts"], item["first_ts"])
        entry["last_ts"] = max(entry["last_ts"], item["last_ts"])
    return sorted(merged.values(), key=lambda entry: entry["last_ts"], reverse=True)[:MAX_FOUND]


def read_answer(body, question_id: str) -> tuple[dict, list[dict]] | None:
    """An instance's answer to the question `question_id`: its identity and its records
    (those that are JSON objects; for a "find", what it found), or None when it is not
    one."""
    if isinstance(body, str):
        body = body.encode()
    if not isinstance(body, (bytes, bytearray)) or len(body) > MAX_MESSAGE_BYTES:
        return None
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    if not isinstance(answer, dict) or answer.get("id") != question_id:
        return None
    identity = _valid_identity(answer.get("instance"))
    if identity is None:
        return None
    if "found" in answer:
        return identity, _valid_found(answer["found"])
    records = answer.get("records") or []
    if not isinstance(records, list):
        return None
    return identity, [record for record in records[:MAX_RECORDS] if isinstance(record, dict)]


def listening(channel_of: Callable[[], object], service: str) -> int:
    """How many instances of `service` listen (the roster queue's consumers); 0 when
    none ever did or all left (the queue is gone)."""
    channel = channel_of()
    try:
        _, _, consumers = channel.queue_declare(queue=roster_name(service), passive=True)
        return int(consumers)
    except amqp.exceptions.NotFound:
        return 0
    finally:
        try:
            channel.close()
        except Exception:  # noqa: BLE001 - closed by the broker already (404)
            pass


def record_time(record: dict) -> datetime:
    """When a log record was written (its `ts`); the epoch when it says no time."""
    return clock.from_iso(record.get("ts")) or datetime(1970, 1, 1, tzinfo=UTC)


def merge(records: Iterable[dict]) -> list[dict]:
    """Records in time order, each once (instances sharing a log file answer the same
    lines)."""
    seen = set()
    unique = []
    for record in records:
        key = json.dumps(record, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            unique.append(record)
    return sorted(unique, key=record_time)  # stable: one file's order stays


def _amqp_uri(amqp_uri: str | None) -> str:
    if amqp_uri:
        return amqp_uri
    from civic import config

    uri = config.get("AMQP_URI")
    if not uri:
        raise RuntimeError("no AMQP_URI configured")
    return uri


def ask(
    services: Iterable[str],
    ask_what: str = "identity",
    correlation_id: str | None = None,
    timeout: float = 2.0,
    amqp_uri: str | None = None,
    mention: str | None = None,
) -> Answers:
    """Ask every running instance of `services`; wait until each one the broker counted
    has answered, or `timeout` seconds. Broker errors propagate (OSError, amqp errors)."""
    services = [service for service in dict.fromkeys(services)]
    for service in services:
        if not SERVICE_NAME.fullmatch(service):
            raise ValueError(f"not a service name: {service!r}")
    if ask_what not in ASKS:
        raise ValueError(f"cannot ask {ask_what!r}")
    if ask_what == "trace" and not valid_correlation_id(correlation_id):
        raise ValueError("not a correlation id")
    if ask_what == "find" and not valid_mention(mention):
        raise ValueError("not an id to look for")
    deadline = time.monotonic() + timeout
    answers = Answers()
    records: list[dict] = []
    question_id = uuid.uuid4().hex
    with Connection(_amqp_uri(amqp_uri), connect_timeout=max(0.5, timeout)) as connection:
        connection.connect()
        for service in services:
            answers.expected[service] = listening(connection.channel, service)
        wanted = sum(answers.expected.values())
        if not wanted:
            return answers
        channel = connection.channel()
        reply_queue, _, _ = channel.queue_declare(
            queue="", exclusive=True, auto_delete=True, durable=False
        )
        seen_instances = set()

        def on_answer(message):
            read = read_answer(message.body, question_id)
            if read is None:
                return
            identity, found = read
            if identity["instance_id"] in seen_instances or identity["service"] not in services:
                return
            seen_instances.add(identity["instance_id"])
            answers.instances.append(identity)
            records.extend(found)

        channel.basic_consume(queue=reply_queue, no_ack=True, callback=on_answer)
        exchange()(channel).declare()
        body = {"ask": ask_what, "id": question_id}
        if ask_what == "trace":
            body["correlation_id"] = correlation_id
        if ask_what == "find":
            body["mention"] = mention
        keys = [ALL] if len(services) > 1 and set(services) >= set(_all_services()) else services
        for key in keys:
            channel.basic_publish(
                amqp.Message(
                    json.dumps(body).encode(),
                    content_type="application/json",
                    reply_to=reply_queue,
                    correlation_id=question_id,
                    expiration=str(int(timeout * 1000)),
                ),
                exchange=EXCHANGE,
                routing_key=key,
            )
        while len(answers.instances) < wanted:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                connection.drain_events(timeout=remaining)
            except TimeoutError:
                break
    answers.instances.sort(key=lambda item: (item["service"], item["started_at"]))
    if ask_what == "find":
        answers.found = merge_found(records)
    else:
        answers.records = merge(records)
    return answers


def _all_services() -> tuple[str, ...]:
    from civic.config import SERVICES

    return SERVICES


def survey(service: str, timeout: float = 2.0, amqp_uri: str | None = None) -> list[dict]:
    """Every running instance of `service`, one dict each: `instance_id, service, host,
    pid, version, started_at, uptime_s` (oldest first). [] when none runs."""
    return ask([service], "identity", timeout=timeout, amqp_uri=amqp_uri).instances


def trace_answers(
    correlation_id: str, timeout: float = 3.0, amqp_uri: str | None = None, services=None
) -> Answers:
    """Every service's log records for `correlation_id`, with who answered."""
    return ask(
        services or _all_services(),
        "trace",
        correlation_id=correlation_id,
        timeout=timeout,
        amqp_uri=amqp_uri,
    )


def trace(correlation_id: str, timeout: float = 3.0, amqp_uri: str | None = None) -> list[dict]:
    """Every service's log records for `correlation_id`, merged in time order."""
    return trace_answers(correlation_id, timeout=timeout, amqp_uri=amqp_uri).records


def find(mention: str, timeout: float = 3.0, amqp_uri: str | None = None, services=None) -> Answers:
    """The correlation ids (newest first, at most MAX_FOUND) of every service's log lines
    that mention `mention` (a proposal's id, an account's id…), with who answered."""
    return ask(
        services or _all_services(), "find", timeout=timeout, amqp_uri=amqp_uri, mention=mention
    )
