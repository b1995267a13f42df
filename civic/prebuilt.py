"""Statements built once per table and kept with it (issue 14).

SQLAlchemy caches a statement's compiled SQL under its cache key, but works the key out
again for every statement object it is handed: a statement built afresh per call (the
usual `session.execute(insert(table).values(...))`) pays for that traversal each time —
in the profile of a write it was a sixth of the service's CPU. A statement built once,
with its values as bind parameters, keeps its key. The kernel's hot statements (the
outbox's, the inbox's, the command records') are built here, and the few domain queries
on a hot path (every event's activity entry, every list of groups, every filing) use
`once` too; the rest of a domain's queries stay as they are written, where they read
best.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, TypeVar

from sqlalchemy import Select, Table, bindparam, func, select

Built = TypeVar("Built")


def once(table: Table, name: str, build: Callable[[Table], Built]) -> Built:
    """`build(table)`, made the first time `name` is asked for on `table` and kept in
    the table's `info` (so a test's throwaway metadata takes its statements with it)."""
    key = f"civic.prebuilt.{name}"
    built = table.info.get(key)
    if built is None:
        built = table.info[key] = build(table)
    return built


def row_with(table: Table, column: str) -> Select:
    """`SELECT <column> FROM <table> WHERE <column> = :<column>`, built once: whether a
    row with a value exists (`.first()` is None or not), asked on a hot path."""
    return once(
        table,
        f"row_with.{column}",
        lambda built_on: select(built_on.c[column]).where(built_on.c[column] == bindparam(column)),
    )


class Paged(NamedTuple):
    """A list query built once for `civic.db.paginate`: a page of its rows, each
    carrying the count of all (offset and limit as bind parameters), and that count
    alone, for a page past the end."""

    page: Select
    total: Select


def paged(query: Select) -> Paged:
    """`query` (rows of a table, not ORM entities; no DISTINCT) made a `Paged`."""
    return Paged(
        page=query.add_columns(func.count().over())
        .offset(bindparam("page_offset"))
        .limit(bindparam("page_limit")),
        total=select(func.count()).select_from(query.subquery()),
    )
