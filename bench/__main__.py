"""`python -m bench`: Civic's request path against a raw-AMQP baseline, side by side.

Sets up a throwaway environment (a fresh RabbitMQ vhost, a temp var dir with SQLite,
a free port), migrates, starts `groups` and `gateway` as their own processes plus a
plain-kombu echo responder, then measures at each concurrency:

  civic     GET /api/v1/groups?per_page=1  — HTTP → gateway → groups (RPC) → reply
  baseline  kombu request/reply to the echo responder on the same broker and vhost

and, at 1 client, the write path:

  write     POST /api/v1/proposals — HTTP → gateway → proposals (RPC: validation,
            command record, outbox row, commit) → reply, the event published after

Each scenario's requests are split into rounds (`--rounds`, default 5) and the scenarios
take turns, round by round, in an order reversed every other round: a machine whose
speed drifts during the run (a shared one does) weighs on Civic and its baseline alike,
where one scenario after the other would put the drift into the ratio. Each scenario's
latencies are pooled over its rounds, its req/s is its requests over its own rounds' time.

It prints p50/p99 latency, throughput and the Civic/baseline ratios, and records the
figures of issue 14's goals 1 and 2 for `python -m bench.report` (bench.goals). The
services log at INFO, as in production. Everything it started is stopped, and the vhost
deleted, whatever happens.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import requests

from bench import goals
from bench.args import add_run_options, non_negative_int, positive_int
from bench.clients import AmqpClient, HttpClient, ProposalPoster
from bench.environment import BenchError, Environment, run_in, run_until_done
from bench.load import combine, run_load, split_evenly, turns
from bench.stats import comparison_rows, format_table, summarize

DEFAULT_REQUESTS = {1: 300, 10: 1000}  # timed requests per scenario at that concurrency
FALLBACK_REQUESTS_PER_CLIENT = 100  # for other concurrencies
ECHO_QUEUE = "bench-echo"
CIVIC_PATH = "/api/v1/groups?per_page=1"
READ = "civic http→gateway→rpc"
BASELINE = "baseline kombu echo"
WRITE = "civic write (POST proposal)"
WRITE_PATH = "/api/v1/proposals"
WRITE_REQUESTS = 200  # timed proposals filed at 1 client
ROUNDS = 5  # each scenario's requests in this many parts, the scenarios taking turns
BENCH_EMAIL = "bench.writer@example.org"
BENCH_PASSWORD = "a long benchmark password"
REQUEST_TIMEOUT = 10.0
STARTUP_TIMEOUT = 120.0


def concurrency_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers separated by commas: {text!r}"
        ) from None
    if not values or any(value < 1 for value in values):
        raise argparse.ArgumentTypeError(f"each concurrency must be at least 1: {text!r}")
    return values


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Civic (HTTP → gateway → groups RPC) against a raw kombu "
        "request/reply baseline on the same broker.",
    )
    parser.add_argument(
        "--requests",
        type=positive_int,
        default=None,
        metavar="N",
        help="timed requests per scenario at each concurrency "
        "(default: 300 with 1 client, 1000 with 10)",
    )
    parser.add_argument(
        "--write-requests",
        type=positive_int,
        default=WRITE_REQUESTS,
        metavar="N",
        help=f"timed proposals filed for the write path at 1 client (default {WRITE_REQUESTS})",
    )
    parser.add_argument(
        "--warmup",
        type=non_negative_int,
        default=10,
        metavar="N",
        help="untimed requests per client before each round's timing (default 10)",
    )
    parser.add_argument(
        "--rounds",
        type=positive_int,
        default=ROUNDS,
        metavar="N",
        help=f"each scenario's requests in N rounds, the scenarios taking turns (default {ROUNDS})",
    )
    parser.add_argument(
        "--concurrency",
        type=concurrency_list,
        default=[1, 10],
        metavar="C[,C...]",
        help="concurrent clients (default 1,10)",
    )
    add_run_options(parser)
    return parser.parse_args(argv)


def requests_for(concurrency: int, requested: int | None) -> int:
    if requested is not None:
        return requested
    return DEFAULT_REQUESTS.get(concurrency, FALLBACK_REQUESTS_PER_CLIENT * concurrency)


def remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise BenchError("the total --timeout ran out")
    return left


def start_platform(env: Environment, deadline: float) -> str:
    """Migrate, start the processes, wait until each answers; returns the base URL."""
    env.create_vhost()
    env.run("migrate", "-m", "bench.migrate", timeout=min(STARTUP_TIMEOUT, remaining(deadline)))
    env.start("groups", "-m", "civic.runner", "groups")
    env.start("proposals", "-m", "civic.runner", "proposals")
    env.start("gateway", "-m", "civic.runner", "gateway")
    env.start("echo", "-m", "bench.echo", "--queue", ECHO_QUEUE)
    base_url = f"http://127.0.0.1:{env.port}"
    startup = min(STARTUP_TIMEOUT, remaining(deadline))

    env.wait_until(
        lambda: requests.get(base_url + "/healthz", timeout=2).status_code == 200,
        startup,
        "the gateway's GET /healthz",
    )
    env.wait_until(
        lambda: requests.get(base_url + CIVIC_PATH, timeout=5).status_code == 200,
        min(STARTUP_TIMEOUT, remaining(deadline)),
        f"GET {CIVIC_PATH} to return 200 (gateway → groups)",
    )

    def echo_answers() -> bool:
        client = AmqpClient(env.amqp_uri, ECHO_QUEUE, timeout=1.0)
        try:
            client.call()
            return True
        finally:
            client.close()

    env.wait_until(echo_answers, min(STARTUP_TIMEOUT, remaining(deadline)), "the echo responder")
    return base_url


def writer_token(base_url: str, env: Environment, deadline: float) -> str:
    """A signed-in account for the write path (new in this throwaway world), once the
    proposals service knows it (it learns accounts from groups' events)."""
    registered = requests.post(
        base_url + "/api/v1/accounts",
        json={"email": BENCH_EMAIL, "password": BENCH_PASSWORD, "display_name": "Bench Writer"},
        timeout=REQUEST_TIMEOUT,
    )
    if registered.status_code != 201:
        raise BenchError(f"registering the bench account: HTTP {registered.status_code}")
    session = requests.post(
        base_url + "/api/v1/sessions",
        json={"email": BENCH_EMAIL, "password": BENCH_PASSWORD},
        timeout=REQUEST_TIMEOUT,
    )
    if session.status_code != 201:
        raise BenchError(f"signing the bench account in: HTTP {session.status_code}")
    token = session.json()["token"]
    poster = ProposalPoster(base_url + WRITE_PATH, token, REQUEST_TIMEOUT)

    def files_a_proposal() -> bool:
        try:
            poster.call()
            return True
        except Exception:
            return False

    try:
        env.wait_until(
            files_a_proposal,
            min(STARTUP_TIMEOUT, remaining(deadline)),
            f"POST {WRITE_PATH} to return 201 (gateway → proposals)",
        )
    finally:
        poster.close()
    return token


def measure_in_turns(
    scenarios: dict[str, tuple], concurrency: int, rounds: int, warmup: int, deadline: float
) -> dict:
    """Each scenario (its name: its client factory and its total requests) in `rounds`
    parts, the scenarios taking turns (see the module's docstring); a Summary each."""
    parts = {name: split_evenly(total, rounds) for name, (_, total) in scenarios.items()}
    done: dict[str, list] = {name: [] for name in scenarios}
    for index, order in enumerate(turns(list(scenarios), rounds)):
        for name in order:
            make_client, _total = scenarios[name]
            if parts[name][index]:
                done[name].append(
                    run_load(make_client, concurrency, parts[name][index], warmup, deadline)
                )
    return {
        name: checked(name, concurrency, combine(done[name]), total)
        for name, (_, total) in scenarios.items()
    }


def checked(name: str, concurrency: int, result, total: int):
    if result.unfinished:
        raise BenchError(
            f"{name} at concurrency {concurrency}: the total --timeout ran "
            f"out with {result.unfinished} of {total} requests not sent"
        )
    if not result.latencies:
        raise BenchError(
            f"{name} at concurrency {concurrency}: every request failed, "
            f"first error: {result.first_error}"
        )
    if result.errors:
        print(
            f"warning: {name} at concurrency {concurrency}: {result.errors} failed "
            f"requests, first: {result.first_error}",
            file=sys.stderr,
        )
    return summarize(name, concurrency, result.latencies, result.elapsed, result.errors)


def header(args, env: Environment, base_url: str) -> str:
    counts = ", ".join(
        f"{c} client{'s' if c > 1 else ''}: {requests_for(c, args.requests)}"
        for c in args.concurrency
    )
    return "\n".join(
        [
            "Civic benchmark",
            f"  civic     GET {base_url}{CIVIC_PATH}  (HTTP → gateway → groups RPC, SQLite)",
            f"  write     POST {base_url}{WRITE_PATH}  (→ proposals RPC, outbox; 1 client)",
            "  logs      the services at INFO, as in production",
            f"  baseline  kombu request/reply to a plain echo responder, queue {ECHO_QUEUE!r}",
            f"  broker    {env.amqp_uri.rsplit('@', 1)[-1]} (throwaway vhost)",
            f"  requests  timed per scenario — {counts}; warm-up {args.warmup} per client",
            f"  rounds    {args.rounds}, the scenarios taking turns (order reversed every "
            f"other round)",
            f"  clients   threads in one process (an http.client keep-alive connection / a "
            f"kombu connection each); "
            f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
        ]
    )


def run(args) -> int:
    deadline = time.monotonic() + args.timeout
    env = Environment()

    def measure_every_concurrency() -> None:
        print(
            f"bench: starting groups, proposals, gateway and the echo responder in vhost "
            f"{env.vhost} ...",
            file=sys.stderr,
        )
        base_url = start_platform(env, deadline)
        token = writer_token(base_url, env, deadline)
        url = base_url + CIVIC_PATH
        rows = []
        for concurrency in args.concurrency:
            total = requests_for(concurrency, args.requests)
            print(
                f"bench: measuring {total} requests per scenario with {concurrency} client(s) ...",
                file=sys.stderr,
            )
            scenarios = {
                READ: (lambda: HttpClient(url, REQUEST_TIMEOUT), total),
                BASELINE: (lambda: AmqpClient(env.amqp_uri, ECHO_QUEUE, REQUEST_TIMEOUT), total),
            }
            if concurrency == 1:  # the write path: at one client, beside the same baseline
                scenarios[WRITE] = (
                    lambda: ProposalPoster(base_url + WRITE_PATH, token, REQUEST_TIMEOUT),
                    args.write_requests,
                )
            measured = measure_in_turns(scenarios, concurrency, args.rounds, args.warmup, deadline)
            civic, baseline = measured[READ], measured[BASELINE]
            rows.extend(comparison_rows(civic, baseline))
            if concurrency == 1:
                goals.record("read_p50", civic.p50_ms, baseline.p50_ms)
                writes = measured[WRITE]
                rows.extend(comparison_rows(writes, baseline)[::2])
                goals.record("write_p50", writes.p50_ms, baseline.p50_ms)
            if concurrency == 10:
                goals.record("read_rps", civic.requests_per_second, baseline.requests_per_second)
            env.check_running()
        print(header(args, env, base_url))
        print()
        print(format_table(rows))
        print()
        print(
            "ratio = civic / baseline: above 1x for latency is slower, "
            "below 1x for req/s is fewer requests per second"
        )

    return run_in("bench", env, args.keep, measure_every_concurrency)


def main(argv=None) -> int:
    return run_until_done("bench", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
