"""The `civic` command line: migrate, run, stop, watch and seed the platform.

    civic migrate                      alembic upgrade of every service + queue topology
    civic up [--no-seed] [--services a,b] [--wait SECONDS]
    civic down [--services a,b]
    civic status [--services a,b]
    civic seed                         the Jokkmokk demo data (idempotent)
    civic staff create --email E --display-name N [--password P]
    civic logs [--service S] [--level L] [--trace ID] [--since 10m|ISO] [--follow] [--json]
    civic dead-letters list [--limit N] [--json] | civic dead-letters replay ID
    civic queues migrate [--dry-run]   move every Civic queue to CIVIC_QUEUE_TYPE
    civic asyncapi [--output FILE]

Configuration comes from the environment (see civic.config / deploy/civic.env.example).
Exit codes: 0 done, 1 failed, 2 bad input or configuration.

This module parses the arguments and runs the command; each command lives in its own
module: `migrate`, `supervisor` (up, down, status), `seed`, `staff`, `logs`,
`deadletters`, `queues`, `asyncapi`, and what they share in `common`. Only the commands that talk
to services over nameko RPC (up, status, seed, staff) make the process cooperative with
eventlet, and only when they run: `civic logs` and the others stay plain,
quick-starting Python.
"""

from __future__ import annotations

import argparse

from civic import config
from civic.cli.asyncapi import cmd_asyncapi
from civic.cli.common import EXIT_USAGE, CommandError, warn
from civic.cli.deadletters import cmd_dead_letters_list, cmd_dead_letters_replay
from civic.cli.logs import cmd_logs
from civic.cli.migrate import cmd_migrate
from civic.cli.queues import cmd_queues_migrate
from civic.cli.seed import cmd_seed
from civic.cli.staff import cmd_staff_create
from civic.cli.supervisor import HEALTH_TIMEOUT, START_DEADLINE, cmd_down, cmd_status, cmd_up


def positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be above zero: {value!r}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="civic", description="Run and operate the Civic platform."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    services_help = f"comma-separated subset of: {', '.join(config.SERVICES)}"

    sub = commands.add_parser("migrate", help="migrate every database, declare all queues")
    sub.set_defaults(handler=cmd_migrate)

    sub = commands.add_parser("up", help="migrate, start every service, load the demo data")
    sub.add_argument("--no-seed", action="store_true", help="do not load the demo data")
    sub.add_argument("--services", help=services_help)
    sub.add_argument(
        "--wait",
        type=positive_float,
        default=START_DEADLINE,
        metavar="SECONDS",
        help=f"how long to wait for every service to answer (default {START_DEADLINE:.0f})",
    )
    sub.set_defaults(handler=cmd_up)

    sub = commands.add_parser("down", help="stop the services `civic up` started")
    sub.add_argument("--services", help=services_help)
    sub.set_defaults(handler=cmd_down)

    sub = commands.add_parser("status", help="process and health of every service")
    sub.add_argument("--services", help=services_help)
    sub.add_argument(
        "--timeout",
        type=positive_float,
        default=HEALTH_TIMEOUT,
        metavar="SECONDS",
        help="health answer timeout per service",
    )
    sub.set_defaults(handler=cmd_status)

    sub = commands.add_parser("seed", help="load the Jokkmokk demo data (idempotent)")
    sub.set_defaults(handler=cmd_seed)

    staff = commands.add_parser("staff", help="staff accounts")
    staff_commands = staff.add_subparsers(dest="staff_command", metavar="ACTION")
    staff_commands.required = True
    sub = staff_commands.add_parser(
        "create",
        help="create a staff account, or promote an existing account",
        description="The password comes from --password, else CIVIC_STAFF_PASSWORD, "
        "else standard input (a prompt on a terminal); at least 10 characters.",
    )
    sub.add_argument("--email", required=True)
    sub.add_argument("--display-name", required=True)
    sub.add_argument(
        "--password",
        help="at least 10 characters (visible to `ps`: prefer CIVIC_STAFF_PASSWORD or the prompt)",
    )
    sub.set_defaults(handler=cmd_staff_create)

    sub = commands.add_parser("logs", help="read, filter and follow every service's log")
    sub.add_argument("--service", help="only these services (comma-separated)")
    sub.add_argument("--level", help="at or above: debug, info, warning, error, critical")
    sub.add_argument("--trace", metavar="CORRELATION_ID", help="only this correlation id")
    sub.add_argument(
        "--since",
        help="10m, 2h, 1d … ago, or an ISO 8601 time (without an offset it is in CIVIC_TIMEZONE)",
    )
    sub.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    sub.add_argument("--json", action="store_true", help="print the raw JSON lines")
    sub.add_argument("--interval", type=positive_float, default=0.5, help=argparse.SUPPRESS)
    sub.set_defaults(handler=cmd_logs)

    letters = commands.add_parser("dead-letters", help="messages that failed every retry")
    letter_commands = letters.add_subparsers(dest="dead_letters_command", metavar="ACTION")
    letter_commands.required = True
    sub = letter_commands.add_parser("list", help="list dead letters (oldest first)")
    sub.add_argument("--limit", type=int, default=50)
    sub.add_argument("--json", action="store_true", help="print them as JSON")
    sub.set_defaults(handler=cmd_dead_letters_list)
    sub = letter_commands.add_parser("replay", help="send a dead letter back to its queue")
    sub.add_argument("id", help="the message id shown by `civic dead-letters list`")
    sub.set_defaults(handler=cmd_dead_letters_replay)

    queues = commands.add_parser("queues", help="Civic's queues on the broker")
    queue_commands = queues.add_subparsers(dest="queues_command", metavar="ACTION")
    queue_commands.required = True
    sub = queue_commands.add_parser(
        "migrate",
        help="move every Civic queue to CIVIC_QUEUE_TYPE (quorum or classic); "
        "the services must be stopped",
    )
    sub.add_argument("--dry-run", action="store_true", help="only list the queues to move")
    sub.set_defaults(handler=cmd_queues_migrate)

    sub = commands.add_parser("asyncapi", help="print the AsyncAPI document of all events")
    sub.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write to FILE (YAML if it ends in .yaml/.yml, else JSON)",
    )
    sub.set_defaults(handler=cmd_asyncapi)
    return parser


def main(argv=None) -> int:
    import warnings

    # nameko imports eventlet, which warns about its own deprecation on import.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage and the error
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return args.handler(args)
    except config.ConfigError as exc:
        warn(f"civic: configuration error: {exc}")
        return EXIT_USAGE
    except CommandError as exc:
        warn(f"civic: error: {exc}")
        return exc.code
    except KeyboardInterrupt:
        warn("civic: interrupted")
        return 130
