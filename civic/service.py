"""What every domain service has: its database, its log context, a health answer."""

from __future__ import annotations

import eventlet
from nameko.extensions import DependencyProvider
from nameko.timer import Timer
from sqlalchemy import text

import civic
from civic import clock, commands
from civic.errors import CivicError
from civic.log import Tracing
from civic.probe import HealthFile
from civic.rpc import Rpc
from civic.validation import MonthlyFiguresSchema, PeriodOfMonthsSchema, dump, load, load_actor


def rpc(fn=None, *, command: bool = False, fingerprinted: tuple[str, ...] | None = None):
    """nameko's `@rpc` (answered over the process's request line, civic.rpc), where a
    CivicError (not found, conflict…) is an answer, not a fault of the service.

    `@rpc(command=True)` for a method that changes state: it runs at most once per
    request id, its answer recorded with its effect (civic.commands), so a redelivered
    or retried request gets the first answer instead of acting again. Reads stay `@rpc`.
    `fingerprinted`: the arguments its record's fingerprint covers (civic.commands).
    """

    def declare(function):
        if command:
            function = commands.command(function, fingerprinted)
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


class QueueListener(DependencyProvider):
    """A dependency that listens on a queue of its own instance's in a green thread of
    the container: `self.run_listener(loop, identifier)` where `loop.run(stopped, sleep)`
    runs until `stopped()`. Stopping is not waited for: the queue goes with its
    connection."""

    _stopped = False
    _thread = None

    def run_listener(self, loop, identifier: str) -> None:
        self._stopped = False
        self._thread = self.container.spawn_managed_thread(
            lambda: loop.run(lambda: self._stopped, sleep=eventlet.sleep),
            identifier=identifier,
        )

    def stop(self):
        self.kill()

    def kill(self):
        self._stopped = True
        if self._thread is not None:
            self._thread.kill()


class InstanceAnswers(QueueListener):
    """This instance's answers to `civic.instances` questions (who it is; what it logged
    for a correlation id), from a queue of its own, in a green thread of the container.

    The dependency a worker gets is the instance's identity (a dict)."""

    def setup(self):
        from civic import config, instances

        self.identity = instances.Identity(self.container.service_name)
        self.responder = instances.Responder(
            self.identity, config.get("AMQP_URI"), pause=lambda: eventlet.sleep(0)
        )

    def start(self):
        # Its queue and its seat in the roster go with its connection when it stops.
        self.run_listener(self.responder, "civic.instances")

    def get_dependency(self, worker_ctx):
        return self.identity.as_dict()


class ServiceBase:
    """Mixin for domain services. Subclasses set `name` and `db = Database(metadata)`."""

    name: str
    tracing = Tracing()
    # Answers "who runs?" and "what did you log for this correlation id?" (civic.instances).
    instance = InstanceAnswers()
    probe = HealthFile()  # the health file Kubernetes' probes read (civic.probe)

    @rpc
    def health(self):
        database = "ok"
        unsent = parked = oldest = None
        try:
            with self.db as uow:
                uow.session.execute(text("SELECT 1"))
            relay = self.db.database.relay
            unsent = relay.unsent_count()
            oldest = relay.oldest_unsent_at() if unsent else None
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
            "outbox_oldest_unsent_at": clock.iso(oldest),
        }

    @rpc
    def unpark_outbox(self, ids=None):
        """Staff: put parked outbox rows (all, or these ids) back in line; how many."""
        return self.db.database.relay.unpark(ids)

    @rpc
    def export_account(self, account_id):
        """Everything this service holds about an account (overridden where there is any)."""
        return {}


class ReportsProgrammeFigures:
    """Mixin for a service with a part in the programme report (the staff console's
    `/staff/report`): it sets `monthly_figures`, a plain function
    `(session, actor, period_from, period_to) -> {"months": [...]}` (its `figures.py`)."""

    monthly_figures = None

    @rpc
    def programme_figures(self, actor, period_from, period_to):
        """Staff: this service's figures per month of a period of months."""
        actor = load_actor(actor)
        query = load(PeriodOfMonthsSchema, {"period_from": period_from, "period_to": period_to})
        with self.db as uow:
            answer = type(self).monthly_figures(uow.session, actor, **query)
        return dump(MonthlyFiguresSchema, answer)
