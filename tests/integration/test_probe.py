"""The health file every domain service writes (civic.probe.HealthFile) and the probe
command Kubernetes runs on it (`python -m civic.probe live|ready|migrated <service>`),
with real service containers on the real broker and databases."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from sqlalchemy import MetaData

from civic import config, migrations, probe
from civic.db import Database, kernel_tables
from civic.probe import HealthFile
from civic.service import ServiceBase
from tests.conftest import wait_for
from tests.integration import toys

HOST = socket.gethostname()

away_meta = MetaData()
kernel_tables(away_meta)


class AwayToy(ServiceBase):
    """A service whose database can be taken away: its SQLite file's path is made a
    directory (nothing can open it) and given back by removing the directory."""

    name = "toyaway"
    db = Database(away_meta)
    probe = HealthFile(interval=0.2)  # a check every 0.2 s: the test waits less


def run_probe(*args: str, env: dict) -> subprocess.CompletedProcess:
    """The command as the kubelet runs it: a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "civic.probe", *args],
        cwd=config.ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def read_record(path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def test_a_running_service_writes_its_health_file_and_is_live_and_ready(toys_world):
    """Every ServiceBase service has the probe (toysource, like the real ones)."""
    toys_world.start(toys.ToySource)
    var_dir = toys_world.settings["CIVIC_VAR_DIR"]
    path = probe.health_file(var_dir, "toysource", HOST, os.getpid())

    record = wait_for(lambda: read_record(path), message="the health file")

    assert (record["service"], record["host"], record["pid"]) == ("toysource", HOST, os.getpid())
    assert record["database"] == "ok"
    env = {"CIVIC_VAR_DIR": var_dir}
    live = run_probe("live", "toysource", env=env)
    assert live.returncode == 0, live.stdout + live.stderr
    assert live.stdout.startswith("live: toysource")
    ready = run_probe("ready", "toysource", env=env)
    assert ready.returncode == 0, ready.stdout + ready.stderr
    # A service that runs nowhere here has no file: not live.
    absent = run_probe("live", "toysink", env=env)
    assert absent.returncode == 1
    assert "no health file" in absent.stdout


def test_a_database_that_goes_away_makes_it_unready_but_still_live(toys_world, tmp_path):
    sqlite_file = tmp_path / "away" / "toyaway.db"
    sqlite_file.mkdir(parents=True)  # a directory where the database file should be
    toys_world.settings["CIVIC_DATABASES"]["toyaway"] = f"sqlite:///{sqlite_file}"
    toys_world.start(AwayToy)
    var_dir = toys_world.settings["CIVIC_VAR_DIR"]
    path = probe.health_file(var_dir, "toyaway", HOST, os.getpid())
    env = {"CIVIC_VAR_DIR": var_dir}

    record = wait_for(lambda: read_record(path), message="the health file")

    assert record["database"].startswith("error: ")
    ready = run_probe("ready", "toyaway", env=env)
    assert ready.returncode == 1
    assert "its database did not answer" in ready.stdout
    # Not a reason to restart it: its handlers wait for the database (DatabaseGate).
    assert run_probe("live", "toyaway", env=env).returncode == 0

    sqlite_file.rmdir()  # the database is back (SQLite makes the file on connecting)

    wait_for(lambda: (read_record(path) or {}).get("database") == "ok", message="database ok")
    again = run_probe("ready", "toyaway", env=env)
    assert again.returncode == 0, again.stdout


def test_a_file_not_rewritten_in_time_is_not_live(toys_world):
    runner = toys_world.start(toys.ToySource)
    var_dir = toys_world.settings["CIVIC_VAR_DIR"]
    path = probe.health_file(var_dir, "toysource", HOST, os.getpid())
    wait_for(lambda: read_record(path), message="the health file")

    runner.kill()  # as when the container dies: the file stays and ages

    record = read_record(path)
    env = {"CIVIC_VAR_DIR": var_dir}
    checked = record["checked_at"]
    # The clock the probe reads is injectable: just within the limit, then past it.
    assert probe.main(["live", "toysource"], now=lambda: checked + probe.MAX_AGE, env=env) == 0
    assert probe.main(["live", "toysource"], now=lambda: checked + probe.MAX_AGE + 1, env=env) == 1
    assert probe.main(["ready", "toysource"], now=lambda: checked + probe.MAX_AGE + 1, env=env) == 1
    # And with the real clock, as the kubelet runs it: stale after --max-age.
    stale = wait_for(
        lambda: run_probe("live", "toysource", "--max-age", "1", env=env).returncode == 1,
        timeout=30,
        message="the file to be older than 1 s",
    )
    assert stale
    assert "stuck" in run_probe("live", "toysource", "--max-age", "1", env=env).stdout


def test_a_graceful_stop_removes_the_file(toys_world):
    runner = toys_world.start(toys.ToySource)
    var_dir = toys_world.settings["CIVIC_VAR_DIR"]
    path = probe.health_file(var_dir, "toysource", HOST, os.getpid())
    wait_for(lambda: read_record(path), message="the health file")

    runner.stop()

    assert not path.exists()
    assert probe.main(["live", "toysource"], env={"CIVIC_VAR_DIR": var_dir}) == 1


def test_a_crashed_process_file_is_removed_at_the_next_start(toys_world):
    var_dir = toys_world.settings["CIVIC_VAR_DIR"]
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)  # a process that has ended
    left = probe.health_file(var_dir, "toysource", HOST, dead_pid)
    probe.write_atomically(
        left, {"service": "toysource", "host": HOST, "pid": dead_pid, "checked_at": 0.0}
    )

    toys_world.start(toys.ToySource)

    wait_for(lambda: read_record(probe.health_file(var_dir, "toysource", HOST, os.getpid())))
    assert not left.exists()


# --- migrated? ----------------------------------------------------------------------------


@pytest.fixture
def migration_env(civic_settings):
    """The environment a pod of these settings would have (its database, its schemas)."""
    env = {"CIVIC_VAR_DIR": civic_settings["CIVIC_VAR_DIR"]}
    url = civic_settings["CIVIC_DATABASES"]["groups"]
    if not url.startswith("sqlite"):
        env["CIVIC_DATABASE_URL"] = url
        env["CIVIC_SCHEMA_PREFIX"] = civic_settings["CIVIC_SCHEMA_PREFIX"]
    return env


def test_migrated_waits_for_the_schema_of_this_image(civic_settings, migration_env):
    before = run_probe("migrated", "groups", env=migration_env)
    assert before.returncode == 1, before.stdout + before.stderr
    assert "not migrated yet" in before.stdout

    waiting = subprocess.Popen(
        [sys.executable, "-m", "civic.probe", "migrated", "groups", "--wait", "60"],
        cwd=config.ROOT,
        env={**os.environ, **migration_env},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        # It says why it waits (the init container's log) before it waits.
        first_line = waiting.stdout.readline()
        assert first_line.startswith("waiting: groups: not migrated yet"), first_line
        migrations.upgrade("groups")  # what the civic-migrate Job does
        rest, _ = waiting.communicate(timeout=90)
    finally:
        waiting.kill()
    assert waiting.returncode == 0, rest
    assert "migrated: groups: at this image's head" in rest
    # Another service's schema is still not there.
    assert run_probe("migrated", "events", env=migration_env).returncode == 1


def test_migrated_says_what_is_wrong_with_a_bad_configuration(migration_env):
    bad = run_probe("migrated", "groups", env={**migration_env, "CIVIC_DATABASE_URL": "mysql://x"})
    assert bad.returncode == 2
    assert "CIVIC_DATABASE_URL" in bad.stdout


# --- the rules, without a service ---------------------------------------------------------


def test_verdicts():
    record = {"service": "groups", "host": "pod-1", "pid": 1, "checked_at": 1000.0}
    assert probe.live_verdict(None, now=1000.0)[0] is False
    assert probe.live_verdict(record, now=1000.0 + probe.MAX_AGE)[0] is True
    assert probe.live_verdict(record, now=1000.1 + probe.MAX_AGE)[0] is False
    assert probe.ready_verdict({**record, "database": "ok"}, now=1001.0)[0] is True
    assert probe.ready_verdict({**record, "database": "none"}, now=1001.0)[0] is True
    assert probe.ready_verdict({**record, "database": "error: X"}, now=1001.0)[0] is False
    assert probe.ready_verdict({**record, "database": "ok"}, now=2000.0)[0] is False


def test_the_newest_file_of_a_service_on_this_host_tells(tmp_path):
    def write(service, host, pid, checked_at):
        probe.write_atomically(
            probe.health_file(tmp_path, service, host, pid),
            {"service": service, "host": host, "pid": pid, "checked_at": checked_at},
        )

    write("groups", "pod-1", 7, 100.0)  # an earlier process of this container
    write("groups", "pod-1", 8, 200.0)
    write("groups", "pod-2", 9, 300.0)  # another pod sharing the directory
    write("groupsx", "pod-1", 10, 400.0)  # another service

    assert probe.latest_record(tmp_path, "groups", "pod-1")["pid"] == 8
    assert probe.latest_record(tmp_path, "groups", "pod-1", pid=7)["pid"] == 7
    assert probe.latest_record(tmp_path, "groups", "pod-3") is None
    assert not list((tmp_path / "health").glob(".*"))  # no temporary file left


def test_the_probe_command_imports_no_heavy_library():
    """The kubelet starts it every few seconds in every pod."""
    code = (
        "import sys, civic.probe\n"
        "print(sorted(m for m in ('eventlet', 'nameko', 'sqlalchemy') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=config.ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "[]", done.stderr
