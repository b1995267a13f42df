"""Civic's shared kernel: config, database, outbox/inbox, contracts, logging, errors, CLI."""

__version__ = "0.1.0"
