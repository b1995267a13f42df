"""The volunteering rules: groups' skill list, profiles, search and invitations (on a
throw-away SQLite database, no broker) and events' volunteer roles and offers (on an
in-memory one, with a recorder for the unit of work). The clock is a fixed moment."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from civic.contracts import VOLUNTEER_INTERESTS
from civic.errors import Conflict, Forbidden, NotFound, ValidationError
from civic.validation import load
from services.events import roles
from services.events.models import Event
from services.groups import api, domain, volunteers
from services.groups.models import Account, Membership
from services.groups.models import metadata as groups_metadata
from services.proposals.api import CATEGORIES
from tests.unit.domain_support import domain_database, events, run
from tests.unit.test_events_domain import GROUP, NOW, admin, person, schedule, uow  # noqa: F401

PASSWORD = "correct horse battery"
PROFILE = {
    "skills": ["driving"],
    "other_skills": "Har egen släpvagn",
    "availability": ["weekends"],
    "seasons": ["summer", "autumn"],
    "interests": ["environment"],
    "contact_ok": True,
}


def test_interests_are_the_proposal_categories():
    assert tuple(VOLUNTEER_INTERESTS) == tuple(CATEGORIES)


def test_a_profile_needs_an_availability_and_a_season_and_known_values():
    assert load(api.VolunteerProfileSaveSchema, PROFILE)["other_skills"] == "Har egen släpvagn"
    for broken in (
        {**PROFILE, "availability": []},
        {**PROFILE, "seasons": []},
        {**PROFILE, "seasons": ["monsoon"]},
        {**PROFILE, "interests": ["astrology"]},
        {**PROFILE, "other_skills": "x" * 301},
        {**PROFILE, "skills": ["Not A Key"]},
        {k: v for k, v in PROFILE.items() if k != "contact_ok"},
        {**PROFILE, "email": "a@b.se"},
    ):
        with pytest.raises(ValidationError):
            load(api.VolunteerProfileSaveSchema, broken)


def test_invitation_messages_and_role_names_are_bounded():
    body = {"group_id": str(uuid.uuid4()), "target_type": "group", "target_id": str(uuid.uuid4())}
    assert load(api.VolunteerInvitationCreateSchema, body)["message"] == ""
    with pytest.raises(ValidationError):
        load(api.VolunteerInvitationCreateSchema, {**body, "message": "x" * 501})
    with pytest.raises(ValidationError):
        load(api.VolunteerInvitationCreateSchema, {**body, "target_title": "Sneaked in"})
    from services.events import api as events_api

    with pytest.raises(ValidationError):
        load(events_api.RolesSetSchema, {"roles": [{"name": "x" * 61, "needed": 1}]})
    with pytest.raises(ValidationError):
        load(events_api.RolesSetSchema, {"roles": [{"name": "Förare", "needed": 51}]})
    with pytest.raises(ValidationError):
        load(
            events_api.RolesSetSchema,
            {"roles": [{"name": "Förare", "needed": 1}, {"name": "förare", "needed": 2}]},
        )


# --- groups: skills, profiles, search, invitations --------------------------------------


@pytest.fixture
def db(tmp_path):
    database = domain_database(tmp_path, "groups", groups_metadata)
    yield database
    database.dispose()


def account(db, name, staff=False):
    made = run(db, domain.register_account, f"{uuid.uuid4().hex[:8]}@example.org", PASSWORD, name)
    if staff:
        with db.sessions() as session, session.begin():
            session.get(Account, made["id"]).is_staff = True
    return made["id"]


@pytest.fixture
def town(db):
    staff = account(db, "Staff", staff=True)
    run(db, volunteers.add_skill, staff, "driving", "Bilkörning", "Driving")
    run(db, volunteers.add_skill, staff, "cooking", "Matlagning", "Cooking")
    admin_id = account(db, "Admin")
    group = run(db, domain.create_group, admin_id, "Städgruppen", "working_group", "", False)
    return {"staff": staff, "admin": admin_id, "group": group["id"]}


def test_staff_keep_the_skill_list(db, town):
    resident = account(db, "Resident")
    with pytest.raises(Forbidden):
        run(db, volunteers.add_skill, resident, "carpentry", "Snickeri", "Carpentry")
    with pytest.raises(Conflict):
        run(db, volunteers.add_skill, town["staff"], "driving", "Bil", "Car")
    run(db, volunteers.retire_skill, town["staff"], "cooking")
    assert [s["key"] for s in run(db, volunteers.list_skills)["items"]] == ["driving"]
    with pytest.raises(NotFound):
        run(db, volunteers.retire_skill, town["staff"], "cooking")
    back = run(db, volunteers.add_skill, town["staff"], "cooking", "Matlagning", "Cooking")
    assert back["active"] is True


def test_profiles_are_saved_versioned_and_removed(db, town):
    anna = account(db, "Anna")
    with pytest.raises(NotFound):
        run(db, volunteers.get_profile, anna)
    saved = run(db, volunteers.save_profile, anna, **PROFILE)
    assert saved["skills"] == ["driving"] and saved["seasons"] == ["autumn", "summer"]
    with pytest.raises(ValidationError) as unknown:
        run(db, volunteers.save_profile, anna, **{**PROFILE, "skills": ["juggling"]})
    assert "skills" in unknown.value.fields
    run(db, volunteers.save_profile, anna, **{**PROFILE, "contact_ok": False})
    run(db, volunteers.delete_profile, anna)
    with pytest.raises(NotFound):
        run(db, volunteers.delete_profile, anna)
    facts = events(db, "volunteer_profile_saved") + events(db, "volunteer_profile_removed")
    assert sorted(data["version"] for _, data, _ in facts) == [1, 2, 3]
    assert all("other_skills" not in data and "availability" not in data for _, data, _ in facts)


def test_search_shows_only_contactable_volunteers_to_admins_and_staff(db, town):
    anna, bert, cilla = account(db, "Anna"), account(db, "Bert"), account(db, "Cilla")
    run(db, volunteers.save_profile, anna, **PROFILE)
    run(db, volunteers.save_profile, bert, **{**PROFILE, "contact_ok": False})
    run(db, volunteers.save_profile, cilla, **{**PROFILE, "skills": [], "seasons": ["winter"]})
    with pytest.raises(Forbidden):
        run(db, volunteers.search, anna)
    found = run(db, volunteers.search, town["admin"])
    assert [v["display_name"] for v in found["items"]] == ["Anna", "Cilla"]
    assert all("email" not in v for v in found["items"])
    assert [
        v["account_id"] for v in run(db, volunteers.search, town["staff"], skill="driving")["items"]
    ] == [anna]
    assert run(db, volunteers.search, town["admin"], season="winter")["total"] == 1
    assert run(db, volunteers.search, town["admin"], availability="evenings")["total"] == 0
    run(db, domain.erase_account, cilla)
    run(db, volunteers.erase_account, cilla)
    assert run(db, volunteers.search, town["admin"])["total"] == 1


def test_invitations_one_pending_then_answered_once(db, town):
    anna, bert = account(db, "Anna"), account(db, "Bert")
    run(db, volunteers.save_profile, anna, **PROFILE)
    run(db, volunteers.save_profile, bert, **{**PROFILE, "contact_ok": False})
    group = town["group"]
    invite = {
        "group_id": group,
        "target_type": "group",
        "target_id": group,
        "message": "Välkommen!",
    }
    with pytest.raises(Forbidden):
        run(db, volunteers.invite, bert, anna, **invite)
    with pytest.raises(NotFound):
        run(db, volunteers.invite, town["admin"], bert, **invite)
    with pytest.raises(ValidationError):
        run(
            db, volunteers.invite, town["admin"], anna, **{**invite, "target_id": str(uuid.uuid4())}
        )
    sent = run(db, volunteers.invite, town["admin"], anna, **invite)
    assert sent["target_title"] == "Städgruppen" and sent["status"] == "pending"
    with pytest.raises(Conflict):
        run(db, volunteers.invite, town["staff"], anna, **invite)
    with pytest.raises(NotFound):
        run(db, volunteers.answer_invitation, bert, sent["id"], "accepted")
    answered = run(db, volunteers.answer_invitation, anna, sent["id"], "accepted")
    assert answered["status"] == "accepted"
    with pytest.raises(Conflict):
        run(db, volunteers.answer_invitation, anna, sent["id"], "declined")
    with db.sessions() as session:
        membership = session.get(Membership, (group, anna))
        assert (membership.status, membership.role) == ("active", "member")
    joined = [data for _, data, _ in events(db, "member_joined") if data["account_id"] == anna]
    assert len(joined) == 1
    (fact,) = [data for _, data, _ in events(db, "volunteer_invitation_answered")]
    assert fact["answer"] == "accepted" and fact["volunteer_id"] == anna
    assert "message" not in fact
    # A member already is not invited to the group again.
    with pytest.raises(Conflict):
        run(db, volunteers.invite, town["admin"], anna, **invite)
    # An event's invitation needs its title; only an event's has a role.
    event_invite = {"group_id": group, "target_type": "event", "target_id": str(uuid.uuid4())}
    with pytest.raises(ValidationError):
        run(db, volunteers.invite, town["admin"], anna, **event_invite)
    project = {"group_id": group, "target_type": "project", "target_id": str(uuid.uuid4())}
    with pytest.raises(ValidationError):
        run(
            db,
            volunteers.invite,
            town["admin"],
            anna,
            **project,
            target_title="Bygdegården",
            role_id=str(uuid.uuid4()),
        )
    role = str(uuid.uuid4())
    first = run(
        db,
        volunteers.invite,
        town["admin"],
        anna,
        **event_invite,
        target_title="Städdag",
        role_id=role,
    )
    other_role = run(
        db, volunteers.invite, town["admin"], anna, **event_invite, target_title="Städdag"
    )
    assert first["role_id"] == role and other_role["role_id"] is None
    mine = run(db, volunteers.list_my_invitations, anna)
    assert [i["status"] for i in mine["items"]] == ["pending", "pending", "accepted"]
    assert run(db, volunteers.list_group_invitations, town["admin"], group)["total"] == 3
    with pytest.raises(Forbidden):
        run(db, volunteers.list_group_invitations, anna, group)


def test_export_and_erasure_cover_profile_and_invitations(db, town):
    anna = account(db, "Anna")
    run(db, volunteers.save_profile, anna, **PROFILE)
    group = town["group"]
    invite = {"group_id": group, "target_type": "group", "target_id": group}
    run(db, volunteers.invite, town["admin"], anna, **invite, message="Hej Anna")
    with db.sessions() as session:
        exported = volunteers.export_account(session, anna)
        sent = volunteers.export_account(session, town["admin"])
    assert exported["volunteer_profile"]["other_skills"] == "Har egen släpvagn"
    assert exported["volunteer_invitations_received"][0]["message"] == "Hej Anna"
    assert sent["volunteer_invitations_sent"][0]["volunteer_id"] == anna
    run(db, volunteers.erase_account, anna)
    run(db, domain.erase_account, anna)
    with db.sessions() as session:
        assert volunteers.export_account(session, anna) == {
            "volunteer_profile": None,
            "volunteer_invitations_received": [],
            "volunteer_invitations_sent": [],
        }
    run(db, volunteers.erase_account, town["admin"])
    with db.sessions() as session:
        assert volunteers.export_account(session, town["admin"])["volunteer_invitations_sent"] == []


# --- events: roles and offers -----------------------------------------------------------


def clean_up_day(uow, admin):  # noqa: F811
    event = schedule(uow, admin)
    answer = roles.set_roles(
        uow,
        admin,
        event["id"],
        [
            {"id": None, "name": "Förare", "needed": 1},
            {"id": None, "name": "Plockare", "needed": 5},
        ],
        now=NOW,
    )
    return event, {role["name"]: role for role in answer["roles"]}


def test_offers_fill_roles_up_to_what_is_needed(uow, admin):  # noqa: F811
    event, by_name = clean_up_day(uow, admin)
    driver = by_name["Förare"]["id"]
    anna, bert = person(), person()
    with pytest.raises(Forbidden):
        roles.set_roles(uow, anna, event["id"], [], now=NOW)
    roles.offer(uow, anna, event["id"], driver, now=NOW)
    with pytest.raises(Conflict):
        roles.offer(uow, anna, event["id"], driver, now=NOW)
    with pytest.raises(Conflict):
        roles.offer(uow, bert, event["id"], driver, now=NOW)
    with pytest.raises(NotFound):
        roles.offer(uow, bert, event["id"], str(uuid.uuid4()), now=NOW)
    from services.events import domain as events_domain

    shown = events_domain.get_event(uow, anna, event["id"], now=NOW)["roles"]
    assert [(r["name"], r["needed"], r["filled"], r["offered_by_me"]) for r in shown] == [
        ("Förare", 1, 1, True),
        ("Plockare", 5, 0, False),
    ]
    (filled,) = uow.of("volunteer_role_filled")
    assert filled["account_id"] == anna["account_id"] and filled["role_name"] == "Förare"
    helpers = roles.list_helpers(uow, admin, event["id"])
    assert [(h["role_name"], h["account_id"]) for h in helpers["items"]] == [
        ("Förare", anna["account_id"])
    ]
    with pytest.raises(Forbidden):
        roles.list_helpers(uow, anna, event["id"])
    roles.withdraw(uow, anna, event["id"], driver)
    with pytest.raises(NotFound):
        roles.withdraw(uow, anna, event["id"], driver)
    assert len(uow.of("volunteer_role_left")) == 1
    roles.offer(uow, bert, event["id"], driver, now=NOW)


def test_a_role_with_offers_is_not_removed_or_cut_below_them(uow, admin):  # noqa: F811
    event, by_name = clean_up_day(uow, admin)
    pickers = by_name["Plockare"]["id"]
    for _ in range(3):
        roles.offer(uow, person(), event["id"], pickers, now=NOW)
    with pytest.raises(Conflict):
        roles.set_roles(uow, admin, event["id"], [{"name": "Förare", "needed": 1}], now=NOW)
    with pytest.raises(Conflict):
        roles.set_roles(
            uow, admin, event["id"], [{"id": pickers, "name": "P", "needed": 2}], now=NOW
        )
    kept = roles.set_roles(
        uow, admin, event["id"], [{"id": pickers, "name": "Skräpplockare", "needed": 3}], now=NOW
    )["roles"]
    assert [(r["id"], r["name"], r["filled"]) for r in kept] == [(pickers, "Skräpplockare", 3)]
    # Over: no more changes or offers.
    later = NOW + timedelta(days=30)
    with pytest.raises(Conflict):
        roles.set_roles(uow, admin, event["id"], [], now=later)
    with pytest.raises(Conflict):
        roles.offer(uow, person(), event["id"], pickers, now=later)


def answered(event_id, role_id, volunteer_id, answer="accepted"):
    return {
        "invitation_id": str(uuid.uuid4()),
        "volunteer_id": volunteer_id,
        "invited_by": str(uuid.uuid4()),
        "group_id": GROUP,
        "target_type": "event",
        "target_id": event_id,
        "target_title": "Städdag",
        "role_id": role_id,
        "answer": answer,
    }


def test_an_accepted_invitation_with_a_role_fills_it_if_a_place_is_left(uow, admin):  # noqa: F811
    event, by_name = clean_up_day(uow, admin)
    driver = by_name["Förare"]["id"]
    anna, bert = person()["account_id"], person()["account_id"]
    assert not roles.invitation_answered(uow, answered(event["id"], driver, anna, "declined"), NOW)
    assert roles.invitation_answered(uow, answered(event["id"], driver, anna), NOW)
    assert not roles.invitation_answered(uow, answered(event["id"], driver, anna), NOW)
    assert not roles.invitation_answered(uow, answered(event["id"], driver, bert), NOW)
    assert not roles.invitation_answered(uow, answered(str(uuid.uuid4()), driver, bert), NOW)
    helpers = roles.list_helpers(uow, admin, event["id"])["items"]
    assert [(h["account_id"], h["source"]) for h in helpers] == [(anna, "invitation")]
    assert roles.export_account(uow.session, anna)["volunteer_roles"][0]["role_name"] == "Förare"
    roles.erase_account(uow.session, anna)
    assert roles.export_account(uow.session, anna) == {"volunteer_roles": []}
    assert uow.session.execute(select(Event.id)).first() is not None
