"""Issue 16's notifications against a real database (SQLite or PostgreSQL), and through
the broker: volunteer invitations, answers and roles, consultations opened and their
results, the programme and consultations followed, and the read model of volunteers'
interests (newest profile wins, whatever the order of arrival; an erased account's
interests go and a late profile brings none back)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from civic import migrations, topology
from civic.db import ServiceDatabase
from civic.errors import Conflict, NotFound
from services.notifications import activity, domain, email
from services.notifications.api import PROGRAMME_ID, PROGRAMME_TITLE
from services.notifications.models import (
    FactVersion,
    Notification,
    VolunteerInterest,
    metadata,
)
from services.notifications.service import NotificationsService
from tests.conftest import wait_for
from tests.support import count, envelope, publish

SETTINGS = email.MailSettings(public_url="https://civic.example", interval=1.0)
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
STAFF = {"account_id": "staff-account", "is_staff": True, "display_name": "Staff"}
CLOSES_AT = "2027-01-31T22:59:00+00:00"


def uid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def db(civic_settings):
    migrations.upgrade("notifications")
    database = ServiceDatabase("notifications", metadata)
    yield database
    database.dispose()


def handle(db, event_type, data, actor_id=None, at=T0):
    item = dataclasses.replace(envelope(event_type, data, actor_id=actor_id), occurred_at=at)
    with db.unit_of_work() as uow:
        domain.handle_event(uow, item, SETTINGS, now=at)
    return item


def call(db, fn, *args, **kwargs):
    with db.unit_of_work() as uow:
        return fn(uow, *args, **kwargs)


def inbox(db, account_id):
    return call(db, domain.list_notifications, account_id, per_page=100)["items"]


def kinds(db, account_id):
    return [item["kind"] for item in inbox(db, account_id)]


def register(db, locale="sv"):
    account_id = uid()
    handle(
        db,
        "account_registered",
        {"account_id": account_id, "display_name": "A", "locale": locale},
        actor_id=account_id,
    )
    return account_id


def group_with(db, admins, name="Byalaget"):
    group_id = uid()
    handle(
        db,
        "group_created",
        {
            "group_id": group_id,
            "name": name,
            "kind": "association",
            "open": True,
            "created_by": admins[0],
        },
        actor_id=admins[0],
    )
    for admin in admins:
        handle(
            db,
            "member_joined",
            {"group_id": group_id, "account_id": admin, "role": "admin"},
            actor_id=admin,
        )
    return group_id


def profile(db, account_id, interests, version=None, contact_ok=True, at=T0):
    data = {
        "account_id": account_id,
        "contact_ok": contact_ok,
        "interests": interests,
        "skills": ["driving"],
    }
    if version is not None:
        data["version"] = version
    return handle(db, "volunteer_profile_saved", data, actor_id=account_id, at=at)


def profile_removed(db, account_id, version=None, at=T0):
    data = {"account_id": account_id}
    if version is not None:
        data["version"] = version
    return handle(db, "volunteer_profile_removed", data, actor_id=account_id, at=at)


def interests(db, account_id):
    with db.sessions() as session:
        return sorted(
            session.execute(
                select(VolunteerInterest.category).where(VolunteerInterest.account_id == account_id)
            ).scalars()
        )


def told_of(database, event_id):
    """(account id, kind) of everyone told of one event."""
    with database.sessions() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(Notification.account_id, Notification.kind).where(
                    Notification.event_id == event_id
                )
            )
        ]


def invitation(volunteer, inviter, group_id, **changes):
    data = {
        "invitation_id": uid(),
        "volunteer_id": volunteer,
        "invited_by": inviter,
        "group_id": group_id,
        "target_type": "event",
        "target_id": uid(),
        "target_title": "Städdag vid Talvatis",
        "role_id": uid(),
    }
    return {**data, **changes}


def opened(consultation_id=None, categories=("business",), title="Jobben i Jokkmokk"):
    return {
        "consultation_id": consultation_id or uid(),
        "title": title,
        "categories": list(categories),
        "closes_at": CLOSES_AT,
    }


# --- volunteers -------------------------------------------------------------------------


def test_an_invitation_reaches_the_volunteer_in_their_language(db):
    admin, volunteer, english = register(db), register(db, "sv"), register(db, "en")
    group_id = group_with(db, [admin])
    data = invitation(volunteer, admin, group_id)
    handle(db, "volunteer_invited", data, actor_id=admin)
    handle(db, "volunteer_invited", invitation(english, admin, group_id), actor_id=admin)
    [told] = inbox(db, volunteer)
    assert told["kind"] == "volunteer_invited"
    assert told["title"] == "Ställer du upp? Byalaget bjuder in dig till ”Städdag vid Talvatis”"
    assert told["link"] == "/volunteer"
    assert (told["target_type"], told["target_id"]) == ("invitation", data["invitation_id"])
    [told] = inbox(db, english)
    assert told["title"] == "Will you help? Byalaget invites you to “Städdag vid Talvatis”"
    assert kinds(db, admin) == []  # the inviter is not told of their own invitation
    # A muted kind is not told at all.
    muted = register(db)
    call(db, domain.set_preferences, muted, muted_kinds=["volunteer_invited"])
    handle(db, "volunteer_invited", invitation(muted, admin, group_id), actor_id=admin)
    assert kinds(db, muted) == []


def test_the_inviter_and_the_groups_admins_hear_the_answer_and_the_volunteer_does_not(db):
    inviter, other_admin, volunteer = register(db), register(db, "en"), register(db)
    # The volunteer is an admin of the group too: they answered, so they are not told.
    group_id = group_with(db, [inviter, other_admin, volunteer])
    accepted = invitation(volunteer, inviter, group_id, answer="accepted")
    handle(db, "volunteer_invitation_answered", accepted, actor_id=volunteer)
    [told] = inbox(db, inviter)
    assert told["kind"] == "volunteer_invitation_answered"
    assert told["title"] == "En volontär har tackat ja till ”Städdag vid Talvatis”"
    assert "får rollen om det finns en plats kvar" in told["body"]
    assert told["link"] == f"/events/{accepted['target_id']}"
    [told] = inbox(db, other_admin)
    assert told["title"] == "A volunteer said yes to “Städdag vid Talvatis”"
    assert kinds(db, volunteer) == []

    # Answered on the volunteer's behalf (no actor in the envelope): still not told.
    declined = invitation(volunteer, inviter, group_id, answer="declined", role_id=None)
    handle(db, "volunteer_invitation_answered", declined, at=T0 + timedelta(minutes=1))
    assert (
        inbox(db, inviter)[0]["title"] == "En volontär har tackat nej till ”Städdag vid Talvatis”"
    )
    assert inbox(db, inviter)[0]["link"] == "/volunteers"
    assert len(inbox(db, other_admin)) == 2
    assert kinds(db, volunteer) == []

    # Staff invited (not an admin): the inviter and the admins, each once.
    staff = register(db)
    joined = invitation(
        volunteer,
        staff,
        group_id,
        answer="accepted",
        target_type="group",
        target_id=group_id,
        target_title="Byalaget",
        role_id=None,
    )
    item = handle(
        db,
        "volunteer_invitation_answered",
        joined,
        actor_id=volunteer,
        at=T0 + timedelta(minutes=2),
    )
    assert kinds(db, staff) == ["volunteer_invitation_answered"]
    assert inbox(db, staff)[0]["link"] == f"/groups/{group_id}"
    assert "nu medlem" in inbox(db, staff)[0]["body"]
    assert count(db, Notification, Notification.event_id == item.id) == 3


def test_a_filled_role_tells_the_organisers_admins_but_not_who_filled_it(db):
    admin, helper_admin, helper = register(db), register(db, "en"), register(db)
    group_id = group_with(db, [admin, helper_admin])
    event_id = uid()

    def filled(account_id, actor_id):
        return handle(
            db,
            "volunteer_role_filled",
            {
                "event_id": event_id,
                "title": "Städdag vid Talvatis",
                "role_id": uid(),
                "role_name": "Förare",
                "account_id": account_id,
                "organiser_group_id": group_id,
            },
            actor_id=actor_id,
        )

    filled(helper, helper)
    assert [n["title"] for n in inbox(db, admin)] == [
        "En volontär ställer upp som Förare på ”Städdag vid Talvatis”"
    ]
    assert inbox(db, helper_admin)[0]["title"] == (
        "A volunteer signed up as Förare for “Städdag vid Talvatis”"
    )
    assert inbox(db, admin)[0]["link"] == f"/events/{event_id}"
    assert kinds(db, helper) == []
    # An admin given the role by the events service (no actor): not told of themselves.
    filled(helper_admin, None)
    assert len(inbox(db, admin)) == 2 and len(inbox(db, helper_admin)) == 1
    # The role left again tells nobody.
    before = count(db, Notification)
    handle(
        db,
        "volunteer_role_left",
        {
            "event_id": event_id,
            "title": "Städdag vid Talvatis",
            "role_id": uid(),
            "role_name": "Förare",
            "account_id": helper,
            "organiser_group_id": group_id,
        },
        actor_id=helper,
    )
    assert count(db, Notification) == before


# --- consultations ----------------------------------------------------------------------


def test_an_opened_consultation_tells_programme_followers_and_interested_residents(db):
    follower = register(db)
    interested = register(db, "en")
    shy = register(db)  # interested, but would rather not be contacted by groups
    elsewhere = register(db)  # interested in something else
    both = register(db)  # follows the programme and is interested: told once
    muted = register(db)
    nobody = register(db)
    for account_id in (follower, both):
        made = call(db, domain.follow, account_id, "programme", PROGRAMME_ID)
        assert made["title"] == PROGRAMME_TITLE and made["automatic"] is False
    profile(db, interested, ["business", "culture"])
    profile(db, shy, ["business"], contact_ok=False)
    profile(db, elsewhere, ["environment"])
    profile(db, both, ["business"])
    profile(db, muted, ["business"])
    call(db, domain.set_preferences, muted, muted_kinds=["consultation_opened"])

    data = opened()
    item = handle(db, "consultation_opened", data, actor_id=STAFF["account_id"])
    link = f"/consultations/{data['consultation_id']}"
    for account_id in (follower, shy, both):
        [told] = inbox(db, account_id)
        assert told["title"] == "Säg din mening: ”Jobben i Jokkmokk”"
        assert told["body"] == "En ny konsultation är öppen för svar till 31 jan. 2027 kl. 23:59."
        assert told["link"] == link
    [told] = inbox(db, interested)
    assert told["title"] == "Have your say: “Jobben i Jokkmokk”"
    assert told["body"] == "A new consultation is open for answers until 31 Jan 2027, 23:59."
    for account_id in (elsewhere, muted, nobody):
        assert inbox(db, account_id) == []
    assert count(db, Notification, Notification.event_id == item.id) == 4


def test_published_results_tell_the_consultations_followers_too_each_once(db):
    programme, interested, follower, both, outsider = (register(db) for _ in range(5))
    call(db, domain.follow, programme, "programme", PROGRAMME_ID)
    call(db, domain.follow, both, "programme", PROGRAMME_ID)
    profile(db, interested, ["housing"])
    profile(db, both, ["housing"])
    consultation_id = uid()
    with pytest.raises(NotFound):  # not known here yet
        call(db, domain.follow, follower, "consultation", consultation_id)
    handle(db, "consultation_opened", opened(consultation_id, ["housing"]))
    made = call(db, domain.follow, follower, "consultation", consultation_id)
    assert made["title"] == "Jobben i Jokkmokk"
    call(db, domain.follow, both, "consultation", consultation_id)
    with pytest.raises(Conflict):
        call(db, domain.follow, both, "consultation", consultation_id)
    follows = call(db, domain.list_follows, both)["items"]
    assert {(f["target_type"], f["title"]) for f in follows} == {
        ("programme", PROGRAMME_TITLE),
        ("consultation", "Jobben i Jokkmokk"),
    }

    item = handle(
        db,
        "consultation_results_published",
        {
            "consultation_id": consultation_id,
            "title": "Jobben i Jokkmokk",
            "categories": ["housing", "business"],
        },
        actor_id=STAFF["account_id"],
        at=T0 + timedelta(days=60),
    )
    told = {account_id for account_id, _ in told_of(db, item.id)}
    assert told == {programme, interested, follower, both}
    for account_id in told:
        latest = inbox(db, account_id)[0]
        assert latest["kind"] == "consultation_results_published"
        assert latest["title"] == "Resultatet av ”Jobben i Jokkmokk” är publicerat"
        assert latest["link"] == f"/consultations/{consultation_id}"
    assert inbox(db, outsider) == []

    # Unfollowing the programme ends its news.
    assert kinds(db, programme) == ["consultation_results_published", "consultation_opened"]
    call(db, domain.unfollow, programme, "programme", PROGRAMME_ID)
    handle(db, "consultation_opened", opened(), at=T0 + timedelta(days=61))
    assert len(inbox(db, programme)) == 2


def test_the_activity_feed_records_the_new_events_by_subject(db):
    admin, volunteer = register(db), register(db)
    group_id = group_with(db, [admin])
    consultation_id = uid()
    handle(db, "consultation_opened", opened(consultation_id), actor_id=STAFF["account_id"])
    handle(
        db,
        "consultation_answered",
        {"consultation_id": consultation_id, "channel": "online", "answer_count": 1},
    )
    data = invitation(volunteer, admin, group_id)
    handle(db, "volunteer_invited", data, actor_id=admin)
    profile(db, volunteer, ["culture"], version=1)
    about = call(
        db, activity.list_entries, STAFF, subject_type="consultation", subject_id=consultation_id
    )["items"]
    assert sorted(entry["type"] for entry in about) == [
        "consultation_answered",
        "consultation_opened",
    ]
    answered = next(entry for entry in about if entry["type"] == "consultation_answered")
    assert answered["actor_id"] is None
    [invited] = call(db, activity.list_entries, STAFF, type="volunteer_invited")["items"]
    assert (invited["subject_type"], invited["subject_id"]) == ("invitation", data["invitation_id"])
    assert invited["summary"] == "Volunteer invited: “Städdag vid Talvatis”"
    [saved] = call(db, activity.list_entries, STAFF, type="volunteer_profile_saved")["items"]
    assert (saved["subject_type"], saved["subject_id"]) == ("account", volunteer)
    assert saved["summary"] == "Volunteer profile saved"


# --- the read model of volunteers' interests --------------------------------------------


def test_the_newest_profile_wins_whatever_the_order_of_arrival(db):
    volunteer = register(db)
    profile(db, volunteer, ["culture", "housing"], version=2, at=T0)
    profile(db, volunteer, ["environment"], version=1, at=T0 + timedelta(minutes=5))  # late
    assert interests(db, volunteer) == ["culture", "housing"]
    profile(db, volunteer, ["housing"], version=2, at=T0 + timedelta(minutes=6))  # again
    assert interests(db, volunteer) == ["culture", "housing"]
    profile_removed(db, volunteer, version=4)
    profile(db, volunteer, ["leisure"], version=3)  # saved before the removal, came after
    assert interests(db, volunteer) == []
    handle(db, "consultation_opened", opened(categories=["leisure"]))
    assert inbox(db, volunteer) == []
    profile(db, volunteer, ["leisure", "leisure"], version=5)
    assert interests(db, volunteer) == ["leisure"]
    handle(db, "consultation_opened", opened(categories=["leisure"]))
    assert kinds(db, volunteer) == ["consultation_opened"]
    profile(db, volunteer, [], version=6)  # no interests: no interest-based news
    assert interests(db, volunteer) == []

    # Facts from before versions: by their times.
    old = register(db)
    profile(db, old, ["culture"], at=T0 + timedelta(hours=2))
    profile(db, old, ["business"], at=T0 + timedelta(hours=1))
    assert interests(db, old) == ["culture"]
    profile_removed(db, old, at=T0 + timedelta(hours=3))
    assert interests(db, old) == []


def test_an_erased_volunteers_interests_go_and_a_late_profile_brings_none_back(db):
    volunteer, keeper = register(db), register(db)
    profile(db, volunteer, ["culture"], version=1)
    profile(db, keeper, ["culture"], version=1)
    call(db, domain.follow, volunteer, "programme", PROGRAMME_ID)
    handle(db, "account_erased", {"account_id": volunteer}, actor_id=volunteer)
    assert interests(db, volunteer) == []
    assert count(db, FactVersion, FactVersion.account_id == volunteer) == 0
    # A profile saved before the erasure, delivered after it (another queue, a retry),
    # whatever its version: the tombstone keeps it out.
    profile(db, volunteer, ["culture", "business"], version=7, at=T0 + timedelta(hours=1))
    assert interests(db, volunteer) == []
    assert count(db, FactVersion, FactVersion.account_id == volunteer) == 0
    item = handle(db, "consultation_opened", opened(categories=["culture", "business"]))
    told = count(db, Notification, Notification.event_id == item.id)
    assert told == 1 and kinds(db, keeper) == ["consultation_opened"]
    assert inbox(db, volunteer) == []
    assert interests(db, keeper) == ["culture"]


# --- through the broker -----------------------------------------------------------------


@pytest.fixture
def running(civic_settings, runner_factory):
    migrations.upgrade("notifications")
    topology.declare(civic_settings["AMQP_URI"], services=[NotificationsService])
    database = ServiceDatabase("notifications", metadata)
    runner_factory(NotificationsService).start()
    yield database
    database.dispose()


def test_the_new_events_published_through_the_broker_reach_the_inboxes(running, civic_settings):
    amqp = civic_settings["AMQP_URI"]
    admin, volunteer, resident = uid(), uid(), uid()
    group_id = uid()
    publish(
        amqp,
        envelope(
            "group_created",
            {
                "group_id": group_id,
                "name": "Byalaget",
                "kind": "association",
                "open": True,
                "created_by": admin,
            },
            actor_id=admin,
        ),
        envelope(
            "member_joined",
            {"group_id": group_id, "account_id": admin, "role": "admin", "membership_version": 1},
            actor_id=admin,
        ),
        envelope(
            "volunteer_profile_saved",
            {
                "account_id": resident,
                "contact_ok": False,
                "interests": ["business"],
                "skills": [],
                "version": 1,
            },
            actor_id=resident,
        ),
    )
    wait_for(
        lambda: (
            count(running, VolunteerInterest, VolunteerInterest.account_id == resident) == 1
            and len(
                call(running, domain.list_follows, admin)["items"]
            )  # the admin's membership is known
            == 1
        ),
        message="the profile and the membership known",
    )

    invited = envelope("volunteer_invited", invitation(volunteer, admin, group_id), actor_id=admin)
    answered = envelope(
        "volunteer_invitation_answered",
        invitation(volunteer, admin, group_id, answer="accepted"),
        actor_id=volunteer,
    )
    filled = envelope(
        "volunteer_role_filled",
        {
            "event_id": uid(),
            "title": "Städdag vid Talvatis",
            "role_id": uid(),
            "role_name": "Förare",
            "account_id": volunteer,
            "organiser_group_id": group_id,
        },
        actor_id=volunteer,
    )
    consultation_id = uid()
    opening = envelope("consultation_opened", opened(consultation_id))
    publish(amqp, invited, answered, filled, opening)

    expected = {
        invited.id: [(volunteer, "volunteer_invited")],
        answered.id: [(admin, "volunteer_invitation_answered")],
        filled.id: [(admin, "volunteer_role_filled")],
        opening.id: [(resident, "consultation_opened")],
    }
    wait_for(
        lambda: all(len(told_of(running, event_id)) for event_id in expected),
        message="every new event told",
    )
    for event_id, recipients in expected.items():
        assert told_of(running, event_id) == recipients

    # The consultation is followable now; its results reach its follower and the
    # interested resident, once each.
    call(running, domain.follow, volunteer, "consultation", consultation_id)
    results = envelope(
        "consultation_results_published",
        {
            "consultation_id": consultation_id,
            "title": "Jobben i Jokkmokk",
            "categories": ["business"],
        },
    )
    publish(amqp, results, results)  # delivered twice: told once
    wait_for(lambda: len(told_of(running, results.id)) == 2, message="the results told")
    assert sorted(told_of(running, results.id)) == sorted(
        [
            (volunteer, "consultation_results_published"),
            (resident, "consultation_results_published"),
        ]
    )
