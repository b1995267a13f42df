"""`civic up`, `civic down`, `civic status`: each service its own process (a pid file in
`<var>/run/`, its output in `<var>/log/<service>.out`), started, watched until it answers
its health check, and stopped.

`up` and `status` ask the domain services for `health` over nameko RPC, so they make the
process cooperative with eventlet, and only when they run.

Mail: when no SMTP server is configured (`CIVIC_MAIL_CATCHER`, i.e. no CIVIC_SMTP_HOST),
`up` first starts the local mail catcher (civic.mailcatcher) on 127.0.0.1:CIVIC_SMTP_PORT,
supervised like a service (`<var>/run/mailcatcher.pid`, `<var>/log/mailcatcher.out`), so
the services' first email already has somewhere to go; `down` stops it after the last
service; `status` says where mail goes.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

from civic import clock, config, mailcatcher
from civic.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    CommandError,
    broker_errors,
    load_settings,
    parse_services,
    rpc_listening,
    say,
    setup_logging,
    unreachable_broker,
    warn,
)
from civic.cli.migrate import migrate
from civic.cli.seed import seed

START_DEADLINE = 60.0
STOP_DEADLINE = 15.0
HEALTH_TIMEOUT = 2.0
# The local mail catcher: its name for pid and output files, where it listens, and how
# long it may take to answer.
MAIL_CATCHER = "mailcatcher"
MAIL_CATCHER_HOST = "127.0.0.1"
MAIL_CATCHER_DEADLINE = 15.0
# The module each supervised process runs (`python -m …`): services run civic.runner.
PROCESS_MODULES = {MAIL_CATCHER: "civic.mailcatcher"}
RUNNER = "civic.runner"


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
    """Alive, not a zombie, and (where /proc tells) really `civic.runner <service>` (or,
    for the mail catcher, `civic.mailcatcher`).

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
    if service is None:
        return any(module in words for module in (RUNNER, *PROCESS_MODULES.values()))
    module = PROCESS_MODULES.get(service, RUNNER)
    if module not in words:
        return False
    return module != RUNNER or service in words


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
    return start_process(settings, service, [sys.executable, "-m", RUNNER, service])


def start_process(settings: dict, name: str, command: list[str]):
    """Run `command` in a session of its own, its output appended to `<log>/<name>.out`,
    its pid in `<run>/<name>.pid`."""
    import subprocess

    out = out_file(settings, name)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "ab") as stream:
        stream.write(f"--- civic up {clock.iso(clock.utcnow())} ---\n".encode())
        stream.flush()
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=stream,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    write_pid(pid_file(settings, name), process.pid)
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


# --- the mail catcher -----------------------------------------------------------------


def mail_catcher_answers(port: int, timeout: float = HEALTH_TIMEOUT) -> bool:
    """Whether Civic's mail catcher (not another SMTP server) greets on the port."""
    try:
        with socket.create_connection((MAIL_CATCHER_HOST, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            greeting = sock.recv(512)
            sock.sendall(b"QUIT\r\n")
    except OSError:
        return False
    return greeting.startswith(b"220 ") and mailcatcher.IDENT.encode() in greeting


def listen_problem(host: str, port: int) -> str | None:
    """Why nothing new can listen on host:port (None when something can), tried the way
    asyncio listens (SO_REUSEADDR), so a port left in TIME_WAIT is no problem."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "the port is taken by another program"
            return exc.strerror or str(exc)
    return None


def mail_catcher_error(port: int, reason: str) -> CommandError:
    return CommandError(
        f"the mail catcher cannot listen on {MAIL_CATCHER_HOST}:{port}: {reason}. "
        "With no CIVIC_SMTP_HOST set, `civic up` catches mail locally on "
        f"{MAIL_CATCHER_HOST}:CIVIC_SMTP_PORT. Stop what holds the port, set "
        "CIVIC_SMTP_PORT to a free port, or set CIVIC_SMTP_HOST (and CIVIC_SMTP_PORT) "
        "to send mail to that SMTP server"
    )


def start_mail_catcher(settings: dict):
    """Start the mail catcher and wait until it answers; its process, or None when it
    already runs. CommandError when it cannot listen (nothing is left running)."""
    pid = running_pid(settings, MAIL_CATCHER)
    if pid:
        say(f"{MAIL_CATCHER:<14} already running (pid {pid})")
        return None
    port = settings["CIVIC_SMTP_PORT"]
    problem = listen_problem(MAIL_CATCHER_HOST, port)
    if problem:
        raise mail_catcher_error(port, problem)
    directory = mailcatcher.mail_dir(settings)
    process = start_process(
        settings,
        MAIL_CATCHER,
        [
            sys.executable,
            "-m",
            PROCESS_MODULES[MAIL_CATCHER],
            "--host",
            MAIL_CATCHER_HOST,
            "--port",
            str(port),
            "--dir",
            str(directory),
        ],
    )
    out = out_file(settings, MAIL_CATCHER)
    say(f"{MAIL_CATCHER:<14} starting (pid {process.pid}, output in {out})")
    began = time.monotonic()
    while process.poll() is None:
        if mail_catcher_answers(port, timeout=1.0):
            if process.poll() is None:  # the greeting was ours, not a late newcomer's
                say(f"{MAIL_CATCHER:<14} ready ({time.monotonic() - began:.1f}s)")
                return process
            break
        if time.monotonic() - began > MAIL_CATCHER_DEADLINE:
            stop_pids(settings, [MAIL_CATCHER])
            raise CommandError(
                f"the mail catcher did not answer on {MAIL_CATCHER_HOST}:{port} within "
                f"{MAIL_CATCHER_DEADLINE:.0f}s; last lines of {out}:\n{tail(out)}"
            )
        time.sleep(0.1)
    pid_file(settings, MAIL_CATCHER).unlink(missing_ok=True)
    problem = listen_problem(MAIL_CATCHER_HOST, port)
    if problem:
        raise mail_catcher_error(port, problem)
    raise CommandError(
        f"the mail catcher exited during start-up (exit code {process.returncode}); "
        f"last lines of {out}:\n{tail(out)}"
    )


def mail_page(settings: dict) -> str:
    """The website's development page that shows the caught mail."""
    return f"{settings['CIVIC_PUBLIC_URL']}/dev/mail"


def mail_destination(settings: dict) -> str:
    """Where mail goes, for `civic status` (never the SMTP login)."""
    port = settings["CIVIC_SMTP_PORT"]
    if settings["CIVIC_MAIL_CATCHER"]:
        return (
            f"caught locally on {MAIL_CATCHER_HOST}:{port}, kept in "
            f"{mailcatcher.mail_dir(settings)} (see {mail_page(settings)})"
        )
    tls = settings["CIVIC_SMTP_TLS"]
    return f"sent to {settings['CIVIC_SMTP_HOST']}:{port} ({'no TLS' if tls == 'none' else tls})"


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
        with urllib.request.urlopen(
            f"{web_base_url(settings)}/healthz", timeout=timeout
        ) as response:
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
            raise unreachable_broker(self.settings, exc) from None

    def listening(self, service: str) -> bool:
        """Whether any instance consumes the service's RPC queue (see `rpc_listening`)."""
        from kombu import Connection

        if self._connection is None:
            self._connection = Connection(self.settings["AMQP_URI"], connect_timeout=5)
        return rpc_listening(self._connection, service)

    def _connect(self):
        if self._proxy is None:
            from nameko.standalone.rpc import ClusterRpcClient

            self._client = ClusterRpcClient(timeout=self.timeout, uri=self.settings["AMQP_URI"])
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

    catcher = None
    if settings["CIVIC_MAIL_CATCHER"]:
        try:
            catcher = start_mail_catcher(settings)  # first: the first email has a home
        except CommandError as exc:
            checker.close()
            warn(f"civic: error: {exc}")
            return exc.code
    started = {}
    for service in services:
        pid = running_pid(settings, service)
        if pid:
            say(f"{service:<14} already running (pid {pid})")
            continue
        process = start_service(settings, service)
        started[service] = process
        say(f"{service:<14} starting (pid {process.pid}, output in {out_file(settings, service)})")
    try:
        wait_until_healthy(settings, services, started, checker, args.wait)
    except CommandError as exc:
        checker.close()
        warn(f"civic: error: {exc}")
        if started:
            say("stopping the services this run started")
            stop_pids(settings, list(started))
        if catcher is not None:
            stop_pids(settings, [MAIL_CATCHER])
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
    if settings["CIVIC_MAIL_CATCHER"]:
        say(f"Its mail is kept in {mailcatcher.mail_dir(settings)}: {mail_page(settings)}")
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
                    f"{tail(out_file(settings, service))}"
                )
            answer = checker.check(service)
            if answer is not None:
                waiting.remove(service)
                say(f"{service:<14} ready ({time.monotonic() - began:.1f}s)")
        if not waiting:
            return
        now = time.monotonic()
        if now > deadline:
            raise CommandError(
                f"not ready after {deadline_s:.0f}s: {', '.join(waiting)}; "
                f"see {out_dir(settings)}/<service>.out and `civic logs`"
            )
        if now > next_note:
            say(f"still waiting for {', '.join(waiting)} ({now - began:.0f}s)")
            next_note = now + 10
        time.sleep(0.3)


def cmd_down(args) -> int:
    services = parse_services(args.services)
    settings = load_settings()
    present = [s for s in services if pid_file(settings, s).exists()]
    catcher = pid_file(settings, MAIL_CATCHER).exists()
    if not present and not catcher:
        say("nothing to stop: no service was started by `civic up`")
        return EXIT_OK
    # Gateway first, so no new request comes in while the domain services stop.
    stop_pids(settings, list(reversed(present)))
    # The mail catcher last, once no service is left to send it mail.
    if catcher and not any(running_pid(settings, s) for s in config.SERVICES):
        stop_pids(settings, [MAIL_CATCHER])
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
                health = (
                    f"{answer.get('status', '?')}  version {answer.get('version', '?')}"
                    f"  outbox_unsent {answer.get('outbox_unsent')}"
                )
                if answer.get("status") != "ok":
                    all_well = False
                    health += f"  database {answer.get('database')}"
            say(f"{service:<14} {process:<22} {health}")
    finally:
        checker.close()
    if settings["CIVIC_MAIL_CATCHER"]:
        pid = running_pid(settings, MAIL_CATCHER)
        process = f"running (pid {pid})" if pid else "not running"
        port = settings["CIVIC_SMTP_PORT"]
        if mail_catcher_answers(port, timeout=args.timeout):
            health = f"answers on {MAIL_CATCHER_HOST}:{port}"
        else:
            health = "no answer"
        # Not ours (another var dir's catcher) is as bad as none: mail lands elsewhere.
        all_well = all_well and bool(pid) and health != "no answer"
        say(f"{MAIL_CATCHER:<14} {process:<22} {health}")
    say(f"{'mail':<14} {mail_destination(settings)}")
    _say_orphaned_queues(settings)
    return EXIT_OK if all_well else EXIT_FAILED


def _say_orphaned_queues(settings) -> None:
    """Queues of Civic's naming that no handler declares any more (see civic.topology)."""
    from civic import topology

    try:
        orphaned = topology.orphaned_queues(settings["RABBIT_MANAGEMENT_URI"], settings["AMQP_URI"])
    except Exception as exc:  # the management API is optional for status
        say(f"{'orphaned':<14} unknown (management API: {type(exc).__name__})")
        return
    for queue in orphaned:
        say(f"{'orphaned':<14} {queue['name']}  {queue['messages']} message(s)")
