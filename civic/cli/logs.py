"""`civic logs`: every service's JSON log lines (`<log dir>/*.log`), filtered, merged in
time order, followed as they are written.

`--trace ID` (without `--follow`) also asks every running instance of every service for
its own lines of that correlation id (civic.instances, as the staff console's trace
screen does), so the story is whole when services run on other machines; this machine's
files add the lines of instances no longer running. Each line is printed once.

Plain, quick-starting Python: nothing here imports nameko or eventlet.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from civic import clock, config
from civic.cli.common import EXIT_OK, EXIT_USAGE, CommandError, format_value, warn

LEVELS = {
    "debug": 10,
    "info": 20,
    "warning": 30,
    "warn": 30,
    "error": 40,
    "exception": 40,
    "critical": 50,
    "fatal": 50,
}
HEAD_KEYS = ("ts", "level", "service", "entrypoint", "event")
# Left out of the readable line (still in --json): which process wrote it.
QUIET_KEYS = ("pid",)
# How long `--trace` waits for the running instances' answers.
TRACE_TIMEOUT = 3.0
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


parse_ts = clock.from_iso  # a line's `ts`


def parse_since(value: str, now: datetime | None = None, tz: str = "UTC") -> datetime:
    """`10m`, `2h`, `30s`, `1d`, `1w` ago, or an ISO 8601 time (no offset: in `tz`)."""
    now = now or clock.utcnow()
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", value or "")
    if match:
        return now - timedelta(seconds=int(match.group(1)) * SINCE_UNITS[match.group(2)])
    try:
        moment = datetime.fromisoformat((value or "").strip())
    except ValueError:
        raise ValueError(
            f"--since takes a duration like 10m, 2h, 1d or an ISO 8601 time, got {value!r}"
        ) from None
    if moment.tzinfo is None:
        from zoneinfo import ZoneInfo

        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment.astimezone(UTC)


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


def make_filter(service=None, level=None, trace=None, since=None, tz="UTC", now=None) -> LogFilter:
    """A LogFilter from command-line values; ValueError with a clear message if bad."""
    min_level = 0
    if level:
        if level.lower() not in LEVELS:
            raise ValueError(
                f"--level must be one of debug, info, warning, error, critical; got {level!r}"
            )
        min_level = LEVELS[level.lower()]
    services = frozenset(part.strip() for part in (service or "").split(",") if part.strip())
    return LogFilter(
        services=services,
        min_level=min_level,
        trace=trace or None,
        since=parse_since(since, now=now, tz=tz) if since else None,
    )


@dataclass
class LogEntry:
    """A parsed line with what orders it: time, then file, then place in the file."""

    moment: datetime
    source: int
    position: int
    record: dict

    def key(self):
        return (self.moment, self.source, self.position)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


def format_record(record: dict) -> str:
    """`ts level service entrypoint event key=value …` (a traceback on following lines)."""
    ts = str(record.get("ts", "-"))
    level = str(record.get("level", "-")).upper()
    head = (
        f"{ts} {level:<7} {str(record.get('service', '-')):<13} "
        f"{record.get('entrypoint') or '-'} {record.get('event', '-')}"
    )
    extras = [
        f"{key}={format_value(value)}"
        for key, value in record.items()
        if key not in HEAD_KEYS
        and key not in QUIET_KEYS
        and key != "exception"
        and not (key in ("actor_id", "correlation_id") and value is None)
    ]
    line = " ".join([head] + extras)
    if record.get("exception"):
        trace = str(record["exception"]).rstrip("\n")
        line += "\n" + "\n".join("    " + part for part in trace.splitlines())
    return line


def render(entry: LogEntry, as_json: bool) -> str:
    if as_json:
        return json.dumps(entry.record, ensure_ascii=False, default=str)
    return format_record(entry.record)


def instance_entries(amqp_uri: str, correlation_id: str, wanted: LogFilter) -> list[LogEntry]:
    """The lines of `correlation_id` every running instance answers with (none when the
    broker cannot be asked or no instance runs: then the files tell what they can)."""
    from civic import instances

    if not instances.valid_correlation_id(correlation_id):
        return []
    try:
        answers = instances.trace_answers(correlation_id, timeout=TRACE_TIMEOUT, amqp_uri=amqp_uri)
    except Exception as exc:  # noqa: BLE001 - no broker: the local files still answer
        warn(
            f"the running services could not be asked ({type(exc).__name__}); "
            "showing this machine's log files"
        )
        return []
    for service, count in sorted(answers.missing.items()):
        warn(f"{count} instance(s) of {service} did not answer: their lines may be missing")
    return [
        LogEntry(parse_ts(record.get("ts")) or EPOCH, -1, position, record)
        for position, record in enumerate(answers.records)
        if wanted.matches(record)
    ]


def once(entries: list[LogEntry]) -> list[LogEntry]:
    """Each line once: an instance's answer and this machine's file may both hold it."""
    seen = set()
    kept = []
    for entry in entries:
        key = json.dumps(entry.record, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            kept.append(entry)
    return kept


def cmd_logs(args) -> int:
    settings = config.from_env()
    try:
        wanted = make_filter(
            service=args.service,
            level=args.level,
            trace=args.trace,
            since=args.since,
            tz=settings["CIVIC_TIMEZONE"],
        )
    except ValueError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    reader = LogReader(Path(settings["CIVIC_LOG_DIR"]))
    out = sys.stdout
    asked = []
    if args.trace and not args.follow:
        asked = instance_entries(settings["AMQP_URI"], args.trace, wanted)
    if not reader.files() and not args.follow and not asked:
        warn(f"no log files in {reader.log_dir}")
        return EXIT_OK
    try:
        local = [e for e in reader.poll() if wanted.matches(e.record)]
        for entry in merge_entries(once(asked + local)):
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
