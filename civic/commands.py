"""Command records: a state-changing RPC request runs once, however often it arrives.

Every state-changing request carries a request id (the gateway makes one per HTTP
request, or derives it from the client's `Idempotency-Key`); the service records it,
with a fingerprint of the request and the answer it gave, in the same transaction as
the command's effect. A redelivered request (its service was killed after the commit,
before the reply) finds the record and gets the stored answer instead of acting again.
"""

from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table, Text

from civic.sqltypes import UTCDateTime


def commands_table(metadata: MetaData) -> Table:
    """The command records, added to a service's own metadata (see civic.db.kernel_tables)."""
    return Table(
        "commands",
        metadata,
        Column("request_id", String(64), primary_key=True),
        Column("method", String(100), nullable=False),
        # sha256 of the request's arguments: the same id with other arguments is refused.
        Column("fingerprint", String(64), nullable=False),
        # The answer, as JSON (a result or a CivicError's description).
        Column("response", Text, nullable=True),
        Column("created_at", UTCDateTime, nullable=False, index=True),
    )
