"""The `civic` command line: migrate, run, stop, watch and seed the platform.

    civic migrate                      alembic upgrade of every service + queue topology
    civic up [--no-seed] [--services a,b] [--wait SECONDS]
    civic down [--services a,b]
    civic status [--services a,b]
    civic seed                         the Jokkmokk demo data (idempotent)
    civic staff create --email E --display-name N [--password P]
    civic logs [--service S] [--level L] [--trace ID] [--since 10m|ISO] [--follow] [--json]
    civic dead-letters list [--limit N] [--json] | civic dead-letters replay ID
    civic asyncapi [--output FILE]

Configuration comes from the environment (see civic.config / deploy/civic.env.example).
Exit codes: 0 done, 1 failed, 2 bad input or configuration.

Only the commands that talk to services over nameko RPC (up, status, seed) make the
process cooperative with eventlet, and only when they run: `civic logs` and the others
stay plain, quick-starting Python.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import re
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from civic import config

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
START_DEADLINE = 60.0
STOP_DEADLINE = 15.0
HEALTH_TIMEOUT = 2.0


class CommandError(Exception):
    """A command cannot go on: printed as `civic: error: …`, exits with `code`."""

    def __init__(self, message: str, code: int = EXIT_FAILED):
        super().__init__(message)
        self.code = code


def say(message: str = "") -> None:
    print(message, flush=True)


def warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- settings -------------------------------------------------------------------------

def load_settings(env=None) -> dict:
    """The validated config, also installed as nameko's config (the kernel reads it)."""
    settings = config.from_env(env)
    from nameko import config as nameko_config
    nameko_config.update(settings)
    return settings


def setup_logging(settings: dict, console_level: str = "WARNING") -> None:
    """What the CLI itself logs goes to `<log dir>/cli.log`; warnings also to stderr."""
    import logging

    from civic import log
    log.configure("cli", log_dir=settings["CIVIC_LOG_DIR"], fmt="console",
                  level=settings["CIVIC_LOG_LEVEL"], stream=sys.stderr)
    logging.getLogger().handlers[0].setLevel(console_level)
    # py-amqp warns about confirms that arrive while a channel closes: routine for the
    # short-lived RPC clients of `up`/`status`, and nothing an operator can act on.
    logging.getLogger("amqp").setLevel(logging.ERROR)


def parse_services(value: str | None, allowed=config.SERVICES) -> list[str]:
    """`a,b` → ["a", "b"] in start order; every name must be a known service."""
    if not value:
        return list(allowed)
    names = [part.strip() for part in value.split(",") if part.strip()]
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        raise CommandError(f"unknown service(s): {', '.join(unknown) or value!r} "
                           f"(known: {', '.join(allowed)})", EXIT_USAGE)
    return [name for name in allowed if name in names]


def redact_url(url: str) -> str:
    """A URL fit to print: the password is replaced."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def broker_errors() -> tuple:
    from amqp.exceptions import AMQPError
    from kombu.exceptions import OperationalError
    return (OperationalError, AMQPError, OSError)


# --- migrate ------------------------------------------------------------------------

def migrate(settings: dict) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from civic import migrations, topology
    for service in config.DOMAIN_SERVICES:
        url = settings["CIVIC_DATABASES"][service]
        say(f"migrating {service:<14} {redact_url(url)}")
        try:
            migrations.upgrade(service)
        except SQLAlchemyError as exc:
            raise CommandError(f"cannot migrate the {service} database "
                               f"({redact_url(url)}): {_first_line(exc)}") from None
    say(f"declaring queues on {redact_url(settings['AMQP_URI'])}")
    try:
        queues = topology.declare(settings["AMQP_URI"])
    except broker_errors() as exc:
        raise CommandError(f"cannot reach RabbitMQ at {redact_url(settings['AMQP_URI'])}: "
                           f"{_first_line(exc)}") from None
    say(f"declared {len(queues)} queues")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def cmd_migrate(args) -> int:
    settings = load_settings()
    setup_logging(settings)
    migrate(settings)
    say("migrations done")
    return EXIT_OK


# --- processes ----------------------------------------------------------------------

def run_dir(settings: dict) -> Path:
    return Path(settings["CIVIC_VAR_DIR"]) / "run"


def out_dir(settings: dict) -> Path:
    return Path(settings["CIVIC_VAR_DIR"]) / "log"


def pid_file(settings: dict, service: str) -> Path:
    return run_dir(settings) / f"{service}.pid"


def out_file(settings: dict, service: str) -> Path:
    return out_dir(settings) / f"{service}.out"


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def write_pid(path: Path, pid: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".pid.tmp")
    temporary.write_text(f"{pid}\n")
    temporary.replace(path)


def is_civic_process(pid: int, service: str | None = None) -> bool:
    """Alive, not a zombie, and (where /proc tells) really `civic.runner <service>`.

    The check on the command line keeps a recycled pid from being taken for (and
    killed as) one of ours.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    proc = Path("/proc") / str(pid)
    if not proc.exists():
        return True  # no /proc (not Linux): trust the signal check
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        argv = (proc / "cmdline").read_bytes().split(b"\0")
    except (OSError, IndexError):
        return False
    if state in ("Z", "X"):
        return False
    words = [part.decode(errors="replace") for part in argv]
    if "civic.runner" not in words:
        return False
    return service is None or service in words


def running_pid(settings: dict, service: str) -> int | None:
    pid = read_pid(pid_file(settings, service))
    return pid if pid and is_civic_process(pid, service) else None


def tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no output)"
    return "\n".join(text.splitlines()[-lines:]) or "(no output)"


def start_service(settings: dict, service: str):
    import subprocess
    out = out_file(settings, service)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "ab") as stream:
        stream.write(f"--- civic up {datetime.now(timezone.utc).isoformat()} ---\n".encode())
        stream.flush()
        process = subprocess.Popen(
            [sys.executable, "-m", "civic.runner", service],
            stdin=subprocess.DEVNULL, stdout=stream, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True)
    write_pid(pid_file(settings, service), process.pid)
    return process


def stop_pids(settings: dict, services: list[str], deadline: float = STOP_DEADLINE) -> None:
    """SIGTERM, wait up to `deadline` seconds, then SIGKILL; pid files removed."""
    stopping: dict[str, int] = {}
    for service in services:
        path = pid_file(settings, service)
        pid = read_pid(path)
        if pid is None:
            if path.exists():
                path.unlink(missing_ok=True)
            continue
        if not is_civic_process(pid, service):
            say(f"{service:<14} not running (stale pid file removed)")
            path.unlink(missing_ok=True)
            continue
        say(f"{service:<14} stopping (pid {pid})")
        _signal(pid, signal.SIGTERM)
        stopping[service] = pid
    until = time.monotonic() + deadline
    while stopping and time.monotonic() < until:
        for service, pid in list(stopping.items()):
            if not is_civic_process(pid, service):
                say(f"{service:<14} stopped")
                pid_file(settings, service).unlink(missing_ok=True)
                del stopping[service]
        if stopping:
            time.sleep(0.1)
    for service, pid in stopping.items():
        say(f"{service:<14} did not stop in {deadline:.0f}s: killed (pid {pid})")
        _signal(pid, signal.SIGKILL)
        pid_file(settings, service).unlink(missing_ok=True)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


# --- health -------------------------------------------------------------------------

def web_base_url(settings: dict) -> str:
    host, _, port = settings["WEB_SERVER_ADDRESS"].rpartition(":")
    if host in ("", "0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    return f"http://{host}:{port}"


def gateway_health(settings: dict, timeout: float = HEALTH_TIMEOUT) -> dict | None:
    """The gateway's /healthz answer, or None if it does not answer 200."""
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(f"{web_base_url(settings)}/healthz",
                                    timeout=timeout) as response:
            if response.status != 200:
                return None
            body = response.read()
    except (urllib.error.URLError, OSError, ValueError):
        return None
    try:
        answer = json.loads(body)
    except ValueError:
        answer = {}
    return answer if isinstance(answer, dict) else {}


class HealthChecker:
    """Asks domain services for `health` over RPC with a short timeout."""

    def __init__(self, settings: dict, timeout: float = HEALTH_TIMEOUT):
        from civic import green
        green.patch()
        self.settings = settings
        self.timeout = timeout
        self._client = None
        self._proxy = None
        self._connection = None

    def check(self, service: str) -> dict | None:
        if service == "gateway":
            return gateway_health(self.settings, self.timeout)
        from nameko.exceptions import RpcTimeout, UnknownService
        try:
            if not self.listening(service):
                return None
            proxy = self._connect()
            return proxy[service].health()
        except UnknownService:  # its RPC queue is not there yet
            return None
        except RpcTimeout:
            self.close()  # start afresh: a late reply must not confuse the next call
            return None
        except broker_errors() as exc:
            self.close()
            raise CommandError(f"cannot reach RabbitMQ at "
                               f"{redact_url(self.settings['AMQP_URI'])}: "
                               f"{_first_line(exc)}") from None

    def listening(self, service: str) -> bool:
        """Whether any instance consumes the service's RPC queue (asks the broker only).

        The queue outlives a stopped service: a call sent to it would wait out the whole
        timeout, and pile up for the service's next start.
        """
        from amqp.exceptions import NotFound
        from kombu import Connection
        if self._connection is None:
            self._connection = Connection(self.settings["AMQP_URI"], connect_timeout=5)
        channel = self._connection.channel()
        try:
            declared = channel.queue_declare(queue=f"rpc-{service}", passive=True)
            return declared.consumer_count > 0
        except NotFound:
            return False
        finally:
            try:
                channel.close()
            except Exception:  # already closed by the broker (NotFound)
                pass

    def _connect(self):
        if self._proxy is None:
            from nameko.standalone.rpc import ClusterRpcClient
            self._client = ClusterRpcClient(timeout=self.timeout,
                                            uri=self.settings["AMQP_URI"])
            self._proxy = self._client.start()
        return self._proxy

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.stop()
            except Exception:  # closing a broken connection: nothing left to do
                pass
        if self._connection is not None:
            self._connection.release()
        self._client = self._proxy = self._connection = None


# --- up / down / status ---------------------------------------------------------------

def cmd_up(args) -> int:
    services = parse_services(args.services)
    settings = load_settings()
    setup_logging(settings)
    checker = HealthChecker(settings)  # patches eventlet before nameko's clients load
    migrate(settings)

    started = {}
    for service in services:
        pid = running_pid(settings, service)
        if pid:
            say(f"{service:<14} already running (pid {pid})")
            continue
        process = start_service(settings, service)
        started[service] = process
        say(f"{service:<14} starting (pid {process.pid}, output in "
            f"{out_file(settings, service)})")
    try:
        wait_until_healthy(settings, services, started, checker, args.wait)
    except CommandError as exc:
        checker.close()
        warn(f"civic: error: {exc}")
        if started:
            say("stopping the services this run started")
            stop_pids(settings, list(started))
        return exc.code
    checker.close()
    if not args.no_seed:
        say("loading the Jokkmokk demo data")
        try:
            seed(settings)
        except CommandError as exc:
            warn(f"civic: error: {exc}")
            warn("the services are running: `civic seed` tries again, `civic down` stops them")
            return exc.code
    say(f"Civic is running: {web_base_url(settings)}")
    return EXIT_OK


def wait_until_healthy(settings, services, started, checker, deadline_s) -> None:
    began = time.monotonic()
    deadline = began + deadline_s
    waiting = list(services)
    next_note = began + 10
    while waiting:
        for service in list(waiting):
            process = started.get(service)
            if process is not None and process.poll() is not None:
                raise CommandError(
                    f"{service} exited during start-up (exit code {process.returncode}); "
                    f"last lines of {out_file(settings, service)}:\n"
                    f"{tail(out_file(settings, service))}")
            answer = checker.check(service)
            if answer is not None:
                waiting.remove(service)
                say(f"{service:<14} ready ({time.monotonic() - began:.1f}s)")
        if not waiting:
            return
        now = time.monotonic()
        if now > deadline:
            raise CommandError(f"not ready after {deadline_s:.0f}s: {', '.join(waiting)}; "
                               f"see {out_dir(settings)}/<service>.out and `civic logs`")
        if now > next_note:
            say(f"still waiting for {', '.join(waiting)} ({now - began:.0f}s)")
            next_note = now + 10
        time.sleep(0.3)


def cmd_down(args) -> int:
    services = parse_services(args.services)
    settings = load_settings()
    present = [s for s in services if pid_file(settings, s).exists()]
    if not present:
        say("nothing to stop: no service was started by `civic up`")
        return EXIT_OK
    # Gateway first, so no new request comes in while the domain services stop.
    stop_pids(settings, list(reversed(present)))
    return EXIT_OK


def cmd_status(args) -> int:
    services = parse_services(args.services)
    settings = load_settings()
    checker = HealthChecker(settings, timeout=args.timeout)
    all_well = True
    try:
        for service in services:
            pid = running_pid(settings, service)
            process = f"running (pid {pid})" if pid else "not running"
            answer = checker.check(service)
            if answer is None:
                health = "no answer"
                all_well = False
            elif service == "gateway":
                health = f"healthz {answer.get('status', 'ok')}"
            else:
                health = (f"{answer.get('status', '?')}  version {answer.get('version', '?')}"
                          f"  outbox_unsent {answer.get('outbox_unsent')}")
                if answer.get("status") != "ok":
                    all_well = False
                    health += f"  database {answer.get('database')}"
            say(f"{service:<14} {process:<22} {health}")
    finally:
        checker.close()
    return EXIT_OK if all_well else EXIT_FAILED


# --- staff and seed -----------------------------------------------------------------

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def validate_staff_input(email: str, password: str, display_name: str) -> list[str]:
    """What is wrong with the input (empty when it is fine); never echoes the password."""
    problems = []
    if not EMAIL_PATTERN.match(email or "") or len(email) > 254:
        problems.append("--email must be an email address")
    if len(password or "") < 10:
        problems.append("the password must be at least 10 characters long")
    elif len(password) > 200:
        problems.append("the password must be at most 200 characters long")
    if not (display_name or "").strip() or len(display_name.strip()) > 100:
        problems.append("--display-name must be 1 to 100 characters")
    return problems


def create_staff(email: str, password: str, display_name: str,
                 correlation_id: str | None = None) -> tuple[dict, bool]:
    """Create or promote a staff account straight in the groups database."""
    from sqlalchemy.exc import SQLAlchemyError

    from civic.db import ServiceDatabase
    from civic.errors import CivicError
    from services.groups import domain
    from services.groups.models import metadata
    database = ServiceDatabase("groups", metadata)
    try:
        context = {"correlation_id": correlation_id or str(uuid.uuid4())}
        with database.unit_of_work(context) as uow:
            return domain.create_or_promote_staff(uow, email, password, display_name)
    except CivicError as exc:
        detail = "; ".join(f"{k}: {v}" for k, v in (exc.fields or {}).items()
                           if k != "password")
        raise CommandError(f"{exc.message}{' (' + detail + ')' if detail else ''}",
                           EXIT_USAGE) from None
    except SQLAlchemyError as exc:
        raise CommandError(f"cannot write to the groups database "
                           f"({redact_url(database.url)}): {_first_line(exc)}; "
                           "has `civic migrate` run?") from None
    finally:
        database.dispose()


def confirm_emails(account_ids: list[str], correlation_id: str | None = None) -> int:
    """Confirm accounts' email addresses straight in the groups database (the demo)."""
    from civic.db import ServiceDatabase
    from services.groups import domain
    from services.groups.models import metadata
    database = ServiceDatabase("groups", metadata)
    try:
        context = {"correlation_id": correlation_id or str(uuid.uuid4())}
        with database.unit_of_work(context) as uow:
            return domain.confirm_emails_directly(uow, account_ids)
    finally:
        database.dispose()


def cmd_staff_create(args) -> int:
    password = args.password
    if password is None:
        password = os.environ.get("CIVIC_STAFF_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            password = sys.stdin.readline().rstrip("\n")
        else:
            import getpass
            password = getpass.getpass("Password for the staff account: ")
    problems = validate_staff_input(args.email, password, args.display_name)
    if problems:
        raise CommandError("; ".join(problems), EXIT_USAGE)
    settings = load_settings()
    setup_logging(settings)
    account, created = create_staff(args.email.strip(), password, args.display_name.strip())
    if created:
        say(f"created staff account {account.get('email', args.email)} (id {account['id']})")
    else:
        say(f"{account.get('email', args.email)} is staff now (an existing account: its "
            f"password and name are unchanged; id {account['id']})")
    return EXIT_OK


def seed(settings: dict) -> bool:
    """Load the demo through the running groups service; False if it was already there."""
    from civic import demo, green
    green.patch()
    from nameko.exceptions import RpcTimeout, UnknownService
    from nameko.standalone.rpc import ClusterRpcClient

    from civic.errors import CivicError
    try:
        password = demo.demo_password()
    except ValueError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    correlation_id = str(uuid.uuid4())
    timeout = max(settings["CIVIC_RPC_TIMEOUT"], 10.0)
    client = ClusterRpcClient(context_data={"correlation_id": correlation_id},
                              timeout=timeout, uri=settings["AMQP_URI"])
    try:
        proxy = client.start()
        loader = demo.DemoLoader(
            proxy["groups"], functools.partial(create_staff, correlation_id=correlation_id),
            password, say=say,
            confirm_emails=functools.partial(confirm_emails, correlation_id=correlation_id))
        loaded = loader.load()
    except UnknownService:
        raise CommandError("the groups service is not running: start it with `civic up`")
    except RpcTimeout:
        raise CommandError(f"the groups service did not answer within {timeout:.0f}s: "
                           "is it running? (`civic status`, `civic up`)")
    except (CivicError, RuntimeError) as exc:
        raise CommandError(f"loading the demo data failed: {exc}") from None
    except broker_errors() as exc:
        raise CommandError(f"cannot reach RabbitMQ at {redact_url(settings['AMQP_URI'])}: "
                           f"{_first_line(exc)}") from None
    finally:
        try:
            client.stop()
        except Exception:  # the connection may already be gone
            pass
    if loaded:
        say(f"demo data loaded ({loader.created} changes; `civic logs --trace "
            f"{correlation_id}` shows the story)")
    else:
        say("demo data already loaded: nothing to do")
    return loaded


def cmd_seed(args) -> int:
    settings = load_settings()
    setup_logging(settings)
    seed(settings)
    return EXIT_OK


# --- logs ---------------------------------------------------------------------------

LEVELS = {"debug": 10, "info": 20, "warning": 30, "warn": 30, "error": 40,
          "exception": 40, "critical": 50, "fatal": 50}
HEAD_KEYS = ("ts", "level", "service", "entrypoint", "event")
SINCE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_line(line: str) -> dict | None:
    """One JSON log line as a dict, or None if it is not one."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def parse_ts(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def parse_since(value: str, now: datetime | None = None, tz: str = "UTC") -> datetime:
    """`10m`, `2h`, `30s`, `1d`, `1w` ago, or an ISO 8601 time (no offset: in `tz`)."""
    now = now or datetime.now(timezone.utc)
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", value or "")
    if match:
        return now - timedelta(seconds=int(match.group(1)) * SINCE_UNITS[match.group(2)])
    try:
        moment = datetime.fromisoformat((value or "").strip())
    except ValueError:
        raise ValueError(f"--since takes a duration like 10m, 2h, 1d or an ISO 8601 time, "
                         f"got {value!r}") from None
    if moment.tzinfo is None:
        from zoneinfo import ZoneInfo
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment.astimezone(timezone.utc)


def level_number(level) -> int:
    return LEVELS.get(str(level or "info").lower(), 20)


@dataclass(frozen=True)
class LogFilter:
    services: frozenset[str] = frozenset()
    min_level: int = 0
    trace: str | None = None
    since: datetime | None = None

    def matches(self, record: dict) -> bool:
        if self.services and record.get("service") not in self.services:
            return False
        if self.min_level and level_number(record.get("level")) < self.min_level:
            return False
        if self.trace and record.get("correlation_id") != self.trace:
            return False
        if self.since:
            moment = parse_ts(record.get("ts"))
            if moment is None or moment < self.since:
                return False
        return True


def make_filter(service=None, level=None, trace=None, since=None, tz="UTC",
                now=None) -> LogFilter:
    """A LogFilter from command-line values; ValueError with a clear message if bad."""
    min_level = 0
    if level:
        if level.lower() not in LEVELS:
            raise ValueError(f"--level must be one of debug, info, warning, error, critical; "
                             f"got {level!r}")
        min_level = LEVELS[level.lower()]
    services = frozenset(part.strip() for part in (service or "").split(",") if part.strip())
    return LogFilter(services=services, min_level=min_level, trace=trace or None,
                     since=parse_since(since, now=now, tz=tz) if since else None)


@dataclass
class LogEntry:
    """A parsed line with what orders it: time, then file, then place in the file."""
    moment: datetime
    source: int
    position: int
    record: dict

    def key(self):
        return (self.moment, self.source, self.position)


EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class LogReader:
    """Reads the JSON lines of every `*.log` in a directory, remembering where it stopped.

    Each `poll()` returns the complete lines written since the previous one (a line still
    being written waits for its newline), from every file, including files that appeared
    meanwhile; a file that shrank (rotated, truncated) is read again from its start.
    """

    def __init__(self, log_dir: Path):
        self.log_dir = Path(log_dir)
        self.offsets: dict[Path, int] = {}
        self.order: dict[Path, int] = {}
        self.positions: dict[Path, int] = {}
        self.last_moment: dict[Path, datetime] = {}

    def files(self) -> list[Path]:
        if not self.log_dir.is_dir():
            return []
        return sorted(self.log_dir.glob("*.log"))

    def poll(self) -> list[LogEntry]:
        entries = []
        for path in self.files():
            source = self.order.setdefault(path, len(self.order))
            try:
                size = path.stat().st_size
            except OSError:
                continue
            offset = self.offsets.get(path, 0)
            if size < offset:
                offset = 0
            if size == offset:
                continue
            try:
                with open(path, "rb") as stream:
                    stream.seek(offset)
                    chunk = stream.read(size - offset)
            except OSError:
                continue
            complete = chunk.rfind(b"\n") + 1
            self.offsets[path] = offset + complete
            for raw in chunk[:complete].splitlines():
                entry = self._entry(path, source, raw.decode("utf-8", errors="replace"))
                if entry is not None:
                    entries.append(entry)
        return entries

    def _entry(self, path: Path, source: int, line: str) -> LogEntry | None:
        record = parse_line(line)
        if record is None:
            return None
        position = self.positions.get(path, 0)
        self.positions[path] = position + 1
        # A line without a readable time stays next to the line before it.
        moment = parse_ts(record.get("ts")) or self.last_moment.get(path, EPOCH)
        self.last_moment[path] = moment
        return LogEntry(moment, source, position, record)


def merge_entries(entries) -> list[LogEntry]:
    """All entries in time order (stable: same time keeps file and line order)."""
    return sorted(entries, key=LogEntry.key)


def _format_value(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        if value and not re.search(r'[\s="]', value):
            return value
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def format_record(record: dict) -> str:
    """`ts level service entrypoint event key=value …` (a traceback on following lines)."""
    ts = str(record.get("ts", "-"))
    level = str(record.get("level", "-")).upper()
    head = (f"{ts} {level:<7} {str(record.get('service', '-')):<13} "
            f"{record.get('entrypoint') or '-'} {record.get('event', '-')}")
    extras = [f"{key}={_format_value(value)}" for key, value in record.items()
              if key not in HEAD_KEYS and key != "exception"
              and not (key in ("actor_id", "correlation_id") and value is None)]
    line = " ".join([head] + extras)
    if record.get("exception"):
        trace = str(record["exception"]).rstrip("\n")
        line += "\n" + "\n".join("    " + part for part in trace.splitlines())
    return line


def render(entry: LogEntry, as_json: bool) -> str:
    if as_json:
        return json.dumps(entry.record, ensure_ascii=False, default=str)
    return format_record(entry.record)


def cmd_logs(args) -> int:
    settings = config.from_env()
    try:
        wanted = make_filter(service=args.service, level=args.level, trace=args.trace,
                             since=args.since, tz=settings["CIVIC_TIMEZONE"])
    except ValueError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    reader = LogReader(Path(settings["CIVIC_LOG_DIR"]))
    if not reader.files() and not args.follow:
        warn(f"no log files in {reader.log_dir}")
        return EXIT_OK
    out = sys.stdout
    try:
        for entry in merge_entries(e for e in reader.poll() if wanted.matches(e.record)):
            out.write(render(entry, args.json) + "\n")
        out.flush()
        while args.follow:
            time.sleep(args.interval)
            fresh = [e for e in reader.poll() if wanted.matches(e.record)]
            for entry in merge_entries(fresh):
                out.write(render(entry, args.json) + "\n")
            if fresh:
                out.flush()
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:  # `civic logs | head`
        _quiet_broken_pipe()
    return EXIT_OK


def _quiet_broken_pipe() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


# --- dead letters -------------------------------------------------------------------

def cmd_dead_letters_list(args) -> int:
    if args.limit <= 0:
        raise CommandError("--limit must be a positive number", EXIT_USAGE)
    settings = load_settings()
    setup_logging(settings, console_level="ERROR")  # failures are reported below
    from civic import deadletters
    from civic.errors import CivicError
    try:
        letters = list(deadletters.list_dead_letters(settings["AMQP_URI"], args.limit))
    except CivicError as exc:
        raise CommandError(f"{exc.message} ({redact_url(settings['AMQP_URI'])})") from None
    if args.json:
        say(json.dumps(letters, ensure_ascii=False, indent=2, default=str))
        return EXIT_OK
    if not letters:
        say("no dead letters")
        return EXIT_OK
    for letter in letters:
        say(format_dead_letter(letter))
    say(f"{len(letters)} dead letter(s) shown; replay one with "
        "`civic dead-letters replay ID`")
    return EXIT_OK


def format_dead_letter(letter: dict) -> str:
    """One line per dead letter: the envelope body stays out (it may be personal data)."""
    first = ["id", "type", "queue", "service", "handler", "attempts", "failed_at",
             "correlation_id", "error"]
    parts = [f"{key}={_format_value(letter[key])}" for key in first if key in letter]
    parts += [f"{key}={_format_value(value)}" for key, value in letter.items()
              if key not in first and key not in ("body", "envelope", "data", "headers")]
    return " ".join(parts)


def cmd_dead_letters_replay(args) -> int:
    settings = load_settings()
    setup_logging(settings, console_level="ERROR")  # failures are reported below
    from civic import deadletters
    from civic.errors import CivicError, ValidationError
    try:
        result = deadletters.replay(settings["AMQP_URI"], args.id)
    except ValidationError as exc:
        raise CommandError(exc.message, EXIT_USAGE) from None
    except CivicError as exc:
        raise CommandError(exc.message) from None
    say(f"replayed {args.id} ({result.get('type') or 'unknown type'}) "
        f"to {result.get('queue')}")
    return EXIT_OK


# --- asyncapi -----------------------------------------------------------------------

def cmd_asyncapi(args) -> int:
    from civic import asyncapi
    document = asyncapi.build_document()
    if args.output and args.output.endswith((".yaml", ".yml")):
        import yaml
        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    else:
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        say(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


# --- argument parsing -----------------------------------------------------------------

def positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be above zero: {value!r}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="civic", description="Run and operate the Civic platform.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    services_help = f"comma-separated subset of: {', '.join(config.SERVICES)}"

    sub = commands.add_parser("migrate", help="migrate every database, declare all queues")
    sub.set_defaults(handler=cmd_migrate)

    sub = commands.add_parser("up", help="migrate, start every service, load the demo data")
    sub.add_argument("--no-seed", action="store_true", help="do not load the demo data")
    sub.add_argument("--services", help=services_help)
    sub.add_argument("--wait", type=positive_float, default=START_DEADLINE,
                     metavar="SECONDS", help="how long to wait for every service to answer "
                     f"(default {START_DEADLINE:.0f})")
    sub.set_defaults(handler=cmd_up)

    sub = commands.add_parser("down", help="stop the services `civic up` started")
    sub.add_argument("--services", help=services_help)
    sub.set_defaults(handler=cmd_down)

    sub = commands.add_parser("status", help="process and health of every service")
    sub.add_argument("--services", help=services_help)
    sub.add_argument("--timeout", type=positive_float, default=HEALTH_TIMEOUT,
                     metavar="SECONDS", help="health answer timeout per service")
    sub.set_defaults(handler=cmd_status)

    sub = commands.add_parser("seed", help="load the Jokkmokk demo data (idempotent)")
    sub.set_defaults(handler=cmd_seed)

    staff = commands.add_parser("staff", help="staff accounts")
    staff_commands = staff.add_subparsers(dest="staff_command", metavar="ACTION")
    staff_commands.required = True
    sub = staff_commands.add_parser(
        "create", help="create a staff account, or promote an existing account",
        description="The password comes from --password, else CIVIC_STAFF_PASSWORD, "
                    "else standard input (a prompt on a terminal); at least 10 characters.")
    sub.add_argument("--email", required=True)
    sub.add_argument("--display-name", required=True)
    sub.add_argument("--password", help="at least 10 characters (visible to `ps`: "
                     "prefer CIVIC_STAFF_PASSWORD or the prompt)")
    sub.set_defaults(handler=cmd_staff_create)

    sub = commands.add_parser("logs", help="read, filter and follow every service's log")
    sub.add_argument("--service", help="only these services (comma-separated)")
    sub.add_argument("--level", help="at or above: debug, info, warning, error, critical")
    sub.add_argument("--trace", metavar="CORRELATION_ID", help="only this correlation id")
    sub.add_argument("--since", help="10m, 2h, 1d … ago, or an ISO 8601 time "
                     "(without an offset it is in CIVIC_TIMEZONE)")
    sub.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    sub.add_argument("--json", action="store_true", help="print the raw JSON lines")
    sub.add_argument("--interval", type=positive_float, default=0.5,
                     help=argparse.SUPPRESS)
    sub.set_defaults(handler=cmd_logs)

    letters = commands.add_parser("dead-letters", help="messages that failed every retry")
    letter_commands = letters.add_subparsers(dest="dead_letters_command", metavar="ACTION")
    letter_commands.required = True
    sub = letter_commands.add_parser("list", help="list dead letters (oldest first)")
    sub.add_argument("--limit", type=int, default=50)
    sub.add_argument("--json", action="store_true", help="print them as JSON")
    sub.set_defaults(handler=cmd_dead_letters_list)
    sub = letter_commands.add_parser("replay", help="send a dead letter back to its queue")
    sub.add_argument("id", help="the message id shown by `civic dead-letters list`")
    sub.set_defaults(handler=cmd_dead_letters_replay)

    sub = commands.add_parser("asyncapi", help="print the AsyncAPI document of all events")
    sub.add_argument("--output", "-o", metavar="FILE",
                     help="write to FILE (YAML if it ends in .yaml/.yml, else JSON)")
    sub.set_defaults(handler=cmd_asyncapi)
    return parser


def main(argv=None) -> int:
    import warnings
    # nameko imports eventlet, which warns about its own deprecation on import.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage and the error
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return args.handler(args)
    except config.ConfigError as exc:
        warn(f"civic: configuration error: {exc}")
        return EXIT_USAGE
    except CommandError as exc:
        warn(f"civic: error: {exc}")
        return exc.code
    except KeyboardInterrupt:
        warn("civic: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
