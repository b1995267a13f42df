"""`python -m bench.floor`: the floor under goals 1 and 2 — the read and write paths of
the stack Civic is built on, with none of Civic's own work, beside Civic's and the
baseline (issue 14).

Goal 1 asks the read path (HTTP → gateway → service → reply) for at most 3.5× the p50
of a raw kombu request/reply and at least 0.30× its req/s; goal 2 asks a write for at
most 5×. Part of those paths is not Civic's code but the stack the design card fixes:
nameko's HTTP server and worker, a nameko service in a process of its own, RabbitMQ
between them, and — since issue 15 — a quorum RPC queue. This measures that part on its
own, in one throwaway vhost and one run, the scenarios taking turns in rounds as
`python -m bench`'s do:

  baseline          the kombu echo of `python -m bench` (a classic queue)
  floor, quorum     GET /floor/quorum → a nameko `@http` route → Civic's RPC client →
                    a nameko service answering a constant page over Civic's RPC line,
                    from a quorum RPC queue (bench.floor_services)
  floor, classic    the same, from a classic RPC queue
  HTTP alone        GET /floor/none: the same route answering the page itself, no RPC
  civic             GET /api/v1/groups?per_page=1, as `python -m bench` measures it

at 1 and 10 clients, and at one client the write path (goal 2) too:

  floor write       POST /floor/<type>: the same route and service, which inserts the
                    proposal into a SQLite table and commits (one row, one commit)
  civic write       POST /api/v1/proposals, as `python -m bench` measures it

It says for each floor whether goal 1's and goal 2's ratios leave any room above it: a
floor already past 3.5× (or under 0.30×, or past 5× for a write) means no change to
Civic's own code can meet that goal on this stack on this machine.
"""

from __future__ import annotations

import argparse
import sys
import time

import requests

from bench import goals
from bench.__main__ import (
    BASELINE,
    CIVIC_PATH,
    ECHO_QUEUE,
    READ,
    REQUEST_TIMEOUT,
    ROUNDS,
    STARTUP_TIMEOUT,
    WRITE,
    WRITE_PATH,
    measure_in_turns,
    remaining,
    start_platform,
    writer_token,
)
from bench.args import add_run_options, non_negative_int, positive_int
from bench.clients import AmqpClient, HttpClient, ProposalPoster
from bench.environment import Environment, free_port, run_in, run_until_done
from bench.goals import BY_KEY
from bench.stats import comparison_rows, format_ratio, format_table, ratio

QUEUE_TYPES = ("quorum", "classic")
NO_RPC = "none"  # GET /floor/none answers without calling the service (bench.floor_services)


def floor_name(queue_type: str) -> str:
    return f"floor, {queue_type} RPC queue"


def floor_write_name(queue_type: str) -> str:
    return f"floor write, {queue_type} RPC queue"


HTTP_ONLY = "floor's HTTP alone (no RPC)"
# How the table's ratio rows name each scenario.
SHORT = {
    READ: "civic",
    HTTP_ONLY: "HTTP alone",
    WRITE: "civic write",
    **{floor_name(kind): f"floor ({kind})" for kind in QUEUE_TYPES},
    **{floor_write_name(kind): f"floor write ({kind})" for kind in QUEUE_TYPES},
}


def room_verdict(figure_ratio: float | None, key: str) -> str:
    """Whether goal `key`'s limit leaves room above a floor at `figure_ratio` × the
    baseline: the share of the limit the floor already takes."""
    goal = BY_KEY[key]
    if figure_ratio is None:
        return "no baseline"
    met = goal.met(figure_ratio, 1.0)
    if goal.direction == "at most":
        share = figure_ratio / goal.limit
        return (
            f"takes {share:.0%} of the {goal.limit:g}x limit"
            if met
            else f"past the {goal.limit:g}x limit on its own ({share:.0%} of it)"
        )
    return (
        f"{figure_ratio / goal.limit:.2f}x the {goal.limit:g}x the goal asks"
        if met
        else f"under the {goal.limit:g}x the goal asks, on its own"
    )


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.floor", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--requests",
        type=positive_int,
        default=1000,
        metavar="N",
        help="timed requests per scenario and concurrency (default 1000)",
    )
    parser.add_argument(
        "--warmup", type=non_negative_int, default=20, metavar="N", help="per client"
    )
    parser.add_argument(
        "--rounds",
        type=positive_int,
        default=ROUNDS,
        metavar="N",
        help=f"each scenario's requests in N rounds, taking turns (default {ROUNDS})",
    )
    parser.add_argument(
        "--write-requests",
        type=positive_int,
        default=300,
        metavar="N",
        help="timed writes per write scenario, at one client (default 300)",
    )
    add_run_options(parser)
    return parser.parse_args(argv)


def run(args) -> int:
    deadline = time.monotonic() + args.timeout
    env = Environment()

    def measure() -> None:
        print(
            f"bench.floor: starting Civic and the floor in vhost {env.vhost} ...", file=sys.stderr
        )
        base_url = start_platform(env, deadline)
        civic_url = base_url + CIVIC_PATH
        token = writer_token(base_url, env, deadline)
        floor_port = free_port()
        for queue_type in QUEUE_TYPES:
            env.start(
                f"floor-{queue_type}",
                "-m",
                "bench.floor_services",
                "service",
                settings={"CIVIC_QUEUE_TYPE": queue_type},
            )
        env.start(
            "floor-gateway",
            "-m",
            "bench.floor_services",
            "gateway",
            settings={"CIVIC_WEB_ADDRESS": f"127.0.0.1:{floor_port}"},
        )
        floor_url = f"http://127.0.0.1:{floor_port}/floor/"
        for queue_type in QUEUE_TYPES:
            env.wait_until(
                lambda url=floor_url + queue_type: requests.get(url, timeout=2).status_code == 200,
                min(STARTUP_TIMEOUT, remaining(deadline)),
                f"GET /floor/{queue_type} to return 200",
            )
        scenarios = {
            BASELINE: lambda: AmqpClient(env.amqp_uri, ECHO_QUEUE, REQUEST_TIMEOUT),
            HTTP_ONLY: lambda: HttpClient(floor_url + NO_RPC, REQUEST_TIMEOUT),
            **{
                floor_name(queue_type): (
                    lambda url=floor_url + queue_type: HttpClient(url, REQUEST_TIMEOUT)
                )
                for queue_type in QUEUE_TYPES
            },
            READ: lambda: HttpClient(civic_url, REQUEST_TIMEOUT),
        }
        # The write path at one client only, as goal 2 and `python -m bench` measure it.
        writes = {
            **{
                floor_write_name(queue_type): (
                    lambda url=floor_url + queue_type: ProposalPoster(url, "", REQUEST_TIMEOUT)
                )
                for queue_type in QUEUE_TYPES
            },
            WRITE: lambda: ProposalPoster(base_url + WRITE_PATH, token, REQUEST_TIMEOUT),
        }
        # The goals judged at each concurrency: the figure compared, and the floors (by
        # queue type) it is compared on.
        judged = {
            1: (("read_p50", "p50_ms", floor_name), ("write_p50", "p50_ms", floor_write_name)),
            10: (("read_rps", "requests_per_second", floor_name),),
        }
        rows, verdicts = [], []
        for concurrency, goals_here in judged.items():
            print(
                f"bench.floor: {args.requests} requests per scenario with {concurrency} "
                f"client(s) ...",
                file=sys.stderr,
            )
            planned = {name: (make, args.requests) for name, make in scenarios.items()}
            if concurrency == 1:
                planned.update({name: (make, args.write_requests) for name, make in writes.items()})
            measured = measure_in_turns(planned, concurrency, args.rounds, args.warmup, deadline)
            baseline = measured[BASELINE]
            rows.append(comparison_rows(baseline, baseline)[0])
            for name in planned:
                if name != BASELINE:
                    compared = comparison_rows(measured[name], baseline)
                    rows += [
                        compared[0],
                        (compared[2][0], f"ratio {SHORT[name]}/baseline", *compared[2][2:]),
                    ]
            for key, figure, name_of in goals_here:
                for queue_type in QUEUE_TYPES:
                    floor = measured[name_of(queue_type)]
                    value = ratio(getattr(floor, figure), getattr(baseline, figure))
                    if value is not None:
                        goals.record_floor(key, f"{queue_type} RPC queue", value)
                    verdicts.append(
                        f"  {BY_KEY[key].title}: the {name_of(queue_type)} is "
                        f"{format_ratio(value)} the baseline — {room_verdict(value, key)}"
                    )
            env.check_running()
        print(f"bench.floor: the read path's stack without Civic's work, vhost {env.vhost}")
        print()
        print(format_table(rows))
        print()
        print("What goals 1 and 2 leave above each floor:")
        print("\n".join(verdicts))

    return run_in("bench.floor", env, args.keep, measure)


def main(argv=None) -> int:
    return run_until_done("bench.floor", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
