"""Faults the chaos suite (tests/chaos) injects from inside the services.

Off unless `CIVIC_CHAOS` is set (it never is in a deployment; a service that runs with
it logs a warning at start). The value is a comma-separated list of faults:

- `duplicate=N`: the outbox relay publishes every event N times (same message id) —
  the broker's at-least-once delivery, at its worst;
- `reorder=S`: every delivered event waits a random 0…S seconds before its handler
  runs, so events of one queue overtake each other;
- `poison=<service>`: in that service, a handler given an event whose correlation id
  starts with `chaos-poison-` kills its own process (`os._exit`) — a message that
  crashes its worker, redelivered until the kernel dead-letters it.

Parsed and validated by civic.config (`CIVIC_CHAOS`); read here through nameko's config.
"""

from __future__ import annotations

import os
import random

import eventlet

POISON_PREFIX = "chaos-poison-"
POISON_EXIT_CODE = 70
FAULTS = ("duplicate", "reorder", "poison")


class ChaosConfigError(ValueError):
    pass


def parse(raw: str | None) -> dict:
    """`"duplicate=3,reorder=0.5"` → `{"duplicate": 3, "reorder": 0.5}`; empty → `{}`."""
    faults: dict = {}
    for part in (part.strip() for part in (raw or "").split(",")):
        if not part:
            continue
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in FAULTS:
            raise ChaosConfigError(f"CIVIC_CHAOS: unknown fault {name!r} (one of {FAULTS})")
        try:
            if name == "duplicate":
                faults[name] = int(value)
                if not 1 <= faults[name] <= 10:
                    raise ValueError
            elif name == "reorder":
                faults[name] = float(value)
                if not 0 < faults[name] <= 30:
                    raise ValueError
            else:
                if not value.strip():
                    raise ValueError
                faults[name] = value.strip()
        except ValueError:
            raise ChaosConfigError(f"CIVIC_CHAOS: bad value for {name}: {value!r}") from None
    return faults


def _faults() -> dict:
    from nameko import config  # the process's config (civic.config reads this module)

    return config.get("CIVIC_CHAOS") or {}


def copies() -> int:
    """How many times the relay publishes each event (1 without chaos)."""
    return int(_faults().get("duplicate", 1))


def before_handle(service: str, correlation_id: str | None) -> None:
    """Called by the kernel's event handlers before the handler's transaction."""
    faults = _faults()
    if not faults:
        return
    if faults.get("poison") == service and (correlation_id or "").startswith(POISON_PREFIX):
        os._exit(POISON_EXIT_CODE)
    delay = faults.get("reorder")
    if delay:
        eventlet.sleep(random.uniform(0, delay))
