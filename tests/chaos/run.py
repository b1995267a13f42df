"""Run the chaos suite: `python -m tests.chaos.run [--short | --cluster]
[--db sqlite|postgresql|…] [--rounds kill,broker_freeze,…] [--seed N]`.

One platform per database (tests/chaos/platform.py), then one round per fault
(tests/chaos/faults.py), each:

1. the fault's preparation (a second notifications instance, a poisoned one…);
2. the workload (tests/chaos/workload.py) in a background thread; once its load has
   begun (its "N operations by C clients" line), the fault is injected, held for the
   round's outage and healed; a few seconds later the load is told to stop;
3. the services back to normal (`heal`), then `wait_quiet`: no message in any queue,
   every outbox sent, for a few seconds in a row;
4. the checker (tests/chaos/checker.py): Jepsen's counts — lost, recovered,
   unexpected, duplicated — and the dead letters.

Prints one table (fault × counts) and writes it, with each round's observations (what
the fault did, seen: pids, exit codes, locks, bytes) and the checker's detail, to
`var/chaos/report.md` (`cluster-report.md` for `--cluster`); each round's history goes
to `var/chaos/<db>-<fault>.jsonl`.
Exit status 1 when any round lost, doubled or invented something, dead-lettered a
healthy message, could not observe its fault, or did not run.

`--short` (what `make test` runs): one round of each fault on SQLite with a small load
and outages that still outlast the retry delays (1 + 4 + 15 s), in under 9 minutes on a
2-core machine; rounds that no longer fit in its time budget are skipped (and fail).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field

from tests.chaos import faults as fault_kinds
from tests.chaos.platform import (
    CLUSTER_SCRIPT,
    CLUSTER_SETTING,
    ROOT,
    ChaosPlatform,
    PlatformError,
)

REPORT_DIR = ROOT / "var" / "chaos"


@dataclass(frozen=True)
class Profile:
    name: str
    clients: int
    operations: int  # a cap: the load is stopped shortly after the fault is healed
    fault_delay: float  # seconds of load before the fault
    tail: float  # seconds of load after the fault is healed
    outages: dict
    quiet_deadline: float
    budget: float | None = None  # seconds for the whole run (rounds beyond are skipped)
    # What a round needs beyond its outage (setup, restarts, quiet, check), to decide
    # whether the next one still fits in the budget.
    round_overhead: float = 30.0


SHORT = Profile(
    name="short",
    clients=3,
    operations=1000,
    fault_delay=3.0,
    tail=3.0,
    outages={
        "none": 5,
        "kill": 15,  # one domain service every 3 s
        "database_outage": 25,  # > 1 + 4 + 15 s of retry delays
        "broker_freeze": 25,
        "duplicate_delivery": 10,
        "reordered_delivery": 10,
        "slow_and_refusing_smtp": 16,
        "poison_message": 12,
        "broker_restart": 8,
    },
    quiet_deadline=45.0,
    budget=540.0,
)

FULL = Profile(
    name="full",
    clients=6,
    operations=3000,
    fault_delay=8.0,
    tail=8.0,
    outages={
        "none": 30,
        "kill": 50,
        "database_outage": 45,
        "broker_freeze": 30,
        "duplicate_delivery": 40,
        "reordered_delivery": 40,
        "slow_and_refusing_smtp": 60,
        "poison_message": 40,
        "broker_restart": 20,
    },
    quiet_deadline=180.0,
)


# `--cluster` (issue 15): a three-node RabbitMQ cluster (deploy/local-cluster), three
# instances of every domain service and two gateways on PostgreSQL; the fault is nodes
# going (one, then another). Outage: both nodes' stops together.
CLUSTER = Profile(
    name="cluster",
    clients=3,
    operations=1500,
    fault_delay=5.0,
    tail=5.0,
    outages={"none": 10, "node_stop": 30},
    quiet_deadline=150.0,
)
CLUSTER_ROUNDS = ("node_stop",)


@dataclass
class RoundResult:
    db: str
    fault: str
    title: str
    seconds: float = 0.0
    counts: object = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    skipped: bool = False
    stuck: bool = False  # not quiet by the deadline (services restarted to see more)
    quiet_seconds: float | None = None

    @property
    def failed(self) -> bool:
        if self.skipped or self.error or self.stuck or self.counts is None:
            return True
        return bool(self.counts.failed(poison_round=self.fault == "poison_message"))


class Clock:
    def __init__(self):
        self.began = time.monotonic()
        self._lock = threading.Lock()  # faults note from several threads at once

    def elapsed(self) -> float:
        return time.monotonic() - self.began

    def say(self, text: str) -> None:
        with self._lock:
            sys.stdout.write(f"[{self.elapsed():6.1f}s] {text}\n")
            sys.stdout.flush()


def load_workload():
    """H1b's workload and checker (tests/chaos/workload.py, checker.py)."""
    from tests.chaos.checker import check
    from tests.chaos.workload import run_workload

    return run_workload, check


def run_round(platform, fault_name, profile, seed, clock, seen_dead_letters) -> RoundResult:
    run_workload, check = load_workload()
    fault = fault_kinds.FAULTS[fault_name]()
    result = RoundResult(platform.db, fault_name, fault.title)
    began = time.monotonic()

    def note(text):
        result.notes.append(f"{time.monotonic() - began:5.1f}s {text}")
        clock.say(f"  [{fault_name}] {text}")

    load_began = threading.Event()
    stop = threading.Event()
    outcome: dict = {}

    def say(text):
        if " operations by " in text:
            load_began.set()
        clock.say(f"  {text}")

    def play():
        try:
            outcome["history"] = run_workload(
                platform.base_urls,
                clients=profile.clients,
                operations=profile.operations,
                seed=seed,
                stop=stop,
                say=say,
                **fault.workload,
            )
        except BaseException as exc:  # reported by the round
            outcome["error"] = f"workload: {type(exc).__name__}: {exc}"
        finally:
            load_began.set()

    timing = fault_kinds.Timing(outage=profile.outages[fault_name], short=profile is SHORT)
    clock.say(f"round {platform.db}/{fault_name}: {fault.title} ({timing.outage:.0f}s)")
    worker = threading.Thread(target=play, name="chaos-workload", daemon=True)
    try:
        fault.prepare(platform, note)
        worker.start()
        load_began.wait(240)
        if "error" not in outcome and worker.is_alive():
            time.sleep(profile.fault_delay)
            fault.inject(platform, timing, note)
            time.sleep(profile.tail)
    except fault_kinds.FaultNotObserved as exc:
        result.error = f"fault not observed: {exc}"
    except Exception as exc:  # noqa: BLE001 - the round fails, the run goes on
        result.error = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    finally:
        stop.set()
        if worker.ident is not None:
            worker.join(120)
        try:
            fault.heal(platform, note)
        except Exception as exc:  # noqa: BLE001
            result.error = result.error or f"heal: {type(exc).__name__}: {exc}"
            traceback.print_exc()
    if outcome.get("error"):
        result.error = result.error or outcome["error"]
    history = outcome.get("history")
    if history is not None:
        history.save(REPORT_DIR / f"{platform.db}-{fault_name}.jsonl")
    try:
        result.quiet_seconds = platform.wait_quiet(
            profile.quiet_deadline, emails=fault.quiet_emails, supervise=note
        )
        note(f"quiet after {result.quiet_seconds:.1f}s")
    except PlatformError as exc:
        # Something is stuck (a consumer that never came back, a relay waiting for a
        # confirm): that fails the round. Restarting what is stuck then shows whether
        # anything was also lost, or only late.
        note(f"NOT QUIET: {exc}")
        result.stuck = True
        try:
            stuck = platform.busy_services()
            for service in stuck:
                old = platform.main_pid(service)
                new = platform.restart(service, graceful=False)
                note(f"restarted {service} to unstick it: {old}→{new}")
            seconds = platform.wait_quiet(
                profile.quiet_deadline, emails=fault.quiet_emails, supervise=note
            )
            note(f"quiet {seconds:.1f}s after those restarts")
        except PlatformError as again:
            note(f"STILL NOT QUIET: {again}")
    if history is not None:
        try:
            result.counts = check(platform, history, seen_dead_letters=seen_dead_letters)
        except Exception as exc:  # noqa: BLE001
            result.error = result.error or f"checker: {type(exc).__name__}: {exc}"
            traceback.print_exc()
    result.seconds = time.monotonic() - began
    clock.say(
        f"round {platform.db}/{fault_name}: done in {result.seconds:.0f}s — {verdict(result)}"
    )
    if result.failed and result.counts is not None:
        # The checker's detail in the output too: CI shows the output's tail, not the
        # report file.
        for line in result.counts.summary().splitlines():
            clock.say(f"  {line}")
    return result


def verdict(result: RoundResult) -> str:
    if result.skipped:
        return "skipped (time budget)"
    if result.error:
        return f"ERROR: {result.error}"
    if result.counts is None:
        return "no counts"
    if result.stuck:
        return "FAIL (stuck: not quiet by the deadline)"
    return "FAIL" if result.failed else "ok"


# --- the table ----------------------------------------------------------------------------

COLUMNS = (
    "db",
    "fault",
    "operations",
    "unknown",
    "lost",
    "recovered",
    "unexpected",
    "duplicated",
    "dead letters",
    "poison DL",
    "seconds",
    "verdict",
)


def row(result: RoundResult) -> list[str]:
    counts = result.counts
    if counts is None:
        numbers = ["–"] * 8
    else:
        numbers = [
            counts.operations,
            counts.unknown_operations,
            counts.lost,
            counts.recovered,
            counts.unexpected,
            counts.duplicated,
            counts.dead_letters,
            counts.poison_dead_letters,
        ]
    return [
        result.db,
        result.fault,
        *(str(n) for n in numbers),
        f"{result.seconds:.0f}",
        ("FAIL stuck" if result.stuck else "FAIL") if result.failed else "ok",
    ]


def table(results: list[RoundResult]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row(result)) + " |" for result in results]
    return "\n".join(lines)


def report(results: list[RoundResult], profile: Profile, seconds: float, argv: list[str]) -> str:
    parts = [
        "# Chaos suite report",
        "",
        f"`python -m tests.chaos.run {' '.join(argv)}` — profile {profile.name}, "
        f"{profile.clients} clients, {seconds:.0f}s in all.",
        "",
        table(results),
        "",
    ]
    for result in results:
        parts += [f"## {result.db} / {result.fault}: {result.title}", ""]
        parts.append(f"Verdict: {verdict(result)}")
        parts.append("")
        if result.notes:
            parts += ["Observed:", "", *(f"- {line}" for line in result.notes), ""]
        if result.counts is not None:
            parts += ["```", result.counts.summary(), "```", ""]
    return "\n".join(parts)


# --- main ---------------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m tests.chaos.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--short", action="store_true", help="one small round of each fault")
    parser.add_argument(
        "--db",
        default=None,
        help="sqlite, postgresql or both comma-separated (default: sqlite with --short, "
        "both without)",
    )
    parser.add_argument(
        "--rounds",
        default=",".join(fault_kinds.DEFAULT_ROUNDS),
        help=f"comma-separated faults of: {', '.join(fault_kinds.FAULTS)}",
    )
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="on a three-node RabbitMQ cluster (deploy/local-cluster) with three instances "
        "of every domain service and two gateways; rounds default to node_stop, db to "
        "postgresql",
    )
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args(argv)
    if args.cluster and "--rounds" not in " ".join(argv):
        args.rounds = ",".join(CLUSTER_ROUNDS)
    args.rounds = [name.strip() for name in args.rounds.split(",") if name.strip()]
    unknown = [name for name in args.rounds if name not in fault_kinds.FAULTS]
    if unknown:
        parser.error(f"unknown rounds: {', '.join(unknown)}")
    default_db = "postgresql" if args.cluster else "sqlite" if args.short else "sqlite,postgresql"
    args.db = (args.db or default_db).split(",")
    if any(db not in ("sqlite", "postgresql") for db in args.db):
        parser.error("--db: sqlite, postgresql, or both separated by a comma")
    return args


class LocalCluster:
    """deploy/local-cluster in a directory of its own, for one run: started, and the
    platform told (CIVIC_CHAOS_CLUSTER) to use its nodes; stopped and deleted after."""

    NODES = 3

    def __init__(self, say):
        self.say = say
        self.directory = tempfile.mkdtemp(prefix="civic-cluster-")
        os.environ["CIVIC_CLUSTER_DIR"] = self.directory  # the fault's script calls too
        os.environ[CLUSTER_SETTING] = str(self.NODES)

    def _script(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(CLUSTER_SCRIPT), *args], capture_output=True, text=True, timeout=timeout
        )

    def start(self) -> None:
        began = time.monotonic()
        started = self._script("start")
        if started.returncode != 0:
            raise PlatformError(
                f"deploy/local-cluster start failed:\n{started.stdout}{started.stderr}"
            )
        self.say(f"RabbitMQ cluster of {self.NODES} nodes up in {time.monotonic() - began:.0f}s")

    def wipe(self) -> None:
        self._script("wipe")
        shutil.rmtree(self.directory, ignore_errors=True)
        os.environ.pop(CLUSTER_SETTING, None)


def run_as_process(argv: list[str], limit: float) -> tuple[int, str, str]:
    """`python -m tests.chaos.run <argv>` as a process of its own (a pytest process is
    monkey-patched for eventlet; the suite drives plain threads): (exit status, its
    output, the table's lines). A run past `limit` seconds is killed (its reaper tears
    the platform down) and raises TimeoutError with its output so far."""
    try:
        finished = subprocess.run(
            [sys.executable, "-m", "tests.chaos.run", *argv],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=limit,
        )
    except subprocess.TimeoutExpired as exc:
        raise TimeoutError(f"the chaos run took over {limit:.0f}s\n{exc.stdout or ''}") from None
    print(finished.stdout)
    table = "\n".join(line for line in finished.stdout.splitlines() if line.startswith("|"))
    return finished.returncode, finished.stdout + finished.stderr[-3000:], table


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)  # through every `finally`: the platform is stopped


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    profile = CLUSTER if args.cluster else SHORT if args.short else FULL
    report_name = "cluster-report.md" if args.cluster else "report.md"
    signal.signal(signal.SIGTERM, _terminate)
    clock = Clock()
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    results: list[RoundResult] = []
    cluster = LocalCluster(clock.say) if args.cluster else None
    try:
        if cluster is not None:
            cluster.start()
        for db in args.db:
            clock.say(f"starting the platform on {db}")
            platform = ChaosPlatform.start(db=db, say=clock.say)
            try:
                seen: frozenset = frozenset()
                for index, name in enumerate(args.rounds):
                    needed = profile.outages[name] + profile.round_overhead
                    if profile.budget and clock.elapsed() + needed > profile.budget:
                        clock.say(f"round {db}/{name}: skipped, {needed:.0f}s no longer fit")
                        results.append(
                            RoundResult(db, name, fault_kinds.FAULTS[name].title, skipped=True)
                        )
                        continue
                    result = run_round(platform, name, profile, args.seed + index, clock, seen)
                    if result.counts is not None:
                        seen = frozenset(result.counts.dead_letter_ids)
                    results.append(result)
            finally:
                clock.say(f"stopping the platform on {db}")
                platform.stop()
    finally:
        if cluster is not None:
            cluster.wipe()
        if results:
            text = report(results, profile, clock.elapsed(), argv)
            (REPORT_DIR / report_name).write_text(text + "\n", encoding="utf-8")
            print()
            print(table(results))
            print(f"\nreport: {REPORT_DIR / report_name} ({clock.elapsed():.0f}s)")
    return 1 if any(result.failed for result in results) or not results else 0


if __name__ == "__main__":
    sys.exit(main())
