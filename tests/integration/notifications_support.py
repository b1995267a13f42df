"""Helpers for the notifications tests: a real SMTP server.

`SmtpServer` is aiosmtpd's `Controller` on a free port, run in a child process: the
test process is green (eventlet), and asyncio does not run under eventlet's monkey
patching. Each accepted message is written to a directory as one `.eml` file; the
server can be told to refuse the first N messages with a temporary failure (451), and
to take `delay` seconds over each message (a slow server).

Run as a script, this module is that child process.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from email import policy
from email.parser import BytesParser
from pathlib import Path

READY = "smtp-ready"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpServer:
    """A real SMTP server for one test: `messages()` are what it accepted."""

    def __init__(self, directory: Path, refuse_first: int = 0, delay: float = 0.0):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.refuse_first = refuse_first
        self.delay = delay
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> SmtpServer:
        root = Path(__file__).resolve().parents[2]
        self.process = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--port",
                str(self.port),
                "--dir",
                str(self.directory),
                "--refuse-first",
                str(self.refuse_first),
                "--delay",
                str(self.delay),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)},
            text=True,
        )
        line = self.process.stdout.readline().strip()
        if line != READY:
            self.stop()
            raise RuntimeError(f"the SMTP server did not start (said {line!r})")
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            self.process.stdin.close()
            self.process.wait(timeout=10)
        except (subprocess.TimeoutExpired, OSError):
            self.process.kill()
            self.process.wait(timeout=10)
        self.process.stdout.close()
        self.process = None

    def messages(self) -> list:
        """The accepted messages, oldest first (email.message.EmailMessage)."""
        parser = BytesParser(policy=policy.default)
        return [
            parser.parsebytes(path.read_bytes()) for path in sorted(self.directory.glob("*.eml"))
        ]

    def refused(self) -> int:
        path = self.directory / "refused.json"
        return json.loads(path.read_text())["count"] if path.exists() else 0

    def settings(self) -> dict:
        """nameko config for sending here."""
        return {
            "CIVIC_SMTP_HOST": "127.0.0.1",
            "CIVIC_SMTP_PORT": self.port,
            "CIVIC_SMTP_TLS": "none",
        }


def without_confirmations(messages: list) -> list:
    """The messages but the address confirmations that every registration sends."""
    from services.notifications.email import CONFIRMATION_SUBJECT

    return [
        message for message in messages if message["Subject"] not in CONFIRMATION_SUBJECT.values()
    ]


# --- the child process ---------------------------------------------------------------------


def _serve(port: int, directory: Path, refuse_first: int, delay: float = 0.0) -> None:
    import asyncio

    from aiosmtpd.controller import Controller

    class Handler:
        def __init__(self):
            self.refused = 0
            self.accepted = 0

        async def handle_DATA(self, server, session, envelope):
            await asyncio.sleep(delay)  # a slow server answers late
            if self.refused < refuse_first:
                self.refused += 1
                (directory / "refused.json").write_text(json.dumps({"count": self.refused}))
                return "451 4.3.0 Try again later"
            self.accepted += 1
            target = directory / f"{self.accepted:05d}.eml"
            partial = target.with_suffix(".part")
            partial.write_bytes(envelope.original_content or envelope.content)
            partial.rename(target)  # whole messages only, for the reading test
            return "250 2.0.0 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    print(READY, flush=True)
    try:
        sys.stdin.read()  # until the test closes our stdin
    finally:
        controller.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--refuse-first", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    _serve(args.port, args.dir, args.refuse_first, args.delay)
