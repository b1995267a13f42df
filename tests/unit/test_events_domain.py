"""The events service's rules, on an in-memory SQLite database without nameko or broker.

`Recorder` stands in for the unit of work: a real session, and a list of the events it
would have written to the outbox (each checked against its contract first).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import StaticPool

from civic.contracts import new_envelope
from civic.errors import Conflict, Forbidden, NotFound, ValidationError
from services.events import domain
from services.events.models import CheckIn, Event, Registration, group_facts, metadata

NOW = datetime(2027, 5, 1, 8, 0, tzinfo=UTC)
GROUP = str(uuid.uuid4())


class Recorder:
    def __init__(self, session):
        self.session = session
        self.published: list[tuple[str, dict]] = []

    def publish(self, event_type, data, actor_id=None):
        new_envelope(
            event_type, data, producer="events", correlation_id="test", actor_id=actor_id
        )  # raises if the data breaks the contract
        self.published.append((event_type, data))

    def of(self, event_type):
        return [data for kind, data in self.published if kind == event_type]


@pytest.fixture
def uow():
    engine = create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    metadata.create_all(engine)
    session = sessionmaker(engine, expire_on_commit=False)()
    recorder = Recorder(session)
    yield recorder
    session.close()
    engine.dispose()


def person():
    return {"account_id": str(uuid.uuid4()), "is_staff": False, "display_name": "P"}


@pytest.fixture
def admin(uow):
    actor = person()
    group_facts.group_created(uow.session, GROUP, "Kultur och fritid", "working_group")
    group_facts.member_joined(uow.session, GROUP, actor["account_id"], "admin", NOW)
    return actor


def schedule(uow, admin, capacity=2, starts_in=timedelta(days=3), **extra):
    starts_at = NOW + starts_in
    fields = {
        "title": "Städdag",
        "kind": "clean_up_day",
        "starts_at": starts_at,
        "ends_at": starts_at + timedelta(hours=3),
        "location": "Torget",
        "organiser_group_id": GROUP,
        "capacity": capacity,
        **extra,
    }
    return domain.create_event(uow, admin, now=NOW, **fields)


def waitlist(uow, event_id):
    return list(
        uow.session.execute(
            select(Registration.position)
            .where(Registration.event_id == event_id, Registration.status == "waitlisted")
            .order_by(Registration.position)
        ).scalars()
    )


# --- organising -------------------------------------------------------------------------


def test_only_admins_of_the_organiser_group_or_staff_schedule(uow, admin):
    member = person()
    group_facts.member_joined(uow.session, GROUP, member["account_id"], "member", NOW)
    with pytest.raises(Forbidden):
        schedule(uow, member)
    staff = {**person(), "is_staff": True}
    assert schedule(uow, staff)["status"] == "scheduled"
    event = schedule(uow, admin)
    assert event["places_left"] == 2 and event["organiser_group_name"] == "Kultur och fritid"
    assert [d["event_id"] for d in uow.of("event_scheduled")][-1] == event["id"]
    with pytest.raises(ValidationError) as unknown:
        domain.create_event(
            uow,
            admin,
            "Möte",
            "meeting",
            NOW + timedelta(days=1),
            NOW + timedelta(days=1, hours=1),
            "Här",
            str(uuid.uuid4()),
            now=NOW,
        )
    assert "organiser_group_id" in unknown.value.fields
    with pytest.raises(ValidationError) as past:
        schedule(uow, admin, starts_in=timedelta(hours=-1))
    assert "starts_at" in past.value.fields


def test_an_admin_who_left_may_no_longer_schedule(uow, admin):
    group_facts.member_left(uow.session, GROUP, admin["account_id"], NOW + timedelta(1))
    # An older fact arriving late does not undo the newer one.
    group_facts.member_joined(uow.session, GROUP, admin["account_id"], "admin", NOW)
    with pytest.raises(Forbidden):
        schedule(uow, admin)


# --- registrations and the waiting list -------------------------------------------------


def test_places_then_waiting_list_then_promotion_closes_up(uow, admin):
    event = schedule(uow, admin, capacity=2)
    people = [person() for _ in range(5)]
    answers = [domain.register(uow, p, event["id"], now=NOW) for p in people]
    assert answers == [
        {"status": "confirmed"},
        {"status": "confirmed"},
        {"status": "waitlisted", "position": 1},
        {"status": "waitlisted", "position": 2},
        {"status": "waitlisted", "position": 3},
    ]
    with pytest.raises(Conflict):
        domain.register(uow, people[0], event["id"], now=NOW)

    # The second on the waiting list leaves: the third moves up.
    domain.cancel_registration(uow, people[3], event["id"], now=NOW)
    assert waitlist(uow, event["id"]) == [1, 2]
    # A confirmed place is given up: the first in line gets it at once.
    domain.cancel_registration(uow, people[0], event["id"], now=NOW)
    assert [d["account_id"] for d in uow.of("waitlist_promoted")] == [people[2]["account_id"]]
    assert waitlist(uow, event["id"]) == [1]
    view = domain.get_event(uow, people[4], event["id"], now=NOW)
    assert (view["confirmed_count"], view["places_left"], view["waitlist_count"]) == (2, 0, 1)
    assert view["my_registration"] == {"status": "waitlisted", "position": 1}
    assert [d["was"] for d in uow.of("registration_cancelled")] == ["waitlisted", "confirmed"]


def test_registration_closes_at_the_start_and_for_cancelled_events(uow, admin):
    event = schedule(uow, admin)
    resident = person()
    with pytest.raises(Conflict, match="started"):
        domain.register(uow, resident, event["id"], now=NOW + timedelta(days=3))
    domain.register(uow, resident, event["id"], now=NOW)
    with pytest.raises(Conflict):
        domain.cancel_registration(uow, resident, event["id"], now=NOW + timedelta(days=3))
    domain.cancel_event(uow, admin, event["id"], "Storm", now=NOW)
    with pytest.raises(Conflict, match="cancelled"):
        domain.register(uow, person(), event["id"], now=NOW)
    with pytest.raises(NotFound):
        domain.register(uow, resident, str(uuid.uuid4()), now=NOW)


def test_cancelling_tells_every_registrant_and_only_once(uow, admin):
    event = schedule(uow, admin, capacity=1)
    people = [person() for _ in range(3)]
    for p in people:
        domain.register(uow, p, event["id"], now=NOW)
    with pytest.raises(Forbidden):
        domain.cancel_event(uow, people[0], event["id"], "no", now=NOW)
    view = domain.cancel_event(uow, admin, event["id"], "Storm warning", now=NOW)
    assert view["status"] == "cancelled" and view["cancel_reason"] == "Storm warning"
    [told] = uow.of("event_cancelled")
    assert told["registrant_ids"] == [p["account_id"] for p in people]
    with pytest.raises(Conflict):
        domain.cancel_event(uow, admin, event["id"], "again", now=NOW)


def test_changing_time_or_place_is_told_and_capacity_rules(uow, admin):
    event = schedule(uow, admin, capacity=1)
    first, second, third = person(), person(), person()
    for p in (first, second, third):
        domain.register(uow, p, event["id"], now=NOW)
    later = NOW + timedelta(days=4)
    view = domain.change_event(
        uow,
        admin,
        event["id"],
        {"starts_at": later, "ends_at": later + timedelta(hours=2), "location": "Ájtte"},
        now=NOW,
    )
    assert view["location"] == "Ájtte"
    [changed] = uow.of("event_changed")
    assert set(changed["changed"]) == {"starts_at", "ends_at", "location"}
    assert changed["previous_location"] == "Torget"
    assert changed["registrant_ids"] == [p["account_id"] for p in (first, second, third)]
    # A larger capacity promotes from the waiting list at once, in order.
    domain.change_event(uow, admin, event["id"], {"capacity": 3}, now=NOW)
    assert [d["account_id"] for d in uow.of("waitlist_promoted")] == [
        second["account_id"],
        third["account_id"],
    ]
    with pytest.raises(Conflict, match="taken"):
        domain.change_event(uow, admin, event["id"], {"capacity": 2}, now=NOW)
    with pytest.raises(ValidationError):
        domain.change_event(uow, admin, event["id"], {"ends_at": NOW}, now=NOW)
    # Nothing that differs: nothing to tell.
    domain.change_event(uow, admin, event["id"], {"location": "Ájtte"}, now=NOW)
    assert len(uow.of("event_changed")) == 2


# --- after the event: check-in and minutes ----------------------------------------------


def test_check_in_and_minutes_follow_the_event(uow, admin):
    event = schedule(uow, admin, starts_in=timedelta(hours=5))
    attendee, stranger = person(), person()
    domain.register(uow, attendee, event["id"], now=NOW)
    with pytest.raises(Conflict, match="opens"):
        domain.check_in(uow, admin, event["id"], attendee["account_id"], now=NOW)
    with pytest.raises(Conflict, match="taken place"):
        domain.publish_minutes(uow, admin, event["id"], "Protokoll", now=NOW)
    during = NOW + timedelta(hours=5, minutes=30)
    with pytest.raises(Forbidden):
        domain.check_in(uow, attendee, event["id"], attendee["account_id"], now=during)
    result = domain.check_in(uow, admin, event["id"], attendee["account_id"], now=during)
    assert result["attendance_count"] == 1
    with pytest.raises(Conflict):
        domain.check_in(uow, admin, event["id"], attendee["account_id"], now=during)
    with pytest.raises(NotFound):
        domain.check_in(uow, admin, event["id"], stranger["account_id"], now=during)
    after = NOW + timedelta(hours=9)
    view = domain.publish_minutes(uow, admin, event["id"], "Protokoll", now=after)
    assert view["minutes"] == "Protokoll" and view["status"] == "completed"
    [minutes] = uow.of("minutes_published")
    assert minutes["attendee_ids"] == [attendee["account_id"]] and not minutes["revised"]


# --- the timer ----------------------------------------------------------------------------


def test_reminder_is_claimed_once_and_again_after_a_move(uow, admin):
    soon = schedule(uow, admin, starts_in=timedelta(hours=20))
    schedule(uow, admin, starts_in=timedelta(days=3))  # not due yet
    resident = person()
    domain.register(uow, resident, soon["id"], now=NOW)
    assert domain.events_due_a_reminder(uow.session, NOW) == [soon["id"]]
    assert domain.send_reminder(uow, soon["id"], NOW) is True
    assert domain.send_reminder(uow, soon["id"], NOW) is False
    [reminder] = uow.of("event_reminder_due")
    assert reminder["account_ids"] == [resident["account_id"]]
    assert domain.events_due_a_reminder(uow.session, NOW) == []
    moved = NOW + timedelta(hours=22)
    domain.change_event(uow, admin, soon["id"], {"starts_at": moved}, now=NOW)
    assert domain.events_due_a_reminder(uow.session, NOW) == [soon["id"]]


def test_ended_events_are_completed_once(uow, admin):
    event = schedule(uow, admin, starts_in=timedelta(hours=1))
    later = NOW + timedelta(hours=5)
    assert domain.events_ended(uow.session, later) == [event["id"]]
    assert domain.complete_event(uow, event["id"], later) is True
    assert domain.complete_event(uow, event["id"], later) is False
    assert uow.session.get(Event, event["id"]).status == "completed"
    assert len(uow.of("event_completed")) == 1


# --- personal data ------------------------------------------------------------------------


def test_erasure_frees_the_place_and_removes_personal_data(uow, admin):
    event = schedule(uow, admin, capacity=1)
    leaving, waiting = person(), person()
    domain.register(uow, leaving, event["id"], now=NOW)
    domain.register(uow, waiting, event["id"], now=NOW)
    uow.session.add(
        CheckIn(event_id=event["id"], account_id=leaving["account_id"], checked_in_at=NOW)
    )
    attendee = person()
    uow.session.add(
        CheckIn(
            event_id=event["id"],
            account_id=attendee["account_id"],
            checked_in_at=NOW,
            checked_in_by=admin["account_id"],
        )
    )
    exported = domain.export_account(uow, leaving["account_id"])
    assert [r["status"] for r in exported["registrations"]] == ["confirmed"]
    assert len(exported["checkins"]) == 1
    domain.erase_account(uow, leaving["account_id"], now=NOW)
    assert domain.export_account(uow, leaving["account_id"]) == {
        "registrations": [],
        "checkins": [],
        "events_created": [],
    }
    assert [d["account_id"] for d in uow.of("waitlist_promoted")] == [waiting["account_id"]]
    assert (
        uow.session.execute(
            select(func.count())
            .select_from(Registration)
            .where(Registration.status == "waitlisted")
        ).scalar_one()
        == 0
    )
    domain.erase_account(uow, admin["account_id"], now=NOW)
    assert not group_facts.is_group_admin(uow.session, GROUP, admin["account_id"])
    assert uow.session.get(Event, event["id"]).created_by is None
    # Nor is the erased organiser named on the check-ins it made.
    assert uow.session.get(CheckIn, (event["id"], attendee["account_id"])).checked_in_by is None
