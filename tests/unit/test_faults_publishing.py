"""Issue 12, the publishing side, without a broker: SQLite's lock waits are cooperative
(finding 11) and the new settings are validated."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import eventlet
import pytest
from nameko import config as nameko_config
from sqlalchemy import MetaData, func, select

from civic import config
from civic.config import ConfigError
from civic.db import ServiceDatabase, kernel_tables

HOLD_SECONDS = 3.0

LOCK_HOLDER = textwrap.dedent(
    """
    import sqlite3, sys, time
    connection = sqlite3.connect(sys.argv[1], isolation_level=None)
    connection.execute("BEGIN EXCLUSIVE")
    connection.execute("DELETE FROM inbox")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    connection.execute("COMMIT")
    """
)


def test_sqlite_lock_held_by_another_process_does_not_block_the_hub(tmp_path):
    metadata = MetaData()
    kernel_tables(metadata)
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    settings = config.from_env({"CIVIC_VAR_DIR": str(tmp_path)})
    with nameko_config.patch(settings, clear=False):
        database = ServiceDatabase("toysource", metadata, url=url, amqp_uri=settings["AMQP_URI"])
        database.create_all()
        holder = subprocess.Popen(
            [sys.executable, "-c", LOCK_HOLDER, str(tmp_path / "locked.db"), str(HOLD_SECONDS)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout.readline().strip() == "locked"
            ticks: list[float] = []
            running = True

            def ticker():
                while running:
                    ticks.append(time.monotonic())
                    eventlet.sleep(0.01)

            ticking = eventlet.spawn(ticker)
            eventlet.sleep(0.05)  # ticking before the write begins
            started = time.monotonic()
            with database.unit_of_work() as uow:  # waits for the other process's lock
                assert uow.claim_message("message-1", "toysource.on_noted")
            waited = time.monotonic() - started
            running = False
            ticking.wait()
        finally:
            holder.wait(timeout=HOLD_SECONDS + 10)
        # The write waited for the lock and then went through…
        assert waited >= HOLD_SECONDS * 0.5
        with database.sessions() as session:
            assert (
                session.execute(select(func.count()).select_from(database.inbox)).scalar_one() == 1
            )
        # …while every other green thread of the process kept running.
        gaps = [later - earlier for earlier, later in zip(ticks, ticks[1:], strict=False)]
        assert len(ticks) > 50
        assert max(gaps) < 0.5, f"the hub stalled for {max(gaps):.2f} s"
        database.dispose()


def test_sqlite_busy_wait_gives_up_after_the_setting(tmp_path):
    metadata = MetaData()
    kernel_tables(metadata)
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    settings = config.from_env({"CIVIC_VAR_DIR": str(tmp_path), "CIVIC_SQLITE_BUSY_WAIT": "0.5"})
    with nameko_config.patch(settings, clear=False):
        database = ServiceDatabase("toysource", metadata, url=url, amqp_uri=settings["AMQP_URI"])
        database.create_all()
        holder = subprocess.Popen(
            [sys.executable, "-c", LOCK_HOLDER, str(tmp_path / "locked.db"), "3"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout.readline().strip() == "locked"
            started = time.monotonic()
            with pytest.raises(Exception, match="database is locked"):
                with database.unit_of_work() as uow:
                    uow.claim_message("message-1", "toysource.on_noted")
            assert time.monotonic() - started < 2.0
        finally:
            holder.wait(timeout=10)
            database.dispose()


def test_publishing_and_retention_settings_have_defaults():
    settings = config.from_env({})
    assert settings["CIVIC_PUBLISH_TIMEOUT"] == 10.0
    assert settings["CIVIC_AMQP_HEARTBEAT"] == 30.0
    assert settings["CIVIC_OUTBOX_BATCH"] == 1000
    assert settings["CIVIC_OUTBOX_MAX_ATTEMPTS"] == 10
    assert settings["CIVIC_OUTBOX_RETENTION"] == 7 * 86400
    assert settings["CIVIC_INBOX_RETENTION"] == 30 * 86400
    assert settings["CIVIC_RETENTION_INTERVAL"] == 3600
    assert settings["CIVIC_SQLITE_BUSY_WAIT"] == 30.0
    assert settings["CIVIC_DB_POOL_SIZE"] == 5
    assert settings["CIVIC_DB_MAX_OVERFLOW"] == 10
    assert settings["CIVIC_DB_POOL_TIMEOUT"] == 30.0


@pytest.mark.parametrize(
    "name, value",
    [
        ("CIVIC_OUTBOX_MAX_ATTEMPTS", "0"),
        ("CIVIC_OUTBOX_RETENTION", "-1"),
        ("CIVIC_PUBLISH_TIMEOUT", "soon"),
        ("CIVIC_DB_POOL_SIZE", "0"),
        ("CIVIC_DB_MAX_OVERFLOW", "-1"),
    ],
)
def test_publishing_and_database_settings_are_validated(name, value):
    with pytest.raises(ConfigError, match=name):
        config.from_env({name: value})
