"""The staff console's organisations and activity screens, their backend against a real
database (SQLite or PostgreSQL): a refused verification tells the group's admins with
the reason, and every filter of the activity feed (subject, actor, date range,
correlation id) narrows it, validated by its schema."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from civic import migrations
from civic.db import ServiceDatabase
from civic.errors import ValidationError
from civic.validation import load
from services.notifications import activity, api, domain, email
from services.notifications.models import metadata
from tests.support import envelope

SETTINGS = email.MailSettings(public_url="https://civic.example", interval=1.0)
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
STAFF = {"account_id": "staff-account", "is_staff": True, "display_name": "Staff"}


def uid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def db(civic_settings):
    migrations.upgrade("notifications")
    database = ServiceDatabase("notifications", metadata)
    yield database
    database.dispose()


def handle(db, event_type, data, actor_id=None, at=T0, correlation_id=None):
    item = dataclasses.replace(envelope(event_type, data, actor_id=actor_id), occurred_at=at)
    if correlation_id:
        item = dataclasses.replace(item, correlation_id=correlation_id)
    with db.unit_of_work() as uow:
        domain.handle_event(uow, item, SETTINGS, now=at)
    return item


def call(db, fn, *args, **kwargs):
    with db.unit_of_work() as uow:
        return fn(uow, *args, **kwargs)


def register(db, locale="sv"):
    account_id = uid()
    handle(
        db,
        "account_registered",
        {"account_id": account_id, "display_name": "A", "locale": locale},
        actor_id=account_id,
    )
    return account_id


def group_with(db, admin, name="Skidklubben", kind="association", at=T0, correlation_id=None):
    group_id = uid()
    handle(
        db,
        "group_created",
        {"group_id": group_id, "name": name, "kind": kind, "open": True, "created_by": admin},
        actor_id=admin,
        at=at,
        correlation_id=correlation_id,
    )
    handle(
        db,
        "member_joined",
        {"group_id": group_id, "account_id": admin, "role": "admin"},
        actor_id=admin,
        at=at,
        correlation_id=correlation_id,
    )
    return group_id


def feed(db, **filters):
    query = load(api.ActivityQuerySchema, {"per_page": 100, **filters})
    return call(db, activity.list_entries, STAFF, **query)


def test_a_refused_verification_tells_the_admins_the_reason(db):
    admin, other = register(db, "sv"), register(db, "en")
    group_id = group_with(db, admin, name="Byalaget")
    handle(db, "member_joined", {"group_id": group_id, "account_id": other, "role": "admin"})
    staff_id = uid()
    refusal = handle(
        db,
        "group_verification_refused",
        {"group_id": group_id, "reason": "Stadgarna saknas."},
        actor_id=staff_id,
    )
    (swedish,) = call(db, domain.list_notifications, admin, per_page=10)["items"]
    assert swedish["title"] == "Byalaget har inte verifierats"
    assert swedish["body"] == "Personalen har inte verifierat Byalaget. Skäl: Stadgarna saknas."
    assert swedish["link"] == f"/groups/{group_id}"
    english = call(db, domain.list_notifications, other, per_page=10)["items"]
    assert [n["title"] for n in english] == ["Byalaget was not verified"]
    assert english[0]["body"] == "Staff did not verify Byalaget. Reason: Stadgarna saknas."
    # In the feed, about the group, by the staff member who refused.
    (entry,) = feed(db, type="group_verification_refused")["items"]
    assert entry["id"] == refusal.id and entry["actor_id"] == staff_id
    assert (entry["subject_type"], entry["subject_id"]) == ("group", group_id)
    assert entry["summary"] == "Group verification refused: “Byalaget”"


def test_each_activity_filter_narrows_the_feed(db):
    anna, bo = register(db), register(db)
    early = T0 + timedelta(days=1)
    late = T0 + timedelta(days=3)
    first = group_with(db, anna, name="Första", at=early, correlation_id="corr-first")
    second = group_with(db, bo, name="Andra", at=late, correlation_id="corr-second")
    everything = feed(db)["total"]
    assert everything == 6  # two registrations, two groups each created and joined

    # Subject: type, id, or both.
    by_group = feed(db, subject_type="group")["items"]
    assert {e["subject_id"] for e in by_group} == {first, second}
    about_first = feed(db, subject_type="group", subject_id=first)["items"]
    assert sorted(e["type"] for e in about_first) == ["group_created", "member_joined"]
    assert feed(db, subject_id=second)["total"] == 2
    assert feed(db, subject_type="proposal")["total"] == 0

    # Actor.
    by_bo = feed(db, actor_id=bo)["items"]
    assert sorted(e["type"] for e in by_bo) == [
        "account_registered",
        "group_created",
        "member_joined",
    ]
    assert all(e["actor_id"] == bo for e in by_bo)

    # Date range: since inclusive, until exclusive; both together.
    assert {e["subject_id"] for e in feed(db, since=early.isoformat())["items"]} == {first, second}
    before_late = feed(db, until=late.isoformat())["items"]
    assert second not in {e["subject_id"] for e in before_late}
    assert len(before_late) == 4
    window = feed(db, since=early.isoformat(), until=(early + timedelta(seconds=1)).isoformat())[
        "items"
    ]
    assert {e["subject_id"] for e in window} == {first}

    # Correlation id.
    story = feed(db, correlation_id="corr-second")["items"]
    assert sorted(e["type"] for e in story) == ["group_created", "member_joined"]
    assert feed(db, correlation_id="corr-nothing")["total"] == 0

    # Filters combine.
    assert feed(db, type="group_created", actor_id=anna)["total"] == 1
    assert feed(db, type="group_created", actor_id=anna, correlation_id="corr-second")["total"] == 0


@pytest.mark.parametrize(
    "bad",
    [
        {"subject_type": "planet"},
        {"subject_id": "x" * 65},
        {"actor_id": "x" * 65},
        {"correlation_id": "x" * 101},
        {"until": "2026-12-01T10:00:00"},  # no offset
        {"since": "2026-12-02T00:00:00+01:00", "until": "2026-12-01T00:00:00+01:00"},
        {"type": "not_an_event"},
    ],
)
def test_activity_filters_are_validated(bad):
    with pytest.raises(ValidationError) as caught:
        load(api.ActivityQuerySchema, bad)
    assert set(caught.value.fields) & (set(bad) | {"until"})
