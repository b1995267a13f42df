"""Configuration from environment variables, with defaults that work on one machine.

Every process builds one nameko config dict from the environment (`from_env`); the
kernel's extensions read their settings from `nameko.config`, so tests can patch it.
"""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

SERVICES = ("groups", "proposals", "events", "openings", "notifications", "gateway")
DOMAIN_SERVICES = tuple(name for name in SERVICES if name != "gateway")

ROOT = Path(__file__).resolve().parent.parent
LOG_FORMATS = ("json", "console")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


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
            databases[service] = _url(env, f"CIVIC_{service.upper()}_DATABASE_URL", own,
                                      ("postgresql", "sqlite"))
        elif base_url:
            databases[service] = base_url
        else:
            databases[service] = f"sqlite:///{var_dir / (service + '.db')}"
    retry_raw = env.get("CIVIC_RETRY_DELAYS", "1,4,15")
    try:
        retry_delays = [float(part) for part in retry_raw.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"CIVIC_RETRY_DELAYS must be seconds separated by commas, "
                          f"got {retry_raw!r}") from None
    if not retry_delays or any(d <= 0 for d in retry_delays):
        raise ConfigError("CIVIC_RETRY_DELAYS needs at least one delay, each above zero")
    return {
        "AMQP_URI": _url(env, "CIVIC_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672//",
                         ("amqp", "amqps", "pyamqp")),
        "RABBIT_MANAGEMENT_URI": _url(env, "CIVIC_RABBIT_MANAGEMENT_URI",
                                      "http://guest:guest@127.0.0.1:15672", ("http", "https")),
        "WEB_SERVER_ADDRESS": env.get("CIVIC_WEB_ADDRESS", "127.0.0.1:8000"),
        "CIVIC_DATABASES": databases,
        "CIVIC_SCHEMA_PREFIX": env.get("CIVIC_SCHEMA_PREFIX", ""),
        "CIVIC_VAR_DIR": str(var_dir),
        "CIVIC_LOG_DIR": str(Path(env.get("CIVIC_LOG_DIR", var_dir / "log"))),
        "CIVIC_LOG_FORMAT": _choice(env, "CIVIC_LOG_FORMAT", "json", LOG_FORMATS),
        "CIVIC_LOG_LEVEL": _choice(env, "CIVIC_LOG_LEVEL", "INFO", LOG_LEVELS),
        "CIVIC_RPC_TIMEOUT": _positive_float(env, "CIVIC_RPC_TIMEOUT", "5"),
        "CIVIC_RELAY_INTERVAL": _positive_float(env, "CIVIC_RELAY_INTERVAL", "2"),
        # One delay per retry; after the last one the message is dead-lettered.
        "CIVIC_RETRY_DELAYS": retry_delays,
        "CIVIC_MAX_BODY_BYTES": _positive_int(env, "CIVIC_MAX_BODY_BYTES", "65536"),
        "CIVIC_SIGNIN_LIMIT": _positive_int(env, "CIVIC_SIGNIN_LIMIT", "5"),
        "CIVIC_SIGNIN_WINDOW": _positive_float(env, "CIVIC_SIGNIN_WINDOW", "300"),
        "CIVIC_TIMEZONE": env.get("CIVIC_TIMEZONE", "Europe/Stockholm"),
        "max_workers": _positive_int(env, "CIVIC_MAX_WORKERS", "10"),
        "serializer": "json",
    }


def get(key, default=None):
    from nameko import config
    return config.get(key, default)
