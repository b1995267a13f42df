"""`python -m bench.queue_types`: what a quorum queue costs a request/reply (issue 15).

Civic's durable queues — the services' RPC queues among them — are quorum queues by
default (CIVIC_QUEUE_TYPE). A quorum queue writes each message to its Raft log (and
waits for a majority of its members) before it delivers it, where a classic queue hands
a transient-looking request on at once. This measures the raw kombu request/reply of
`make bench`'s baseline twice in the same run, over a classic and over a quorum request
queue (two `bench.echo` responders in a throwaway vhost), at 1 and 10 clients, the two
taking turns in rounds as `python -m bench`'s scenarios do, and prints both with their
ratio. On one broker node; on a cluster a quorum queue also waits
for a second node.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench.__main__ import (
    REQUEST_TIMEOUT,
    ROUNDS,
    STARTUP_TIMEOUT,
    measure_in_turns,
    remaining,
)
from bench.args import add_run_options, non_negative_int, positive_int
from bench.clients import AmqpClient
from bench.environment import Environment, run_in, run_until_done
from bench.stats import comparison_rows, format_table

QUEUES = {"classic": "bench-echo-classic", "quorum": "bench-echo-quorum"}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.queue_types", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--requests",
        type=positive_int,
        default=1000,
        metavar="N",
        help="timed requests per queue type and concurrency (default 1000)",
    )
    parser.add_argument(
        "--warmup", type=non_negative_int, default=20, metavar="N", help="per client"
    )
    add_run_options(parser)
    return parser.parse_args(argv)


def run(args) -> int:
    deadline = time.monotonic() + args.timeout
    env = Environment()

    def measure_both() -> None:
        env.create_vhost()
        for kind, queue in QUEUES.items():
            env.start(f"echo-{kind}", "-m", "bench.echo", "--queue", queue, "--queue-type", kind)

        def answers(queue: str) -> bool:
            client = AmqpClient(env.amqp_uri, queue, timeout=1.0)
            try:
                client.call()
                return True
            finally:
                client.close()

        for queue in QUEUES.values():
            env.wait_until(
                lambda queue=queue: answers(queue),
                min(STARTUP_TIMEOUT, remaining(deadline)),
                f"the echo responder on {queue}",
            )
        rows = []
        for concurrency in (1, 10):
            # The two queue types take turns, as the request path and its baseline do.
            measured = measure_in_turns(
                {
                    f"kombu echo, {kind} queue": (
                        lambda queue=queue: AmqpClient(env.amqp_uri, queue, REQUEST_TIMEOUT),
                        args.requests,
                    )
                    for kind, queue in QUEUES.items()
                },
                concurrency,
                ROUNDS,
                args.warmup,
                deadline,
            )
            compared = comparison_rows(
                measured["kombu echo, quorum queue"], measured["kombu echo, classic queue"]
            )
            rows += [*compared[:2], (*compared[2][:1], "ratio quorum/classic", *compared[2][2:])]
        print(f"bench.queue_types: request/reply over each queue type, vhost {env.vhost}")
        print()
        print(format_table(rows))

    return run_in("bench.queue_types", env, args.keep, measure_both)


def main(argv=None) -> int:
    return run_until_done("bench.queue_types", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
