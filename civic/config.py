"""Configuration from environment variables, with defaults that work on one machine.

Every process builds one nameko config dict from the environment (`from_env`); the
kernel's extensions read their settings from `nameko.config`, so tests can patch it.

Mail: with CIVIC_SMTP_HOST set, the notifications service sends to that SMTP server.
Without it (the default on a fresh machine) `CIVIC_MAIL_CATCHER` is true: `civic up`
runs a local mail catcher (civic.mailcatcher) on 127.0.0.1:CIVIC_SMTP_PORT that keeps
every email under `<CIVIC_VAR_DIR>/mail/`, and the gateway serves them at the
development-only page `/dev/mail`, which exists only while this flag is true.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from civic.chaos import ChaosConfigError
from civic.chaos import parse as parse_chaos

SERVICES = (
    "groups",
    "proposals",
    "events",
    "openings",
    "consultations",
    "notifications",
    "gateway",
)
DOMAIN_SERVICES = tuple(name for name in SERVICES if name != "gateway")

ROOT = Path(__file__).resolve().parent.parent
LOG_FORMATS = ("json", "console")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
QUEUE_TYPES = ("quorum", "classic")
# The town's time zone unless CIVIC_TIMEZONE names another (see civic.clock).
DEFAULT_TIMEZONE = "Europe/Stockholm"


class ConfigError(ValueError):
    """A configuration value is missing or malformed."""


def _positive_float(env, name, default):
    raw = env.get(name, default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be greater than zero, got {raw!r}")
    return value


def _non_negative_float(env, name, default):
    raw = env.get(name, default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {raw!r}")
    return value


def _positive_int(env, name, default):
    raw = env.get(name, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be greater than zero, got {raw!r}")
    return value


def _choice(env, name, default, choices):
    value = env.get(name, default)
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _url(env, name, default, schemes):
    value = env.get(name, default)
    if urlsplit(value).scheme.split("+")[0] not in schemes:
        raise ConfigError(f"{name} must be a {' or '.join(schemes)} URL, got {value!r}")
    return value


SMTP_TLS_MODES = ("none", "starttls", "tls")
PASSWORD_HASH_CONCURRENCY_MAX = 64  # 64 argon2id hashes at once hold 1.2 GiB
SECRET_KEY_MIN = 32


def _int_between(env, name, default, low, high):
    raw = env.get(name, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be from {low} to {high}, got {raw!r}")
    return value


def _mailbox(env, name, default):
    from email.utils import parseaddr

    value = env.get(name, default)
    _, address = parseaddr(value)
    if "@" not in address or any(c in value for c in "\r\n"):
        raise ConfigError(f"{name} must be an email address (`Name <a@b>` or `a@b`), got {value!r}")
    return value


def _networks(env, name, default) -> list[str]:
    """Comma-separated networks in CIDR notation (`10.0.0.0/8,::1/128`; an address alone
    is a network of one), normalised; an empty value is no network at all."""
    import ipaddress

    raw = env.get(name, default)
    networks = []
    for part in (part.strip() for part in raw.split(",")):
        if not part:
            continue
        try:
            networks.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise ConfigError(
                f"{name} must be networks in CIDR notation separated by "
                f"commas (e.g. 127.0.0.0/8,::1/128), got {part!r}"
            ) from None
    return networks


def _smtp_credentials(env):
    user = env.get("CIVIC_SMTP_USER") or None
    password = env.get("CIVIC_SMTP_PASSWORD") or None
    if (user is None) != (password is None):
        raise ConfigError(
            "CIVIC_SMTP_USER and CIVIC_SMTP_PASSWORD go together: set both or neither"
        )
    return user, password


def _mail_catcher(env) -> bool:
    """True when no SMTP server is configured (CIVIC_SMTP_HOST unset or empty): mail then
    goes to the local mail catcher, which speaks plain SMTP without logging in, so TLS
    and credentials make sense only with a server of one's own."""
    if env.get("CIVIC_SMTP_HOST"):
        return False
    tls = env.get("CIVIC_SMTP_TLS", "none")
    if tls != "none":
        raise ConfigError(
            f"CIVIC_SMTP_TLS={tls} needs CIVIC_SMTP_HOST: without a host, mail goes to the "
            "local mail catcher, which speaks plain SMTP (CIVIC_SMTP_TLS=none)"
        )
    if env.get("CIVIC_SMTP_USER") or env.get("CIVIC_SMTP_PASSWORD"):
        raise ConfigError(
            "CIVIC_SMTP_USER and CIVIC_SMTP_PASSWORD need CIVIC_SMTP_HOST: without a host, "
            "mail goes to the local mail catcher, which takes no login"
        )
    return True


def _secret_key(env):
    """None when unset: the notifications service then makes a development key (and
    warns); a key that is set must be long enough to sign with."""
    value = env.get("CIVIC_SECRET_KEY") or None
    if value is not None and len(value) < SECRET_KEY_MIN:
        raise ConfigError(f"CIVIC_SECRET_KEY must be at least {SECRET_KEY_MIN} characters")
    return value


def from_env(env=None) -> dict:
    """The nameko config dict for this process, validated."""
    env = os.environ if env is None else env
    var_dir = Path(env.get("CIVIC_VAR_DIR", ROOT / "var"))
    databases = {}
    base_url = env.get("CIVIC_DATABASE_URL")
    if base_url:
        _url(env, "CIVIC_DATABASE_URL", base_url, ("postgresql", "sqlite"))
    for service in DOMAIN_SERVICES:
        own = env.get(f"CIVIC_{service.upper()}_DATABASE_URL")
        if own:
            databases[service] = _url(
                env, f"CIVIC_{service.upper()}_DATABASE_URL", own, ("postgresql", "sqlite")
            )
        elif base_url:
            databases[service] = base_url
        else:
            databases[service] = f"sqlite:///{var_dir / (service + '.db')}"
    retry_raw = env.get("CIVIC_RETRY_DELAYS", "1,4,15")
    try:
        retry_delays = [float(part) for part in retry_raw.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(
            f"CIVIC_RETRY_DELAYS must be seconds separated by commas, got {retry_raw!r}"
        ) from None
    if not retry_delays or any(d <= 0 for d in retry_delays):
        raise ConfigError("CIVIC_RETRY_DELAYS needs at least one delay, each above zero")
    smtp_user, smtp_password = _smtp_credentials(env)
    try:
        chaos = parse_chaos(env.get("CIVIC_CHAOS"))
    except ChaosConfigError as exc:
        raise ConfigError(str(exc)) from None
    return {
        "AMQP_URI": _url(
            env,
            "CIVIC_AMQP_URI",
            "amqp://guest:guest@127.0.0.1:5672//",
            ("amqp", "amqps", "pyamqp"),
        ),
        "RABBIT_MANAGEMENT_URI": _url(
            env,
            "CIVIC_RABBIT_MANAGEMENT_URI",
            "http://guest:guest@127.0.0.1:15672",
            ("http", "https"),
        ),
        "WEB_SERVER_ADDRESS": env.get("CIVIC_WEB_ADDRESS", "127.0.0.1:8000"),
        "CIVIC_DATABASES": databases,
        "CIVIC_SCHEMA_PREFIX": env.get("CIVIC_SCHEMA_PREFIX", ""),
        "CIVIC_VAR_DIR": str(var_dir),
        "CIVIC_LOG_DIR": str(Path(env.get("CIVIC_LOG_DIR", var_dir / "log"))),
        "CIVIC_LOG_FORMAT": _choice(env, "CIVIC_LOG_FORMAT", "json", LOG_FORMATS),
        "CIVIC_LOG_LEVEL": _choice(env, "CIVIC_LOG_LEVEL", "INFO", LOG_LEVELS),
        "CIVIC_RPC_TIMEOUT": _positive_float(env, "CIVIC_RPC_TIMEOUT", "5"),
        "CIVIC_RELAY_INTERVAL": _positive_float(env, "CIVIC_RELAY_INTERVAL", "2"),
        # Longest wait on the broker when publishing (connect, socket, confirms), seconds.
        "CIVIC_PUBLISH_TIMEOUT": _positive_float(env, "CIVIC_PUBLISH_TIMEOUT", "10"),
        # AMQP heartbeat of the outbox relay's publisher connection, seconds.
        "CIVIC_AMQP_HEARTBEAT": _positive_float(env, "CIVIC_AMQP_HEARTBEAT", "30"),
        # Outbox rows the relay publishes per batch of pipelined confirms.
        "CIVIC_OUTBOX_BATCH": _int_between(env, "CIVIC_OUTBOX_BATCH", "1000", 1, 10000),
        # Failed publishes of a row (its own fault) before it is parked for staff.
        "CIVIC_OUTBOX_MAX_ATTEMPTS": _positive_int(env, "CIVIC_OUTBOX_MAX_ATTEMPTS", "10"),
        # Sent outbox rows are pruned after this many seconds (7 days).
        "CIVIC_OUTBOX_RETENTION": _positive_float(env, "CIVIC_OUTBOX_RETENTION", "604800"),
        # Inbox records are pruned after this many seconds (30 days): longer
        # than a dead letter may wait for its replay, which the inbox must still dedupe.
        "CIVIC_INBOX_RETENTION": _positive_float(env, "CIVIC_INBOX_RETENTION", "2592000"),
        # Command records (each holds the answer it gave, which may name a person) are
        # pruned after this many seconds (2 days): past the Idempotency-Key window of
        # 24 h and any RPC request's expiry, and soon after an account's erasure.
        "CIVIC_COMMAND_RETENTION": _int_between(
            env, "CIVIC_COMMAND_RETENTION", "172800", 86400, 31536000
        ),
        # How often every service prunes those tables, seconds.
        "CIVIC_RETENTION_INTERVAL": _positive_float(env, "CIVIC_RETENTION_INTERVAL", "3600"),
        # SQLite: how long a write waits (cooperatively) for another process's lock, s.
        "CIVIC_SQLITE_BUSY_WAIT": _positive_float(env, "CIVIC_SQLITE_BUSY_WAIT", "30"),
        # PostgreSQL connections per process: pool, overflow above it, wait for one (s).
        "CIVIC_DB_POOL_SIZE": _positive_int(env, "CIVIC_DB_POOL_SIZE", "5"),
        "CIVIC_DB_MAX_OVERFLOW": _int_between(env, "CIVIC_DB_MAX_OVERFLOW", "10", 0, 1000),
        "CIVIC_DB_POOL_TIMEOUT": _positive_float(env, "CIVIC_DB_POOL_TIMEOUT", "30"),
        # One delay per retry; after the last one the message is dead-lettered.
        "CIVIC_RETRY_DELAYS": retry_delays,
        # The type of every durable queue Civic declares: quorum (replicated on a
        # cluster, a delivery limit) or classic (one node; development). A broker's
        # queues keep their type: `civic queues migrate` moves them to another.
        "CIVIC_QUEUE_TYPE": _choice(env, "CIVIC_QUEUE_TYPE", "quorum", QUEUE_TYPES),
        # A handler running longer than this (seconds) is stopped: a failed attempt.
        "CIVIC_HANDLER_TIMEOUT": _positive_float(env, "CIVIC_HANDLER_TIMEOUT", "60"),
        # Longest wait between probes while the database or broker is away (seconds).
        "CIVIC_BACKOFF_MAX": _positive_float(env, "CIVIC_BACKOFF_MAX", "30"),
        "CIVIC_MAX_BODY_BYTES": _positive_int(env, "CIVIC_MAX_BODY_BYTES", "65536"),
        # Who may scrape /metrics besides staff: client addresses in these networks.
        "CIVIC_METRICS_ALLOW": _networks(env, "CIVIC_METRICS_ALLOW", "127.0.0.0/8,::1/128"),
        "CIVIC_SIGNIN_LIMIT": _positive_int(env, "CIVIC_SIGNIN_LIMIT", "5"),
        "CIVIC_SIGNIN_WINDOW": _positive_float(env, "CIVIC_SIGNIN_WINDOW", "300"),
        # Registrations per client address per window (each costs a password hash).
        "CIVIC_SIGNUP_LIMIT": _positive_int(env, "CIVIC_SIGNUP_LIMIT", "10"),
        "CIVIC_SIGNUP_WINDOW": _positive_float(env, "CIVIC_SIGNUP_WINDOW", "3600"),
        # Email confirmation: how long an emailed link is valid (seconds, 72 h), and how
        # long an unconfirmed account may still write (seconds, 7 days; 0: not at all).
        "CIVIC_CONFIRMATION_TTL": _positive_float(env, "CIVIC_CONFIRMATION_TTL", "259200"),
        "CIVIC_CONFIRMATION_GRACE": _non_negative_float(env, "CIVIC_CONFIRMATION_GRACE", "604800"),
        "CIVIC_TIMEZONE": env.get("CIVIC_TIMEZONE", DEFAULT_TIMEZONE),
        # Email (the notifications service): where to send, as whom, and how often.
        "CIVIC_SMTP_HOST": env.get("CIVIC_SMTP_HOST") or "127.0.0.1",
        "CIVIC_SMTP_PORT": _int_between(env, "CIVIC_SMTP_PORT", "1025", 1, 65535),
        "CIVIC_SMTP_TLS": _choice(env, "CIVIC_SMTP_TLS", "none", SMTP_TLS_MODES),
        "CIVIC_SMTP_USER": smtp_user,
        "CIVIC_SMTP_PASSWORD": smtp_password,
        # No CIVIC_SMTP_HOST: `civic up` runs a local mail catcher on
        # 127.0.0.1:CIVIC_SMTP_PORT (mail kept in <var>/mail/), and the gateway serves the
        # development page /dev/mail; off whenever a real SMTP server is configured.
        "CIVIC_MAIL_CATCHER": _mail_catcher(env),
        "CIVIC_MAIL_FROM": _mailbox(env, "CIVIC_MAIL_FROM", "Civic Jokkmokk <civic@localhost>"),
        "CIVIC_PUBLIC_URL": _url(
            env, "CIVIC_PUBLIC_URL", "http://127.0.0.1:8000", ("http", "https")
        ).rstrip("/"),
        "CIVIC_SECRET_KEY": _secret_key(env),
        "CIVIC_EMAIL_INTERVAL": _positive_float(env, "CIVIC_EMAIL_INTERVAL", "10"),
        "CIVIC_EMAIL_BACKOFF_MAX": _positive_float(env, "CIVIC_EMAIL_BACKOFF_MAX", "3600"),
        "CIVIC_EMAIL_LEASE": _positive_float(env, "CIVIC_EMAIL_LEASE", "300"),
        "CIVIC_DIGEST_HOUR": _int_between(env, "CIVIC_DIGEST_HOUR", "7", 0, 23),
        # Timers: reminders 24 h before events, expiry of openings past apply-by, the
        # opening and closing moments of consultations.
        "CIVIC_REMINDER_INTERVAL": _positive_float(env, "CIVIC_REMINDER_INTERVAL", "60"),
        "CIVIC_EXPIRY_INTERVAL": _positive_float(env, "CIVIC_EXPIRY_INTERVAL", "60"),
        # The gateway's cache of checked tokens (0 seconds turns it off).
        "CIVIC_AUTH_CACHE_SECONDS": _non_negative_float(env, "CIVIC_AUTH_CACHE_SECONDS", "60"),
        "CIVIC_AUTH_CACHE_ENTRIES": _positive_int(env, "CIVIC_AUTH_CACHE_ENTRIES", "10000"),
        "max_workers": _positive_int(env, "CIVIC_MAX_WORKERS", "10"),
        # Password hashes (argon2id, 19 MiB each) computed at once per process; more
        # sign-ins wait their turn as green threads. Default: one per CPU.
        "CIVIC_PASSWORD_HASH_CONCURRENCY": _int_between(
            env,
            "CIVIC_PASSWORD_HASH_CONCURRENCY",
            str(min(os.cpu_count() or 1, PASSWORD_HASH_CONCURRENCY_MAX)),
            1,
            PASSWORD_HASH_CONCURRENCY_MAX,
        ),
        "serializer": "json",
        # Faults injected by the chaos suite (civic.chaos); never set in a deployment.
        "CIVIC_CHAOS": chaos,
    }


def install(env=None) -> dict:
    """The validated config, also installed as nameko's (the kernel reads it there);
    ConfigError if it is not valid."""
    from nameko import config

    settings = from_env(env)
    config.update(settings)
    return settings


def install_for(program: str, env=None) -> dict | None:
    """A process's config, installed (`install`); None, after saying why on stderr as
    `<program>: configuration error: …`, if it is not valid — the process then exits
    with 2."""
    import sys

    try:
        return install(env)
    except ConfigError as exc:
        print(f"{program}: configuration error: {exc}", file=sys.stderr)
        return None


def get(key, default=None):
    from nameko import config

    return config.get(key, default)
