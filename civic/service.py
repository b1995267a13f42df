"""What every domain service has: its database, its log context, a health answer."""

from __future__ import annotations

from nameko.rpc import Rpc
from nameko.timer import Timer
from sqlalchemy import text

import civic
from civic import commands
from civic.errors import CivicError
from civic.log import Tracing


def rpc(fn=None, *, command: bool = False):
    """nameko's `@rpc`, where a CivicError (not found, conflict…) is an answer, not a
    fault of the service.

    `@rpc(command=True)` for a method that changes state: it runs at most once per
    request id, its answer recorded with its effect (civic.commands), so a redelivered
    or retried request gets the first answer instead of acting again. Reads stay `@rpc`.
    """

    def declare(function):
        if command:
            function = commands.command(function)
        return Rpc.decorator(expected_exceptions=(CivicError,))(function)

    return declare(fn) if fn is not None else declare


class ConfiguredTimer(Timer):
    """nameko's timer, every `setting` seconds, read from the config when the service
    starts (not at import), so a deployment or a test sets it without touching code."""

    def __init__(self, setting: str, **kwargs):
        self.setting = setting
        super().__init__(interval=None, **kwargs)

    def setup(self):
        from civic import config

        interval = config.get(self.setting)
        if not isinstance(interval, (int, float)) or interval <= 0:
            raise config.ConfigError(f"{self.setting} must be seconds above zero, got {interval!r}")
        self.interval = float(interval)


def timer(setting: str, eager: bool = False):
    """`@timer("CIVIC_EMAIL_INTERVAL")`: run the method every that many seconds (and at
    start too when `eager`)."""
    return ConfiguredTimer.decorator(setting, eager=eager)


class ServiceBase:
    """Mixin for domain services. Subclasses set `name` and `db = Database(metadata)`."""

    name: str
    tracing = Tracing()

    @rpc
    def health(self):
        database = "ok"
        unsent = parked = None
        try:
            with self.db as uow:
                uow.session.execute(text("SELECT 1"))
            relay = self.db.database.relay
            unsent = relay.unsent_count()
            # Rows that failed too often to publish: they wait for staff (`unpark_outbox`).
            parked = relay.parked_count()
        except Exception as exc:  # report, don't raise: health must always answer
            database = f"error: {type(exc).__name__}"
        return {
            "service": self.name,
            "status": "ok" if database == "ok" else "degraded",
            "version": civic.__version__,
            "database": database,
            "outbox_unsent": unsent,
            "outbox_parked": parked,
        }

    @rpc
    def unpark_outbox(self, ids=None):
        """Staff: put parked outbox rows (all, or these ids) back in line; how many."""
        return self.db.database.relay.unpark(ids)

    @rpc
    def export_account(self, account_id):
        """Everything this service holds about an account (overridden where there is any)."""
        return {}
