"""`civic dead-letters list|replay`: the messages that failed every retry (see
civic.deadletters, which the gateway's staff routes use too)."""

from __future__ import annotations

import json

from civic.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    format_value,
    load_settings,
    redact_url,
    say,
    setup_logging,
)


def cmd_dead_letters_list(args) -> int:
    if args.limit <= 0:
        raise CommandError("--limit must be a positive number", EXIT_USAGE)
    settings = load_settings()
    setup_logging(settings, console_level="ERROR")  # failures are reported below
    from civic import deadletters
    from civic.errors import CivicError

    try:
        letters = list(deadletters.list_dead_letters(settings["AMQP_URI"], args.limit))
    except CivicError as exc:
        raise CommandError(f"{exc.message} ({redact_url(settings['AMQP_URI'])})") from None
    if args.json:
        say(json.dumps(letters, ensure_ascii=False, indent=2, default=str))
        return EXIT_OK
    if not letters:
        say("no dead letters")
        return EXIT_OK
    for letter in letters:
        say(format_dead_letter(letter))
    say(f"{len(letters)} dead letter(s) shown; replay one with `civic dead-letters replay ID`")
    return EXIT_OK


def format_dead_letter(letter: dict) -> str:
    """One line per dead letter: the envelope body stays out (it may be personal data)."""
    first = [
        "id",
        "type",
        "queue",
        "service",
        "handler",
        "attempts",
        "failed_at",
        "correlation_id",
        "error",
    ]
    parts = [f"{key}={format_value(letter[key])}" for key in first if key in letter]
    parts += [
        f"{key}={format_value(value)}"
        for key, value in letter.items()
        if key not in first and key not in ("body", "envelope", "data", "headers")
    ]
    return " ".join(parts)


def cmd_dead_letters_replay(args) -> int:
    settings = load_settings()
    setup_logging(settings, console_level="ERROR")  # failures are reported below
    from civic import deadletters
    from civic.errors import CivicError, ValidationError

    try:
        result = deadletters.replay(settings["AMQP_URI"], args.id)
    except ValidationError as exc:
        raise CommandError(exc.message, EXIT_USAGE) from None
    except CivicError as exc:
        raise CommandError(exc.message) from None
    say(f"replayed {args.id} ({result.get('type') or 'unknown type'}) to {result.get('queue')}")
    return EXIT_OK
