"""`civic staff create`: a staff account, made or promoted by the running groups service.

The account lives in the groups service's database, which only that service writes: the
command asks it over RPC (`create_staff_account`), so it needs the platform running
(`civic up`). The password travels in the call only; it is never printed or logged.
"""

from __future__ import annotations

import os
import re
import sys

from civic.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    broker_errors,
    first_line,
    load_settings,
    rpc_client,
    rpc_listening,
    rpc_timeout,
    say,
    setup_logging,
    unreachable_broker,
)

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NOT_RUNNING = (
    "the groups service is not running: `civic staff create` works through the "
    "running platform; start it with `civic up`"
)


def validate_staff_input(email: str, password: str, display_name: str) -> list[str]:
    """What is wrong with the input (empty when it is fine); never echoes the password."""
    problems = []
    if not EMAIL_PATTERN.match(email or "") or len(email) > 254:
        problems.append("--email must be an email address")
    if len(password or "") < 10:
        problems.append("the password must be at least 10 characters long")
    elif len(password) > 200:
        problems.append("the password must be at most 200 characters long")
    if not (display_name or "").strip() or len(display_name.strip()) > 100:
        problems.append("--display-name must be 1 to 100 characters")
    return problems


def create_staff(settings: dict, email: str, password: str, display_name: str) -> tuple[dict, bool]:
    """(account, created): the groups service makes the account staff, creating it if
    there is none with this email."""
    from civic import green

    green.patch()  # before kombu and nameko open sockets
    from kombu import Connection
    from nameko.exceptions import BadRequest, RemoteError, RpcTimeout, UnknownService

    from civic.errors import CivicError

    # A call to a stopped service would wait in its queue and take effect at its next
    # start, long after this command gave up: ask the broker whether anyone listens.
    try:
        with Connection(settings["AMQP_URI"], connect_timeout=5) as connection:
            if not rpc_listening(connection, "groups"):
                raise CommandError(NOT_RUNNING)
    except broker_errors() as exc:
        raise unreachable_broker(settings, exc) from None
    timeout = rpc_timeout(settings)
    try:
        with rpc_client(settings, timeout) as proxy:
            answer = proxy["groups"].create_staff_account(email, password, display_name)
    except UnknownService:
        raise CommandError(NOT_RUNNING) from None
    except RpcTimeout:
        raise CommandError(
            f"the groups service did not answer within {timeout:.0f}s: "
            "`civic staff create` needs the running platform "
            "(`civic status`, `civic up`)"
        ) from None
    except CivicError as exc:
        detail = "; ".join(f"{k}: {v}" for k, v in (exc.fields or {}).items() if k != "password")
        raise CommandError(
            f"{exc.message}{' (' + detail + ')' if detail else ''}", EXIT_USAGE
        ) from None
    except (RemoteError, BadRequest) as exc:  # a bug, or a groups service of another age
        raise CommandError(
            f"the groups service could not create the staff account "
            f"({type(exc).__name__}: {first_line(exc)})"
        ) from None
    return answer["account"], answer["created"]


def cmd_staff_create(args) -> int:
    password = args.password
    if password is None:
        password = os.environ.get("CIVIC_STAFF_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            password = sys.stdin.readline().rstrip("\n")
        else:
            import getpass

            password = getpass.getpass("Password for the staff account: ")
    problems = validate_staff_input(args.email, password, args.display_name)
    if problems:
        raise CommandError("; ".join(problems), EXIT_USAGE)
    settings = load_settings()
    setup_logging(settings)
    account, created = create_staff(
        settings, args.email.strip(), password, args.display_name.strip()
    )
    if created:
        say(f"created staff account {account.get('email', args.email)} (id {account['id']})")
    else:
        say(
            f"{account.get('email', args.email)} is staff now (an existing account: its "
            f"password and name are unchanged; id {account['id']})"
        )
    return EXIT_OK
