"""One client per benchmark thread: each holds its own connection and makes one request
per `call()`, raising `RequestFailed` when the answer is not the expected one.

The HTTP clients speak through the standard library's `http.client` on one keep-alive
connection, as a load tool (wrk, ab) would: `requests.Session` spent ~1 ms of the
client's own CPU per request on this machine (measured with `python -m bench.cpu`),
which the read path's latency then carried and the kombu baseline's did not."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from urllib.parse import urlsplit

from kombu import Connection, Consumer, Producer, Queue

PERSISTENT = 2  # as nameko publishes RPC requests and replies


class RequestFailed(Exception):
    """A request got no answer in time, or the wrong one."""


class KeepAlive:
    """One HTTP/1.1 connection to the URL's host, kept open between requests and opened
    again after a failure; `send` returns the status and the parsed JSON body."""

    def __init__(self, url: str, timeout: float, headers: dict | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"an http:// URL is expected, got {url!r}")
        self.url = url
        self.target = parts.path + (f"?{parts.query}" if parts.query else "")
        self.host, self.port = parts.hostname, parts.port or 80
        self.timeout = timeout
        self.headers = {"Accept": "application/json", **(headers or {})}
        self.connection: http.client.HTTPConnection | None = None

    def send(self, method: str, payload=None) -> tuple[int, object]:
        headers = dict(self.headers)
        body = None
        if payload is not None:
            body = json.dumps(payload).encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            if self.connection is None:
                self.connection = http.client.HTTPConnection(
                    self.host, self.port, timeout=self.timeout
                )
            self.connection.request(method, self.target, body=body, headers=headers)
            response = self.connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()  # the next request opens a new connection
            raise RequestFailed(f"{method} {self.url}: {type(exc).__name__}: {exc}") from exc
        if response.will_close:
            self.close()
        try:
            return response.status, json.loads(data) if data else None
        except ValueError:
            raise RequestFailed(f"{method} {self.url}: not JSON: {data[:200]!r}") from None

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class HttpClient:
    """GET one URL over a keep-alive connection; expects 200 and a JSON list."""

    def __init__(self, url: str, timeout: float) -> None:
        self.line = KeepAlive(url, timeout)

    def call(self) -> None:
        status, body = self.line.send("GET")
        if status != 200:
            raise RequestFailed(f"GET {self.line.url}: HTTP {status} {str(body)[:200]}")
        if not isinstance(body, dict) or "items" not in body:
            raise RequestFailed(f"GET {self.line.url}: not a list: {str(body)[:200]}")

    def close(self) -> None:
        self.line.close()


class ProposalPoster:
    """POST a new proposal (validation, command record, outbox row, commit, then the
    event published) with one signed-in account's token; expects 201."""

    def __init__(self, url: str, token: str, timeout: float) -> None:
        self.line = KeepAlive(url, timeout, {"Authorization": f"Bearer {token}"})

    def call(self) -> None:
        body = {
            "title": f"Benchmark proposal {uuid.uuid4().hex[:8]}",
            "body": "Filed by the benchmark.",
            "category": "leisure",
        }
        status, answer = self.line.send("POST", body)
        if status != 201:
            raise RequestFailed(f"POST {self.line.url}: HTTP {status} {str(answer)[:200]}")

    def close(self) -> None:
        self.line.close()


class AmqpClient:
    """Request/reply over plain kombu: publish to `queue` with reply_to and a fresh
    correlation id, then wait on this client's exclusive reply queue for that id."""

    def __init__(self, amqp_uri: str, queue: str, timeout: float) -> None:
        self.queue = queue
        self.timeout = timeout
        self.connection = Connection(amqp_uri, connect_timeout=10)
        self.connection.connect()
        try:
            channel = self.connection.channel()
            self.reply_queue = Queue(
                f"bench-reply-{uuid.uuid4().hex}", durable=False, exclusive=True, auto_delete=True
            )
            self.replies: dict[str, object] = {}
            self.consumer = Consumer(
                channel,
                queues=[self.reply_queue],
                callbacks=[self._on_reply],
                no_ack=True,
                accept=["json"],
            )
            self.consumer.consume()
            self.producer = Producer(channel, serializer="json")
        except Exception:
            self.connection.release()
            raise

    def _on_reply(self, body, message) -> None:
        self.replies[message.properties.get("correlation_id")] = body

    def call(self) -> None:
        correlation_id = uuid.uuid4().hex
        request = {"id": correlation_id}
        self.producer.publish(
            request,
            routing_key=self.queue,
            reply_to=self.reply_queue.name,
            correlation_id=correlation_id,
            delivery_mode=PERSISTENT,
        )
        deadline = time.monotonic() + self.timeout
        while correlation_id not in self.replies:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RequestFailed(f"no reply from {self.queue!r} in {self.timeout}s")
            try:
                self.connection.drain_events(timeout=remaining)
            except TimeoutError:
                pass
        reply = self.replies.pop(correlation_id)
        self.replies.clear()  # late replies to earlier, timed-out requests
        if reply != request:
            raise RequestFailed(f"{self.queue!r} answered {reply!r} to {request!r}")

    def close(self) -> None:
        self.connection.release()
