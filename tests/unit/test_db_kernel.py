"""The kernel's database helpers: one-query pagination and statements built once."""

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    insert,
    select,
)
from sqlalchemy.orm import Session

from civic import prebuilt
from civic.db import paginate


@pytest.fixture
def session():
    metadata = MetaData()
    Table(
        "things",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("colour", String(10), nullable=False),
    )
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with Session(engine) as session:
        things = metadata.tables["things"]
        session.execute(
            insert(things),
            [{"id": n, "colour": ("red", "blue")[n % 2]} for n in range(1, 8)],
        )
        session.commit()
        yield session, things


def test_a_page_carries_the_count_of_every_row(session):
    session, things = session
    query = select(things.c.id).order_by(things.c.id)
    assert paginate(session, query, 1, 3) == ([1, 2, 3], 7)
    assert paginate(session, query, 3, 3) == ([7], 7)
    assert paginate(session, query.where(things.c.colour == "red"), 2, 2) == ([6], 3)


def test_a_page_past_the_end_still_says_how_many_there_are(session):
    session, things = session
    query = select(things.c.id).order_by(things.c.id)
    assert paginate(session, query, 4, 3) == ([], 7)
    assert paginate(session, query.where(things.c.colour == "green"), 1, 3) == ([], 0)
    assert paginate(session, query.where(things.c.colour == "green"), 2, 3) == ([], 0)


def test_a_distinct_query_counts_its_distinct_rows(session):
    session, things = session
    query = select(things.c.colour).distinct().order_by(things.c.colour)
    assert paginate(session, query, 1, 1) == (["blue"], 2)


def test_a_query_built_once_pages_as_a_fresh_one_does(session):
    session, things = session
    by_colour = prebuilt.paged(
        select(things.c.id, things.c.colour)
        .where(things.c.colour == bindparam("colour"))
        .order_by(things.c.id)
    )

    def page(number, size, colour):
        rows, total = paginate(session, by_colour, number, size, {"colour": colour})
        return [(row.id, row.colour) for row in rows], total

    assert page(1, 2, "red") == ([(2, "red"), (4, "red")], 3)
    assert page(2, 2, "red") == ([(6, "red")], 3)
    assert page(2, 3, "blue") == ([(7, "blue")], 4)
    # Past the end the total is counted apart, with the same values.
    assert page(3, 2, "red") == ([], 3)
    assert page(1, 2, "green") == ([], 0)
    assert page(2, 2, "green") == ([], 0)


def test_a_statement_is_built_once_per_table_and_name():
    built = []

    def build(table):
        built.append(table.name)
        return select(table.c.id)

    first, second = (
        Table(name, MetaData(), Column("id", Integer, primary_key=True)) for name in ("a", "b")
    )
    assert prebuilt.once(first, "ids", build) is prebuilt.once(first, "ids", build)
    assert prebuilt.once(second, "ids", build) is not prebuilt.once(first, "ids", build)
    assert prebuilt.once(first, "other", build) is not prebuilt.once(first, "ids", build)
    assert built == ["a", "b", "a"]
