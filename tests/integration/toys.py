"""Toy services and contracts for the messaging reliability tests.

`toysource` publishes `toy_noted` and `toy_flaked`; `toysink` records every `toy_noted`
it handles; `toyflaky` handles `toy_flaked` and fails on command (see `FLAKY`). Their
tables live in their own databases, set up by the `toys` fixture (conftest.py).
`toyaudit` subscribes to the real groups service's `account_registered`.
"""

from __future__ import annotations

import threading

from marshmallow import Schema, fields
from sqlalchemy import Column, Integer, MetaData, String, Table, insert

from civic.contracts import CATALOGUE, contract
from civic.db import Database, kernel_tables
from civic.messaging import event_handler
from civic.service import ServiceBase, rpc

# Registered once per process, whichever test module imports this first.
if "toy_noted" not in CATALOGUE:

    @contract("toy_noted", "toysource", "test only: something was noted")
    class ToyNoted(Schema):
        n = fields.Integer(required=True)


if "toy_flaked" not in CATALOGUE:

    @contract("toy_flaked", "toysource", "test only: handled by a handler that may fail")
    class ToyFlaked(Schema):
        n = fields.Integer(required=True)


source_meta = MetaData()
kernel_tables(source_meta)

sink_meta = MetaData()
kernel_tables(sink_meta)
noted = Table(
    "noted",
    sink_meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(36), nullable=False),
    Column("n", Integer, nullable=False),
    Column("correlation_id", String(100)),
)

flaky_meta = MetaData()
kernel_tables(flaky_meta)
flaked = Table(
    "flaked",
    flaky_meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(36), nullable=False),
    Column("n", Integer, nullable=False),
)

audit_meta = MetaData()
kernel_tables(audit_meta)
registered = Table(
    "registered",
    audit_meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(36), nullable=False),
    Column("account_id", String(64), nullable=False),
)

METADATA = {
    "toysource": source_meta,
    "toysink": sink_meta,
    "toyflaky": flaky_meta,
    "toyaudit": audit_meta,
}


class FlakyBehaviour:
    """How `toyflaky` behaves, and every call its handler got (kept outside the
    database, so a call whose transaction rolled back is still counted)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self, mode: str = "ok") -> None:
        # "ok", "always_fail", "fail_first_after_effect", "hang_first_after_effect"
        self.mode = mode
        self.calls: list[str] = []
        self.hanging = threading.Event()  # set while a first call hangs

    def record(self, message_id: str) -> int:
        with self.lock:
            self.calls.append(message_id)
            return self.calls.count(message_id)


FLAKY = FlakyBehaviour()


class ToyFailure(RuntimeError):
    pass


class ToySource(ServiceBase):
    name = "toysource"
    db = Database(source_meta)

    @rpc
    def note(self, n):
        with self.db as uow:
            uow.publish("toy_noted", {"n": n})
        return n

    @rpc
    def note_many(self, first, count):
        """One transaction per event, as real entrypoints do."""
        for n in range(first, first + count):
            with self.db as uow:
                uow.publish("toy_noted", {"n": n})
        return count

    @rpc
    def flake(self, n):
        with self.db as uow:
            uow.publish("toy_flaked", {"n": n})
        return n


class ToySink(ServiceBase):
    name = "toysink"
    db = Database(sink_meta)

    @event_handler("toysource", "toy_noted", name="on_noted")
    def on_noted(self, envelope, uow):
        uow.session.execute(
            insert(noted).values(
                message_id=envelope.id, n=envelope.data["n"], correlation_id=envelope.correlation_id
            )
        )


class ToyFlaky(ServiceBase):
    name = "toyflaky"
    db = Database(flaky_meta)

    @event_handler("toysource", "toy_flaked", name="on_flaked")
    def on_flaked(self, envelope, uow):
        attempt = FLAKY.record(envelope.id)
        if FLAKY.mode == "always_fail":
            raise ToyFailure(f"toy handler refuses n={envelope.data['n']}")
        # The effect is written before the failure, so a rollback must undo it.
        uow.session.execute(insert(flaked).values(message_id=envelope.id, n=envelope.data["n"]))
        if FLAKY.mode == "fail_first_after_effect" and attempt == 1:
            raise ToyFailure("toy handler fails after writing its effect")
        if FLAKY.mode == "hang_first_after_effect" and attempt == 1:
            FLAKY.hanging.set()
            threading.Event().wait()  # until the process (container) is killed


class ToyAudit(ServiceBase):
    """A subscriber of a real service's event."""

    name = "toyaudit"
    db = Database(audit_meta)

    @event_handler("groups", "account_registered", name="on_account_registered")
    def on_account_registered(self, envelope, uow):
        uow.session.execute(
            insert(registered).values(
                message_id=envelope.id, account_id=envelope.data["account_id"]
            )
        )


SERVICES = {"toysource": ToySource, "toysink": ToySink, "toyflaky": ToyFlaky, "toyaudit": ToyAudit}


def database_urls(settings: dict) -> dict:
    """Where each toy keeps its data, next to the real services' databases."""
    shared = settings["CIVIC_DATABASES"]["groups"]
    if not shared.startswith("sqlite"):  # one PostgreSQL database, a schema per service
        return {name: shared for name in SERVICES}
    return {name: f"sqlite:///{settings['CIVIC_VAR_DIR']}/{name}.db" for name in SERVICES}
