"""Finding 5 of issue 12: read models don't trust arrival order.

Every event type travels on its own queue (and chaos delays each message at random), so
a consumer may hear of a membership's end before its start, or of a promotion before the
place on the waiting list. The producers stamp a per-entity version (groups: each
membership, events: each registration) and the read models apply a fact only when it
is newer than the one they hold; the fact's time decides only for events from before
versions. Erased accounts are remembered, so a late fact brings nothing back.

The pure rule, the read models on in-memory SQLite, and the producers' stamps.
"""

from __future__ import annotations

import dataclasses
import importlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import StaticPool

from civic.contracts import new_envelope
from civic.db import ServiceDatabase
from tests.unit.domain_support import events, run

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=5)  # a producer instance whose clock runs ahead


def uid() -> str:
    return str(uuid.uuid4())


def memory_session(metadata):
    engine = create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    metadata.create_all(engine)
    return engine, sessionmaker(engine, expire_on_commit=False)()


# --- the rule -------------------------------------------------------------------------


def test_a_newer_version_supersedes_whatever_the_clocks_say():
    from civic.readmodels import supersedes

    assert supersedes(3, T0, held_version=2, held_as_of=LATER)
    assert not supersedes(2, LATER, held_version=3, held_as_of=T0)
    assert not supersedes(2, LATER, held_version=2, held_as_of=T0)  # that fact again


def test_without_versions_on_both_sides_the_time_of_the_fact_decides():
    from civic.readmodels import supersedes

    assert supersedes(None, LATER, held_version=2, held_as_of=T0)
    assert not supersedes(None, T0, held_version=2, held_as_of=LATER)
    assert not supersedes(4, T0, held_version=None, held_as_of=LATER)
    assert supersedes(None, T0, held_version=None, held_as_of=T0)  # as before versions


# --- GroupFacts, in every service that keeps it -----------------------------------------

KEEPERS = ("events", "proposals", "openings")


@pytest.fixture(params=KEEPERS)
def facts(request):
    models = importlib.import_module(f"services.{request.param}.models")
    engine, session = memory_session(models.metadata)
    models.group_facts.group_created(session, GROUP, "Byalaget", "association")
    yield models.group_facts, session
    session.close()
    engine.dispose()


GROUP = str(uuid.uuid4())


def test_member_left_before_member_joined_leaves_no_ghost_admin(facts):
    group_facts, session = facts
    admin = uid()
    # The leave (version 2) overtakes the join (version 1), which was stamped by an
    # instance whose clock runs ahead.
    group_facts.member_left(session, GROUP, admin, T0, version=2)
    group_facts.member_joined(session, GROUP, admin, "admin", LATER, version=1)
    assert not group_facts.is_group_admin(session, GROUP, admin)
    assert group_facts.admin_ids(session, GROUP) == []
    # Joining again is a newer version: an admin again, whatever its clock said.
    group_facts.member_joined(session, GROUP, admin, "admin", T0, version=3)
    assert group_facts.is_group_admin(session, GROUP, admin)


def test_skewed_clocks_with_ordered_versions_the_newer_version_wins(facts):
    group_facts, session = facts
    admin = uid()
    group_facts.member_joined(session, GROUP, admin, "admin", LATER, version=1)
    group_facts.member_left(session, GROUP, admin, T0, version=2)  # its clock is behind
    assert not group_facts.is_group_admin(session, GROUP, admin)
    group_facts.admin_appointed(session, GROUP, admin, T0, version=4)
    group_facts.member_left(session, GROUP, admin, LATER, version=3)  # older: ignored
    assert group_facts.is_group_admin(session, GROUP, admin)


def test_facts_without_versions_still_go_by_their_time(facts):
    group_facts, session = facts
    admin = uid()
    group_facts.member_left(session, GROUP, admin, LATER)
    group_facts.member_joined(session, GROUP, admin, "admin", T0)
    assert not group_facts.is_group_admin(session, GROUP, admin)


def test_an_erased_account_is_not_brought_back_by_a_late_join(facts):
    group_facts, session = facts
    erased = uid()
    group_facts.account_erased(session, erased)
    group_facts.member_joined(session, GROUP, erased, "admin", LATER, version=1)
    group_facts.admin_appointed(session, GROUP, erased, LATER, version=2)
    assert not group_facts.is_group_admin(session, GROUP, erased)
    assert group_facts.admin_ids(session, GROUP) == []
    assert group_facts.administered(session, erased, [GROUP]) == set()


# --- notifications' copies of memberships and registrations -----------------------------


@pytest.fixture
def notifications():
    from services.notifications.models import metadata

    engine, session = memory_session(metadata)
    yield session
    session.close()
    engine.dispose()


def apply(session, event_type, data, at=T0):
    from services.notifications import readmodels

    item = dataclasses.replace(
        new_envelope(event_type, data, producer=producer_of(event_type), correlation_id=None),
        occurred_at=at,
    )
    readmodels.apply(session, item, at)
    session.flush()


def producer_of(event_type):
    from civic.contracts import CATALOGUE

    return CATALOGUE[event_type].producer


def admins_of(session, group_id):
    from services.notifications.domain import recipients
    from services.notifications.rules import GroupAdmins

    return recipients(session, [GroupAdmins("group_id")], {"group_id": group_id})


def registrants_of(session, event_id):
    from services.notifications.domain import recipients
    from services.notifications.rules import Registrants

    return recipients(session, [Registrants("event_id")], {"event_id": event_id})


def registration_status(session, event_id, account_id):
    from services.notifications.models import Registration

    found = session.get(Registration, (event_id, account_id))
    return None if found is None else found.status


def group_follows(session, account_id):
    from services.notifications.models import Follow

    return (
        session.execute(select(Follow.target_id).where(Follow.account_id == account_id))
        .scalars()
        .all()
    )


def test_notifications_member_left_before_member_joined_is_no_admin(notifications):
    session, group_id, admin = notifications, uid(), uid()
    member = {"group_id": group_id, "account_id": admin}
    apply(session, "member_left", member, at=LATER)
    apply(session, "member_joined", {**member, "role": "admin"}, at=T0)
    assert admins_of(session, group_id) == set()
    assert group_follows(session, admin) == []  # and no automatic follow either


def test_notifications_newer_membership_version_wins_over_skewed_clocks(notifications):
    session, group_id, admin = notifications, uid(), uid()
    member = {"group_id": group_id, "account_id": admin}
    apply(session, "member_joined", {**member, "role": "admin", "membership_version": 1}, LATER)
    apply(session, "member_left", {**member, "membership_version": 2}, at=T0)
    assert admins_of(session, group_id) == set()
    apply(session, "member_joined", {**member, "role": "member", "membership_version": 3}, T0)
    apply(session, "admin_appointed", {**member, "reason": "staff", "membership_version": 5}, T0)
    apply(session, "member_left", {**member, "membership_version": 4}, at=LATER)  # older
    assert admins_of(session, group_id) == {admin}
    assert group_follows(session, admin) == [group_id]


def ref(event_id):
    return {
        "event_id": event_id,
        "title": "Städdag",
        "organiser_group_id": GROUP,
        "starts_at": (T0 + timedelta(days=3)).isoformat(),
    }


def test_notifications_waitlist_promoted_before_waitlisted_is_confirmed(notifications):
    session, event_id, person = notifications, uid(), uid()
    place = {**ref(event_id), "account_id": person}
    apply(session, "waitlist_promoted", place, at=LATER)
    apply(session, "registration_waitlisted", {**place, "position": 1}, at=T0)
    assert registration_status(session, event_id, person) == "confirmed"
    assert registrants_of(session, event_id) == {person}


def test_notifications_registration_versions_beat_skewed_clocks(notifications):
    session, event_id, person = notifications, uid(), uid()
    place = {**ref(event_id), "account_id": person}
    apply(session, "registration_waitlisted", {**place, "position": 1, "registration_version": 1})
    apply(
        session,
        "registration_cancelled",
        {**place, "was": "waitlisted", "registration_version": 3},
        at=T0,
    )
    apply(session, "waitlist_promoted", {**place, "registration_version": 2}, at=LATER)
    assert registrants_of(session, event_id) == set()
    apply(session, "registration_confirmed", {**place, "registration_version": 4}, at=T0)
    assert registration_status(session, event_id, person) == "confirmed"


def test_notifications_an_erased_account_is_not_brought_back(notifications):
    from services.notifications.domain import erase_account
    from services.notifications.models import Account

    session, group_id, event_id, erased = notifications, uid(), uid(), uid()
    erase_account(session, erased)
    apply(
        session, "account_registered", {"account_id": erased, "display_name": "A", "locale": "en"}
    )
    apply(
        session,
        "member_joined",
        {"group_id": group_id, "account_id": erased, "role": "admin", "membership_version": 1},
        at=LATER,
    )
    apply(
        session,
        "registration_confirmed",
        {**ref(event_id), "account_id": erased, "registration_version": 1},
        at=LATER,
    )
    assert session.get(Account, erased) is None
    assert admins_of(session, group_id) == set()
    assert registrants_of(session, event_id) == set()
    assert group_follows(session, erased) == []


# --- the producers stamp the versions ---------------------------------------------------


@pytest.fixture
def groups_db(tmp_path):
    from services.groups.models import metadata

    database = ServiceDatabase(
        "groups", metadata, url=f"sqlite:///{tmp_path / 'groups.db'}", amqp_uri="memory://"
    )
    database.create_all()
    yield database
    database.dispose()


def membership_versions(db, account_id):
    kinds = ("member_joined", "member_left", "admin_appointed")
    return [
        (kind, data["membership_version"])
        for kind, data, _ in events(db)
        if kind in kinds and data["account_id"] == account_id
    ]


def test_groups_stamps_a_membership_version_on_every_change(groups_db):
    from services.groups import domain
    from services.groups.models import Account

    def account(name):
        return run(groups_db, domain.register_account, f"{name}@example.org", "x" * 12, name)["id"]

    anna, bo, staff = account("anna"), account("bo"), account("staff")
    with groups_db.sessions() as session, session.begin():
        session.get(Account, staff).is_staff = True
    group = run(groups_db, domain.create_group, anna, "Byalaget", "association", "", True)["id"]
    run(groups_db, domain.join_group, bo, group)
    run(groups_db, domain.remove_member, bo, group, bo)
    run(groups_db, domain.join_group, bo, group)
    run(groups_db, domain.remove_member, anna, group, anna)  # bo takes over
    run(groups_db, domain.remove_member, bo, group, bo)  # nobody left
    run(groups_db, domain.appoint_admin, staff, group, bo)

    kinds = [kind for kind, _ in membership_versions(groups_db, bo)]
    assert kinds == [
        "member_joined",
        "member_left",
        "member_joined",
        "admin_appointed",
        "member_left",
        "member_joined",
        "admin_appointed",
    ]
    versions = [version for _, version in membership_versions(groups_db, bo)]
    assert all(isinstance(version, int) for version in versions)
    assert versions == sorted(set(versions))  # strictly increasing, in publishing order
    assert [version for _, version in membership_versions(groups_db, anna)] == sorted(
        {version for _, version in membership_versions(groups_db, anna)}
    )


class Recorder:
    """The unit of work of the events domain: a session, and what it would publish."""

    def __init__(self, session):
        self.session = session
        self.published: list[tuple[str, dict]] = []

    def publish(self, event_type, data, actor_id=None):
        new_envelope(event_type, data, producer="events", correlation_id="t", actor_id=actor_id)
        self.published.append((event_type, data))


def test_events_stamps_a_registration_version_on_every_change():
    from services.events import domain
    from services.events.models import group_facts, metadata

    engine, session = memory_session(metadata)
    uow = Recorder(session)
    admin = {"account_id": uid(), "is_staff": False, "display_name": "A"}
    first, second = ({"account_id": uid(), "is_staff": False, "display_name": "P"} for _ in "ab")
    group_facts.group_created(session, GROUP, "Byalaget", "association")
    group_facts.member_joined(session, GROUP, admin["account_id"], "admin", T0)
    starts_at = T0 + timedelta(days=3)
    event = domain.create_event(
        uow,
        admin,
        "Städdag",
        "clean_up_day",
        starts_at,
        starts_at + timedelta(hours=2),
        "Torget",
        GROUP,
        capacity=1,
        now=T0,
    )
    domain.register(uow, first, event["id"], now=T0)
    domain.register(uow, second, event["id"], now=T0)
    domain.cancel_registration(uow, first, event["id"], now=T0)  # second is promoted
    domain.cancel_registration(uow, second, event["id"], now=T0)
    domain.register(uow, second, event["id"], now=T0)

    def stamps(person):
        return [
            (kind, data["registration_version"])
            for kind, data in uow.published
            if kind.startswith(("registration_", "waitlist_"))
            and data["account_id"] == person["account_id"]
        ]

    assert [kind for kind, _ in stamps(first)] == [
        "registration_confirmed",
        "registration_cancelled",
    ]
    assert [kind for kind, _ in stamps(second)] == [
        "registration_waitlisted",
        "waitlist_promoted",
        "registration_cancelled",
        "registration_confirmed",
    ]
    for person in (first, second):
        versions = [version for _, version in stamps(person)]
        assert all(isinstance(version, int) for version in versions)
        assert versions == sorted(set(versions))
    session.close()
    engine.dispose()
