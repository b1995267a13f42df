"""`civic migrate`: every service's database to its newest schema, then the queues."""

from __future__ import annotations

from civic import config
from civic.cli.common import (
    EXIT_OK,
    CommandError,
    broker_errors,
    first_line,
    load_settings,
    redact_url,
    say,
    setup_logging,
    unreachable_broker,
)


def migrate(settings: dict) -> None:
    """alembic upgrade of every domain service, then the broker topology (idempotent)."""
    from sqlalchemy.exc import SQLAlchemyError

    from civic import migrations, topology

    for service in config.DOMAIN_SERVICES:
        url = settings["CIVIC_DATABASES"][service]
        say(f"migrating {service:<14} {redact_url(url)}")
        try:
            migrations.upgrade(service)
        except SQLAlchemyError as exc:
            raise CommandError(
                f"cannot migrate the {service} database ({redact_url(url)}): {first_line(exc)}"
            ) from None
    say(f"declaring queues on {redact_url(settings['AMQP_URI'])}")
    try:
        queues = topology.declare(settings["AMQP_URI"])
    except topology.QueueTypeMismatch as exc:
        raise CommandError(str(exc)) from None
    except broker_errors() as exc:
        raise unreachable_broker(settings, exc) from None
    say(f"declared {len(queues)} queues")


def cmd_migrate(args) -> int:
    settings = load_settings()
    setup_logging(settings)
    migrate(settings)
    say("migrations done")
    return EXIT_OK
