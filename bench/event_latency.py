"""`python -m bench.event_latency`: how long an event takes from its producer's commit to
its consumer's committed inbox row, at a sustained rate (issue 14, goal 3).

Sets up a throwaway world (a fresh RabbitMQ vhost, a temp var directory with SQLite,
every database migrated and the topology declared) and starts the notifications
service as its own process, as `make run` does: its `on_event` handler takes every
event of every service. This process is the producer: it writes `comment_added` events
as the proposals service does (a unit of work per event: the outbox row committed, the
relay woken, publishing with confirms, in a green thread as in a service), `--rate`
events a second for `--seconds`, and notes each event's commit time. A reader polls
the notifications database every `--poll-ms` for the inbox rows its handler committed.

latency = first time the inbox row is seen committed − the producer's commit time

so it includes the relay, the broker, the consumer's handler (rules, the activity
feed) and its commit, and over-states each by at most the polling interval. It prints
p50/p99/max, records goal 3's p99, and removes everything it created.
"""

from civic import green

green.patch()  # as in a service process: the relay runs on eventlet

import argparse  # noqa: E402
import sqlite3  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

from bench.args import positive_float, positive_int  # noqa: E402

DEFAULT_RATE = 200
DEFAULT_SECONDS = 60
DEFAULT_POLL_MS = 2.0
HANDLER = "notifications.on_event"  # its inbox key: service.handler
EVENT_TYPE = "comment_added"
STARTUP_TIMEOUT = 120.0
DRAIN_TIMEOUT = 120.0


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.event_latency", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--rate",
        type=positive_int,
        default=DEFAULT_RATE,
        help=f"events a second (default {DEFAULT_RATE})",
    )
    parser.add_argument(
        "--seconds",
        type=positive_float,
        default=DEFAULT_SECONDS,
        help=f"how long to keep the rate up (default {DEFAULT_SECONDS})",
    )
    parser.add_argument(
        "--poll-ms",
        type=positive_float,
        default=DEFAULT_POLL_MS,
        help=f"how often the reader looks for committed inbox rows (default {DEFAULT_POLL_MS})",
    )
    return parser.parse_args(argv)


def event_data() -> dict:
    return {
        "proposal_id": str(uuid.uuid4()),
        "title": "Bänkar vid älven",
        "author_id": None,
        "comment_id": str(uuid.uuid4()),
        "comment_author_id": str(uuid.uuid4()),
        "assigned_group_id": None,
    }


class LatencyBench:
    def __init__(self, args):
        from bench.environment import Environment

        self.args = args
        self.environment = Environment()
        self.producer = None
        self.committed: dict[str, float] = {}  # message id → the producer's commit time
        self.seen: dict[str, float] = {}  # message id → first seen in the consumer's inbox
        self.last_rowid = 0
        self.reader: sqlite3.Connection | None = None

    # --- the world ----------------------------------------------------------------------

    def setup(self) -> None:
        import eventlet
        from nameko import config as nameko_config
        from sqlalchemy import MetaData

        from bench.environment import BenchError
        from civic import config, log
        from civic.db import ServiceDatabase, kernel_tables

        env = self.environment
        env.create_vhost()
        env.run("migrate", "-m", "bench.migrate", timeout=STARTUP_TIMEOUT)
        env.start("notifications", "-m", "civic.runner", "notifications")
        settings = config.from_env(
            {
                "CIVIC_VAR_DIR": str(env.var_dir),
                "CIVIC_AMQP_URI": env.amqp_uri,
                "CIVIC_LOG_LEVEL": "WARNING",
            }
        )
        nameko_config.update(settings)
        log.configure("bench", log_dir=settings["CIVIC_LOG_DIR"], fmt="json", level="WARNING")
        self.consumer_db = env.var_dir / "notifications.db"
        metadata = MetaData()
        kernel_tables(metadata)
        # The producer: the proposals service's kernel tables in a file of its own, so
        # the bench never touches the real service's database.
        self.producer = ServiceDatabase(
            "proposals",
            metadata,
            url=f"sqlite:///{env.var_dir / 'bench-producer.db'}",
            amqp_uri=env.amqp_uri,
        )
        self.producer.create_all()
        self.relay_thread = eventlet.spawn(self.producer.relay.run_forever)
        # The consumer is ready once it has handled one event.
        first = self.produce()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while first not in self.seen:
            if time.monotonic() > deadline:
                raise BenchError(
                    f"the notifications service handled no event in {STARTUP_TIMEOUT:.0f}s:\n"
                    + env.tail("notifications")
                )
            self.poll()
            eventlet.sleep(0.05)
        self.committed.clear()
        self.seen.clear()
        # The producer stands for a service process: as civic.runner does once a
        # service has started, its start-up objects are kept out of the collector's way.
        from civic.runner import spare_the_collector_the_startup_objects

        spare_the_collector_the_startup_objects()

    def close(self) -> list[str]:
        problems = []
        if self.reader is not None:
            self.reader.close()
        if self.producer is not None:
            try:
                self.producer.dispose()
            except Exception as exc:
                problems.append(f"closing the producer: {exc}")
        problems += self.environment.close()
        return problems

    # --- producing and watching ---------------------------------------------------------

    def produce(self) -> str:
        with self.producer.unit_of_work() as uow:
            envelope = uow.publish(EVENT_TYPE, event_data())
        self.committed[envelope.id] = time.time()
        return envelope.id

    def poll(self) -> None:
        """Note the inbox rows committed since the last look. SQLite has one writer at a
        time, so the rowids of the inbox grow in commit order: rows above the last one
        seen are the new ones. (A read-only connection: in WAL mode it reads while the
        service writes.)"""
        now = time.time()
        if self.reader is None:
            # One connection for the whole run, in autocommit: each look is a read
            # transaction of its own, so it sees every commit before it (opening a
            # connection per look, 500 a second, cost this process a tenth of a core).
            self.reader = sqlite3.connect(
                f"file:{self.consumer_db}?mode=ro", uri=True, timeout=1, isolation_level=None
            )
        try:
            rows = self.reader.execute(
                "SELECT rowid, message_id FROM inbox WHERE rowid > ? AND handler = ?",
                (self.last_rowid, HANDLER),
            ).fetchall()
        except sqlite3.OperationalError:
            return  # busy for a moment: the next look finds them
        for rowid, message_id in rows:
            self.last_rowid = max(self.last_rowid, rowid)
            self.seen.setdefault(message_id, now)

    def run(self) -> tuple[int, float]:
        """Produce at the rate for the time, polling all along; then wait until every
        event is seen. Returns (events, seconds the producing took)."""
        import eventlet

        from bench.environment import BenchError

        total = max(1, round(self.args.rate * self.args.seconds))
        interval = 1 / self.args.rate
        poll_every = self.args.poll_ms / 1000

        watching = True

        def watch():
            while watching:
                self.poll()
                eventlet.sleep(poll_every)

        watcher = eventlet.spawn(watch)
        started = time.monotonic()
        try:
            for n in range(total):
                due = started + n * interval
                wait = due - time.monotonic()
                if wait > 0:
                    eventlet.sleep(wait)
                self.produce()
            produced_in = time.monotonic() - started
            deadline = time.monotonic() + DRAIN_TIMEOUT
            while len(self.seen) < len(self.committed):
                if time.monotonic() > deadline:
                    raise BenchError(
                        f"{len(self.committed) - len(self.seen)} of {len(self.committed)} "
                        f"events not handled {DRAIN_TIMEOUT:.0f}s after the last"
                    )
                eventlet.sleep(0.01)
        finally:
            watching = False
            watcher.wait()
        return total, produced_in

    def latencies_ms(self) -> list[float]:
        return [(self.seen[key] - self.committed[key]) * 1000 for key in self.committed]


def report(events: int, seconds: float, latencies: list[float], rate: int, poll_ms: float) -> str:
    from bench.stats import format_table, percentile

    table = format_table(
        [
            (
                f"{events:,}",
                f"{events / seconds:,.0f}",
                f"{percentile(latencies, 50):.1f}",
                f"{percentile(latencies, 99):.1f}",
                f"{max(latencies):.1f}",
            )
        ],
        columns=("events", "events/s", "p50 ms", "p99 ms", "max ms"),
        left_aligned=set(),
    )
    return (
        f"Event latency: producer's commit → the notifications service's committed inbox "
        f"row, {rate}/s asked, SQLite, polled every {poll_ms:g} ms\n\n{table}\n"
    )


def main(argv=None) -> int:
    import warnings

    from bench import goals
    from bench.environment import BenchError
    from bench.stats import percentile

    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    args = parse_args(argv)
    bench = LatencyBench(args)
    try:
        print(
            f"bench: event latency at {args.rate}/s for {args.seconds:g}s, starting ...",
            file=sys.stderr,
        )
        bench.setup()
        events, seconds = bench.run()
        latencies = bench.latencies_ms()
        print(report(events, seconds, latencies, args.rate, args.poll_ms))
        note = "" if events / seconds >= args.rate * 0.95 else "the rate was not kept up"
        goals.record("event_p99", percentile(latencies, 99), note=note)
        return 0
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    finally:
        for problem in bench.close():
            print(f"bench: clean-up: {problem}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
