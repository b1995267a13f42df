"""The throwaway world a benchmark runs in: its own vhost, var directory, port, processes.

Everything created here is removed again by `Environment.close()`, which the caller runs
in a `finally`: child processes are stopped (SIGTERM, then SIGKILL), the vhost deleted.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_MANAGEMENT = "http://guest:guest@127.0.0.1:15672"
STOP_GRACE_SECONDS = 20


class BenchError(RuntimeError):
    """The benchmark could not set up or run; the message says what to look at."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _management_session(management_uri: str) -> tuple[requests.Session, str]:
    parts = urlsplit(management_uri)
    session = requests.Session()
    session.auth = (parts.username or "guest", parts.password or "guest")
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    return session, base


def vhost_uri(amqp_uri: str, vhost: str) -> str:
    """The AMQP URI `amqp_uri` pointed at `vhost` instead of its own."""
    parts = urlsplit(amqp_uri)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), "", ""))


class Environment:
    """One benchmark's vhost, temp directory and child processes."""

    def __init__(
        self, amqp_uri: str = DEFAULT_AMQP, management_uri: str = DEFAULT_MANAGEMENT
    ) -> None:
        self.vhost = f"civic-bench-{uuid.uuid4().hex[:12]}"
        self.amqp_uri = vhost_uri(amqp_uri, self.vhost)
        self._management, self._management_base = _management_session(management_uri)
        self.var_dir = Path(tempfile.mkdtemp(prefix="civic-bench-"))
        self.port = free_port()
        self.processes: dict[str, subprocess.Popen] = {}
        self._vhost_created = False

    # -- broker -------------------------------------------------------------------------
    def _vhost_url(self, *path: str) -> str:
        return "/".join([self._management_base, "api", *path, quote(self.vhost, safe="")])

    def create_vhost(self) -> None:
        user = self._management.auth[0]
        try:
            response = self._management.put(self._vhost_url("vhosts"), timeout=10)
            response.raise_for_status()
            self._vhost_created = True
            response = self._management.put(
                self._vhost_url("permissions") + "/" + quote(user, safe=""),
                json={"configure": ".*", "write": ".*", "read": ".*"},
                timeout=10,
            )
            response.raise_for_status()
        except requests.RequestException as exc:
            raise BenchError(
                f"could not create RabbitMQ vhost {self.vhost!r} through the "
                f"management API at {self._management_base}: {exc}"
            ) from exc

    def delete_vhost(self) -> None:
        if not self._vhost_created:
            return
        response = self._management.delete(self._vhost_url("vhosts"), timeout=30)
        if response.status_code not in (204, 404):
            response.raise_for_status()
        self._vhost_created = False

    # -- processes ----------------------------------------------------------------------
    def child_env(self, **extra: str) -> dict[str, str]:
        """The environment for a child: ours, minus any CIVIC_* setting of the caller's
        shell (so a CIVIC_DATABASE_URL can't point the bench at a real database)."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("CIVIC_")}
        env.update(
            {
                "CIVIC_AMQP_URI": self.amqp_uri,
                "CIVIC_VAR_DIR": str(self.var_dir),
                "CIVIC_WEB_ADDRESS": f"127.0.0.1:{self.port}",
                # INFO, as in production: a benchmark at WARNING hides what
                # rendering the log lines costs.
                "CIVIC_LOG_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(extra)
        return env

    def output_path(self, name: str) -> Path:
        return self.var_dir / f"{name}.out"

    def run(self, name: str, *args: str, timeout: float) -> None:
        """Run `python <args>` to completion; fail with its output if it fails."""
        with open(self.output_path(name), "wb") as output:
            try:
                completed = subprocess.run(
                    [sys.executable, *args],
                    cwd=ROOT,
                    env=self.child_env(),
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                )
            except subprocess.TimeoutExpired:
                raise BenchError(
                    f"{name} did not finish within {timeout:.0f}s:\n{self.tail(name)}"
                ) from None
        if completed.returncode != 0:
            raise BenchError(f"{name} exited with {completed.returncode}:\n{self.tail(name)}")

    def start(self, name: str, *args: str, settings: dict | None = None) -> subprocess.Popen:
        """Start `python <args>` in the background, output to `<var>/<name>.out`;
        `settings`: environment variables of its own (CIVIC_QUEUE_TYPE, …)."""
        output = open(self.output_path(name), "wb")
        try:
            # A session of its own: a Ctrl-C in the terminal reaches only us, and we stop
            # the children in order from `close()`.
            process = subprocess.Popen(
                [sys.executable, *args],
                cwd=ROOT,
                env=self.child_env(**(settings or {})),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            output.close()
        self.processes[name] = process
        return process

    def check_running(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise BenchError(
                    f"{name} exited early with {process.returncode}:\n{self.tail(name)}"
                )

    def tail(self, name: str, lines: int = 30) -> str:
        try:
            text = self.output_path(name).read_text(errors="replace")
        except OSError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:]) or "(no output)"

    def stop_processes(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    # -- waiting ------------------------------------------------------------------------
    def wait_until(self, predicate, timeout: float, what: str) -> None:
        """Poll `predicate` until it is true, a child dies, or the deadline passes."""
        deadline = time.monotonic() + timeout
        last_problem = None
        while time.monotonic() < deadline:
            self.check_running()
            try:
                if predicate():
                    return
            except Exception as exc:  # not up yet: connection refused, 503, ...
                last_problem = exc
            time.sleep(0.2)
        detail = f" (last problem: {last_problem})" if last_problem else ""
        logs = "\n".join(f"--- {name} ---\n{self.tail(name)}" for name in self.processes)
        raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}{detail}\n{logs}")

    # -- clean-up -----------------------------------------------------------------------
    def close(self, keep_files: bool = False) -> list[str]:
        """Stop children, delete the vhost and (unless kept) the temp dir.

        Returns problems met while cleaning up, so that they are reported rather than
        hiding the error that made us clean up in the first place."""
        problems = []
        try:
            self.stop_processes()
        except Exception as exc:
            problems.append(f"stopping processes: {exc}")
        try:
            self.delete_vhost()
        except Exception as exc:
            problems.append(f"deleting vhost {self.vhost!r}: {exc}")
        if not keep_files:
            shutil.rmtree(self.var_dir, ignore_errors=True)
        self._management.close()
        return problems


def run_until_done(name: str, run, args) -> int:
    """Run a step's `run(args)`; a SIGTERM or Ctrl-C unwinds through its clean-up (its
    `finally`) and ends with 130."""

    def stop_on_sigterm(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_sigterm)
    try:
        return run(args)
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130


def run_in(name: str, env: Environment, keep: bool, measure) -> int:
    """A step's run in its environment: `measure()`, then 0; a BenchError is printed
    and makes it 1. Whatever happens, `env` is closed (`close_and_report`)."""
    failed = True
    try:
        measure()
        failed = False
        return 0
    except BenchError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    finally:
        close_and_report(name, env, failed, keep)


def close_and_report(name: str, env: Environment, failed: bool, keep: bool) -> None:
    """The `finally` of a step: stop what it started, say what could not be removed,
    and where the services' output was kept (after a failure, or when asked)."""
    for problem in env.close(keep_files=failed or keep):
        print(f"{name}: clean-up problem: {problem}", file=sys.stderr)
    if failed or keep:
        print(f"{name}: service output kept in {env.var_dir}", file=sys.stderr)
