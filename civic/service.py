"""What every domain service has: its database, its log context, a health answer."""
from __future__ import annotations

from nameko.rpc import Rpc
from sqlalchemy import text

import civic
from civic.errors import CivicError
from civic.log import Tracing



def rpc(fn):
    """nameko's `@rpc`, where a CivicError (not found, conflict…) is an answer, not a
    fault of the service."""
    return Rpc.decorator(expected_exceptions=(CivicError,))(fn)


class ServiceBase:
    """Mixin for domain services. Subclasses set `name` and `db = Database(metadata)`."""

    name: str
    tracing = Tracing()

    @rpc
    def health(self):
        database = "ok"
        unsent = None
        try:
            with self.db as uow:
                uow.session.execute(text("SELECT 1"))
            unsent = self.db.database.relay.unsent_count()
        except Exception as exc:  # report, don't raise: health must always answer
            database = f"error: {type(exc).__name__}"
        return {"service": self.name, "status": "ok" if database == "ok" else "degraded",
                "version": civic.__version__, "database": database,
                "outbox_unsent": unsent}

    @rpc
    def export_account(self, account_id):
        """Everything this service holds about an account (overridden where there is any)."""
        return {}
