"""Volunteering over real RPC with migrated databases and real RabbitMQ: the groups
service's skills (seeded by the migration), profiles, search and invitations; the events
service's roles and offers (concurrent offers for the last place), and its handler of
groups' volunteer_invitation_answered, fed as in production by an envelope on the
`groups.events` exchange (once, and again: the inbox makes it idempotent)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from nameko.standalone.rpc import ClusterRpcClient
from sqlalchemy import select

from civic.db import ServiceDatabase
from civic.errors import Conflict, Forbidden, NotFound, ValidationError
from services.events.models import RoleOffer
from services.events.models import metadata as events_metadata
from services.groups.service import GroupsService
from tests.conftest import wait_for
from tests.integration.test_events_service import GROUP, actor, new_event, organiser  # noqa: F401
from tests.support import envelope, outbox_envelopes, publish

PASSWORD = "correct horse battery"
PROFILE = {
    "skills": ["driving", "translation_sami"],
    "other_skills": "Kan köra minibuss",
    "availability": ["weekends"],
    "seasons": ["summer"],
    "interests": ["environment"],
    "contact_ok": True,
}


@pytest.fixture
def groups_rpc(migrated, published, container_factory):
    container_factory(GroupsService).start()
    with ClusterRpcClient(context_data={"correlation_id": "corr-vol"}, timeout=30) as client:
        yield client.groups


@pytest.fixture
def events_db(migrated):
    database = ServiceDatabase("events", events_metadata)
    yield database
    database.dispose()


def resident(rpc, name):
    account = rpc.register_account(
        {
            "email": f"{uuid.uuid4().hex[:10]}@example.org",
            "password": PASSWORD,
            "display_name": name,
        }
    )
    return {"account_id": account["id"], "is_staff": False, "display_name": name}


def test_profiles_search_and_invitations_over_rpc(groups_rpc, published):
    rpc = groups_rpc
    skills = {skill["key"]: skill for skill in rpc.list_volunteer_skills()["items"]}
    assert skills["translation_sami"]["name_sv"] == "Översättning samiska"
    assert len(skills) == 11
    with_retired = rpc.list_volunteer_skills(include_retired=True)["items"]
    assert {skill["key"] for skill in with_retired} == set(skills)  # none retired yet
    with pytest.raises(ValidationError):
        rpc.list_volunteer_skills(include_retired="yes")
    admin, anna, bert = resident(rpc, "Admin"), resident(rpc, "Anna"), resident(rpc, "Bert")
    group = rpc.create_group(
        admin, {"name": f"Städlaget {uuid.uuid4().hex[:6]}", "kind": "working_group"}
    )
    rpc.save_volunteer_profile(anna, PROFILE)
    rpc.save_volunteer_profile(bert, {**PROFILE, "contact_ok": False})
    with pytest.raises(Forbidden):
        rpc.search_volunteers(anna)
    found = rpc.search_volunteers(admin, skill="translation_sami")
    assert [v["account_id"] for v in found["items"]] == [anna["account_id"]]
    assert "email" not in found["items"][0]
    body = {"group_id": group["id"], "target_type": "group", "target_id": group["id"]}
    with pytest.raises(NotFound):
        rpc.invite_volunteer(admin, bert["account_id"], body)
    sent = rpc.invite_volunteer(admin, anna["account_id"], {**body, "message": "Hej!"})
    with pytest.raises(Conflict):
        rpc.invite_volunteer(admin, anna["account_id"], body)
    accepted = rpc.answer_volunteer_invitation(anna, sent["id"], "accepted")
    assert accepted["status"] == "accepted"
    with pytest.raises(Conflict):
        rpc.answer_volunteer_invitation(anna, sent["id"], "declined")
    me = rpc.get_me(anna)
    assert [m["group_id"] for m in me["memberships"]] == [group["id"]]
    exported = rpc.export_account(anna["account_id"])
    assert exported["volunteer_profile"]["skills"] == ["driving", "translation_sami"]
    assert exported["volunteer_invitations_received"][0]["status"] == "accepted"

    def told():
        types = [e["type"] for e in published("groups", distinct=True)]
        return {"volunteer_profile_saved", "volunteer_invited"} <= set(types) and (
            "volunteer_invitation_answered" in types
        )

    wait_for(told, message="the volunteer events on the broker")
    rpc.erase_account(anna)
    assert rpc.export_account(anna["account_id"])["volunteer_profile"] is None
    assert rpc.search_volunteers(admin)["total"] == 0


def test_concurrent_offers_for_the_last_place_one_wins(organiser, migrated, events_db):  # noqa: F811
    with ClusterRpcClient(context_data={"correlation_id": "corr-roles"}, timeout=30) as client:
        rpc = client.events
        event = new_event(rpc, organiser, capacity=None)
        roles = rpc.set_roles(organiser, event["id"], {"roles": [{"name": "Förare", "needed": 1}]})
        role_id = roles["roles"][0]["id"]
        people = [actor(f"Volunteer {n}") for n in range(12)]
        pending = [rpc.offer_help.call_async(p, event["id"], role_id) for p in people]
        won, refused = 0, 0
        for reply in pending:
            try:
                reply.result()
                won += 1
            except Conflict:
                refused += 1
        assert (won, refused) == (1, 11)
        shown = rpc.get_event(None, event["id"])["roles"]
        assert [(r["needed"], r["filled"]) for r in shown] == [(1, 1)]
        with pytest.raises(Conflict):
            rpc.set_roles(organiser, event["id"], {"roles": []})


def test_an_accepted_invitation_with_a_role_fills_it_once(organiser, migrated, events_db):  # noqa: F811
    with ClusterRpcClient(context_data={"correlation_id": "corr-roles"}, timeout=30) as client:
        rpc = client.events
        event = new_event(rpc, organiser, capacity=None, starts_in=timedelta(days=5))
        roles = rpc.set_roles(organiser, event["id"], {"roles": [{"name": "Värd", "needed": 2}]})
        role_id = roles["roles"][0]["id"]
    volunteer = str(uuid.uuid4())
    answered = envelope(
        "volunteer_invitation_answered",
        {
            "invitation_id": str(uuid.uuid4()),
            "volunteer_id": volunteer,
            "invited_by": organiser["account_id"],
            "group_id": GROUP,
            "target_type": "event",
            "target_id": event["id"],
            "target_title": event["title"],
            "role_id": role_id,
            "answer": "accepted",
        },
        actor_id=volunteer,
    )
    publish(migrated["AMQP_URI"], answered)
    publish(migrated["AMQP_URI"], answered)  # a redelivery: handled once

    def offers():
        with events_db.sessions() as session:
            return session.execute(
                select(RoleOffer.account_id, RoleOffer.source).where(RoleOffer.role_id == role_id)
            ).all()

    wait_for(lambda: offers() == [(volunteer, "invitation")], message="the role given")

    def filled_once():
        facts = outbox_envelopes(events_db, "volunteer_role_filled")
        return len(facts) == 1 and facts

    (fact,) = wait_for(filled_once, message="one volunteer_role_filled")
    assert fact["data"]["account_id"] == volunteer and fact["data"]["role_name"] == "Värd"
