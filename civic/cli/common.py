"""What every `civic` command shares: exit codes, the error it stops with, printing,
settings and logging, and the broker's errors (see civic.cli for the commands)."""

from __future__ import annotations

import contextlib
import json
import re
import sys
import uuid

from civic import config

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# The least a command waits for a service's answer (a demo step or a password hash takes
# longer than the services' own calls).
RPC_TIMEOUT_FLOOR = 10.0


class CommandError(Exception):
    """A command cannot go on: printed as `civic: error: …`, exits with `code`."""

    def __init__(self, message: str, code: int = EXIT_FAILED):
        super().__init__(message)
        self.code = code


def say(message: str = "") -> None:
    print(message, flush=True)


def warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- settings -------------------------------------------------------------------------


def load_settings(env=None) -> dict:
    """The validated config, also installed as nameko's config (the kernel reads it)."""
    return config.install(env)


def setup_logging(settings: dict, console_level: str = "WARNING") -> None:
    """What the CLI itself logs goes to `<log dir>/cli.log`; warnings also to stderr."""
    import logging

    from civic import log

    log.configure(
        "cli",
        log_dir=settings["CIVIC_LOG_DIR"],
        fmt="console",
        level=settings["CIVIC_LOG_LEVEL"],
        stream=sys.stderr,
    )
    logging.getLogger().handlers[0].setLevel(console_level)
    # py-amqp warns about confirms that arrive while a channel closes: routine for the
    # short-lived RPC clients of `up`/`status`, and nothing an operator can act on.
    logging.getLogger("amqp").setLevel(logging.ERROR)


def parse_services(value: str | None, allowed=config.SERVICES) -> list[str]:
    """`a,b` → ["a", "b"] in start order; every name must be a known service."""
    if not value:
        return list(allowed)
    names = [part.strip() for part in value.split(",") if part.strip()]
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        raise CommandError(
            f"unknown service(s): {', '.join(unknown) or value!r} (known: {', '.join(allowed)})",
            EXIT_USAGE,
        )
    return [name for name in allowed if name in names]


def redact_url(url: str) -> str:
    """A URL fit to print: the password is replaced."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def broker_errors() -> tuple:
    from amqp.exceptions import AMQPError
    from kombu.exceptions import OperationalError

    return (OperationalError, AMQPError, OSError)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def unreachable_broker(settings: dict, exc: BaseException) -> CommandError:
    return CommandError(
        f"cannot reach RabbitMQ at {redact_url(settings['AMQP_URI'])}: {first_line(exc)}"
    )


def rpc_timeout(settings: dict) -> float:
    return max(settings["CIVIC_RPC_TIMEOUT"], RPC_TIMEOUT_FLOOR)


def rpc_listening(connection, service: str) -> bool:
    """Whether any instance consumes the service's RPC queue (asks the broker only, over
    a kombu `connection`).

    The queue outlives a stopped service: a call sent to it would wait out the whole
    timeout, and pile up for the service's next start.
    """
    from amqp.exceptions import NotFound
    from nameko.rpc import RPC_QUEUE_TEMPLATE

    channel = connection.channel()
    try:
        declared = channel.queue_declare(queue=RPC_QUEUE_TEMPLATE.format(service), passive=True)
        return declared.consumer_count > 0
    except NotFound:
        return False
    finally:
        try:
            channel.close()
        except Exception:  # already closed by the broker (NotFound)
            pass


@contextlib.contextmanager
def rpc_client(settings: dict, timeout: float, correlation_id: str | None = None):
    """A nameko cluster RPC proxy (`proxy["groups"].method(…)`) for one command.

    Makes the process cooperative with eventlet first (only the commands that call
    services pay for it); broker errors become a CommandError. The correlation id, new
    if not given, traces the calls in every service's log. Civic's errors raised by a
    service arrive as themselves once `civic.errors` is imported (the caller catches them).
    """
    from civic import green

    green.patch()
    from nameko.standalone.rpc import ClusterRpcClient

    context = {"correlation_id": correlation_id or str(uuid.uuid4())}
    client = ClusterRpcClient(context_data=context, timeout=timeout, uri=settings["AMQP_URI"])
    try:
        proxy = client.start()
        yield proxy
    except broker_errors() as exc:
        raise unreachable_broker(settings, exc) from None
    finally:
        try:
            client.stop()
        except Exception:  # the connection may already be gone
            pass


def format_value(value) -> str:
    """A value as `key=value` prints it: bare when it can be, else JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        if value and not re.search(r'[\s="]', value):
            return value
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
