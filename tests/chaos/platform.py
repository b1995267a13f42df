"""The whole Civic platform for the chaos suite, with the levers its faults pull.

`ChaosPlatform.start()` runs the platform the way `make run` does — `civic up` as a
subprocess, every service its own process, the Jokkmokk demo data seeded — beside
anything else on the machine: a RabbitMQ vhost of its own (made and deleted through the
management API), a temporary CIVIC_VAR_DIR, a free port for the website, and either
SQLite files (the default) or, with `db="postgresql"`, a PostgreSQL database of its own
on 127.0.0.1:5432 (its schemas under a CIVIC_SCHEMA_PREFIX of its own; the database is
dropped at the end, so an outage made by refusing its connections touches no one else).

Two things stand between the services and the outside world so the faults can reach
them: every service talks to RabbitMQ through `AmqpProxy` (tests/chaos/proxy.py; the
checker reads the broker directly through `amqp_uri`), and mail goes to `ChaosSmtp`
(tests/chaos/smtp.py) in this process. Intervals are short (outbox relay 0.2 s, email
timer 1 s) so effects show quickly; the retry delays keep their production values
(1, 4, 15 s), which the outages must outlast to show what they do to messages.

Cleaned up on every exit path: `stop()` (also from `with ChaosPlatform.start() as p:`)
stops every process, deletes the vhost, drops the database and the directory; if this
process dies without calling it (SIGKILL, a timeout), a reaper process of its own does
the same — and starts RabbitMQ's app again if it was stopped by the broker fault
(a marker file in the work directory says so).

Plain Python with threads: the suite does not run under eventlet (it imports nothing of
tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import requests

from civic.config import DOMAIN_SERVICES, SERVICES
from tests.chaos.proxy import AmqpProxy
from tests.chaos.smtp import ChaosSmtp

ROOT = Path(__file__).resolve().parents[2]
CIVIC = Path(sys.executable).with_name("civic")

RABBIT_HOST, RABBIT_PORT = "127.0.0.1", 5672
RABBIT_MANAGEMENT = "http://127.0.0.1:15672"
RABBIT_AUTH = ("guest", "guest")
# A cluster run (`python -m tests.chaos.run --cluster`, issue 15) sets this to the number
# of nodes of deploy/local-cluster (AMQP on 5701…, management on 15701…); it is read at
# each call, and the reaper process inherits it.
CLUSTER_SETTING = "CIVIC_CHAOS_CLUSTER"
CLUSTER_SCRIPT = ROOT / "deploy" / "local-cluster"


def cluster_nodes() -> int:
    """The local cluster's node count in a cluster run, 0 on the machine's own broker."""
    return int(os.environ.get(CLUSTER_SETTING) or 0)


def broker_ports() -> list[int]:
    nodes = cluster_nodes()
    return [5700 + n for n in range(1, nodes + 1)] if nodes else [RABBIT_PORT]


def management_bases() -> list[str]:
    nodes = cluster_nodes()
    if not nodes:
        return [RABBIT_MANAGEMENT]
    return [f"http://{RABBIT_HOST}:{15700 + n}" for n in range(1, nodes + 1)]


def node_list(vhost: str, first: int = 0) -> str:
    """Every node's AMQP URI, `;`-separated (kombu's failover list), from node `first`
    on: instances given different firsts spread their connections over the nodes."""
    ports = broker_ports()
    ports = ports[first % len(ports) :] + ports[: first % len(ports)]
    return ";".join(
        f"amqp://guest:guest@{RABBIT_HOST}:{port}/{quote(vhost, safe='')}" for port in ports
    )


PG_SERVER = os.environ.get("CIVIC_TEST_PG", "postgresql://postgres@127.0.0.1:5432")

SERVICES_WAIT = 180  # `civic up --wait`: every service answering its health check
START_TIMEOUT = 360.0  # the whole `civic up`, demo data included
STOP_TIMEOUT = 60.0
READY_TIMEOUT = 90.0  # a restarted service logging `service_started`
REQUEST_TIMEOUT = 15.0
DEAD_LETTER_QUEUE = "civic.dead-letters"
# Files in the work directory the reaper reads.
BROKER_STOPPED_MARKER = "broker-stopped"
PG_DATABASE_FILE = "pg-database"

DEMO_PASSWORD = "jokkmokk-demo-2026"
STAFF_EMAIL = "staff@jokkmokk.example"


class PlatformError(RuntimeError):
    """The platform did not start or a service did not come back (with its output)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(predicate, timeout: float, message: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise PlatformError(f"timed out after {timeout:.0f}s waiting for {message}")
        time.sleep(interval)


def process_alive(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def is_runner(pid: int, service: str) -> bool:
    """`python -m civic.runner <service>` (a recycled pid is never taken for ours)."""
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return False
    return process_alive(pid) and "civic.runner" in words and service in words


# --- RabbitMQ's management API ------------------------------------------------------------


def management(method: str, path: str, **kwargs):
    """The management API, of the first node that answers (a cluster's node may be down)."""
    kwargs.setdefault("timeout", REQUEST_TIMEOUT)
    failure: requests.RequestException | None = None
    for base in management_bases():
        try:
            return requests.request(method, f"{base}/api{path}", auth=RABBIT_AUTH, **kwargs)
        except requests.ConnectionError as exc:
            failure = exc
    assert failure is not None
    raise failure


def create_vhost(name: str) -> None:
    quoted = quote(name, safe="")
    made = management("PUT", f"/vhosts/{quoted}")
    if made.status_code not in (201, 204):
        raise PlatformError(f"cannot create the vhost {name}: {made.status_code} {made.text}")
    allowed = management(
        "PUT",
        f"/permissions/{quoted}/{RABBIT_AUTH[0]}",
        json={"configure": ".*", "write": ".*", "read": ".*"},
    )
    if allowed.status_code not in (201, 204):
        raise PlatformError(f"cannot give {RABBIT_AUTH[0]} the vhost {name}")


def delete_vhost(name: str) -> None:
    try:
        management("DELETE", f"/vhosts/{quote(name, safe='')}")
    except requests.RequestException:
        pass  # the broker is gone, and the vhost's traffic with it


# --- PostgreSQL -----------------------------------------------------------------------------


def pg_admin():
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    return create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT", poolclass=NullPool)


def create_pg_database(name: str) -> None:
    from sqlalchemy import text

    engine = pg_admin()
    try:
        with engine.connect() as connection:
            # The name is ours (letters, digits, underscores): see `start`.
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()


def drop_pg_database(name: str) -> None:
    from sqlalchemy import text

    engine = pg_admin()
    try:
        with engine.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    except Exception:  # noqa: BLE001 - gone already, or the server is away: nothing to keep
        pass
    finally:
        engine.dispose()


# --- the platform ---------------------------------------------------------------------------


class ChaosPlatform:
    """The running platform; see the module's docstring."""

    def __init__(self, db: str = "sqlite", say=print):
        if db not in ("sqlite", "postgresql"):
            raise ValueError(f"db must be sqlite or postgresql, got {db!r}")
        self.db = db
        self.say = say
        self.vhost = f"civic-chaos-{uuid.uuid4().hex[:12]}"
        self.workdir = Path(tempfile.mkdtemp(prefix="civic-chaos-"))
        self.var_dir = self.workdir / "var"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.base_urls = [self.base_url]  # every gateway (two in a cluster run)
        self.management_url = RABBIT_MANAGEMENT
        self.management_auth = RABBIT_AUTH
        self.pg_database = f"civic_chaos_{uuid.uuid4().hex[:10]}" if db == "postgresql" else None
        self.schema_prefix = f"c{uuid.uuid4().hex[:8]}_" if db == "postgresql" else ""
        self.proxy: AmqpProxy | None = None
        self.smtp: ChaosSmtp | None = None
        self.env: dict = {}
        # Processes this harness started (restarts and extra instances), to reap them.
        self._children: dict[int, subprocess.Popen] = {}
        self._exit_codes: dict[int, int] = {}  # theirs, once they ended
        # Extra instances by service: their pids.
        self._extra: dict[str, list[int]] = {}
        self._lock = threading.RLock()
        self._stopped = False
        self._reaper: int | None = None
        self._engines: dict = {}
        self.startup_seconds = 0.0

    # --- start and stop -----------------------------------------------------------------

    @classmethod
    def start(cls, db: str = "sqlite", say=print) -> ChaosPlatform:
        platform = cls(db, say)
        try:
            platform._start()
        except BaseException:
            platform.stop()
            raise
        return platform

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def amqp_uri(self) -> str:
        """The broker directly (not through the proxy): for the checker."""
        return node_list(self.vhost)

    @property
    def proxied_amqp_uri(self) -> str:
        """What the services use: the broker through the proxy (a cluster's nodes
        directly: its faults are nodes going)."""
        if self.proxy is None:
            return node_list(self.vhost)
        return f"amqp://guest:guest@127.0.0.1:{self.proxy.port}/{quote(self.vhost, safe='')}"

    def _start(self) -> None:
        create_vhost(self.vhost)
        self._reaper = self._start_reaper()  # from here on, cleaned up whatever happens
        if self.pg_database:
            create_pg_database(self.pg_database)
            (self.workdir / PG_DATABASE_FILE).write_text(self.pg_database)
        if not cluster_nodes():
            self.proxy = AmqpProxy((RABBIT_HOST, RABBIT_PORT))
        self.smtp = ChaosSmtp().start()
        env = {key: value for key, value in os.environ.items() if not key.startswith("CIVIC_")}
        env.update(
            {
                "CIVIC_AMQP_URI": self.proxied_amqp_uri,
                "CIVIC_RABBIT_MANAGEMENT_URI": (
                    f"http://{RABBIT_AUTH[0]}:{RABBIT_AUTH[1]}@{management_bases()[0][7:]}"
                ),
                "CIVIC_VAR_DIR": str(self.var_dir),
                "CIVIC_WEB_ADDRESS": f"127.0.0.1:{self.port}",
                "CIVIC_PUBLIC_URL": self.base_url,
                "CIVIC_SMTP_HOST": "127.0.0.1",
                "CIVIC_SMTP_PORT": str(self.smtp.port),
                "CIVIC_SECRET_KEY": secrets.token_hex(24),
                "CIVIC_EMAIL_INTERVAL": "1",
                # An email refused many times during a fault would otherwise wait a
                # minute or more for its next attempt: past the round's quiet deadline.
                "CIVIC_EMAIL_BACKOFF_MAX": "8",
                # Rows claimed by an instance that then stopped are free again after
                # this (the SMTP server is at most 7 s slow per message here).
                "CIVIC_EMAIL_LEASE": "20",
                "CIVIC_RELAY_INTERVAL": "0.2",
                "CIVIC_RETRY_DELAYS": "1,4,15",
                "CIVIC_LOG_LEVEL": "INFO",
                # Every client of the workload comes from 127.0.0.1.
                "CIVIC_SIGNUP_LIMIT": "100000",
                "CIVIC_SIGNIN_LIMIT": "100000",
                "CIVIC_DEMO_PASSWORD": DEMO_PASSWORD,
            }
        )
        if self.pg_database:
            env["CIVIC_DATABASE_URL"] = f"{PG_SERVER}/{self.pg_database}"
            env["CIVIC_SCHEMA_PREFIX"] = self.schema_prefix
        self.env = env
        self._civic_up()
        if cluster_nodes():
            self._scale_out()

    def _scale_out(self) -> None:
        """A cluster run: every domain service three times, the gateway twice, each
        instance's broker list starting at another node (so their connections spread)."""
        for service in DOMAIN_SERVICES:
            for first in (1, 2):
                self.start_extra_instance(service, {"CIVIC_AMQP_URI": node_list(self.vhost, first)})
        port = free_port()
        self.start_extra_instance(
            "gateway",
            {
                "CIVIC_AMQP_URI": node_list(self.vhost, 1),
                "CIVIC_WEB_ADDRESS": f"127.0.0.1:{port}",
            },
        )
        self.base_urls.append(f"http://127.0.0.1:{port}")
        self.say(
            f"scaled out: 3 instances of each domain service, gateways {', '.join(self.base_urls)}"
        )

    def _civic_up(self, attempts: int = 2) -> None:
        """`civic up`; tried again once when it fails (it is idempotent: what runs is
        kept, the demo data completed) — the machine's broker is shared, and a broker
        restart by someone else's test must not cost the whole run."""
        for attempt in range(1, attempts + 1):
            try:
                self._civic_up_once()
                return
            except PlatformError as exc:
                if attempt == attempts:
                    raise
                self.say(f"civic up failed (attempt {attempt}): {str(exc).splitlines()[0]}")
                wait_until(
                    lambda: not _port_closed(RABBIT_HOST, broker_ports()[0]),
                    120,
                    "RabbitMQ to answer",
                )

    def _civic_up_once(self) -> None:
        output = self.workdir / "civic-up.out"
        self.say(
            f"civic up: {self.base_url}, db {self.db}, var {self.var_dir}, vhost {self.vhost}, "
            f"amqp {f'proxy :{self.proxy.port}' if self.proxy else self.proxied_amqp_uri}, "
            f"smtp :{self.smtp.port}"
        )
        began = time.monotonic()
        with open(output, "wb") as stream:
            process = subprocess.Popen(
                [str(CIVIC), "up", "--wait", str(SERVICES_WAIT)],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=stream,
                stderr=subprocess.STDOUT,
            )
        try:
            process.wait(START_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            message = f"`civic up` took over {START_TIMEOUT:.0f}s\n{self.report(output)}"
            raise PlatformError(message) from None
        if process.returncode != 0:
            raise PlatformError(f"`civic up` failed ({process.returncode})\n{self.report(output)}")
        self.startup_seconds = time.monotonic() - began
        self.say(f"civic up: ready in {self.startup_seconds:.1f}s")

    def stop(self) -> None:
        """Every process stopped, the vhost deleted, the database and directory dropped
        (the directory kept with CIVIC_CHAOS_KEEP=1, to read the logs). Safe twice."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        if self.proxy is not None:
            self.proxy.thaw()  # services stopping must be able to say goodbye
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        try:
            tear_down(self.env, self.vhost, self.workdir, keep=_keep())
        finally:
            for process in self._children.values():
                if process.poll() is None:
                    process.kill()
                    process.wait()
            if self.proxy is not None:
                self.proxy.close()
            if self.smtp is not None:
                self.smtp.stop()
            if self._reaper is not None:
                os.write(self._reaper, b"stopped")
                os.close(self._reaper)
                self._reaper = None
        if _keep():
            self.say(f"chaos platform stopped: kept {self.workdir}")

    def _start_reaper(self) -> int:
        """A process of its own that tears everything down if this one ends without
        `stop()`: it waits on a pipe whose writing end only this process holds."""
        reading, writing = os.pipe()
        subprocess.Popen(
            [sys.executable, "-m", "tests.chaos.platform", "reap", str(reading)]
            + [self.vhost, str(self.workdir)],
            cwd=ROOT,
            env={**os.environ, "CIVIC_VAR_DIR": str(self.var_dir)},
            pass_fds=(reading,),
            start_new_session=True,  # not stopped by the Ctrl-C meant for the run
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(reading)
        return writing

    def report(self, up_output: Path | None = None, lines: int = 20) -> str:
        parts = []
        if up_output is not None:
            parts.append(f"--- {up_output.name}\n{_tail(up_output, 60)}")
        for path in sorted((self.var_dir / "log").glob("*.out")):
            parts.append(f"--- {path}\n{_tail(path, lines)}")
        return "\n".join(parts)

    # --- databases ----------------------------------------------------------------------

    def database_url(self, service: str) -> str:
        """A SQLAlchemy URL of the service's database (PostgreSQL: see `schema`)."""
        if self.pg_database:
            return f"{PG_SERVER}/{self.pg_database}"
        return f"sqlite:///{self.var_dir / (service + '.db')}"

    def database_file(self, service: str) -> Path:
        return self.var_dir / f"{service}.db"

    def schema(self, service: str) -> str | None:
        """The service's PostgreSQL schema (None on SQLite)."""
        return f"{self.schema_prefix}{service}" if self.pg_database else None

    def engine(self, service: str):
        """A read engine for the service's database (no pooled connections kept, so it
        never stands in a fault's way)."""
        if service not in self._engines:
            from sqlalchemy import create_engine
            from sqlalchemy.pool import NullPool

            schema = self.schema(service)
            connect_args = {"options": f"-csearch_path={schema}"} if schema else {"timeout": 5}
            self._engines[service] = create_engine(
                self.database_url(service), poolclass=NullPool, connect_args=connect_args
            )
        return self._engines[service]

    def outbox_unsent(self, service: str) -> int:
        from sqlalchemy import text

        with self.engine(service).connect() as connection:
            return connection.execute(
                text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
            ).scalar_one()

    def emails_due(self) -> int:
        """Email rows still queued whose time has come (sent soon, or failing)."""
        from sqlalchemy import text

        with self.engine("notifications").connect() as connection:
            return connection.execute(
                text("SELECT count(*) FROM emails WHERE status = 'queued'")
            ).scalar_one()

    # --- mail -----------------------------------------------------------------------------

    def mail_messages(self):
        """Every email the SMTP server accepted (Message-ID, To, Subject), in order,
        duplicates included."""
        return self.smtp.messages()

    # --- processes --------------------------------------------------------------------------

    def _pid_file(self, name: str) -> Path:
        return self.var_dir / "run" / f"{name}.pid"

    def main_pid(self, service: str) -> int | None:
        try:
            pid = int(self._pid_file(service).read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if is_runner(pid, service) else None

    def pids(self, service: str) -> list[int]:
        """Every running instance of the service (the main one first)."""
        self._reap_children()
        found = []
        main = self.main_pid(service)
        if main:
            found.append(main)
        found.extend(pid for pid in self._extra.get(service, []) if is_runner(pid, service))
        return found

    def _reap_children(self) -> None:
        for pid, process in list(self._children.items()):
            code = process.poll()
            if code is not None:
                self._exit_codes[pid] = code
                self._children.pop(pid, None)

    def exit_code(self, pid: int) -> int | None:
        """The exit status of a process this harness started (None: running or not ours)."""
        self._reap_children()
        return self._exit_codes.get(pid)

    def kill(self, service: str, sig: int = signal.SIGKILL, pid: int | None = None) -> int:
        """Signal the service's main instance (or `pid`) and wait until it is gone;
        returns the pid signalled."""
        pid = pid or self.main_pid(service)
        if pid is None:
            raise PlatformError(f"{service} is not running: nothing to kill")
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + (5 if sig == signal.SIGKILL else 30)
        while time.monotonic() < deadline:
            self._reap_children()
            if not process_alive(pid):
                return pid
            time.sleep(0.05)
        if sig != signal.SIGKILL:
            return self.kill(service, signal.SIGKILL, pid)
        raise PlatformError(f"{service} (pid {pid}) still alive after signal {sig}")

    def _spawn(self, service: str, env: dict | None, pid_name: str) -> int:
        out = self.var_dir / "log" / f"{pid_name}.out"
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "ab") as stream:
            stream.write(f"--- chaos harness start {time.strftime('%H:%M:%S')} ---\n".encode())
            stream.flush()
            process = subprocess.Popen(
                [sys.executable, "-m", "civic.runner", service],
                cwd=ROOT,
                env={**self.env, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=stream,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._children[process.pid] = process
        pid_file = self._pid_file(pid_name)
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        pid_file.write_text(f"{process.pid}\n")  # so `civic down` (and the reaper) stop it
        return process.pid

    def restart(
        self, service: str, env: dict | None = None, wait: bool = True, graceful: bool = True
    ) -> int:
        """Stop the main instance (SIGTERM; if it is still running) and start it again,
        with `env` added to the platform's environment (e.g. {"CIVIC_CHAOS": "duplicate=3"});
        with `wait`, returns once it logged `service_started`. Returns the new pid."""
        old = self.main_pid(service)
        if old:
            self.kill(service, signal.SIGTERM if graceful else signal.SIGKILL, old)
        pid = self._spawn(service, env, service)
        if wait:
            self.wait_ready(service, pid)
        return pid

    def start_extra_instance(self, service: str, env: dict | None = None) -> int:
        """A further instance of the service (same environment plus `env`)."""
        number = len(self._extra.get(service, [])) + 2
        pid = self._spawn(service, env, f"{service}-{number}")
        self._extra.setdefault(service, []).append(pid)
        address = (env or {}).get("CIVIC_WEB_ADDRESS")
        self.wait_ready(service, pid, url=f"http://{address}" if address else None)
        return pid

    def stop_extra_instances(self, service: str) -> list[int]:
        stopped = []
        for number, pid in enumerate(self._extra.pop(service, []), start=2):
            if is_runner(pid, service):
                self.kill(service, signal.SIGTERM, pid)
                stopped.append(pid)
            self._pid_file(f"{service}-{number}").unlink(missing_ok=True)
        return stopped

    def wait_ready(
        self, service: str, pid: int, timeout: float = READY_TIMEOUT, url: str | None = None
    ) -> None:
        """Until the process logged `service_started` (its consumers are running) — or
        for the gateway, /healthz answers; PlatformError with its output if it exits."""
        log = self.var_dir / "log" / f"{service}.log"

        def started():
            if not process_alive(pid):
                self._reap_children()
                raise PlatformError(
                    f"{service} (pid {pid}) exited while starting "
                    f"(exit code {self.exit_code(pid)})\n{self.report()}"
                )
            if service == "gateway":
                try:
                    answer = requests.get(f"{url or self.base_url}/healthz", timeout=2)
                    return answer.status_code == 200
                except requests.RequestException:
                    return False
            return _logged_start(log, pid)

        wait_until(started, timeout, f"{service} (pid {pid}) to start")

    def ensure_running(self, service: str, env: dict | None = None) -> int | None:
        """Start the main instance if it is not running (a crash, a fault); the new pid,
        or None if it was running."""
        if self.main_pid(service):
            return None
        return self.restart(service, env=env)

    # --- quiet --------------------------------------------------------------------------

    def queue_depths(self) -> dict[str, tuple[int, int]]:
        """Every queue of the vhost but reply and dead-letter queues: (ready, unacked)."""
        answer = management("GET", f"/queues/{quote(self.vhost, safe='')}")
        answer.raise_for_status()
        depths = {}
        for queue in answer.json():
            name = queue["name"]
            if name == DEAD_LETTER_QUEUE or name.startswith("rpc.reply"):
                continue
            depths[name] = (queue.get("messages_ready", 0), queue.get("messages_unacknowledged", 0))
        return depths

    def dead_letter_count(self) -> int:
        answer = management(
            "GET", f"/queues/{quote(self.vhost, safe='')}/{quote(DEAD_LETTER_QUEUE, safe='')}"
        )
        return answer.json().get("messages", 0) if answer.status_code == 200 else 0

    def busy(self) -> list[str]:
        """What still moves: queues with messages, services with unsent outbox rows."""
        busy = [
            f"{name} {ready}+{unacked}"
            for name, (ready, unacked) in self.queue_depths().items()
            if ready or unacked
        ]
        for service in DOMAIN_SERVICES:
            try:
                unsent = self.outbox_unsent(service)
            except Exception as exc:  # noqa: BLE001 - a database still away is not quiet
                busy.append(f"{service} outbox ({type(exc).__name__})")
                continue
            if unsent:
                busy.append(f"{service} outbox {unsent}")
        return busy

    def busy_services(self) -> list[str]:
        """The services whose queues hold messages or whose outbox has unsent rows: the
        ones to restart when the platform does not get quiet (a stuck consumer)."""
        found = set()
        for name, (ready, unacked) in self.queue_depths().items():
            if not (ready or unacked):
                continue
            if name.startswith("rpc-"):
                found.add(name[4:])
            elif "--" in name:  # evt-<producer>-<type>--<consumer>.<method>[...]
                found.add(name.split("--", 1)[1].split(".", 1)[0])
        for service in DOMAIN_SERVICES:
            try:
                if self.outbox_unsent(service):
                    found.add(service)
            except Exception:  # noqa: BLE001 - its database is away: restart it too
                found.add(service)
        return sorted(service for service in found if service in SERVICES)

    def restart_exited(self, note) -> None:
        """What a deployment's supervisor does (compose's `restart: unless-stopped`, a
        Kubernetes pod): start again any service whose main process has ended — a service
        whose container died exits with `civic.runner.CRASH_EXIT_CODE` to be restarted."""
        for service in SERVICES:
            if self.main_pid(service):
                continue
            try:
                old = int(self._pid_file(service).read_text().strip())
            except (OSError, ValueError):
                old = None
            code = self.exit_code(old) if old else None
            pid = self.restart(service, wait=False)
            note(f"{service} (pid {old}) had exited (exit code {code}): restarted as pid {pid}")

    def wait_quiet(
        self, deadline_s: float, quiet_for: float = 6.0, emails: bool = False, supervise=None
    ):
        """Until no queue holds a message (ready or unacked), every outbox is sent (and
        with `emails`, no email is queued) for `quiet_for` seconds in a row — the
        management API's numbers are up to 5 s old. With `supervise` (a note function),
        services that exit meanwhile are restarted, as their supervisor would. Returns the
        seconds it took; raises PlatformError at the deadline, naming what still moves."""
        began = time.monotonic()
        quiet_since = None
        last: list[str] = []
        while True:
            if supervise is not None:
                self.restart_exited(supervise)
            try:
                last = self.busy()
                if emails and not last:
                    due = self.emails_due()
                    last = [f"emails queued {due}"] if due else []
            except (requests.RequestException, OSError) as exc:
                last = [f"cannot look: {exc}"]
            now = time.monotonic()
            if last:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= quiet_for:
                return now - began
            if now - began > deadline_s:
                raise PlatformError(f"not quiet after {deadline_s:.0f}s: {', '.join(last)}")
            time.sleep(0.5)

    # --- accounts -----------------------------------------------------------------------

    def staff_token(self) -> str:
        answer = requests.post(
            f"{self.base_url}/api/v1/sessions",
            json={"email": STAFF_EMAIL, "password": DEMO_PASSWORD},
            timeout=REQUEST_TIMEOUT,
        )
        if answer.status_code != 201:
            raise PlatformError(f"staff sign-in: {answer.status_code} {answer.text[:200]}")
        return answer.json()["token"]

    def dead_letters(self) -> list[dict]:
        """The staff API's dead letters (`GET /api/v1/staff/dead-letters`)."""
        answer = requests.get(
            f"{self.base_url}/api/v1/staff/dead-letters",
            params={"per_page": 100},
            headers={"Authorization": f"Bearer {self.staff_token()}"},
            timeout=REQUEST_TIMEOUT,
        )
        answer.raise_for_status()
        return answer.json()["items"]


def _port_closed(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return False
    except OSError:
        return True


def _logged_start(log: Path, pid: int) -> bool:
    try:
        with open(log, encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if '"service_started"' in line and f'"pid": {pid}' in line:
                    return True
    except OSError:
        return False
    return False


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no output)"
    return "\n".join(text.splitlines()[-lines:]) or "(no output)"


def _keep() -> bool:
    return os.environ.get("CIVIC_CHAOS_KEEP") == "1"


def tear_down(env: dict, vhost: str, workdir: Path, keep: bool = False) -> None:
    """Stop every process (`civic down`, then any pid file left: extra instances), start
    RabbitMQ's app again if the broker fault left it stopped, delete the vhost, drop the
    PostgreSQL database, remove the directory (unless `keep`)."""
    var_dir = workdir / "var"
    try:
        if env:
            subprocess.run(
                [str(CIVIC), "down"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=STOP_TIMEOUT,
            )
    except (subprocess.SubprocessError, OSError):
        pass
    finally:
        _kill_pid_files(var_dir / "run")
        if (workdir / BROKER_STOPPED_MARKER).exists():
            subprocess.run(["rabbitmqctl", "start_app"], capture_output=True, timeout=120)
            (workdir / BROKER_STOPPED_MARKER).unlink(missing_ok=True)
        delete_vhost(vhost)
        database = workdir / PG_DATABASE_FILE
        if database.exists():
            drop_pg_database(database.read_text().strip())
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def _kill_pid_files(run_dir: Path) -> None:
    """SIGKILL every civic.runner or mail catcher named by a pid file left in `run_dir`."""
    for path in run_dir.glob("*.pid"):
        try:
            pid = int(path.read_text().strip())
        except (OSError, ValueError):
            continue
        service = path.stem.split("-")[0]
        if is_runner(pid, service):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        path.unlink(missing_ok=True)


def _reap(reading: int, vhost: str, workdir: str) -> None:
    with os.fdopen(reading, "rb") as pipe:
        said = pipe.read()  # until the harness's process closes its end, one way or another
    if not said:
        env = {**os.environ, "CIVIC_SMTP_HOST": "127.0.0.1"}
        tear_down(env, vhost, Path(workdir), keep=_keep())


def read_json_lines(path: Path) -> list[dict]:
    """The JSON log lines of a file (others skipped)."""
    found = []
    try:
        with open(path, encoding="utf-8", errors="replace") as lines:
            for line in lines:
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue
    except OSError:
        pass
    return found


if __name__ == "__main__" and sys.argv[1:2] == ["reap"]:
    _reap(int(sys.argv[2]), *sys.argv[3:5])
