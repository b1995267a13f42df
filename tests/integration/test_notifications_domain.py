"""The notifications domain against a real database (SQLite or PostgreSQL): events in,
inbox rows, follows, preferences, digests and the activity feed out."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from civic import migrations
from civic.db import ServiceDatabase
from civic.errors import Conflict, Forbidden, NotFound
from services.notifications import activity, domain, email
from services.notifications.models import (
    Activity,
    Email,
    Follow,
    Membership,
    Message,
    Notification,
    Preference,
    metadata,
)
from tests.support import count, envelope

SETTINGS = email.MailSettings(public_url="https://civic.example", interval=1.0)
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Jokkmokk
STAFF = {"account_id": "staff-account", "is_staff": True, "display_name": "Staff"}


def uid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def db(civic_settings):
    migrations.upgrade("notifications")  # only this service's database is needed
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
    return call(db, domain.list_notifications, account_id, per_page=100)


def register(db, locale="sv"):
    account_id = uid()
    handle(
        db,
        "account_registered",
        {"account_id": account_id, "display_name": "A", "locale": locale},
        actor_id=account_id,
    )
    return account_id


def group_with(db, admin, members=(), name="Skidklubben", kind="association"):
    group_id = uid()
    handle(
        db,
        "group_created",
        {"group_id": group_id, "name": name, "kind": kind, "open": True, "created_by": admin},
        actor_id=admin,
    )
    handle(
        db,
        "member_joined",
        {"group_id": group_id, "account_id": admin, "role": "admin"},
        actor_id=admin,
    )
    for member in members:
        handle(
            db,
            "member_joined",
            {"group_id": group_id, "account_id": member, "role": "member"},
            actor_id=member,
        )
    return group_id


# --- the rules --------------------------------------------------------------------------


def test_a_join_request_tells_the_group_admins_in_their_language(db):
    admin, other_admin, asker = register(db, "sv"), register(db, "en"), register(db)
    group_id = group_with(db, admin)
    handle(
        db,
        "member_joined",
        {"group_id": group_id, "account_id": other_admin, "role": "admin"},
        actor_id=admin,
    )
    handle(
        db,
        "join_requested",
        {"group_id": group_id, "account_id": asker, "admin_ids": [admin]},
        actor_id=asker,
    )

    swedish = inbox(db, admin)
    assert swedish["total"] == 1 and swedish["unread_count"] == 1
    item = swedish["items"][0]
    assert item["kind"] == "join_requested"
    assert item["title"] == "Ny ansökan om medlemskap i Skidklubben"
    assert item["link"] == f"/groups/{group_id}"
    assert (item["target_type"], item["target_id"]) == ("group", group_id)
    assert item["read_at"] is None and item["created_at"] == T0
    # Joining as an admin says no "welcome" (an appointed admin reads admin_appointed).
    english = inbox(db, other_admin)["items"]
    assert sorted(n["title"] for n in english) == ["New request to join Skidklubben"]
    assert inbox(db, asker)["total"] == 0


def test_the_actor_is_never_told_of_their_own_action(db):
    admin, member = register(db), register(db)
    group_id = group_with(db, admin, members=[member])
    # Joining an open group oneself: nobody is told; an admin approving: the member is.
    assert inbox(db, member)["total"] == 0
    approved = register(db)
    handle(
        db,
        "member_joined",
        {"group_id": group_id, "account_id": approved, "role": "member"},
        actor_id=admin,
    )
    assert [n["kind"] for n in inbox(db, approved)["items"]] == ["member_joined"]
    # The admin verifying their own group (staff would, but say it is them): not told.
    handle(db, "group_verified", {"group_id": group_id}, actor_id=admin)
    assert inbox(db, admin)["total"] == 0


def test_a_returnee_hears_of_the_open_openings_their_new_profile_matches(db):
    returnee = register(db)
    # Saving the profile (the returnee's own action) matched an opening already open.
    handle(
        db,
        "opening_matched",
        {
            "opening_id": uid(),
            "title": "Naturguide vid viltparken",
            "business_group_id": uid(),
            "account_ids": [returnee],
        },
        actor_id=returnee,
    )
    assert [n["kind"] for n in inbox(db, returnee)["items"]] == ["opening_matched"]


def test_one_notification_per_recipient_even_when_two_rules_name_them(db):
    author, member = register(db), register(db)
    group_id = group_with(db, register(db), members=[member, author])
    proposal_id = uid()
    handle(
        db,
        "proposal_submitted",
        {
            "proposal_id": proposal_id,
            "title": "Fler bänkar",
            "author_id": author,
            "category": "leisure",
            "channel": "online",
            "status": "submitted",
        },
        actor_id=author,
    )
    staff = uid()
    handle(
        db,
        "proposal_assigned",
        {
            "proposal_id": proposal_id,
            "title": "Fler bänkar",
            "author_id": author,
            "group_id": group_id,
            "group_name": "Skidklubben",
            "previous_group_id": None,
        },
        actor_id=staff,
    )
    # The author follows the group too, but hears once, as the author (after the
    # receipt for the submission).
    assert sorted(n["kind"] for n in inbox(db, author)["items"]) == [
        "proposal_assigned",
        "proposal_received",
    ]
    assert [n["kind"] for n in inbox(db, member)["items"]] == ["group_proposal_assigned"]
    assert count(db, Activity, Activity.type == "proposal_assigned") == 1


def test_a_large_group_is_told_in_bulk_with_emails_for_those_who_want_them(db):
    admin = register(db)
    members = [uid() for _ in range(150)]
    group_id = group_with(db, admin, members=members)
    eager, quiet, muted = members[0], members[1], members[2]
    call(db, domain.set_preferences, eager, email="immediate")
    call(db, domain.set_preferences, quiet, email="off")
    call(db, domain.set_preferences, muted, muted_kinds=["event_scheduled"])
    event_id = uid()
    handle(
        db,
        "event_scheduled",
        {
            "event_id": event_id,
            "title": "Städdag",
            "organiser_group_id": group_id,
            "starts_at": "2026-12-05T09:00:00+00:00",
            "kind": "clean_up_day",
            "ends_at": "2026-12-05T12:00:00+00:00",
            "location": "Torget",
            "capacity": None,
            "proposal_id": None,
            "project_id": None,
            "created_by": admin,
        },
        actor_id=admin,
    )

    told = count(db, Notification, Notification.kind == "event_scheduled")
    assert told == 150 - 1  # every member but the muted one; the admin acted
    assert count(db, Message, Message.kind == "event_scheduled") == 1
    assert inbox(db, muted)["total"] == 0
    body = inbox(db, quiet)["items"][0]["body"]
    assert body == "Skidklubben bjuder in 5 dec. 2026 kl. 10:00, Torget."
    emails = call(db, lambda uow: uow.session.execute(select(Email)).scalars().all())
    assert [(e.account_id, e.kind, e.subject) for e in emails] == [
        (eager, "notification", "Nytt evenemang: ”Städdag”")
    ]
    assert f"https://civic.example/events/{event_id}" in emails[0].body
    # Digest mode (the default) waits for the digest; immediate and off do not.
    assert count(db, Notification, Notification.digest == "pending") == 149 - 2


# --- follows ----------------------------------------------------------------------------


def test_follows_automatic_and_by_hand(db):
    admin, member, outsider = register(db), register(db), register(db)
    group_id = group_with(db, admin, members=[member])
    follows = call(db, domain.list_follows, member)
    assert [(f["target_type"], f["target_id"], f["automatic"]) for f in follows["items"]] == [
        ("group", group_id, True)
    ]

    with pytest.raises(NotFound):
        call(db, domain.follow, outsider, "group", uid())
    made = call(db, domain.follow, outsider, "group", group_id)
    assert made["title"] == "Skidklubben" and made["automatic"] is False
    with pytest.raises(Conflict):
        call(db, domain.follow, outsider, "group", group_id)

    handle(db, "member_left", {"group_id": group_id, "account_id": member}, actor_id=member)
    assert call(db, domain.list_follows, member)["total"] == 0  # the automatic one ended
    assert count(db, Membership, Membership.account_id == member) == 0

    event_id = uid()
    handle(
        db,
        "event_scheduled",
        {
            "event_id": event_id,
            "title": "Möte",
            "organiser_group_id": group_id,
            "starts_at": "2026-12-05T09:00:00+00:00",
            "kind": "meeting",
            "ends_at": "2026-12-05T10:00:00+00:00",
            "location": "Folkets hus",
            "capacity": 10,
            "proposal_id": None,
            "project_id": None,
            "created_by": admin,
        },
        actor_id=admin,
    )
    assert [n["kind"] for n in inbox(db, outsider)["items"]] == ["event_scheduled"]
    assert inbox(db, member)["total"] == 0

    call(db, domain.unfollow, outsider, "group", group_id)
    with pytest.raises(NotFound):
        call(db, domain.unfollow, outsider, "group", group_id)


def test_registrants_hear_of_a_cancellation_and_a_promotion(db):
    organiser = register(db)
    group_id = group_with(db, organiser)
    confirmed, waiting = register(db), register(db)
    ref = {
        "event_id": uid(),
        "title": "Kurs",
        "organiser_group_id": group_id,
        "starts_at": "2026-12-05T09:00:00+00:00",
    }
    handle(db, "registration_confirmed", {**ref, "account_id": confirmed}, actor_id=confirmed)
    handle(
        db,
        "registration_waitlisted",
        {**ref, "account_id": waiting, "position": 1},
        actor_id=waiting,
    )
    handle(
        db,
        "waitlist_promoted",
        {**ref, "account_id": waiting},
        actor_id=confirmed,
        at=T0 + timedelta(minutes=1),
    )
    assert [n["title"] for n in inbox(db, waiting)["items"]] == ["Du har fått en plats på ”Kurs”"]
    handle(
        db,
        "event_cancelled",
        {**ref, "reason": "Sjukdom", "registrant_ids": []},
        actor_id=organiser,
        at=T0 + timedelta(minutes=2),
    )
    for account_id in (confirmed, waiting):
        assert inbox(db, account_id)["items"][0]["kind"] == "event_cancelled"


# --- inbox ------------------------------------------------------------------------------


def test_marking_read_one_and_all(db):
    admin = register(db)
    group_id = group_with(db, admin)
    for _ in range(3):
        handle(
            db, "join_requested", {"group_id": group_id, "account_id": uid(), "admin_ids": [admin]}
        )
    items = inbox(db, admin)["items"]
    read = call(db, domain.mark_read, admin, items[0]["id"])
    assert read["read_at"] is not None
    assert call(db, domain.mark_read, admin, items[0]["id"])["read_at"] == read["read_at"]
    with pytest.raises(NotFound):
        call(db, domain.mark_read, register(db), items[1]["id"])
    assert call(db, domain.list_notifications, admin, unread=True)["total"] == 2
    assert call(db, domain.list_notifications, admin, unread=False)["total"] == 1
    assert call(db, domain.mark_all_read, admin) == {"marked": 2, "unread_count": 0}
    assert inbox(db, admin)["unread_count"] == 0
    page = call(db, domain.list_notifications, admin, page=2, per_page=2)
    assert (page["total"], len(page["items"]), page["page"]) == (3, 1, 2)


# --- digests ----------------------------------------------------------------------------


def test_a_daily_digest_groups_everything_into_one_email_at_seven(db):
    admin, other = register(db, "en"), register(db)
    group_id = group_with(db, admin)
    call(db, domain.set_preferences, other, email="off")
    handle(
        db,
        "member_joined",
        {"group_id": group_id, "account_id": other, "role": "member"},
        actor_id=admin,
    )
    for hour in (10, 12, 14):
        handle(
            db,
            "join_requested",
            {"group_id": group_id, "account_id": uid(), "admin_ids": [admin]},
            at=datetime(2026, 11, 30, hour, tzinfo=UTC),
        )

    before_seven = datetime(2026, 12, 1, 5, 59, tzinfo=UTC)  # 06:59 local
    assert call(db, email.enqueue_due_digests, before_seven, SETTINGS) == 0
    at_seven = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    assert call(db, email.enqueue_due_digests, at_seven, SETTINGS) == 1
    digests = call(db, lambda uow: uow.session.execute(select(Email)).scalars().all())
    assert len(digests) == 1
    digest = digests[0]
    assert (digest.account_id, digest.kind, digest.locale) == (admin, "digest", "en")
    assert digest.subject == "Civic: 3 new notifications"
    assert digest.body.count("New request to join Skidklubben") == 3
    # Nothing new since: no email tomorrow; `off` never gets one (and waits for none).
    tomorrow = at_seven + timedelta(days=1)
    assert call(db, email.enqueue_due_digests, tomorrow, SETTINGS) == 0
    assert count(db, Notification, Notification.digest == "pending") == 0
    assert count(db, Email) == 1


def test_three_instances_at_seven_queue_each_digest_once(db):
    """Every notifications instance's timer runs the digests at seven: for each account
    exactly one of them takes what waited (the others find nothing left)."""
    import eventlet

    admins = [register(db, "en") for _ in range(4)]
    for admin in admins:
        group_id = group_with(db, admin, name=f"Klubb {admin[:6]}")
        for hour in (10, 12):
            handle(
                db,
                "join_requested",
                {"group_id": group_id, "account_id": uid(), "admin_ids": [admin]},
                at=datetime(2026, 11, 30, hour, tzinfo=UTC),
            )
    at_seven = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    timers = [
        eventlet.spawn(call, db, email.enqueue_due_digests, at_seven, SETTINGS) for _ in range(3)
    ]
    assert sum(timer.wait() for timer in timers) == len(admins)
    digests = call(db, lambda uow: uow.session.execute(select(Email)).scalars().all())
    assert sorted(digest.account_id for digest in digests) == sorted(admins)
    assert all(digest.body.count("New request to join") == 2 for digest in digests)


def test_a_weekly_digest_waits_for_monday(db):
    admin = register(db)
    group_id = group_with(db, admin)
    call(db, domain.set_preferences, admin, email="weekly")
    handle(
        db, "join_requested", {"group_id": group_id, "account_id": uid(), "admin_ids": [admin]}
    )  # Monday 30 November
    saturday = datetime(2026, 12, 5, 8, tzinfo=UTC)
    assert call(db, email.enqueue_due_digests, saturday, SETTINGS) == 0
    monday = datetime(2026, 12, 7, 6, 30, tzinfo=UTC)
    assert call(db, email.enqueue_due_digests, monday, SETTINGS) == 1


# --- preferences, unsubscribing, activity, erasure ----------------------------------------


def test_a_confirmation_email_is_queued_whatever_the_preference_and_not_in_the_inbox(db):
    account_id = register(db, locale="en")
    call(db, domain.set_preferences, account_id, email="off")
    requested = {"account_id": account_id, "locale": "en"}
    handle(db, "email_confirmation_requested", requested, actor_id=account_id)
    handle(
        db,
        "email_confirmation_requested",
        requested,
        actor_id=account_id,
        at=T0 + timedelta(minutes=5),
    )  # asked for a new one
    queued = call(
        db,
        lambda uow: uow.session.execute(select(Email).order_by(Email.created_at)).scalars().all(),
    )
    assert [(e.kind, e.locale, e.subject, e.status) for e in queued] == [
        ("confirmation", "en", "Confirm your email address for Civic", "queued")
    ] * 2
    assert queued[0].created_at == T0
    assert count(db, Notification) == 0 and inbox(db, account_id)["total"] == 0
    assert {
        entry.type
        for entry in call(db, lambda uow: uow.session.execute(select(Activity)).scalars().all())
    } >= {"email_confirmation_requested"}

    # Confirmed: what still waits is not sent; what was sent stays in the export.
    call(
        db,
        lambda uow: uow.session.execute(
            Email.__table__.update().where(Email.id == queued[0].id).values(status="sent")
        ),
    )
    handle(db, "email_confirmed", {"account_id": account_id}, actor_id=account_id)
    assert [
        (e.kind, e.status)
        for e in call(db, lambda uow: uow.session.execute(select(Email)).scalars().all())
    ] == [("confirmation", "sent")]
    assert [e["kind"] for e in call(db, domain.export_account, account_id)["emails"]] == [
        "confirmation"
    ]


def test_no_confirmation_email_for_an_account_erased_meanwhile(db):
    account_id = register(db)
    handle(db, "account_erased", {"account_id": account_id}, actor_id=account_id)
    handle(
        db,
        "email_confirmation_requested",
        {"account_id": account_id, "locale": "sv"},
        actor_id=account_id,
    )
    assert count(db, Email) == 0


def test_preferences_and_the_unsubscribe_token(db):
    account_id = register(db)
    assert call(db, domain.get_preferences, account_id) == {"email": "daily", "muted_kinds": []}
    changed = call(
        db,
        domain.set_preferences,
        account_id,
        email="immediate",
        muted_kinds=["comment_added", "proposal_supported", "comment_added"],
    )
    assert changed == {"email": "immediate", "muted_kinds": ["comment_added", "proposal_supported"]}
    assert call(db, domain.set_preferences, account_id, email="weekly")["muted_kinds"] == [
        "comment_added",
        "proposal_supported",
    ]
    token = email.unsubscribe_token(account_id)
    assert call(db, domain.unsubscribe, token) == {"email": "off"}
    assert call(db, domain.get_preferences, account_id)["email"] == "off"
    with pytest.raises(NotFound):
        call(db, domain.unsubscribe, token[:-2] + "xx")


def test_the_activity_feed_has_every_event(db):
    admin = register(db)
    group_id = group_with(db, admin, name="Byalaget")
    later = T0 + timedelta(hours=1)
    verified = handle(db, "group_verified", {"group_id": group_id}, actor_id=uid(), at=later)
    feed = call(db, activity.list_entries, STAFF, since=T0)
    assert sorted(entry["type"] for entry in feed["items"]) == [
        "account_registered",
        "group_created",
        "group_verified",
        "member_joined",
        "notification_delivered",
    ]
    # Telling the admins happened when the verification was handled (the injected
    # clock, not the wall clock): both are in the feed from `later` on.
    recent = call(db, activity.list_entries, STAFF, since=later)["items"]
    assert sorted(entry["type"] for entry in recent) == ["group_verified", "notification_delivered"]
    (entry,) = [entry for entry in recent if entry["type"] == "group_verified"]
    assert entry["id"] == verified.id and entry["correlation_id"] == verified.correlation_id
    assert entry["subject_type"] == "group" and entry["subject_id"] == group_id
    assert entry["summary"] == "Group verified: “Byalaget”"
    assert call(db, activity.list_entries, STAFF, type="group_created")["total"] == 1
    # The service's own events are in it too, recorded as they were published.
    (delivered,) = call(db, activity.list_entries, STAFF, type="notification_delivered")["items"]
    assert delivered["subject_type"] is None
    assert delivered["occurred_at"] == later
    assert call(db, activity.list_entries, STAFF, since=later + timedelta(seconds=1))["total"] == 0
    assert call(db, activity.list_entries, STAFF)["total"] == 5
    assert (
        call(db, activity.list_entries, STAFF, page=2, per_page=2)["items"]
        == (call(db, activity.list_entries, STAFF)["items"][2:4])
    )
    with pytest.raises(Forbidden):
        call(db, activity.list_entries, {**STAFF, "is_staff": False})


def test_erasure_deletes_the_accounts_inbox_follows_and_preferences(db):
    admin, keeper = register(db), register(db)
    group_id = group_with(db, admin, members=[keeper])
    call(db, domain.set_preferences, admin, email="immediate", muted_kinds=["comment_added"])
    for _ in range(2):
        handle(
            db,
            "join_requested",
            {"group_id": group_id, "account_id": uid(), "admin_ids": [admin, keeper]},
        )
    assert count(db, Email, Email.account_id == admin) == 2
    handle(db, "account_erased", {"account_id": admin}, actor_id=admin)
    for model in (Notification, Email, Follow, Preference):
        assert count(db, model, model.account_id == admin) == 0, model
    assert count(db, Membership, Membership.account_id == admin) == 0
    assert inbox(db, keeper)["total"] == 2  # others keep theirs
    assert count(db, Activity, Activity.type == "account_erased") == 1


def test_erasure_takes_the_accounts_id_out_of_the_activity_feed(db):
    gone, keeper = register(db), register(db)
    group_id = group_with(db, gone, members=[keeper])
    handle(
        db,
        "proposal_submitted",
        {
            "proposal_id": uid(),
            "title": "Fler bänkar",
            "author_id": gone,
            "category": "leisure",
            "channel": "online",
            "status": "submitted",
        },
        actor_id=gone,
    )
    handle(db, "member_left", {"group_id": group_id, "account_id": gone}, actor_id=gone)
    handle(
        db,
        "admin_appointed",
        {"group_id": group_id, "account_id": keeper, "reason": "handover"},
        actor_id=gone,
    )
    assert count(db, Activity, Activity.actor_id == gone) >= 5

    handle(db, "account_erased", {"account_id": gone}, actor_id=gone)
    # A late event naming it (another queue, a retry) is recorded without it too.
    late = handle(
        db,
        "proposal_supported",
        {
            "proposal_id": uid(),
            "title": "Fler bänkar",
            "author_id": None,
            "account_id": gone,
            "support_count": 1,
        },
        actor_id=gone,
    )
    assert count(db, Activity, Activity.actor_id == gone) == 0
    assert count(db, Activity, Activity.subject_id == gone) == 0
    feed = call(db, activity.list_entries, STAFF, per_page=100)["items"]
    assert {entry["type"] for entry in feed} >= {
        "account_registered",
        "proposal_submitted",
        "member_left",
        "admin_appointed",
        "account_erased",
        "proposal_supported",
    }
    assert all(gone not in (entry["actor_id"], entry["subject_id"]) for entry in feed)
    (registered,) = [
        entry
        for entry in feed
        if entry["type"] == "account_registered" and entry["subject_id"] is None
    ]
    assert registered["subject_type"] == "account"
    assert late.id in {entry["id"] for entry in feed}
    # The keeper's own entries keep their actor.
    assert count(db, Activity, Activity.actor_id == keeper) >= 2


def test_the_new_admin_is_told_and_acts_as_admin_here(db):
    leaver, elder, newer = register(db), register(db, "en"), register(db)
    group_id = group_with(db, leaver, members=[elder, newer], name="Byalaget")
    handle(db, "member_left", {"group_id": group_id, "account_id": leaver}, actor_id=leaver)
    handle(
        db,
        "admin_appointed",
        {"group_id": group_id, "account_id": elder, "reason": "handover"},
        actor_id=leaver,
    )
    (told,) = inbox(db, elder)["items"]
    assert told["kind"] == "admin_appointed" and told["target_id"] == group_id
    assert told["title"] == "You are now an admin of Byalaget"
    assert "longest-standing member" in told["body"]
    assert inbox(db, newer)["total"] == 0
    # As an admin here, the elder hears of the next join request.
    handle(db, "join_requested", {"group_id": group_id, "account_id": uid(), "admin_ids": []})
    assert sorted(item["kind"] for item in inbox(db, elder)["items"]) == [
        "admin_appointed",
        "join_requested",
    ]

    staff, appointed = uid(), register(db)
    handle(
        db,
        "member_joined",
        {"group_id": group_id, "account_id": appointed, "role": "admin"},
        actor_id=staff,
    )
    handle(
        db,
        "admin_appointed",
        {"group_id": group_id, "account_id": appointed, "reason": "staff"},
        actor_id=staff,
    )
    # One notification: the appointment's words, not a second "welcome".
    (only,) = inbox(db, appointed)["items"]
    assert only["kind"] == "admin_appointed"
    assert only["title"] == "Du är nu administratör för Byalaget"
    assert only["body"].startswith("Personalen har utsett dig")
    assert (
        count(db, Membership, Membership.account_id == appointed, Membership.role == "admin") == 1
    )
    # A late appointment of an erased account brings no membership back.
    handle(db, "account_erased", {"account_id": elder}, actor_id=elder)
    handle(
        db,
        "admin_appointed",
        {"group_id": group_id, "account_id": elder, "reason": "staff"},
        actor_id=staff,
    )
    assert count(db, Membership, Membership.account_id == elder) == 0
    assert count(db, Follow, Follow.account_id == elder) == 0


def test_a_group_needing_an_admin_is_in_the_feed_by_name(db):
    admin = register(db)
    group_id = group_with(db, admin, name="Tomma gruppen")
    handle(db, "group_needs_admin", {"group_id": group_id}, actor_id=admin)
    (entry,) = call(db, activity.list_entries, STAFF, type="group_needs_admin")["items"]
    assert (entry["subject_type"], entry["subject_id"]) == ("group", group_id)
    assert entry["summary"] == "Group needs admin: “Tomma gruppen”"
