"""`python -m bench.outbox_drain`: the outbox relay draining a backlog, against raw kombu.

A backlog is what a broker outage leaves behind: an hour at 10 events a second is 36,000
unsent outbox rows. This sets up a throwaway world — a fresh RabbitMQ vhost, a temp
directory with a SQLite outbox (or a fresh schema in the PostgreSQL database given with
`--database-url`), a queue bound to the producer's exchange — and, in the same run:

  relay     `OutboxRelay.drain()` over `--rows` unsent rows, as a service's relay does
            once the broker is back: claim a batch, publish it with pipelined confirms,
            mark it sent, again until nothing is left (the database work included)
  baseline  the same envelopes published with plain kombu, confirms on (one round trip
            per message, nameko's and kombu's way), no database at all

and prints the drain time and rows per second of each, with their ratio, and whether
the relay met the goal (`--goal`, 60 s for 36,000 rows). Everything it created is
removed, whatever happens.
"""

from civic import green

green.patch()  # as in a service process: the relay runs on eventlet

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import timedelta  # noqa: E402

from bench.args import positive_float, positive_int  # noqa: E402

DEFAULT_ROWS = 36_000
DEFAULT_GOAL = 60.0
PRODUCER = "benchdrain"
EVENT_TYPE = "bench_drained"
QUEUE = "bench-drain"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.outbox_drain", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--rows",
        type=positive_int,
        default=DEFAULT_ROWS,
        help=f"unsent outbox rows to drain (default {DEFAULT_ROWS:,})",
    )
    parser.add_argument(
        "--goal",
        type=positive_float,
        default=DEFAULT_GOAL,
        help=f"seconds the relay may take (default {DEFAULT_GOAL:g}); exit 1 if slower",
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL database to use a fresh schema of (default: a SQLite file in "
        "a temp directory)",
    )
    return parser.parse_args(argv)


class DrainBench:
    def __init__(self, rows: int, database_url: str | None):
        from bench.environment import Environment

        self.rows = rows
        self.environment = Environment()
        self.database_url = database_url
        self.database = None

    def setup(self) -> None:
        from kombu import Connection, Queue
        from nameko import config as nameko_config
        from sqlalchemy import MetaData

        from civic import config, log
        from civic.db import ServiceDatabase, kernel_tables
        from civic.outbox import event_exchange

        self.environment.create_vhost()
        env = {
            "CIVIC_VAR_DIR": str(self.environment.var_dir),
            "CIVIC_AMQP_URI": self.environment.amqp_uri,
            "CIVIC_LOG_LEVEL": "WARNING",
        }
        url = self.database_url or f"sqlite:///{self.environment.var_dir / 'drain.db'}"
        if self.database_url:
            env["CIVIC_SCHEMA_PREFIX"] = f"bench{uuid.uuid4().hex[:8]}_"
        self.settings = config.from_env(env)
        nameko_config.update(self.settings)
        log.configure("bench", log_dir=self.settings["CIVIC_LOG_DIR"], fmt="json", level="WARNING")
        metadata = MetaData()
        kernel_tables(metadata)
        self.database = ServiceDatabase(
            PRODUCER, metadata, url=url, amqp_uri=self.environment.amqp_uri
        )
        self.database.create_all()
        self.exchange = event_exchange(PRODUCER)
        with Connection(self.environment.amqp_uri, connect_timeout=10) as connection:
            Queue(QUEUE, exchange=self.exchange, routing_key=EVENT_TYPE, durable=True)(
                connection.default_channel
            ).declare()
        self.envelopes = [envelope(n) for n in range(self.rows)]

    def close(self) -> list[str]:
        problems = []
        if self.database is not None:
            try:
                if self.database.schema:
                    from civic.db import drop_schema

                    drop_schema(self.database.url, self.database.schema)
                self.database.dispose()
            except Exception as exc:
                problems.append(f"removing the database: {exc}")
        problems += self.environment.close()
        return problems

    # --- measuring --------------------------------------------------------------------------

    def fill_outbox(self) -> None:
        """The backlog: every envelope an unsent row, oldest first."""
        from sqlalchemy import insert

        from civic.clock import utcnow

        start = utcnow() - timedelta(hours=1)
        rows = [
            {
                "id": item["id"],
                "type": EVENT_TYPE,
                "envelope": json.dumps(item),
                "created_at": start + timedelta(microseconds=index),
                "attempts": 0,
            }
            for index, item in enumerate(self.envelopes)
        ]
        with self.database.sessions() as session, session.begin():
            for first in range(0, len(rows), 5000):
                session.execute(insert(self.database.outbox), rows[first : first + 5000])

    def relay_drain(self) -> float:
        """Seconds the relay takes to publish the whole backlog."""
        relay = self.database.relay
        started = time.perf_counter()
        while relay.unsent_count():
            relay.drain()
        return time.perf_counter() - started

    def kombu_baseline(self) -> float:
        """Seconds plain kombu takes to publish the same envelopes with confirms."""
        from kombu import Connection, Producer

        from civic.outbox import context_headers

        started = time.perf_counter()
        with Connection(
            self.environment.amqp_uri,
            connect_timeout=10,
            transport_options={"confirm_publish": True},
        ) as connection:
            producer = Producer(connection.default_channel)
            for item in self.envelopes:
                producer.publish(
                    item,
                    exchange=self.exchange,
                    routing_key=EVENT_TYPE,
                    message_id=item["id"],
                    headers=context_headers(item),
                    serializer="json",
                    delivery_mode=2,
                    retry=False,
                )
        return time.perf_counter() - started

    def delivered(self) -> int:
        """Messages in the queue; then empties it for the next measurement."""
        from kombu import Connection

        with Connection(self.environment.amqp_uri, connect_timeout=10) as connection:
            channel = connection.default_channel
            _, count, _ = channel.queue_declare(queue=QUEUE, passive=True)
            channel.queue_purge(QUEUE)
        return count


def envelope(n: int) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "type": EVENT_TYPE,
        "version": 1,
        "occurred_at": "2026-11-28T10:00:00+00:00",
        "producer": PRODUCER,
        "correlation_id": f"bench-{n}",
        "actor_id": None,
        "data": {"n": n, "note": "Städdag vid älven"},
    }


def report(rows: int, backend: str, relay_s: float, baseline_s: float, goal: float) -> str:
    from bench.stats import format_ratio, format_table, ratio

    relay_rate, baseline_rate = rows / relay_s, rows / baseline_s
    relay_row = ("relay drain (claim, pipelined confirms, mark)", relay_s, relay_rate)
    baseline_row = ("baseline: kombu, confirm per message, no DB", baseline_s, baseline_rate)
    table = format_table(
        [
            *(
                (f"{rows:,}", name, f"{seconds:.1f}", f"{rate:,.0f}")
                for name, seconds, rate in (relay_row, baseline_row)
            ),
            (
                "",
                "ratio relay/baseline (rows/s)",
                "",
                format_ratio(ratio(relay_rate, baseline_rate)),
            ),
        ],
        columns=("rows", "scenario", "drain s", "rows/s"),
    )
    verdict = "met" if relay_s < goal else "MISSED"
    return (
        f"Outbox backlog of {rows:,} rows drained ({backend})\n\n{table}\n\n"
        f"goal: under {goal:g} s: {verdict} ({relay_s:.1f} s)\n"
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    bench = DrainBench(args.rows, args.database_url)
    try:
        bench.setup()
        bench.fill_outbox()
        relay_s = bench.relay_drain()
        relayed = bench.delivered()
        baseline_s = bench.kombu_baseline()
        published = bench.delivered()
        if relayed < args.rows or published < args.rows:
            print(
                f"bench: {relayed:,} relayed and {published:,} published, not {args.rows:,}",
                file=sys.stderr,
            )
            return 1
        backend = "PostgreSQL" if args.database_url else "SQLite"
        print(report(args.rows, backend, relay_s, baseline_s, args.goal))
        if args.rows == DEFAULT_ROWS and not args.database_url:
            from bench import goals

            # Goal 4 is the default backlog's drain time; the raw kombu publish of the
            # same envelopes is its baseline.
            goals.record("outbox_drain", relay_s, baseline_s)
        return 0 if relay_s < args.goal else 1
    finally:
        for problem in bench.close():
            print(f"bench: clean-up: {problem}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
