"""The faults of the chaos suite, one class per fault, each injected mid-load by run.py.

Every fault has the same shape:
- `prepare(platform, note)`: before the round's workload starts (e.g. a second
  notifications instance, notifications run with `CIVIC_CHAOS=poison=…`);
- `inject(platform, timing, note)`: blocking — injects the fault, holds it for
  `timing.outage` seconds, and heals what it broke (in a `finally`);
- `heal(platform, note)`: idempotent, called by run.py on every exit path after the
  round: the services back to their normal configuration (no CIVIC_CHAOS, one instance,
  the SMTP server normal, the proxy flowing, the broker running, the database open);
- `workload`: extra keyword arguments for the workload (the poison round's requests).

Each fault *observes* that it happened and says so through `note` (one line each, kept
in the round's report): the pid that died and the one that replaced it, `rabbitmqctl`'s
exit status and the port refusing connections, the lock held on each database file (and
a write refused behind it), the bytes the frozen proxy did not move, the SMTP server's
counts of slowed and refused messages, the notifications process dying with the poison
exit code. A fault that cannot observe itself raises `FaultNotObserved`: a round whose
fault did not happen would count nothing and prove nothing.
"""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import quote

from tests.chaos.platform import (
    BROKER_STOPPED_MARKER,
    CLUSTER_SCRIPT,
    DOMAIN_SERVICES,
    RABBIT_HOST,
    RABBIT_PORT,
    SERVICES,
    ChaosPlatform,
    PlatformError,
    broker_ports,
    cluster_nodes,
    management,
    pg_admin,
)
from tests.chaos.proxy import wait_still

POISON_EXIT_CODE = 70  # civic.chaos.POISON_EXIT_CODE (not imported: it pulls eventlet in)
RABBITMQCTL_TIMEOUT = 120
# How long the poison round waits for its poisoned messages to reach the dead letters:
# 1 + 4 + 15 s of retry delays, a restart per delivery, the management API's lag.
POISON_SETTLE_S = 75.0


class FaultNotObserved(AssertionError):
    """The fault was asked for but could not be seen to happen."""


@dataclass(frozen=True)
class Timing:
    """How long the fault lasts (seconds) and whether this is the short run."""

    outage: float
    short: bool = False


def _sleep_until(moment: float) -> None:
    while (left := moment - time.monotonic()) > 0:
        time.sleep(min(left, 0.5))


def ensure_all_running(platform: ChaosPlatform, note) -> None:
    """Restart any service that is not running (a fault may have ended it)."""
    for service in SERVICES:
        if not platform.main_pid(service):
            pid = platform.restart(service)
            note(f"{service} was not running after the fault: restarted as pid {pid}")


def _restart_all(platform: ChaosPlatform, note, env: dict | None, services=DOMAIN_SERVICES):
    """Every given service stopped (SIGTERM) and started again with `env`, in parallel
    (one at a time takes too long on two cores); notes old → new pids."""
    old = {service: platform.main_pid(service) for service in services}
    for service, pid in old.items():
        if pid:
            platform.kill(service, signal.SIGTERM, pid)
    new = {service: platform.restart(service, env=env, wait=False) for service in services}
    for service, pid in new.items():
        platform.wait_ready(service, pid)
    label = f"CIVIC_CHAOS={env['CIVIC_CHAOS']}" if env and env.get("CIVIC_CHAOS") else "no chaos"
    note(
        f"restarted with {label}: "
        + ", ".join(f"{service} {old[service]}→{new[service]}" for service in services)
    )
    for service in services:
        if old[service] == new[service] or platform.main_pid(service) != new[service]:
            raise FaultNotObserved(f"{service} did not restart (pid {old[service]})")


class Fault:
    name = "fault"
    title = "fault"
    workload: dict = {}  # noqa: RUF012 - overridden per class, never mutated
    quiet_emails = False  # wait_quiet also waits for queued emails

    def prepare(self, platform: ChaosPlatform, note) -> None:
        pass

    def inject(self, platform: ChaosPlatform, timing: Timing, note) -> None:
        raise NotImplementedError

    def heal(self, platform: ChaosPlatform, note) -> None:
        pass


class NoFault(Fault):
    """The control round: load, nothing injected."""

    name = "none"
    title = "no fault (control)"

    def inject(self, platform, timing, note):
        time.sleep(timing.outage)
        note(f"nothing injected for {timing.outage:.0f}s")


class KillEachService(Fault):
    """(a) `kill -9` of each domain service in turn, mid-load, restarted by the harness
    (round after round of them when the outage is long)."""

    name = "kill"
    title = "kill -9 each domain service"
    # A longer outage kills them in turn again, one kill every this many seconds (the
    # review needed 13 kills of proposals under load to store a proposal twice).
    every = 4.0

    def inject(self, platform, timing, note):
        kills = max(len(DOMAIN_SERVICES), int(timing.outage // self.every))
        spacing = timing.outage / kills
        began = time.monotonic()
        for index in range(kills):
            service = DOMAIN_SERVICES[index % len(DOMAIN_SERVICES)]
            _sleep_until(began + index * spacing)
            old = platform.main_pid(service)
            if old is None:
                raise FaultNotObserved(f"{service} was not running before kill -9")
            platform.kill(service, signal.SIGKILL, old)
            killed_at = time.monotonic()
            new = platform.restart(service)
            if new == old or platform.main_pid(service) != new:
                raise FaultNotObserved(f"{service} did not come back after kill -9 of {old}")
            note(
                f"kill -9 {service} pid {old}: gone; back as pid {new} "
                f"in {time.monotonic() - killed_at:.1f}s"
            )

    def heal(self, platform, note):
        ensure_all_running(platform, note)


class BrokerRestart(Fault):
    """(b) RabbitMQ `stop_app` / `start_app` mid-load. It stops the machine's broker for
    everyone: the outage is short, and a marker file makes the reaper start the app again
    if this process dies in between."""

    name = "broker_restart"
    title = "RabbitMQ stop_app/start_app"

    def inject(self, platform, timing, note):
        marker = platform.workdir / BROKER_STOPPED_MARKER
        marker.write_text("stop_app\n")
        try:
            result = _rabbitmqctl("stop_app")
            note(f"rabbitmqctl stop_app: exit {result.returncode} in {result.seconds:.1f}s")
            if result.returncode != 0:
                raise FaultNotObserved(f"rabbitmqctl stop_app failed: {result.output}")
            refused = _port_refuses(RABBIT_HOST, RABBIT_PORT)
            note(f"port {RABBIT_PORT}: {'refuses connections' if refused else 'still answers'}")
            if not refused:
                raise FaultNotObserved("the broker still accepts connections after stop_app")
            time.sleep(timing.outage)
        finally:
            self._start_app(platform, note)

    def _start_app(self, platform, note):
        marker = platform.workdir / BROKER_STOPPED_MARKER
        if not marker.exists():
            return
        result = _rabbitmqctl("start_app")
        waited = _rabbitmqctl("await_startup")
        note(
            f"rabbitmqctl start_app: exit {result.returncode} in {result.seconds:.1f}s, "
            f"await_startup exit {waited.returncode}"
        )
        if result.returncode == 0:
            marker.unlink(missing_ok=True)
        _wait_management(platform)

    def heal(self, platform, note):
        self._start_app(platform, note)
        ensure_all_running(platform, note)


@dataclass
class _Ran:
    returncode: int
    seconds: float
    output: str


def _rabbitmqctl(command: str) -> _Ran:
    began = time.monotonic()
    try:
        done = subprocess.run(
            ["rabbitmqctl", command],
            capture_output=True,
            text=True,
            timeout=RABBITMQCTL_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return _Ran(-1, time.monotonic() - began, "timed out")
    return _Ran(done.returncode, time.monotonic() - began, (done.stdout + done.stderr)[-300:])


def _port_refuses(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return False
    except OSError:
        return True


def _wait_management(platform, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if management("GET", f"/vhosts/{platform.vhost}").status_code == 200:
                return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.5)


class DatabaseOutage(Fault):
    """(c) The database unavailable: on SQLite an exclusive lock held on every domain
    service's file; on PostgreSQL the platform's own database refusing connections
    (`ALLOW_CONNECTIONS false`) and its backends terminated."""

    name = "database_outage"
    title = "database unavailable"

    def inject(self, platform, timing, note):
        if platform.pg_database:
            self._postgresql(platform, timing, note)
        else:
            self._sqlite(platform, timing, note)

    def _sqlite(self, platform, timing, note):
        release = threading.Event()
        held: dict[str, float] = {}
        errors: dict[str, str] = {}
        threads = []

        def hold(service):
            path = platform.database_file(service)
            try:
                connection = sqlite3.connect(path, timeout=30, isolation_level=None)
                began = time.monotonic()
                connection.execute("BEGIN EXCLUSIVE")
                held[service] = time.monotonic()
                note(f"{service}.db: exclusive lock held (waited {held[service] - began:.1f}s)")
                release.wait()
                connection.execute("ROLLBACK")
                connection.close()
            except sqlite3.Error as exc:
                errors[service] = str(exc)

        try:
            for service in DOMAIN_SERVICES:
                thread = threading.Thread(target=hold, args=(service,), daemon=True)
                thread.start()
                threads.append(thread)
            deadline = time.monotonic() + 30
            while len(held) + len(errors) < len(DOMAIN_SERVICES) and time.monotonic() < deadline:
                time.sleep(0.05)
            if errors or len(held) < len(DOMAIN_SERVICES):
                raise FaultNotObserved(f"could not lock every database: {errors or held}")
            refused = _sqlite_write_refused(platform.database_file("proposals"))
            note(f"a write to proposals.db behind the lock: {refused}")
            if "locked" not in refused:
                raise FaultNotObserved(f"a write was not refused behind the lock: {refused}")
            time.sleep(timing.outage)
        finally:
            release.set()
            for thread in threads:
                thread.join(10)
            if held:
                note(
                    "locks released after "
                    + ", ".join(f"{s} {time.monotonic() - t:.0f}s" for s, t in held.items())
                )

    def _postgresql(self, platform, timing, note):
        from sqlalchemy import text

        database = platform.pg_database
        engine = pg_admin()
        try:
            with engine.connect() as connection:
                connection.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false'))
                ended = connection.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": database},
                ).scalar_one()
            note(f"PostgreSQL {database}: ALLOW_CONNECTIONS false, {ended} backends terminated")
            probe = _pg_probe(platform)
            note(f"a new connection: {probe}")
            if probe == "connected":
                raise FaultNotObserved("the database still accepts connections")
            time.sleep(timing.outage)
        finally:
            with engine.connect() as connection:
                connection.execute(text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true'))
            engine.dispose()
            note(f"PostgreSQL {database}: connections allowed again ({_pg_probe(platform)})")

    def heal(self, platform, note):
        if platform.pg_database:
            from sqlalchemy import text

            engine = pg_admin()
            try:
                with engine.connect() as connection:
                    connection.execute(
                        text(f'ALTER DATABASE "{platform.pg_database}" ALLOW_CONNECTIONS true')
                    )
            finally:
                engine.dispose()
        ensure_all_running(platform, note)


def _sqlite_write_refused(path) -> str:
    try:
        connection = sqlite3.connect(path, timeout=0.5, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
            return "accepted"
        finally:
            connection.close()
    except sqlite3.Error as exc:
        return f"refused ({exc})"


def _pg_probe(platform) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(platform.database_url("groups"), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return "connected"
    except Exception as exc:  # noqa: BLE001 - the refusal is what we look for
        return f"refused ({str(exc).splitlines()[0][:120]})"
    finally:
        engine.dispose()


class BrokerFreeze(Fault):
    """(d) A broker that stops answering without closing connections: the proxy in
    front of RabbitMQ stops moving bytes."""

    name = "broker_freeze"
    title = "broker frozen (proxy)"

    def inject(self, platform, timing, note):
        proxy = platform.proxy
        proxy.freeze()
        began = time.monotonic()
        try:
            before = proxy.stats()
            moved = wait_still(proxy, 2.0)
            note(
                f"proxy frozen: {before['open_sockets']} sockets kept open, "
                f"{moved} bytes moved in 2s"
            )
            if moved:
                raise FaultNotObserved(f"{moved} bytes moved through the frozen proxy")
            _sleep_until(began + timing.outage)
        finally:
            proxy.thaw()
            after = proxy.stats()
            note(
                f"proxy thawed after {time.monotonic() - began:.0f}s "
                f"({after['open_sockets']} sockets open)"
            )

    def heal(self, platform, note):
        platform.proxy.thaw()
        ensure_all_running(platform, note)


class _ChaosEnvFault(Fault):
    """Domain services restarted with CIVIC_CHAOS before the load (a restart of all
    five takes some 10 s on two cores: inside the load it would be most of the round),
    held through the outage, then restarted without."""

    chaos = ""

    def __init__(self):
        self._restarted = False

    def prepare(self, platform, note):
        self._restarted = True
        warned = {service: _chaos_warnings(platform, service) for service in DOMAIN_SERVICES}
        _restart_all(platform, note, {"CIVIC_CHAOS": self.chaos})
        for service in DOMAIN_SERVICES:
            if not _runs_with_chaos(platform.main_pid(service), self.chaos):
                raise FaultNotObserved(f"{service} does not run with CIVIC_CHAOS={self.chaos}")
            if _chaos_warnings(platform, service) <= warned[service]:
                raise FaultNotObserved(f"{service} did not log chaos_faults_injected")
        note(f"every domain service runs with CIVIC_CHAOS={self.chaos} and logged it")

    def inject(self, platform, timing, note):
        time.sleep(timing.outage)
        self.heal(platform, note)

    def heal(self, platform, note):
        if self._restarted:
            self._restarted = False
            _restart_all(platform, note, None)
        ensure_all_running(platform, note)


def _runs_with_chaos(pid: int | None, chaos: str) -> bool:
    """The process's own environment holds CIVIC_CHAOS=<chaos> (read from /proc)."""
    try:
        environ = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
    except OSError:
        return False
    return f"CIVIC_CHAOS={chaos}".encode() in environ


def _chaos_warnings(platform, service: str) -> int:
    """How many times the service's log says it started with faults injected."""
    return _logged(platform, "chaos_faults_injected", (service,))


def _logged(platform, event: str, services=DOMAIN_SERVICES) -> int:
    """How many lines of the services' logs are that event."""
    from tests.chaos.platform import read_json_lines

    return sum(
        1
        for service in services
        for line in read_json_lines(platform.var_dir / "log" / f"{service}.log")
        if line.get("event") == event
    )


class DuplicateDelivery(_ChaosEnvFault):
    """(e) Every event published three times (the outbox relay, same message id)."""

    name = "duplicate_delivery"
    title = "every event delivered 3 times"
    chaos = "duplicate=3"

    def inject(self, platform, timing, note):
        skipped = _logged(platform, "duplicate_skipped")
        time.sleep(timing.outage)
        # What the inboxes made of the copies: a sign they arrived (the checker judges).
        note(f"inboxes logged {_logged(platform, 'duplicate_skipped') - skipped} duplicate_skipped")
        self.heal(platform, note)


class ReorderedDelivery(_ChaosEnvFault):
    """(f) Events delivered out of order: each handler first waits 0…0.5 s."""

    name = "reordered_delivery"
    title = "events out of order"
    chaos = "reorder=0.5"


class SlowAndRefusingSmtp(Fault):
    """(g) Two notifications instances; the SMTP server slow (7 s per message) for half
    the outage, then refusing (451) for the other half."""

    name = "slow_and_refusing_smtp"
    title = "slow then refusing SMTP, 2 instances"
    quiet_emails = True
    slow_seconds = 7.0

    def prepare(self, platform, note):
        pid = platform.start_extra_instance("notifications")
        note(
            f"second notifications instance: pid {pid} (main {platform.main_pid('notifications')})"
        )

    def inject(self, platform, timing, note):
        smtp = platform.smtp
        try:
            before = dict(smtp.counts)
            smtp.set_mode("slow", self.slow_seconds)
            note(f"SMTP slow: {self.slow_seconds:.0f}s per message")
            time.sleep(timing.outage / 2)
            slowed = smtp.counts["slowed"] - before["slowed"]
            smtp.set_mode("refusing")
            note(f"SMTP refusing (451); {slowed} messages were slowed")
            time.sleep(timing.outage / 2)
            refused = smtp.counts["refused"] - before["refused"]
            note(f"SMTP normal again; {refused} messages were refused")
            if not slowed and not refused:
                raise FaultNotObserved("no email reached the SMTP server during the fault")
        finally:
            smtp.set_mode("normal")

    def heal(self, platform, note):
        platform.smtp.set_mode("normal")
        stopped = platform.stop_extra_instances("notifications")
        if stopped:
            note(f"second notifications instance stopped: {stopped}")
        ensure_all_running(platform, note)


@dataclass
class _Supervisor:
    """Restarts notifications whenever it dies, with the poison chaos still on."""

    platform: ChaosPlatform
    env: dict
    note: object
    deaths: list = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self):
        self.thread = threading.Thread(target=self._watch, name="poison-watch", daemon=True)
        self.thread.start()

    def _watch(self):
        from tests.chaos.platform import process_alive

        current = self.platform.main_pid("notifications")
        while not self.stop.wait(0.2):
            if current and process_alive(current):
                continue
            if self.stop.is_set():
                return
            code = self.platform.exit_code(current) if current else None
            self.deaths.append(code)
            current = self.platform.restart("notifications", env=self.env, wait=False)
            self.note(f"notifications died (exit code {code}): restarted as pid {current}")

    def finish(self):
        self.stop.set()
        if self.thread is not None:
            self.thread.join(5)


class PoisonMessage(Fault):
    """(h) A message whose handler kills its worker: notifications runs with
    `CIVIC_CHAOS=poison=notifications`; the workload marks some requests
    `X-Correlation-ID: chaos-poison-<n>`; the harness restarts notifications whenever
    it dies (exit code 70)."""

    name = "poison_message"
    title = "poison message kills its worker"
    # Three poisoned requests, each costing notifications 4 deaths per queue it reaches
    # (a comment one queue, a support two): enough to show the isolation and the dead
    # letters, few enough that the round's length does not grow with the load (a slow CI
    # machine saw 38 deaths and 132 s with no cap).
    workload = {"poison_every": 7, "poison_limit": 3}  # noqa: RUF012
    chaos = "poison=notifications"

    def __init__(self):
        self._supervisor: _Supervisor | None = None
        self._poisoned = False

    def prepare(self, platform, note):
        env = {"CIVIC_CHAOS": self.chaos}
        old = platform.main_pid("notifications")
        pid = platform.restart("notifications", env=env)
        self._poisoned = True
        note(f"notifications restarted with CIVIC_CHAOS={self.chaos}: {old}→{pid}")
        self._supervisor = _Supervisor(platform, env, note)
        self._supervisor.start()

    def inject(self, platform, timing, note):
        time.sleep(timing.outage)
        deaths = list(self._supervisor.deaths) if self._supervisor else []
        note(
            f"notifications died {len(deaths)} times so far "
            f"({sum(1 for d in deaths if d == POISON_EXIT_CODE)} with exit code "
            f"{POISON_EXIT_CODE})"
        )
        if not any(code == POISON_EXIT_CODE for code in deaths):
            raise FaultNotObserved("no poison message killed notifications")

    def heal(self, platform, note):
        if self._supervisor is not None:
            # The poison stays on until every poisoned message has gone through its
            # attempts (1 + CIVIC_RETRY_DELAYS, each delivery killing the process) into
            # the dead letters: that is what the round shows. The queues empty then.
            try:
                seconds = platform.wait_quiet(POISON_SETTLE_S, quiet_for=3.0)
                note(f"poisoned messages settled (dead-lettered) after {seconds:.1f}s")
            except PlatformError as exc:
                note(f"poisoned messages still moving: {exc}")
            self._supervisor.finish()
            note(f"notifications died {len(self._supervisor.deaths)} times in all")
            self._supervisor = None
        if self._poisoned:
            self._poisoned = False
            old = platform.main_pid("notifications")
            pid = platform.restart("notifications")
            note(f"notifications restarted without chaos: {old}→{pid}")
        ensure_all_running(platform, note)


class NodeStop(Fault):
    """(issue 15) A cluster run: one RabbitMQ node of deploy/local-cluster stopped
    mid-load and started again, then another one. Every durable Civic queue is a quorum
    queue with a member on each node, so two nodes of three keep every queue; the
    services connected to the stopped node reconnect to another one."""

    name = "node_stop"
    title = "RabbitMQ cluster: node 1 stopped and restarted, then node 2"
    nodes = (1, 2)

    def prepare(self, platform, note):
        if not cluster_nodes():
            raise FaultNotObserved("node_stop needs a cluster run (--cluster)")
        queues = _durable_civic_queues(platform)
        classic = sorted(name for name, row in queues.items() if row.get("type") != "quorum")
        if classic:
            raise FaultNotObserved(f"not quorum queues: {', '.join(classic[:5])}")
        spread = {len(row.get("members") or []) for row in queues.values()}
        note(f"{len(queues)} durable Civic queues, all quorum, members per queue: {spread}")

    def inject(self, platform, timing, note):
        for number in self.nodes:
            node = f"civic-{number}@localhost"
            port = broker_ports()[number - 1]
            leading = sum(
                1 for row in _durable_civic_queues(platform).values() if row.get("leader") == node
            )
            began = time.monotonic()
            stopped = _local_cluster("stop", str(number))
            refused = _port_refuses(RABBIT_HOST, port)
            note(
                f"{node} stopped (exit {stopped.returncode}, {time.monotonic() - began:.1f}s; "
                f"it led {leading} queues); port {port} "
                f"{'refuses connections' if refused else 'still answers'}"
            )
            if stopped.returncode != 0 or not refused:
                raise FaultNotObserved(f"{node} did not stop: {stopped.output}")
            time.sleep(timing.outage / len(self.nodes))
            self._start(number, note)

    def _start(self, number: int, note) -> None:
        node = f"civic-{number}@localhost"
        began = time.monotonic()
        started = _local_cluster("start-node", str(number))
        note(f"{node} started again (exit {started.returncode}, {time.monotonic() - began:.1f}s)")
        if started.returncode != 0:
            raise PlatformError(f"{node} did not start again: {started.output}")

    def heal(self, platform, note):
        for number in range(1, cluster_nodes() + 1):
            if _port_refuses(RABBIT_HOST, broker_ports()[number - 1]):
                self._start(number, note)
        ensure_all_running(platform, note)


def _local_cluster(*args: str) -> _Ran:
    began = time.monotonic()
    try:
        done = subprocess.run(
            [str(CLUSTER_SCRIPT), *args], capture_output=True, text=True, timeout=180
        )
    except subprocess.TimeoutExpired:
        return _Ran(-1, time.monotonic() - began, "timed out")
    return _Ran(done.returncode, time.monotonic() - began, (done.stdout + done.stderr)[-300:])


def _durable_civic_queues(platform) -> dict[str, dict]:
    """The management API's rows of Civic's durable queues of the vhost, by name (not
    nameko's standalone clients' reply queues)."""
    answer = management(
        "GET",
        f"/queues/{quote(platform.vhost, safe='')}",
        params={"columns": "name,durable,type,members,leader"},
    )
    answer.raise_for_status()
    return {
        row["name"]: row
        for row in answer.json()
        if row["name"].startswith(("evt-", "rpc-")) or row["name"] == "civic.dead-letters"
    }


FAULTS = {
    fault.name: fault
    for fault in (
        NoFault,
        KillEachService,
        BrokerRestart,
        DatabaseOutage,
        BrokerFreeze,
        DuplicateDelivery,
        ReorderedDelivery,
        SlowAndRefusingSmtp,
        PoisonMessage,
        NodeStop,
    )
}
# The rounds of a run, in order: the broker restart last, since it touches the machine's
# broker that others use too.
DEFAULT_ROUNDS = (
    "kill",
    "database_outage",
    "broker_freeze",
    "duplicate_delivery",
    "reordered_delivery",
    "slow_and_refusing_smtp",
    "poison_message",
    "broker_restart",
)
