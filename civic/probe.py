"""Liveness, readiness and schema checks of a domain service, for Kubernetes' exec probes.

A domain service has no HTTP server (only the gateway has one), so it tells how it is
through a file: `HealthFile`, a dependency of every domain service (`ServiceBase`),
asks the service's database `SELECT 1` every few seconds from a green thread of the
container and rewrites `<CIVIC_VAR_DIR>/health/<service>-<host>-<pid>.json` (atomically)
with the time and the outcome. The probe command reads it:

    python -m civic.probe live groups       # 0: the file was rewritten within 30 s
    python -m civic.probe ready groups      # 0: live, and the database answered
    python -m civic.probe migrated groups --wait 300
                                            # 0: the schema is at this image's head

`live` fails when the process's event loop is stuck (a green thread that cannot run
cannot write) or its container is gone. `ready` also fails while the database is away:
no reason to restart the process (its handlers hold their messages and wait,
civic.messaging's DatabaseGate), so `live` does not look at the database. `migrated`
is for an init container: the services start only once the migration Job has brought
their schema to the revision their code expects.

Exit codes: 0 yes, 1 no, 2 bad use. One line on standard output says why (Kubernetes
keeps it in the pod's events when a probe fails).

The kubelet runs `live` and `ready` as processes of their own every few seconds, so
they import nothing but the standard library: importing nameko (eventlet) would cost
each run 0.3 s of CPU and 30 MB. That is why `HealthFile`, a nameko DependencyProvider,
is built on first use (the module's `__getattr__`, PEP 562) and not at import.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import socket
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

# civic.config's default CIVIC_VAR_DIR; civic.config is not imported (it imports eventlet).
DEFAULT_VAR_DIR = Path(__file__).resolve().parent.parent / "var"
CHECK_INTERVAL = 5.0  # seconds between two checks (and rewrites of the file)
DATABASE_TIMEOUT = 5.0  # longest wait for the database's `SELECT 1`
# A file older than this: the process has stopped writing. Well above the longest
# regular gap between two writes (CHECK_INTERVAL + DATABASE_TIMEOUT).
MAX_AGE = 30.0
MIGRATED_POLL = 2.0  # seconds between two looks at the schema while waiting for it

EXIT_YES, EXIT_NO, EXIT_USAGE = 0, 1, 2
DATABASE_OK = "ok"
NO_DATABASE = "none"  # a service without a database: ready when live
_SERVICE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


# --- the file -----------------------------------------------------------------------------


def health_dir(var_dir: str | os.PathLike) -> Path:
    return Path(var_dir) / "health"


def health_file(var_dir: str | os.PathLike, service: str, host: str, pid: int) -> Path:
    return health_dir(var_dir) / f"{service}-{host}-{pid}.json"


def write_atomically(path: Path, record: dict) -> None:
    """Write `record` as JSON so that a reader sees the old file or the new one, never
    half of one: a temporary file beside it, then os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(record), encoding="utf-8")
    os.replace(temporary, path)


def latest_record(
    var_dir: str | os.PathLike, service: str, host: str, pid: int | None = None
) -> dict | None:
    """The most recently written record of `service` on `host` (of process `pid` if
    given), None if there is none.

    In a container one process runs at a time; a file left by an earlier one (it
    crashed, the container restarted) is older than the running one's once that has
    written, so the newest tells about the running process."""
    found = None
    pattern = f"{service}-{host}-{pid if pid is not None else '*'}.json"
    for path in health_dir(var_dir).glob(pattern):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # removed meanwhile by a stopping process
            continue
        if not isinstance(record, dict) or (record.get("service"), record.get("host")) != (
            service,
            host,
        ):
            continue
        if not isinstance(record.get("checked_at"), (int, float)):
            continue
        if found is None or record["checked_at"] > found["checked_at"]:
            found = record
    return found


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process: it exists
        return True
    return True


def remove_files_of_dead_processes(var_dir: str | os.PathLike, service: str, host: str) -> None:
    """A process that crashed left its file; this host's others (several instances of
    a service on one machine) keep theirs."""
    for path in health_dir(var_dir).glob(f"{service}-{host}-*.json"):
        pid = path.stem.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            path.unlink(missing_ok=True)


# --- the verdicts -------------------------------------------------------------------------


def live_verdict(record: dict | None, now: float, max_age: float = MAX_AGE) -> tuple[bool, str]:
    """Is the process that wrote `record` still running its event loop?"""
    if record is None:
        return False, "no health file: the service has not started (or has stopped)"
    age = now - record["checked_at"]
    who = f"{record['service']} (pid {record.get('pid')} on {record.get('host')})"
    if age > max_age:
        return False, f"{who} last wrote {age:.1f} s ago (more than {max_age:g} s): stuck"
    return True, f"{who} wrote {max(age, 0.0):.1f} s ago"


def ready_verdict(record: dict | None, now: float, max_age: float = MAX_AGE) -> tuple[bool, str]:
    """Live, and its database answered at the last check."""
    live, reason = live_verdict(record, now, max_age)
    if not live:
        return False, reason
    database = record.get("database")
    if database not in (DATABASE_OK, NO_DATABASE):
        return False, f"{reason}; its database did not answer ({database})"
    return True, f"{reason}; database {database}"


# --- the dependency -----------------------------------------------------------------------


def __getattr__(name: str):
    if name == "HealthFile":
        return _health_file_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def _health_file_class():
    import eventlet
    from nameko.extensions import DependencyProvider

    from civic import config
    from civic.log import get_logger

    log = get_logger("civic.probe")

    class HealthFile(DependencyProvider):
        """Every `interval` seconds, from a green thread of the container: the service's
        database asked `SELECT 1` (at most DATABASE_TIMEOUT seconds), then the outcome
        and the time written to this process's health file (see the module's doc).

        A graceful stop removes the file; a killed container leaves it to age, so the
        liveness probe fails. The dependency a worker gets is None."""

        def __init__(
            self, interval: float = CHECK_INTERVAL, clock: Callable[[], float] = time.time
        ):
            self.interval = interval
            self.clock = clock

        def setup(self):
            self.service = self.container.service_name
            self.host = socket.gethostname()
            self.var_dir = config.get("CIVIC_VAR_DIR") or DEFAULT_VAR_DIR
            self.path = health_file(self.var_dir, self.service, self.host, os.getpid())
            self._stopped = False
            self._thread = None

        def start(self):
            try:
                remove_files_of_dead_processes(self.var_dir, self.service, self.host)
            except OSError as exc:  # tidying only
                log.warning("health_file_cleanup_failed", error=f"{type(exc).__name__}: {exc}")
            self._thread = self.container.spawn_managed_thread(
                self._check_forever, identifier="civic.probe"
            )

        def stop(self):
            self._end_thread()
            self.path.unlink(missing_ok=True)

        def kill(self):
            self._end_thread()

        def _end_thread(self):
            self._stopped = True
            if self._thread is not None:
                self._thread.kill()

        def _check_forever(self):
            while not self._stopped:
                record = self.check()
                try:
                    write_atomically(self.path, record)
                except OSError as exc:
                    # Not raised: that would kill the container. The file ages instead,
                    # and the liveness probe says so.
                    log.warning("health_file_not_written", error=f"{type(exc).__name__}: {exc}")
                eventlet.sleep(self.interval)

        def check(self) -> dict:
            """The record this process writes now."""
            from civic.messaging import service_database

            database = service_database(self.container)
            started = time.monotonic()
            outcome = NO_DATABASE if database is None else self._ask(database.engine)
            checked_at = self.clock()
            return {
                "service": self.service,
                "host": self.host,
                "pid": os.getpid(),
                "checked_at": checked_at,
                "checked_at_iso": datetime.fromtimestamp(checked_at, UTC).isoformat(),
                "database": outcome,
                "database_ms": round((time.monotonic() - started) * 1000, 1),
            }

        @staticmethod
        def _ask(engine) -> str:
            from sqlalchemy import text

            outcome = f"error: no answer within {DATABASE_TIMEOUT:g} s"
            with eventlet.Timeout(DATABASE_TIMEOUT, False):
                try:
                    with engine.connect() as connection:
                        connection.execute(text("SELECT 1"))
                    outcome = DATABASE_OK
                except Exception as exc:  # noqa: BLE001 - any failure is "not ready"
                    outcome = f"error: {type(exc).__name__}"
            return outcome

        def get_dependency(self, worker_ctx):
            return None

    return HealthFile


# --- migrated? ----------------------------------------------------------------------------


def _schema_verdict(script, current: tuple[str, ...]) -> tuple[bool, str]:
    """Is a database at revisions `current` ready for the code whose alembic scripts
    are `script`?"""
    heads = set(script.get_heads())
    if set(current) == heads:
        return True, f"at this image's head ({', '.join(sorted(heads))})"
    if not current:
        return False, "not migrated yet (the civic-migrate Job has not run)"
    for revision in current:
        try:
            known = script.get_revision(revision) is not None
        except Exception:  # noqa: BLE001 - alembic: a revision these scripts do not have
            known = False
        if not known:
            # Migrated by a newer release: the code of an older image runs on it only
            # because migrations stay backward compatible (a rollback). Not blocked.
            return True, f"at {revision}, newer than this image (a rollback?)"
    return False, (
        f"at {', '.join(current)}, this image needs {', '.join(sorted(heads))} "
        "(the civic-migrate Job of this release has not finished)"
    )


def migrated(
    service: str, wait: float, env: Mapping[str, str], say: Callable[[str], None] | None = None
) -> tuple[bool, str]:
    """Wait up to `wait` seconds for the service's schema to be at this image's head;
    `say` tells why it waits, each time the reason changes (the init container's log)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from nameko import config as nameko_config
    from sqlalchemy.exc import SQLAlchemyError

    from civic import config, migrations
    from civic.db import database_url, make_engine, schema_name

    settings = config.from_env(env)
    with nameko_config.patch(settings, clear=False):
        url = database_url(service)
        script = ScriptDirectory.from_config(migrations.alembic_config(service, url))
        engine = make_engine(url, None if url.startswith("sqlite") else schema_name(service))
    deadline = time.monotonic() + wait
    said = None
    try:
        while True:
            try:
                with engine.connect() as connection:
                    context = MigrationContext.configure(
                        connection, opts={"version_table": migrations.VERSION_TABLE}
                    )
                    current = tuple(context.get_current_heads())
                ok, reason = _schema_verdict(script, current)
            except SQLAlchemyError as exc:
                ok, reason = False, f"the database does not answer ({type(exc).__name__})"
            if ok or time.monotonic() >= deadline:
                return ok, f"{service}: {reason}"
            if reason != said:
                (say or _say_now)(f"waiting: {service}: {reason}")
                said = reason
            time.sleep(MIGRATED_POLL)
    finally:
        engine.dispose()


def _say_now(line: str) -> None:
    print(line, flush=True)  # now, not when the buffer of a pipe fills


# --- the command --------------------------------------------------------------------------


def _service_name(value: str) -> str:
    if not _SERVICE_NAME.match(value):
        raise argparse.ArgumentTypeError(f"not a service name: {value!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m civic.probe",
        description="Kubernetes probes of a domain service: exit 0 yes, 1 no.",
    )
    checks = parser.add_subparsers(dest="check", required=True)
    for name, summary in (
        ("live", "its health file was rewritten lately (the event loop runs)"),
        ("ready", "live, and its database answered"),
    ):
        check = checks.add_parser(name, help=summary)
        check.add_argument("service", type=_service_name)
        check.add_argument(
            "--max-age", type=float, default=MAX_AGE, help=f"seconds (default {MAX_AGE:g})"
        )
        check.add_argument("--pid", type=int, help="this process's file (several on one host)")
    check = checks.add_parser("migrated", help="its schema is at this image's head")
    check.add_argument("service", type=_service_name)
    check.add_argument("--wait", type=float, default=0.0, help="seconds to wait for it")
    return parser


def main(
    argv: list[str] | None = None,
    now: Callable[[], float] = time.time,
    env: Mapping[str, str] | None = None,
) -> int:
    args = _parser().parse_args(argv)
    env = os.environ if env is None else env
    if args.check == "migrated":
        from civic.config import ConfigError

        try:
            ok, reason = migrated(args.service, args.wait, env)
        except ConfigError as exc:
            print(f"{args.service}: configuration error: {exc}")
            return EXIT_USAGE
    else:
        var_dir = env.get("CIVIC_VAR_DIR", DEFAULT_VAR_DIR)
        record = latest_record(var_dir, args.service, socket.gethostname(), args.pid)
        verdict = live_verdict if args.check == "live" else ready_verdict
        ok, reason = verdict(record, now(), args.max_age)
    print(("" if ok else "not ") + f"{args.check}: {reason}")
    return EXIT_YES if ok else EXIT_NO


if __name__ == "__main__":
    sys.exit(main())
