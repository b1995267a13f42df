"""The domain tests' way in: call a domain function in a unit of work, and read back the
events it wrote to the outbox (the relay publishes nowhere: kombu's memory transport)."""

from civic.db import ServiceDatabase
from tests.support import outbox_envelopes


def domain_database(tmp_path, service: str, metadata) -> ServiceDatabase:
    """A service's tables in a fresh SQLite file; its outbox publishes nowhere."""
    database = ServiceDatabase(
        service, metadata, url=f"sqlite:///{tmp_path / (service + '.db')}", amqp_uri="memory://"
    )
    database.create_all()
    return database


def run(db, fn, *args, **kwargs):
    """`fn(uow, *args, **kwargs)` in one unit of work of `db`, committed."""
    with db.unit_of_work({"correlation_id": "corr-unit"}) as uow:
        return fn(uow, *args, **kwargs)


def events(db, type_=None):
    """(type, data, actor_id) of every event written, oldest first; only of `type_` if
    given."""
    return [(e["type"], e["data"], e["actor_id"]) for e in outbox_envelopes(db, type_)]
