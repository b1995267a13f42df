"""One client per benchmark thread: each holds its own connection and makes one request
per `call()`, raising `RequestFailed` when the answer is not the expected one."""

from __future__ import annotations

import time
import uuid

import requests
from kombu import Connection, Consumer, Producer, Queue

PERSISTENT = 2  # as nameko publishes RPC requests and replies


class RequestFailed(Exception):
    """A request got no answer in time, or the wrong one."""


class HttpClient:
    """GET one URL over a keep-alive `requests.Session`; expects 200 and a JSON list."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self.session = requests.Session()

    def call(self) -> None:
        try:
            response = self.session.get(self.url, timeout=self.timeout)
        except requests.RequestException as exc:
            raise RequestFailed(f"GET {self.url}: {exc}") from exc
        if response.status_code != 200:
            raise RequestFailed(
                f"GET {self.url}: HTTP {response.status_code} {response.text[:200]}"
            )
        body = response.json()
        if "items" not in body:
            raise RequestFailed(f"GET {self.url}: not a list: {response.text[:200]}")

    def close(self) -> None:
        self.session.close()


class ProposalPoster:
    """POST a new proposal (validation, command record, outbox row, commit, then the
    event published) with one signed-in account's token; expects 201."""

    def __init__(self, url: str, token: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self) -> None:
        body = {
            "title": f"Benchmark proposal {uuid.uuid4().hex[:8]}",
            "body": "Filed by the benchmark.",
            "category": "leisure",
        }
        try:
            response = self.session.post(self.url, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise RequestFailed(f"POST {self.url}: {exc}") from exc
        if response.status_code != 201:
            raise RequestFailed(
                f"POST {self.url}: HTTP {response.status_code} {response.text[:200]}"
            )

    def close(self) -> None:
        self.session.close()


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
