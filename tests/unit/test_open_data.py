"""Open data (issue 13): the notifications service's open-data read model, on in-memory
SQLite, and the gateway's files made from it (CSV, JSON, the DCAT-AP catalogue).

Facts arrive in any order and may come twice: an older fact never undoes a newer one, a
hidden proposal leaves the dataset, and no account id reaches a row."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import StaticPool

from civic.contracts import CATALOGUE, new_envelope
from services.gateway.web import open_data_pages
from services.notifications import opendata
from services.notifications.models import metadata

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
AUTHOR = "acct-author-" + uuid.uuid4().hex
STAFF = "acct-staff-" + uuid.uuid4().hex
GROUP = str(uuid.uuid4())


def uid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def session():
    engine = create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    metadata.create_all(engine)
    session = sessionmaker(engine, expire_on_commit=False)()
    yield session
    session.close()
    engine.dispose()


def fact(session, type_, data, minutes=0, actor=AUTHOR):
    envelope = new_envelope(
        type_,
        data,
        producer=CATALOGUE[type_].producer,
        correlation_id="test",
        actor_id=actor,
        occurred_at=T0 + timedelta(minutes=minutes),
    )
    assert opendata.apply(session, envelope, T0 + timedelta(minutes=minutes))
    session.flush()
    return envelope


def proposal(pid, title="Fler bänkar vid älven"):
    return {"proposal_id": pid, "title": title, "author_id": AUTHOR}


def submitted(session, pid, minutes=0, **extra):
    data = {**proposal(pid), "category": "environment", "channel": "online", "status": "submitted"}
    return fact(session, "proposal_submitted", {**data, **extra}, minutes)


def rows(session, name):
    return opendata.dataset(session, name)["rows"]


def test_every_event_type_it_reads_exists_in_the_catalogue():
    for event_type, (producer, _dataset) in opendata.SOURCES.items():
        assert CATALOGUE[event_type].producer == producer


def test_a_submitted_proposal_is_published_without_its_author(session):
    pid = uid()
    submitted(session, pid)
    [row] = rows(session, "proposals")
    assert row["proposal_id"] == pid and row["status"] == "submitted"
    assert row["channel"] == "online" and row["category"] == "environment"
    assert AUTHOR not in json.dumps(row)
    assert list(row) == list(opendata.FIELDS["proposals"])


def test_an_older_status_arriving_late_does_not_undo_a_newer_one(session):
    pid = uid()
    fact(
        session,
        "proposal_status_changed",
        {
            **proposal(pid),
            "from_status": "under_review",
            "to_status": "in_progress",
            "assigned_group_id": None,
        },
        minutes=10,
    )
    assert rows(session, "proposals") == []  # not published before its submission is known
    fact(
        session,
        "proposal_status_changed",
        {
            **proposal(pid),
            "from_status": "submitted",
            "to_status": "under_review",
            "assigned_group_id": None,
        },
        minutes=5,
    )
    submitted(session, pid, minutes=0)
    [row] = rows(session, "proposals")
    assert row["status"] == "in_progress"
    assert row["status_changed_at"] == (T0 + timedelta(minutes=10)).isoformat()


def test_an_answer_a_support_count_and_an_assignment(session):
    pid = uid()
    submitted(session, pid)
    fact(
        session,
        "proposal_supported",
        {**proposal(pid), "account_id": "supporter-x", "support_count": 3},
        3,
    )
    fact(
        session,
        "proposal_supported",
        {**proposal(pid), "account_id": "supporter-y", "support_count": 2},
        2,
    )  # late
    fact(
        session,
        "proposal_assigned",
        {
            **proposal(pid),
            "group_id": GROUP,
            "group_name": "Miljögruppen",
            "previous_group_id": None,
        },
        4,
    )
    fact(
        session,
        "proposal_answered",
        {
            **proposal(pid),
            "from_status": "under_review",
            "to_status": "accepted",
            "answer": "Ja",
            "answered_by": STAFF,
            "assigned_group_id": GROUP,
        },
        6,
        actor=STAFF,
    )
    [row] = rows(session, "proposals")
    assert row["support_count"] == 3
    assert row["assigned_group_id"] == GROUP and row["assigned_group_name"] == "Miljögruppen"
    assert row["status"] == "accepted" and row["answered_at"]
    text = json.dumps(row)
    for account in (AUTHOR, STAFF, "supporter-x", "supporter-y"):
        assert account not in text


def test_a_hidden_proposal_leaves_the_dataset_until_restored_and_removed_is_for_good(session):
    pid = uid()
    submitted(session, pid)
    fact(session, "proposal_hidden", {**proposal(pid), "report_count": 3}, 5)
    assert rows(session, "proposals") == []
    fact(session, "proposal_restored", proposal(pid), 4)  # older than the hiding: no effect
    assert rows(session, "proposals") == []
    fact(session, "proposal_restored", proposal(pid), 6)
    assert len(rows(session, "proposals")) == 1
    fact(session, "proposal_removed", proposal(pid), 7)
    fact(session, "proposal_restored", proposal(pid), 8)
    assert rows(session, "proposals") == []


def test_a_merged_duplicate_points_at_the_proposal_it_was_merged_into(session):
    keep, dup = uid(), uid()
    submitted(session, keep)
    submitted(session, dup, minutes=1)
    fact(
        session,
        "proposal_merged",
        {
            **proposal(dup),
            "into_id": keep,
            "into_title": "Fler bänkar vid älven",
            "into_author_id": AUTHOR,
            "support_count": 7,
        },
        2,
        actor=STAFF,
    )
    found = {row["proposal_id"]: row for row in rows(session, "proposals")}
    assert found[dup]["merged_into_id"] == keep
    assert found[keep]["support_count"] == 7


def test_the_same_fact_twice_changes_nothing(session):
    pid = uid()
    envelope = submitted(session, pid)
    before = rows(session, "proposals")
    opendata.apply(session, envelope, T0 + timedelta(hours=1))
    assert rows(session, "proposals") == before


def event_ref(eid, minutes=0):
    return {
        "event_id": eid,
        "title": "Städdag vid Talvatis",
        "organiser_group_id": GROUP,
        "starts_at": (T0 + timedelta(days=3)).isoformat(),
    }


def test_events_changed_out_of_order_and_a_cancellation_is_final(session):
    eid = uid()
    ref = event_ref(eid)
    changed = {
        **ref,
        "starts_at": (T0 + timedelta(days=4)).isoformat(),
        "ends_at": (T0 + timedelta(days=4, hours=2)).isoformat(),
        "location": "Ájtte",
        "changed": ["starts_at", "location"],
        "previous_starts_at": ref["starts_at"],
        "previous_location": "Folkets hus",
        "registrant_ids": [AUTHOR],
    }
    fact(session, "event_changed", changed, 10)
    fact(
        session,
        "event_scheduled",
        {
            **ref,
            "kind": "clean_up_day",
            "ends_at": (T0 + timedelta(days=3, hours=2)).isoformat(),
            "location": "Folkets hus",
            "capacity": 30,
            "proposal_id": None,
            "project_id": None,
            "created_by": AUTHOR,
        },
        0,
    )
    [row] = rows(session, "events")
    assert row["location"] == "Ájtte" and row["kind"] == "clean_up_day" and row["capacity"] == 30
    assert row["starts_at"] == (T0 + timedelta(days=4)).isoformat()
    fact(session, "event_cancelled", {**ref, "reason": "Storm", "registrant_ids": [AUTHOR]}, 20)
    fact(
        session, "event_completed", {**ref, "ends_at": ref["starts_at"], "attendance_count": 0}, 30
    )
    [row] = rows(session, "events")
    assert row["status"] == "cancelled"
    assert AUTHOR not in json.dumps(row) and "Storm" not in json.dumps(row)


def test_projects_gather_their_partners_and_keep_the_newest_status(session):
    pid, partner, other = uid(), uid(), uid()
    base = {"project_id": pid, "title": "Skidspår", "lead_group_id": GROUP}
    fact(
        session,
        "project_status_changed",
        {**base, "from_status": "planned", "to_status": "active", "partner_group_ids": [other]},
        5,
    )
    fact(session, "project_partner_added", {**base, "group_id": partner}, 3)
    fact(
        session,
        "project_registered",
        {
            **base,
            "partner_group_ids": [],
            "origin_proposal_id": None,
            "origin_proposal_author_id": AUTHOR,
            "created_by": AUTHOR,
        },
        0,
    )
    [row] = rows(session, "projects")
    assert row["status"] == "active"
    assert row["partner_group_ids"] == sorted([partner, other])
    assert AUTHOR not in json.dumps(row)


def test_an_opening_closed_stays_closed(session):
    oid = uid()
    ref = {"opening_id": oid, "title": "Guide sommaren 2027", "business_group_id": GROUP}
    fact(session, "opening_closed", ref, 5)
    fact(
        session,
        "opening_posted",
        {
            **ref,
            "business_name": "Fjällturer AB",
            "sector": "tourism",
            "employment_type": "seasonal",
            "apply_by": "2027-04-30",
            "created_by": AUTHOR,
        },
        0,
    )
    fact(session, "opening_expired", {**ref, "apply_by": "2027-04-30"}, 9)
    [row] = rows(session, "openings")
    assert row["status"] == "closed" and row["apply_by"] == "2027-04-30"
    assert row["business_name"] == "Fjällturer AB"
    assert AUTHOR not in json.dumps(row)


def test_the_catalogue_counts_the_published_rows_and_knows_when_each_changed(session):
    submitted(session, uid(), minutes=2)
    found = {item["name"]: item for item in opendata.catalogue(session)["datasets"]}
    assert set(found) == {"proposals", "events", "projects", "openings"}
    assert found["proposals"]["count"] == 1
    assert found["proposals"]["modified"] == (T0 + timedelta(minutes=2)).isoformat()
    assert found["events"]["count"] == 0 and found["events"]["modified"] is None


# --- the gateway's files --------------------------------------------------------------


def test_csv_has_a_header_and_one_line_per_row(session):
    submitted(session, uid(), title='Ett "citat", och komma')
    dataset = opendata.dataset(session, "proposals")
    text = open_data_pages.csv_text(dataset)
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == list(opendata.FIELDS["proposals"])
    assert parsed[1][1] == 'Ett "citat", och komma'


def test_a_title_a_spreadsheet_would_run_as_a_formula_stays_text(session):
    submitted(session, uid(), title='=HYPERLINK("http://evil.example","Klicka")')
    submitted(session, uid(), title="-5 grader i skolan")
    text = open_data_pages.csv_text(opendata.dataset(session, "proposals"))
    titles = {row[1] for row in list(csv.reader(io.StringIO(text)))[1:]}
    assert titles == {'\'=HYPERLINK("http://evil.example","Klicka")', "'-5 grader i skolan"}


def test_the_dcat_catalogue_has_what_dcat_ap_asks(session):
    submitted(session, uid())
    items = opendata.catalogue(session)["datasets"]
    document = open_data_pages.catalogue_document(items, "https://civic.example")
    check_dcat(document, "https://civic.example")


def check_dcat(document: dict, base: str) -> None:
    """The catalogue's required DCAT-AP parts (shared with the integration test)."""
    assert document["@type"] == "dcat:Catalog"
    for prefix in ("dcat", "dct", "foaf"):
        assert prefix in document["@context"]
    assert {v["@language"] for v in document["dct:title"]} == {"sv", "en"}
    assert {v["@language"] for v in document["dct:description"]} == {"sv", "en"}
    assert document["dct:publisher"]["foaf:name"]
    assert document["dct:license"]["@id"] == open_data_pages.CC0
    datasets = document["dcat:dataset"]
    # The notifications service's datasets, and the consultations' results (asked of
    # the consultations service by the gateway).
    expected = set(opendata.FIELDS) | {open_data_pages.CONSULTATIONS}
    assert {d["@id"].rsplit("#", 1)[1] for d in datasets} == expected
    for dataset in datasets:
        assert dataset["@type"] == "dcat:Dataset"
        assert {v["@language"] for v in dataset["dct:title"]} == {"sv", "en"}
        assert {v["@language"] for v in dataset["dct:description"]} == {"sv", "en"}
        assert dataset["dct:license"]["@id"] == open_data_pages.CC0
        assert dataset["dct:publisher"]["@id"] == document["dct:publisher"]["@id"]
        formats = {}
        for distribution in dataset["dcat:distribution"]:
            assert distribution["@type"] == "dcat:Distribution"
            url = distribution["dcat:downloadURL"]["@id"]
            assert url.startswith(f"{base}/open-data/")
            formats[url.rsplit(".", 1)[1]] = distribution["dcat:mediaType"]["@id"]
        assert formats == {
            "csv": "http://www.iana.org/assignments/media-types/text/csv",
            "json": "http://www.iana.org/assignments/media-types/application/json",
        }
    assert any("dct:modified" in dataset for dataset in datasets)
    for dataset in datasets:
        if "dct:modified" in dataset:
            datetime.fromisoformat(dataset["dct:modified"]["@value"])
