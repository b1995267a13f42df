"""`civic logs`: parsing, filtering, merging and following the services' JSON log lines."""

import json
from datetime import UTC, datetime

import pytest

from civic import cli
from civic.cli import logs

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


def line(ts, service="groups", level="info", event="worker_done", **extra) -> str:
    record = {"ts": ts, "level": level, "service": service, "event": event, **extra}
    return json.dumps(record)


def write(path, *lines, newline=True):
    with open(path, "a", encoding="utf-8") as stream:
        stream.write("\n".join(lines) + ("\n" if newline else ""))


# --- parsing ---------------------------------------------------------------------------


def test_parse_line_reads_json_objects_only():
    assert logs.parse_line(line("2026-11-28T10:00:00Z"))["service"] == "groups"
    assert logs.parse_line("Traceback (most recent call last):") is None
    assert logs.parse_line('{"ts": "2026-11-28T10:00:00Z", "event": ') is None
    assert logs.parse_line("[1, 2, 3]") is None
    assert logs.parse_line("") is None


def test_parse_ts_reads_utc_z_and_offsets():
    assert logs.parse_ts("2026-11-28T10:00:00.5Z") == datetime(
        2026, 11, 28, 10, 0, 0, 500000, tzinfo=UTC
    )
    assert logs.parse_ts("2026-11-28T11:00:00+01:00") == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert logs.parse_ts("yesterday") is None
    assert logs.parse_ts(None) is None


@pytest.mark.parametrize(
    "value, expected",
    [
        ("10m", datetime(2026, 11, 28, 11, 50, tzinfo=UTC)),
        ("2h", datetime(2026, 11, 28, 10, 0, tzinfo=UTC)),
        ("30s", datetime(2026, 11, 28, 11, 59, 30, tzinfo=UTC)),
        ("1d", datetime(2026, 11, 27, 12, 0, tzinfo=UTC)),
        ("2026-11-28T09:00:00+00:00", datetime(2026, 11, 28, 9, 0, tzinfo=UTC)),
        # No offset: the town's time zone (Stockholm is UTC+1 in November).
        ("2026-11-28T09:00", datetime(2026, 11, 28, 8, 0, tzinfo=UTC)),
    ],
)
def test_parse_since(value, expected):
    assert logs.parse_since(value, now=NOW, tz="Europe/Stockholm") == expected


@pytest.mark.parametrize("value", ["10x", "m10", "soon", "", "-5m"])
def test_parse_since_rejects_what_it_cannot_read(value):
    with pytest.raises(ValueError, match="--since"):
        logs.parse_since(value, now=NOW)


# --- filtering -------------------------------------------------------------------------


def test_level_filter_keeps_that_level_and_above():
    wanted = logs.make_filter(level="WARNING")
    assert not wanted.matches({"level": "info"})
    assert not wanted.matches({"level": "debug"})
    assert wanted.matches({"level": "warning"})
    assert wanted.matches({"level": "error"})
    assert wanted.matches({"level": "critical"})


def test_unknown_level_is_refused():
    with pytest.raises(ValueError, match="--level"):
        logs.make_filter(level="loud")


def test_service_trace_and_since_filters():
    wanted = logs.make_filter(service="groups,gateway", trace="c-1", since="1h", now=NOW)
    base = {"service": "groups", "correlation_id": "c-1", "ts": "2026-11-28T11:30:00Z"}
    assert wanted.matches(base)
    assert wanted.matches({**base, "service": "gateway"})
    assert not wanted.matches({**base, "service": "events"})
    assert not wanted.matches({**base, "correlation_id": "c-2"})
    assert not wanted.matches({**base, "ts": "2026-11-28T10:30:00Z"})
    assert not wanted.matches({**base, "ts": "garbage"})


def test_an_empty_filter_keeps_everything():
    assert logs.make_filter().matches({"event": "anything"})


# --- reading and merging ---------------------------------------------------------------


def test_reader_merges_files_in_time_order_and_skips_garbage(tmp_path):
    write(
        tmp_path / "groups.log",
        line("2026-11-28T10:00:01Z", event="g1"),
        "not json at all",
        line("2026-11-28T10:00:03Z", event="g2"),
    )
    write(
        tmp_path / "gateway.log",
        line("2026-11-28T10:00:00Z", service="gateway", event="w1"),
        line("2026-11-28T10:00:02Z", service="gateway", event="w2"),
        '{"broken": ',
    )
    (tmp_path / "groups.out").write_text(line("2026-11-28T09:00:00Z", event="not a .log"))
    entries = logs.merge_entries(logs.LogReader(tmp_path).poll())
    assert [e.record["event"] for e in entries] == ["w1", "g1", "w2", "g2"]


def test_same_timestamp_keeps_file_order(tmp_path):
    write(
        tmp_path / "a.log",
        line("2026-11-28T10:00:00Z", event="first"),
        line("2026-11-28T10:00:00Z", event="second"),
    )
    entries = logs.merge_entries(logs.LogReader(tmp_path).poll())
    assert [e.record["event"] for e in entries] == ["first", "second"]


def test_reader_returns_only_new_complete_lines(tmp_path):
    log = tmp_path / "groups.log"
    write(log, line("2026-11-28T10:00:00Z", event="one"))
    reader = logs.LogReader(tmp_path)
    assert [e.record["event"] for e in reader.poll()] == ["one"]
    assert reader.poll() == []
    # A line still being written waits for its newline.
    partial = line("2026-11-28T10:00:01Z", event="two")
    write(log, partial[:20], newline=False)
    assert reader.poll() == []
    write(log, partial[20:])
    assert [e.record["event"] for e in reader.poll()] == ["two"]
    # A file that appears later is picked up.
    write(tmp_path / "events.log", line("2026-11-28T10:00:02Z", service="events", event="three"))
    assert [e.record["event"] for e in reader.poll()] == ["three"]


def test_reader_starts_over_on_a_truncated_file(tmp_path):
    log = tmp_path / "groups.log"
    write(log, line("2026-11-28T10:00:00Z", event="old"), line("2026-11-28T10:00:01Z"))
    reader = logs.LogReader(tmp_path)
    assert len(reader.poll()) == 2
    log.write_text(line("2026-11-28T11:00:00Z", event="after rotation") + "\n")
    assert [e.record["event"] for e in reader.poll()] == ["after rotation"]


def test_reader_of_a_missing_directory_finds_nothing(tmp_path):
    assert logs.LogReader(tmp_path / "nope").poll() == []


# --- printing --------------------------------------------------------------------------


def test_format_record_is_one_readable_line():
    text = logs.format_record(
        {
            "ts": "2026-11-28T10:00:00Z",
            "level": "info",
            "service": "groups",
            "entrypoint": "groups.create_group",
            "event": "worker_done",
            "correlation_id": "c-1",
            "actor_id": None,
            "duration_ms": 12.5,
            "note": "two words",
        }
    )
    assert text.startswith("2026-11-28T10:00:00Z INFO")
    assert "groups.create_group worker_done" in text
    assert "correlation_id=c-1" in text
    assert "duration_ms=12.5" in text
    assert 'note="two words"' in text
    assert "actor_id" not in text  # empty context is left out
    assert "\n" not in text


def test_format_record_puts_a_traceback_on_following_lines():
    text = logs.format_record(
        {
            "ts": "t",
            "level": "error",
            "service": "events",
            "event": "worker_failed",
            "exception": "Traceback:\n  boom\nValueError: x",
        }
    )
    first, *rest = text.splitlines()
    assert "worker_failed" in first and "exception" not in first
    assert rest == ["    Traceback:", "      boom", "    ValueError: x"]


def test_main_logs_filters_and_prints_json(tmp_path, monkeypatch, capsys):
    log_dir = tmp_path / "var" / "log"
    log_dir.mkdir(parents=True)
    write(
        log_dir / "gateway.log",
        line("2026-11-28T10:00:00Z", service="gateway", correlation_id="abc", event="a"),
        line("2026-11-28T10:00:02Z", service="gateway", correlation_id="zzz", event="b"),
    )
    write(log_dir / "groups.log", line("2026-11-28T10:00:01Z", correlation_id="abc", event="c"))
    monkeypatch.setenv("CIVIC_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("CIVIC_LOG_DIR", raising=False)
    assert cli.main(["logs", "--trace", "abc", "--json"]) == 0
    printed = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert [(r["service"], r["event"]) for r in printed] == [("gateway", "a"), ("groups", "c")]


def test_main_logs_refuses_a_bad_level(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CIVIC_VAR_DIR", str(tmp_path))
    assert cli.main(["logs", "--level", "loud"]) == 2
    assert "--level" in capsys.readouterr().err


def test_follow_prints_lines_as_they_are_written_until_interrupted(tmp_path):
    """`civic logs --follow` as a real process: new lines appear, Ctrl-C ends it cleanly."""
    import os
    import select
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    log_dir = tmp_path / "log"
    log_dir.mkdir()
    write(log_dir / "groups.log", line("2026-11-28T10:00:00Z", event="before"))
    env = {**os.environ, "CIVIC_VAR_DIR": str(tmp_path), "CIVIC_LOG_DIR": str(log_dir)}
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("civic")),
            "logs",
            "--follow",
            "--service",
            "events",
            "--interval",
            "0.05",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        write(
            log_dir / "events.log", line("2026-11-28T10:00:01Z", service="events", event="arrived")
        )
        ready, _, _ = select.select([process.stdout], [], [], 15)
        assert ready, "no output from civic logs --follow"
        printed = process.stdout.readline()
        assert "events" in printed and "arrived" in printed  # the groups line is filtered
        process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 10
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.returncode == 0
        assert "Traceback" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
