"""`python -m bench.memory`: every service process's resident memory after load (issue 14,
goal 6: at most 100 MB each).

Sets up a throwaway environment as `python -m bench` does (a fresh RabbitMQ vhost, a
temp var dir with SQLite, a free port, a mail catcher on a free port), migrates, starts
every service as its own process, registers one account, then:

  sign-ins  `--sign-ins` concurrent POST /api/v1/sessions (a thread each, started
            together): each costs groups one argon2id verification (19 MiB)
  reads     `--reads` signed-in GETs over 10 clients (/me, /groups, /proposals,
            /events, /openings, /notifications), so every service has worked

and prints each service process's RSS (VmRSS of /proc/<pid>/status) and peak (VmHWM)
against the goal, the sign-in throughput, and a one-line verdict. Linux only (/proc).
Everything it started is stopped, and the vhost deleted, whatever happens.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests

from bench.args import add_run_options, positive_int
from bench.environment import (
    BenchError,
    Environment,
    free_port,
    run_in,
    run_until_done,
)
from bench.load import run_load
from bench.stats import format_ratio, percentile, ratio, throughput

GOAL_MB = 100.0
DEFAULT_SIGN_INS = 200
DEFAULT_READS = 1000
READ_CLIENTS = 10
SERVICES = ("groups", "proposals", "events", "openings", "notifications", "gateway")
READ_PATHS = (
    "/api/v1/me",
    "/api/v1/groups?per_page=5",
    "/api/v1/proposals?per_page=5",
    "/api/v1/events?per_page=5",
    "/api/v1/openings?per_page=5",
    "/api/v1/notifications?per_page=5",
)
PASSWORD = "bench-memory-not-a-secret"
REQUEST_TIMEOUT = 30.0
STARTUP_TIMEOUT = 120.0
KIB_PER_MB = 1024  # /proc reports kB (KiB); the table shows MiB, called MB as `ps` does


# --- the pure parts (tests/unit/test_bench_memory.py) ----------------------------------


def proc_status_kib(text: str, field: str) -> int:
    """The value in KiB of one `Field:   1234 kB` line of /proc/<pid>/status."""
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == field:
            parts = value.split()
            if len(parts) != 2 or parts[1] != "kB" or not parts[0].isdigit():
                raise ValueError(f"unexpected {field} line in /proc status: {line!r}")
            return int(parts[0])
    raise ValueError(f"no {field} line in /proc status (not Linux, or a zombie process?)")


def kib_to_mb(kib: int) -> float:
    return kib / KIB_PER_MB


@dataclass(frozen=True)
class ProcessMemory:
    name: str
    pid: int
    rss_mb: float
    peak_mb: float


def memory_from_status(name: str, pid: int, text: str) -> ProcessMemory:
    return ProcessMemory(
        name=name,
        pid=pid,
        rss_mb=kib_to_mb(proc_status_kib(text, "VmRSS")),
        peak_mb=kib_to_mb(proc_status_kib(text, "VmHWM")),
    )


def verdict(rss_mb: float, goal_mb: float = GOAL_MB) -> str:
    """`ok` when the process is within the goal, `over` when it is above it."""
    if not goal_mb > 0:
        raise ValueError(f"the goal must be above zero, got {goal_mb!r}")
    return "ok" if rss_mb <= goal_mb else "over"


MEMORY_COLUMNS = ("process", "pid", "RSS MB", "peak MB", "goal MB", "RSS/goal", "verdict")


def memory_rows(processes: Sequence[ProcessMemory], goal_mb: float = GOAL_MB):
    return [
        (
            process.name,
            str(process.pid),
            f"{process.rss_mb:.1f}",
            f"{process.peak_mb:.1f}",
            f"{goal_mb:.0f}",
            format_ratio(ratio(process.rss_mb, goal_mb)),
            verdict(process.rss_mb, goal_mb),
        )
        for process in processes
    ]


def format_rows(rows: Sequence[Sequence[str]], columns: Sequence[str] = MEMORY_COLUMNS) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    widths = [len(name) for name in columns]
    for row in rows:
        if len(row) != len(columns):
            raise ValueError(f"row has {len(row)} cells, the table {len(columns)} columns")
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]

    def line(cells):
        return "  ".join(
            cell.ljust(width) if index == 0 else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(columns), rule] + [line(row) for row in rows])


def summary_line(processes: Sequence[ProcessMemory], goal_mb: float = GOAL_MB) -> str:
    """The one-line verdict of the goal: met when every process is within it."""
    if not processes:
        raise ValueError("no process measured")
    largest = max(processes, key=lambda process: process.rss_mb)
    over = [process.name for process in processes if verdict(process.rss_mb, goal_mb) == "over"]
    figure = (
        f"largest {largest.name} {largest.rss_mb:.1f} MB "
        f"({format_ratio(ratio(largest.rss_mb, goal_mb))} the goal)"
    )
    goal = f"goal 6, every service process <= {goal_mb:.0f} MB RSS"
    if over:
        return f"{goal}: NOT MET ({', '.join(over)} over); {figure}"
    return f"{goal}: met; {figure}"


# --- arguments --------------------------------------------------------------------------


def postgresql_url(text: str) -> str:
    if urlsplit(text).scheme.split("+")[0] != "postgresql":
        raise argparse.ArgumentTypeError(f"not a postgresql:// URL: {text!r}")
    return text


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.memory",
        description="Each service process's RSS after concurrent sign-ins and reads.",
    )
    parser.add_argument(
        "--sign-ins",
        type=positive_int,
        default=DEFAULT_SIGN_INS,
        metavar="N",
        help=f"concurrent sign-ins, one thread each (default {DEFAULT_SIGN_INS})",
    )
    parser.add_argument(
        "--reads",
        type=positive_int,
        default=DEFAULT_READS,
        metavar="N",
        help=f"signed-in GETs after the sign-ins, over {READ_CLIENTS} clients "
        f"(default {DEFAULT_READS})",
    )
    parser.add_argument(
        "--database-url",
        type=postgresql_url,
        default=None,
        metavar="URL",
        help="run the services on fresh schemas of this PostgreSQL database, dropped "
        "afterwards (default: SQLite files in the temp var dir, where groups' one "
        "connection takes sign-ins one at a time)",
    )
    add_run_options(parser)
    return parser.parse_args(argv)


# --- the run ----------------------------------------------------------------------------


class MemoryEnvironment(Environment):
    """The bench's environment with a mail catcher of its own on a free port, so the
    notifications service has somewhere to send the confirmation email, and optionally
    fresh schemas in a PostgreSQL database (dropped by `close()`)."""

    def __init__(self, database_url: str | None = None) -> None:
        super().__init__()
        self.smtp_port = free_port()
        self.database_url = database_url
        self.schema_prefix = f"benchmem{uuid.uuid4().hex[:8]}_"

    def child_env(self, **extra: str) -> dict[str, str]:
        settings = {"CIVIC_SMTP_PORT": str(self.smtp_port)}
        if self.database_url:
            settings["CIVIC_DATABASE_URL"] = self.database_url
            settings["CIVIC_SCHEMA_PREFIX"] = self.schema_prefix
        return super().child_env(**settings, **extra)

    def close(self, keep_files: bool = False) -> list[str]:
        problems = super().close(keep_files)
        if self.database_url:
            try:
                drop_schemas(
                    self.database_url,
                    [self.schema_prefix + name for name in SERVICES if name != "gateway"],
                )
            except Exception as exc:
                problems.append(f"dropping schemas {self.schema_prefix}*: {exc}")
        return problems


def drop_schemas(url: str, schemas: Sequence[str]) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.schema import DropSchema

    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for schema in schemas:
                connection.execute(DropSchema(schema, cascade=True, if_exists=True))
    finally:
        engine.dispose()


def remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise BenchError("the total --timeout ran out")
    return left


def start_platform(env: MemoryEnvironment, deadline: float) -> str:
    env.create_vhost()
    env.run("migrate", "-m", "bench.migrate", timeout=min(STARTUP_TIMEOUT, remaining(deadline)))
    env.start(
        "mailcatcher",
        "-m",
        "civic.mailcatcher",
        "--port",
        str(env.smtp_port),
        "--dir",
        str(env.var_dir / "mail"),
    )
    for service in SERVICES:
        env.start(service, "-m", "civic.runner", service)
    base_url = f"http://127.0.0.1:{env.port}"
    env.wait_until(
        lambda: requests.get(base_url + "/healthz", timeout=2).status_code == 200,
        min(STARTUP_TIMEOUT, remaining(deadline)),
        "the gateway's GET /healthz",
    )
    for path in READ_PATHS[1:5]:  # public lists: each domain service but notifications
        env.wait_until(
            lambda path=path: requests.get(base_url + path, timeout=5).status_code == 200,
            min(STARTUP_TIMEOUT, remaining(deadline)),
            f"GET {path} to return 200",
        )
    return base_url


def register(base_url: str) -> str:
    email = f"bench-{uuid.uuid4().hex[:12]}@example.org"
    response = requests.post(
        base_url + "/api/v1/accounts",
        json={"email": email, "password": PASSWORD, "display_name": "Bench Memory"},
        timeout=REQUEST_TIMEOUT,
    )
    if response.status_code != 201:
        raise BenchError(f"registering: HTTP {response.status_code} {response.text[:200]}")
    return email


@dataclass
class SignInResult:
    succeeded: int
    failed: int
    first_error: str | None
    elapsed: float
    latencies: list[float]
    token: str | None


def sign_in_concurrently(base_url: str, email: str, count: int, deadline: float) -> SignInResult:
    """`count` sign-ins at once, one thread each, released together by a barrier."""
    start_together = threading.Barrier(count + 1)
    url = base_url + "/api/v1/sessions"

    def one():
        start_together.wait(timeout=remaining(deadline))
        started = time.perf_counter()
        try:
            response = requests.post(
                url,
                json={"email": email, "password": PASSWORD},
                timeout=min(REQUEST_TIMEOUT, remaining(deadline)),
            )
        except requests.RequestException as exc:
            return None, f"{type(exc).__name__}: {exc}", time.perf_counter()
        finished = time.perf_counter()
        if response.status_code != 201:
            return None, f"HTTP {response.status_code} {response.text[:200]}", finished
        return (finished - started, response.json()["token"]), None, finished

    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="sign-in") as pool:
        futures = [pool.submit(one) for _ in range(count)]
        start_together.wait(timeout=remaining(deadline))
        started = time.perf_counter()
        outcomes = [future.result(timeout=remaining(deadline)) for future in futures]
    done = [outcome for outcome, _, _ in outcomes if outcome is not None]
    errors = [error for _, error, _ in outcomes if error is not None]
    return SignInResult(
        succeeded=len(done),
        failed=len(errors),
        first_error=errors[0] if errors else None,
        elapsed=max(finished for _, _, finished in outcomes) - started,
        latencies=[latency for latency, _ in done],
        token=done[0][1] if done else None,
    )


class ReadClient:
    """Signed-in GETs, one path after another; each must answer 200."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.turn = 0

    def call(self) -> None:
        path = READ_PATHS[self.turn % len(READ_PATHS)]
        self.turn += 1
        response = self.session.get(self.base_url + path, timeout=REQUEST_TIMEOUT)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: HTTP {response.status_code} {response.text[:200]}")

    def close(self) -> None:
        self.session.close()


def read_memory(env: Environment, names: Sequence[str]) -> list[ProcessMemory]:
    measured = []
    for name in names:
        pid = env.processes[name].pid
        try:
            text = Path(f"/proc/{pid}/status").read_text()
        except OSError as exc:
            raise BenchError(f"cannot read the memory of {name} (pid {pid}): {exc}") from exc
        measured.append(memory_from_status(name, pid, text))
    return measured


def run(args) -> int:
    if not Path("/proc/self/status").exists():
        print("bench.memory: needs Linux's /proc to read each process's RSS", file=sys.stderr)
        return 1
    deadline = time.monotonic() + args.timeout
    env = MemoryEnvironment(args.database_url)

    def load_and_read_memory() -> None:
        print(f"bench.memory: starting every service in vhost {env.vhost} ...", file=sys.stderr)
        base_url = start_platform(env, deadline)
        email = register(base_url)
        print(f"bench.memory: {args.sign_ins} concurrent sign-ins ...", file=sys.stderr)
        signed = sign_in_concurrently(base_url, email, args.sign_ins, deadline)
        if signed.token is None:
            raise BenchError(f"every sign-in failed, first error: {signed.first_error}")
        if signed.failed:
            print(
                f"warning: {signed.failed} sign-ins failed, first: {signed.first_error}",
                file=sys.stderr,
            )
        print(f"bench.memory: {args.reads} signed-in reads ...", file=sys.stderr)
        reads = run_load(
            lambda: ReadClient(base_url, signed.token),
            READ_CLIENTS,
            args.reads,
            0,
            deadline,
        )
        if reads.errors:
            print(
                f"warning: {reads.errors} reads failed, first: {reads.first_error}",
                file=sys.stderr,
            )
        env.check_running()
        processes = read_memory(env, SERVICES)
        print("Civic memory benchmark (issue 14, goal 6)")
        database = "PostgreSQL" if args.database_url else "SQLite"
        print(f"  database  {database}; {os.cpu_count()} CPUs")
        print(
            f"  load      {args.sign_ins} concurrent sign-ins (POST /api/v1/sessions, one "
            f"account), then {args.reads} signed-in GETs over {READ_CLIENTS} clients"
        )
        print(
            f"  sign-ins  {signed.succeeded} ok, {signed.failed} failed in "
            f"{signed.elapsed:.2f} s: {throughput(signed.succeeded, signed.elapsed):.1f} "
            f"sign-ins/s; latency p50 {percentile(signed.latencies, 50) * 1000:.0f} ms, "
            f"p99 {percentile(signed.latencies, 99) * 1000:.0f} ms"
        )
        if reads.latencies:
            print(
                f"  reads     {len(reads.latencies)} ok, {reads.errors} failed: "
                f"{throughput(len(reads.latencies), reads.elapsed):.1f} req/s"
            )
        print()
        print(format_rows(memory_rows(processes)))
        print()
        print(summary_line(processes))
        if not args.database_url:
            from bench import goals

            largest = max(processes, key=lambda process: process.rss_mb)
            goals.record("memory", largest.rss_mb, note=largest.name)

    return run_in("bench.memory", env, args.keep, load_and_read_memory)


def main(argv=None) -> int:
    return run_until_done("bench.memory", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
