"""The events service over real RPC, with its migrated database and real RabbitMQ.

Its read model of groups and memberships is fed as in production: by groups events on
the `groups.events` exchange, published here as the groups service's relay would. What
events publishes is read from queues bound to `events.events`.
"""

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from nameko import config as nameko_config
from nameko.standalone.rpc import ClusterRpcClient
from sqlalchemy import select

from civic.db import ServiceDatabase, utcnow
from civic.errors import Conflict, Forbidden, ValidationError
from services.events import domain
from services.events.models import KnownMembership, Registration, group_facts, metadata
from services.events.service import EventsService
from tests.conftest import wait_for
from tests.integration.conftest import read_log_lines
from tests.support import count, envelope, outbox_envelopes, publish


def actor(name, staff=False):
    return {"account_id": str(uuid.uuid4()), "is_staff": staff, "display_name": name}


GROUP = str(uuid.uuid4())


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def events_db(migrated):
    database = ServiceDatabase("events", metadata)
    yield database
    database.dispose()


@pytest.fixture
def client(migrated):
    with ClusterRpcClient(
        context_data={"correlation_id": "corr-events-test"}, timeout=30
    ) as cluster:
        yield cluster


@pytest.fixture
def organiser(migrated, container_factory, events_db):
    """The events service running, and an admin of GROUP it has heard of."""
    container_factory(EventsService).start()
    admin = actor("Karin")
    publish(
        migrated["AMQP_URI"],
        envelope(
            "group_created",
            {
                "group_id": GROUP,
                "name": "Kultur och fritid",
                "kind": "working_group",
                "open": True,
                "created_by": admin["account_id"],
            },
        ),
    )
    publish(
        migrated["AMQP_URI"],
        envelope(
            "member_joined", {"group_id": GROUP, "account_id": admin["account_id"], "role": "admin"}
        ),
    )

    def knows_admin():
        with events_db.sessions() as session:
            return group_facts.is_group_admin(session, GROUP, admin["account_id"])

    wait_for(knows_admin, message="the events service to learn of the group's admin")
    return admin


def new_event(rpc, who, capacity, starts_in=timedelta(days=7)):
    starts_at = utcnow() + starts_in
    return rpc.create_event(
        who,
        {
            "title": "Städdag vid älven",
            "kind": "clean_up_day",
            "starts_at": starts_at.isoformat(),
            "ends_at": (starts_at + timedelta(hours=3)).isoformat(),
            "location": "Lule älv, båtplatsen",
            "organiser_group_id": GROUP,
            "capacity": capacity,
        },
    )


# --- tests -------------------------------------------------------------------------------


def test_forty_register_at_once_for_ten_places(organiser, client, events_db):
    rpc = client.events
    event = new_event(rpc, organiser, capacity=10)
    people = [actor(f"Resident {n}") for n in range(40)]
    pending = [rpc.register.call_async(person, event["id"]) for person in people]
    answers = [reply.result() for reply in pending]

    confirmed = [a for a in answers if a["status"] == "confirmed"]
    positions = sorted(a["position"] for a in answers if a["status"] == "waitlisted")
    assert len(confirmed) == 10
    assert positions == list(range(1, 31))
    with events_db.sessions() as session:
        rows = session.execute(
            select(Registration.status, Registration.position).where(
                Registration.event_id == event["id"]
            )
        ).all()
    assert sum(1 for status, _ in rows if status == "confirmed") == 10
    assert sorted(p for status, p in rows if status == "waitlisted") == list(range(1, 31))
    shown = rpc.get_event(None, event["id"])
    assert (shown["confirmed_count"], shown["places_left"], shown["waitlist_count"]) == (10, 0, 30)
    with pytest.raises(Conflict):
        rpc.register(people[0], event["id"])


def test_a_cancelled_place_promotes_exactly_one(organiser, client, events_db, published):
    rpc = client.events
    event = new_event(rpc, organiser, capacity=2)
    first, second, third, fourth = (actor(name) for name in ("A", "B", "C", "D"))
    for person in (first, second, third, fourth):
        rpc.register(person, event["id"])

    rpc.cancel_registration(first, event["id"])

    wait_for(lambda: published("events", "registration_cancelled"), message="the cancellation")
    wait_for(lambda: published("events", "waitlist_promoted"), message="the promotion")
    assert [e["data"]["account_id"] for e in published("events", "waitlist_promoted")] == [
        third["account_id"]
    ]
    assert published("events", "waitlist_promoted")[0]["data"]["event_id"] == event["id"]
    assert rpc.get_event(third, event["id"])["my_registration"] == {"status": "confirmed"}
    assert rpc.get_event(fourth, event["id"])["my_registration"] == {
        "status": "waitlisted",
        "position": 1,
    }
    # Nothing more was published for the promotion: one event, one message.
    assert len(outbox_envelopes(events_db, "waitlist_promoted")) == 1


def test_only_organiser_admins_or_staff_schedule_and_bad_input_changes_nothing(
    organiser, client, events_db
):
    rpc = client.events
    with pytest.raises(Forbidden):
        new_event(rpc, actor("Stranger"), capacity=5)
    with pytest.raises(ValidationError) as refused:
        rpc.create_event(organiser, {"title": "x", "kind": "party"})
    assert {"title", "kind", "starts_at", "organiser_group_id"} <= set(refused.value.fields)
    assert new_event(rpc, actor("Maria", staff=True), capacity=None)["places_left"] is None
    assert len(outbox_envelopes(events_db, "event_scheduled")) == 1


def test_an_admin_who_leaves_the_group_stops_organising(migrated, organiser, client, events_db):
    publish(
        migrated["AMQP_URI"],
        envelope("member_left", {"group_id": GROUP, "account_id": organiser["account_id"]}),
    )
    wait_for(
        lambda: count(events_db, KnownMembership, KnownMembership.active.is_(False)),
        message="the member_left to be applied",
    )
    with pytest.raises(Forbidden):
        new_event(client.events, organiser, capacity=5)


def test_each_reminder_is_sent_once_by_three_instances(
    migrated, container_factory, events_db, published
):
    """Three instances of the service, each with its timer: the events due a reminder
    exist before any starts, so they race for them at once."""
    staff = actor("Maria", staff=True)
    due = {}
    with events_db.unit_of_work() as uow:
        group_facts.group_created(uow.session, GROUP, "Kultur och fritid", "working_group")
    for hours in (2, 5, 23):
        starts_at = utcnow() + timedelta(hours=hours)
        with events_db.unit_of_work() as uow:
            event = domain.create_event(
                uow,
                staff,
                "Möte",
                "meeting",
                starts_at,
                starts_at + timedelta(hours=1),
                "Folkets hus",
                GROUP,
            )
            registrant = actor("Resident")
            domain.register(uow, registrant, event["id"])
        due[event["id"]] = registrant["account_id"]
    starts_at = utcnow() + timedelta(hours=30)  # not due yet
    with events_db.unit_of_work() as uow:
        domain.create_event(
            uow,
            staff,
            "Senare",
            "meeting",
            starts_at,
            starts_at + timedelta(hours=1),
            "Folkets hus",
            GROUP,
        )

    log_file = Path(migrated["CIVIC_LOG_DIR"]) / "tests.log"

    def ticks():
        return sum(
            1
            for line in read_log_lines([log_file])
            if line.get("event") == "worker_done"
            and line.get("entrypoint") == "events.send_due_reminders"
        )

    with nameko_config.patch({"CIVIC_REMINDER_INTERVAL": 0.2}, clear=False):
        instances = [container_factory(EventsService) for _ in range(3)]
        for instance in instances:
            instance.start()
        wait_for(
            lambda: len(published("events", "event_reminder_due")) >= len(due),
            message="the reminders",
        )
        # Let every timer run several more times: nothing more may be sent.
        seen_ticks = ticks()
        wait_for(lambda: ticks() >= seen_ticks + 9, message="more timer ticks")

    sent = [body["data"] for body in published("events", "event_reminder_due")]
    assert sorted(data["event_id"] for data in sent) == sorted(due)
    assert {data["event_id"]: data["account_ids"] for data in sent} == {
        event_id: [account_id] for event_id, account_id in due.items()
    }
    assert len(outbox_envelopes(events_db, "event_reminder_due")) == len(due)


# --- the Jokkmokk demo -------------------------------------------------------------------


def test_the_demo_schedules_its_events_once(migrated, container_factory, client):
    """The events part of `civic seed`, after the demo's accounts and groups."""
    import demo
    from services.groups.service import GroupsService

    container_factory(GroupsService).start()
    container_factory(EventsService).start()
    said = []
    loader = demo.DemoLoader(client.groups, "correct horse battery", say=said.append)
    existing = demo.all_groups(client.groups)
    organisers = {event.group for event in demo.EVENTS}
    # The other groups play no part here.
    loader.load_groups(existing, [group for group in demo.GROUPS if group.name in organisers])
    events = demo.EventsDemo(client.events, loader)
    assert events.is_loaded(existing) is False

    events.load(existing)
    assert events.is_loaded(existing) is True
    listed = {e["title"]: e for e in client.events.list_events(None, per_page=100)["items"]}
    assert set(listed) == {d.title for d in demo.EVENTS}
    clean_up = listed["Städdag vid Talvatissjön"]
    assert (clean_up["capacity"], clean_up["confirmed_count"], clean_up["waitlist_count"]) == (
        3,
        3,
        2,
    )
    assert {e["kind"] for e in listed.values()} == {
        "town_hall",
        "clean_up_day",
        "training",
        "meeting",
    }
    breakfast = listed["Frukostmöte: strategiska partnerskap"]
    assert breakfast["organiser_group_name"] == demo.NETWORK
    assert breakfast["starts_at"][11:16] == "07:30"  # local time in Jokkmokk

    created = loader.created
    demo.EventsDemo(client.events, loader).load(existing)
    assert loader.created == created
    assert client.events.list_events(None)["total"] == len(demo.EVENTS)
