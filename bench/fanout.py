"""`python -m bench.fanout`: one event told to a group of 10,000 members, against a plain
bulk insert of the same rows.

Sets up a throwaway notifications database (a SQLite file in a temp directory, or a
fresh schema in the PostgreSQL database given with `--database-url`), migrated as
`civic migrate` does, with a group of `--members` members (its read models and follows,
written in bulk). Then, `--rounds` times, in the same run:

  fan-out   `domain.handle_event` of one `event_scheduled` for that group, committed:
            the activity entry, the rules, finding the followers, muted kinds and email
            preferences, the message, one inbox row per member in batched inserts,
            `notification_delivered` in the outbox (publishing it is the relay's job
            and is not timed: no broker is needed)
  baseline  one `INSERT` of the same number of inbox rows, built beforehand, committed

and prints the median of each in rows per second, with their ratio. Everything it
created is removed, whatever happens.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.args import positive_int

DEFAULT_MEMBERS = 10_000
DEFAULT_ROUNDS = 5


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fanout", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--members",
        type=positive_int,
        default=DEFAULT_MEMBERS,
        help=f"members of the group told (default {DEFAULT_MEMBERS})",
    )
    parser.add_argument(
        "--rounds",
        type=positive_int,
        default=DEFAULT_ROUNDS,
        help=f"measurements of each (default {DEFAULT_ROUNDS})",
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL database to use a fresh "
        "schema of (default: a SQLite file in a temp directory)",
    )
    return parser.parse_args(argv)


class FanoutBench:
    def __init__(self, members: int, database_url: str | None):
        self.members = members
        self.var_dir = Path(tempfile.mkdtemp(prefix="civic-fanout-"))
        env = {"CIVIC_VAR_DIR": str(self.var_dir), "CIVIC_LOG_LEVEL": "WARNING"}
        if database_url:
            env["CIVIC_NOTIFICATIONS_DATABASE_URL"] = database_url
            env["CIVIC_SCHEMA_PREFIX"] = f"bench{uuid.uuid4().hex[:8]}_"
        from nameko import config as nameko_config

        from civic import config, log

        self.settings = config.from_env(env)
        nameko_config.update(self.settings)
        log.configure("bench", log_dir=self.settings["CIVIC_LOG_DIR"], fmt="json", level="WARNING")
        self.database = None

    # --- setting up -------------------------------------------------------------------------

    def setup(self) -> None:
        from sqlalchemy import insert

        from civic import migrations
        from civic.db import ServiceDatabase, utcnow
        from services.notifications import email
        from services.notifications.models import (
            Account,
            Follow,
            Group,
            Membership,
            Target,
            metadata,
        )

        migrations.upgrade("notifications")
        self.database = ServiceDatabase("notifications", metadata)
        # Publishing is the outbox relay's work, after the commit: not what is measured.
        self.database.relay.publish_now = lambda rows: 0
        self.mail = email.MailSettings.from_config()
        self.group_id, self.admin_id = str(uuid.uuid4()), str(uuid.uuid4())
        member_ids = [str(uuid.uuid4()) for _ in range(self.members)]
        now = utcnow()
        with self.database.unit_of_work() as uow:
            session = uow.session
            session.execute(
                insert(Group.__table__).values(
                    id=self.group_id, name="Jokkmokks byalag", kind="association"
                )
            )
            session.execute(
                insert(Target.__table__).values(
                    type="group", id=self.group_id, title="Jokkmokks byalag"
                )
            )
            session.execute(
                insert(Account.__table__),
                [{"id": account_id, "locale": "sv"} for account_id in member_ids],
            )
            session.execute(
                insert(Membership.__table__),
                [
                    {"group_id": self.group_id, "account_id": account_id, "role": "member"}
                    for account_id in member_ids
                ],
            )
            session.execute(
                insert(Follow.__table__),
                [
                    {
                        "account_id": account_id,
                        "target_type": "group",
                        "target_id": self.group_id,
                        "source": "auto",
                        "created_at": now,
                    }
                    for account_id in member_ids
                ],
            )
        self.member_ids = member_ids

    def close(self) -> None:
        import shutil

        if self.database is not None:
            if self.database.schema:
                from civic.db import drop_schema

                drop_schema(self.database.url, self.database.schema)
            self.database.dispose()
        shutil.rmtree(self.var_dir, ignore_errors=True)

    # --- measuring --------------------------------------------------------------------------

    def fan_out(self) -> tuple[int, float]:
        """(rows, seconds) of handling one event for the whole group."""
        from services.notifications import domain

        item = scheduled_event(self.group_id, self.admin_id)
        started = time.perf_counter()
        with self.database.unit_of_work() as uow:
            told = domain.handle_event(uow, item, self.mail)
        return told, time.perf_counter() - started

    def bulk_insert(self) -> tuple[int, float]:
        """(rows, seconds) of inserting as many inbox rows in one statement."""
        from sqlalchemy import insert

        from civic.db import new_id, utcnow
        from services.notifications.models import Message, Notification

        event_id, message_id, now = new_id(), new_id(), utcnow()
        with self.database.unit_of_work() as uow:
            uow.session.execute(
                insert(Message.__table__).values(
                    id=message_id,
                    event_id=event_id,
                    event_type="bench",
                    kind="bench",
                    title_sv="",
                    title_en="",
                    body_sv="",
                    body_en="",
                    link="/",
                    target_type="group",
                    target_id=self.group_id,
                    created_at=now,
                )
            )
        rows = [
            {
                "id": new_id(),
                "event_id": event_id,
                "account_id": account_id,
                "message_id": message_id,
                "kind": "bench",
                "created_at": now,
                "read_at": None,
                "digest": "pending",
            }
            for account_id in self.member_ids
        ]
        started = time.perf_counter()
        with self.database.unit_of_work() as uow:
            uow.session.execute(insert(Notification.__table__), rows)
        return len(rows), time.perf_counter() - started


def scheduled_event(group_id: str, admin_id: str):
    from civic.contracts import new_envelope

    return new_envelope(
        "event_scheduled",
        {
            "event_id": str(uuid.uuid4()),
            "title": "Städdag vid älven",
            "organiser_group_id": group_id,
            "starts_at": "2026-05-16T08:00:00+00:00",
            "kind": "clean_up_day",
            "ends_at": "2026-05-16T12:00:00+00:00",
            "location": "Talvatissjön",
            "capacity": None,
            "proposal_id": None,
            "project_id": None,
            "created_by": admin_id,
        },
        producer="events",
        correlation_id=None,
        actor_id=admin_id,
    )


def report(
    members: int, backend: str, fanout: list[tuple[int, float]], baseline: list[tuple[int, float]]
) -> str:
    from bench.stats import format_ratio, format_table, ratio

    def row(name, runs):
        seconds = [elapsed for _, elapsed in runs]
        rows = runs[0][0]
        median = statistics.median(seconds)
        return (
            str(rows),
            name,
            f"{median:.3f}",
            f"{min(seconds):.3f}",
            f"{rows / median:,.0f}",
        ), rows / median

    fanout_row, fanout_rate = row("fan-out (handle_event)", fanout)
    baseline_row, baseline_rate = row("baseline (one bulk INSERT)", baseline)
    share = ratio(fanout_rate, baseline_rate)
    table = format_table(
        [fanout_row, baseline_row, ("", "ratio fan-out/baseline", "", "", format_ratio(share))],
        columns=("rows", "scenario", "median s", "best s", "rows/s"),
    )
    return (
        f"Fan-out of one event to a group of {members:,} members "
        f"({backend}, {len(fanout)} rounds, medians)\n\n{table}\n"
    )


def record_goal(database_url, fanout, baseline) -> None:
    """Goal 5 (bench.goals): the median rows per second of each, per database."""
    from bench import goals

    def rate(runs):
        return statistics.median(rows / elapsed for rows, elapsed in runs)

    key = "fanout_postgresql" if database_url else "fanout_sqlite"
    goals.record(key, rate(fanout), rate(baseline))


def main(argv=None) -> int:
    import warnings

    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    args = parse_args(argv)
    bench = FanoutBench(args.members, args.database_url)
    try:
        bench.setup()
        fanout, baseline = [], []
        for _ in range(args.rounds):  # interleaved: both see the same machine load
            told, elapsed = bench.fan_out()
            if told != args.members:
                print(f"bench: the event told {told} members, not {args.members}", file=sys.stderr)
                return 1
            fanout.append((told, elapsed))
            baseline.append(bench.bulk_insert())
        backend = "PostgreSQL" if args.database_url else "SQLite"
        print(report(args.members, backend, fanout, baseline))
        record_goal(args.database_url, fanout, baseline)
        return 0
    finally:
        bench.close()


if __name__ == "__main__":
    sys.exit(main())
