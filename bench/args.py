"""Argument types shared by the bench steps' command lines: a clear error for a value
that is not a number, or not in range, before anything is set up."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:  # NaN too
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def add_run_options(parser: argparse.ArgumentParser, timeout: float = 600.0) -> None:
    """The options of every step that starts services: `--timeout` and `--keep`."""
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=timeout,
        metavar="SECONDS",
        help=f"give up (and clean up) after this long (default {timeout:g})",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temp var dir (service output, SQLite files)"
    )
