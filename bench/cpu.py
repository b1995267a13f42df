"""`python -m bench.cpu`: where a request's CPU goes, process by process (issue 14).

Starts the same throwaway platform as `python -m bench` (groups, proposals, gateway,
the plain-kombu echo responder) and, for each scenario, reads every process's CPU time
(user + system, from /proc) before and after a fixed number of requests:

  read    GET /api/v1/groups?per_page=1 — HTTP → gateway → groups (RPC) → reply
  write   POST /api/v1/proposals — → proposals (command record, outbox row, relay)
  echo    the raw kombu request/reply baseline

and prints the CPU microseconds each process spent per request: the gateway, the
service, the broker (when it runs on this machine) and the benchmark's own client
threads. It is the profile's first cut — which process to look into with py-spy — and
the README's before/after table comes from it. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass

from bench.__main__ import (
    CIVIC_PATH,
    ECHO_QUEUE,
    REQUEST_TIMEOUT,
    WRITE_PATH,
    remaining,
    start_platform,
    writer_token,
)
from bench.args import add_run_options, non_negative_int, positive_int
from bench.clients import AmqpClient, HttpClient, ProposalPoster
from bench.environment import BenchError, Environment, run_in, run_until_done
from bench.load import run_load
from bench.stats import format_table

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
CLIENT = "client"
BROKER = "broker"


@dataclass(frozen=True)
class Scenario:
    name: str
    concurrency: int


SCENARIOS = (
    Scenario("read", 1),
    Scenario("read", 10),
    Scenario("write", 1),
    Scenario("echo", 1),
    Scenario("echo", 10),
)


def process_seconds(pid: int) -> float:
    """The CPU seconds (user + system) process `pid` has used so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        # The command name (field 2) may hold spaces: split after its closing ")".
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def own_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def broker_pid() -> int | None:
    """RabbitMQ's Erlang VM on this machine, if it runs here."""
    try:
        found = subprocess.run(["pgrep", "-f", "beam.smp"], capture_output=True, text=True)
    except OSError:
        return None
    pids = found.stdout.split()
    return int(pids[0]) if found.returncode == 0 and pids else None


def cpu_per_request(
    before: dict[str, float], after: dict[str, float], requests: int
) -> dict[str, float]:
    """Microseconds of CPU per request for each process (those that used none left out).

    The kernel counts CPU in clock ticks (10 ms at the usual 100 Hz), so a figure is
    exact to ±tick/requests: a few hundred requests make that ±30 µs."""
    if requests < 1:
        raise ValueError(f"requests must be at least 1, got {requests!r}")
    spent = {}
    for name, start in before.items():
        used = after[name] - start
        if used < 0:
            raise ValueError(f"{name}: CPU time went backwards ({start} → {after[name]})")
        if used > 0:
            spent[name] = used * 1e6 / requests
    return spent


def breakdown_table(
    results: list[tuple[Scenario, float, dict[str, float]]],
) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """The table's columns and one row per scenario: its throughput, each process's µs
    of CPU per request and their total."""
    names: list[str] = []
    for _, _, spent in results:
        for name in spent:
            if name not in names:
                names.append(name)
    columns = ("scenario", "clients", "req/s", *names, "total")
    rows = []
    for scenario, per_second, spent in results:
        cells = [f"{spent[name]:.0f}" if name in spent else "-" for name in names]
        rows.append(
            (
                scenario.name,
                str(scenario.concurrency),
                f"{per_second:.0f}",
                *cells,
                f"{sum(spent.values()):.0f}",
            )
        )
    return columns, rows


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cpu",
        description="CPU microseconds per request in each process: gateway, services, "
        "broker, client; for the read path, the write path and the raw kombu baseline.",
    )
    parser.add_argument(
        "--requests",
        type=positive_int,
        default=500,
        metavar="N",
        help="timed requests per scenario (default 500; write: a fifth of it)",
    )
    parser.add_argument(
        "--warmup", type=non_negative_int, default=10, metavar="N", help="per client (default 10)"
    )
    add_run_options(parser)
    return parser.parse_args(argv)


def run(args) -> int:
    deadline = time.monotonic() + args.timeout
    env = Environment()

    def measure_every_scenario() -> None:
        print(f"bench.cpu: starting the platform in vhost {env.vhost} ...", file=sys.stderr)
        base_url = start_platform(env, deadline)
        token = writer_token(base_url, env, deadline)
        clients = {
            "read": lambda: HttpClient(base_url + CIVIC_PATH, REQUEST_TIMEOUT),
            "write": lambda: ProposalPoster(base_url + WRITE_PATH, token, REQUEST_TIMEOUT),
            "echo": lambda: AmqpClient(env.amqp_uri, ECHO_QUEUE, REQUEST_TIMEOUT),
        }
        pids = {name: process.pid for name, process in env.processes.items()}
        broker = broker_pid()
        if broker is not None:
            pids[BROKER] = broker

        def snapshot() -> dict[str, float]:
            taken = {name: process_seconds(pid) for name, pid in pids.items()}
            taken[CLIENT] = own_seconds()
            return taken

        results = []
        for scenario in SCENARIOS:
            total = args.requests if scenario.name != "write" else max(1, args.requests // 5)
            print(
                f"bench.cpu: {scenario.name}, {scenario.concurrency} client(s), "
                f"{total} requests ...",
                file=sys.stderr,
            )
            make_client = clients[scenario.name]
            # Warm-up outside the measurement: connections open, caches hot.
            run_load(
                make_client,
                scenario.concurrency,
                scenario.concurrency,
                args.warmup,
                time.monotonic() + remaining(deadline),
            )
            before = snapshot()
            started = time.monotonic()
            result = run_load(
                make_client, scenario.concurrency, total, 0, time.monotonic() + remaining(deadline)
            )
            elapsed = time.monotonic() - started
            after = snapshot()
            if result.unfinished or result.errors:
                raise BenchError(
                    f"{scenario.name} at {scenario.concurrency}: {result.errors} failed, "
                    f"{result.unfinished} not sent (first error: {result.first_error})"
                )
            results.append((scenario, total / elapsed, cpu_per_request(before, after, total)))
            env.check_running()
        print("Civic benchmark: CPU microseconds per request, by process")
        print(f"  {os.cpu_count()} CPUs; broker {'included' if broker else 'not on this machine'}")
        print()
        columns, rows = breakdown_table(results)
        print(format_table(rows, columns, left_aligned={0}))

    return run_in("bench.cpu", env, args.keep, measure_every_scenario)


def main(argv=None) -> int:
    return run_until_done("bench.cpu", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
