"""`civic queues migrate`: move Civic's queues to the type CIVIC_QUEUE_TYPE names (see
civic.topology: a queue's type cannot change in place)."""

from __future__ import annotations

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


def cmd_queues_migrate(args) -> int:
    settings = load_settings()
    setup_logging(settings, console_level="ERROR")  # failures are reported below
    import requests

    from civic import topology

    wanted = settings["CIVIC_QUEUE_TYPE"]
    management = settings["RABBIT_MANAGEMENT_URI"]
    try:
        if args.dry_run:
            listing = topology.management_queues(management, settings["AMQP_URI"])
            moving = topology.queues_to_move(listing)
            for queue in moving:
                say(f"would move {queue.name} to {wanted}")
            say(f"{len(moving)} queue(s) would move to {wanted}")
            return EXIT_OK
        say(f"moving Civic's queues on {redact_url(settings['AMQP_URI'])} to {wanted} ...")

        def report(name: str, held: int, back: int) -> None:
            say(f"moved {name} ({back} message(s))")

        moved = topology.migrate_queues(management, settings["AMQP_URI"], progress=report)
    except topology.QueuesInUse as exc:
        raise CommandError(str(exc)) from None
    except requests.RequestException as exc:
        raise CommandError(
            f"cannot ask the RabbitMQ management API ({redact_url(management)}): {first_line(exc)}"
        ) from None
    except broker_errors() as exc:
        raise unreachable_broker(settings, exc) from None
    say(f"{len(moved)} queue(s) moved to {wanted}")
    return EXIT_OK
