"""The chaos platform's SMTP server: every message kept in memory, its behaviour
switchable while the platform runs.

Modes (`set_mode`):
- `normal`: every message accepted at once;
- `slow`: each message accepted only after `seconds` (7 s in the chaos round: a batch
  of emails then outlives the notifications service's claim on it);
- `refusing`: every message answered `451 4.3.0` (a transient refusal: the sender
  keeps it and tries again later).

aiosmtpd's server on an asyncio loop in a thread of its own (civic.mailcatcher is the
model; that one writes files, this one keeps `Received` records and counts refusals).
The checker reads `messages()`: Message-ID, recipients and subject of every accepted
email, in arrival order, duplicates included — counting them is the point.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser

MODES = ("normal", "slow", "refusing")
IDENT = "Civic chaos SMTP"


@dataclass(frozen=True)
class Received:
    message_id: str
    to: tuple[str, ...]  # the envelope recipients
    subject: str
    received_at: float  # time.time()


class _Handler:
    def __init__(self, server: ChaosSmtp):
        self.server = server

    async def handle_DATA(self, smtp, session, envelope):
        mode, seconds = self.server.mode
        if mode == "refusing":
            self.server._count("refused")
            return "451 4.3.0 Try again later (chaos: refusing)"
        if mode == "slow":
            self.server._count("slowed")
            await asyncio.sleep(seconds)
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", errors="surrogateescape")
        headers = BytesParser(policy=policy.default).parsebytes(content, headersonly=True)
        self.server._keep(
            Received(
                message_id=str(headers.get("Message-ID", "")).strip(),
                to=tuple(envelope.rcpt_tos),
                subject=str(headers.get("Subject", "")),
                received_at=time.time(),
            )
        )
        return "250 2.0.0 Kept"


class ChaosSmtp:
    """`start()` listens on 127.0.0.1:<free port> (`.port`); `stop()` closes."""

    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self.port: int | None = None
        self._mode: tuple[str, float] = ("normal", 0.0)
        self._lock = threading.Lock()
        self._messages: list[Received] = []
        self.counts = {"refused": 0, "slowed": 0, "accepted": 0}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server = None

    @property
    def mode(self) -> tuple[str, float]:
        return self._mode

    def set_mode(self, mode: str, seconds: float = 0.0) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self._mode = (mode, float(seconds))

    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    def _keep(self, received: Received) -> None:
        with self._lock:
            self._messages.append(received)
            self.counts["accepted"] += 1

    def _count(self, key: str) -> None:
        with self._lock:
            self.counts[key] += 1

    def start(self) -> ChaosSmtp:
        from aiosmtpd.smtp import SMTP

        ready = threading.Event()
        problem: list[BaseException] = []
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, 0))
        self.port = listener.getsockname()[1]

        def run():
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            handler = _Handler(self)
            try:
                self._server = loop.run_until_complete(
                    loop.create_server(
                        lambda: SMTP(
                            handler,
                            hostname="localhost",
                            ident=IDENT,
                            enable_SMTPUTF8=True,
                            decode_data=False,
                        ),
                        sock=listener,
                    )
                )
            except BaseException as exc:  # reported to start()'s caller
                problem.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            self._server.close()
            loop.run_until_complete(self._server.wait_closed())
            loop.close()

        self._thread = threading.Thread(target=run, name="chaos-smtp", daemon=True)
        self._thread.start()
        ready.wait(10)
        if problem:
            raise problem[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = self._thread = None
