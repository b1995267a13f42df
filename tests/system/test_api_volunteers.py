"""Every Volunteers route over HTTP, through the gateway to the groups and events services
(and proposals, for a project's invitation), with the status codes each can answer.

The events and proposals services learn of groups and their admins from the groups
service's events a moment after they happen: the first call naming a new group is
retried until they know it (`once_known`). No test reads today's date: events are
placed relative to now.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import wait_for
from tests.system.conftest import error_of, new_group, once_known

MISSING_ID = "6f9619ff-8b86-d011-b42d-00c04fc964ff"
PROFILE = {
    "skills": ["driving", "first_aid"],
    "other_skills": "Har egen släpvagn",
    "availability": ["weekends", "evenings"],
    "seasons": ["summer", "autumn"],
    "interests": ["environment", "culture"],
    "contact_ok": True,
}


@pytest.fixture
def town(start_services, make_staff):
    from services.events.service import EventsService
    from services.gateway.service import GatewayService
    from services.groups.service import GroupsService
    from services.proposals.service import ProposalsService

    client = start_services(GatewayService, GroupsService, EventsService, ProposalsService)
    admin, admin_token = client.resident("Karin Labba")
    group = new_group(client, admin_token, "Städlaget")
    return {
        "client": client,
        "admin": admin,
        "admin_token": admin_token,
        "group": group,
        "staff_token": client.sign_in(make_staff()),
    }


def new_event(town, days_ahead=10):
    client = town["client"]
    starts_at = datetime.now(UTC) + timedelta(days=days_ahead)
    body = {
        "title": "Städdag vid Talvatissjön",
        "kind": "clean_up_day",
        "description": "Vi plockar skräp längs stranden.",
        "starts_at": starts_at.isoformat(),
        "ends_at": (starts_at + timedelta(hours=3)).isoformat(),
        "location": "Talvatissjön, badplatsen",
        "organiser_group_id": town["group"]["id"],
    }
    response = once_known(
        lambda: client.post("/events", token=town["admin_token"], json=body),
        "the events service knows the group's admin",
    )
    return response.json()


def set_roles(town, event_id, roles, token=None):
    return town["client"].request(
        "PUT",
        f"/events/{event_id}/roles",
        token=token or town["admin_token"],
        json={"roles": roles},
    )


def volunteer(client, name, **profile):
    account, token = client.resident(name)
    saved = client.request("PUT", "/me/volunteer-profile", token=token, json={**PROFILE, **profile})
    assert saved.status_code == 200, saved.text
    return account, token


def test_the_skill_list_is_seeded_and_kept_by_staff(town):
    client, staff = town["client"], town["staff_token"]
    listed = client.get("/volunteer-skills")
    assert listed.status_code == 200
    names = {skill["key"]: skill["name_sv"] for skill in listed.json()["items"]}
    assert names["translation_sami"] == "Översättning samiska" and len(names) == 11
    key = f"sled_{uuid.uuid4().hex[:6]}"
    body = {"key": key, "name_sv": "Skoterkörning", "name_en": "Snowmobile driving"}
    error_of(client.post("/volunteer-skills", json=body), 401, "unauthenticated")
    error_of(
        client.post("/volunteer-skills", token=town["admin_token"], json=body), 403, "forbidden"
    )
    bad = client.post("/volunteer-skills", token=staff, json={**body, "key": "Has Spaces"})
    assert "key" in error_of(bad, 400, "validation_error")["fields"]
    made = client.post("/volunteer-skills", token=staff, json=body)
    assert made.status_code == 201 and made.json()["active"] is True
    error_of(client.post("/volunteer-skills", token=staff, json=body), 409, "conflict")
    error_of(client.delete(f"/volunteer-skills/{key}", token=town["admin_token"]), 403, "forbidden")
    error_of(client.delete(f"/volunteer-skills/{key}"), 401, "unauthenticated")
    assert client.delete(f"/volunteer-skills/{key}", token=staff).status_code == 204
    error_of(client.delete(f"/volunteer-skills/{key}", token=staff), 404, "not_found")
    assert key not in {s["key"] for s in client.get("/volunteer-skills").json()["items"]}


def test_a_resident_offers_help_and_removes_the_offer(town):
    client = town["client"]
    _, token = client.resident("Elin Åström")
    error_of(client.get("/me/volunteer-profile"), 401, "unauthenticated")
    error_of(client.get("/me/volunteer-profile", token=token), 404, "not_found")
    for broken, field in (
        ({**PROFILE, "availability": []}, "availability"),
        ({**PROFILE, "seasons": ["monsoon"]}, "seasons"),
        ({**PROFILE, "skills": ["juggling"]}, "skills"),
        ({**PROFILE, "interests": ["astrology"]}, "interests"),
        ({**PROFILE, "other_skills": "x" * 301}, "other_skills"),
        ({**PROFILE, "email": "me@example.org"}, "email"),
    ):
        response = client.request("PUT", "/me/volunteer-profile", token=token, json=broken)
        assert field in error_of(response, 400, "validation_error")["fields"], field
    saved = client.request("PUT", "/me/volunteer-profile", token=token, json=PROFILE)
    assert saved.status_code == 200, saved.text
    assert saved.json()["skills"] == ["driving", "first_aid"]
    shown = client.get("/me/volunteer-profile", token=token)
    assert shown.status_code == 200 and shown.json()["contact_ok"] is True
    assert shown.headers["Cache-Control"] == "no-store"
    assert client.delete("/me/volunteer-profile", token=token).status_code == 204
    error_of(client.delete("/me/volunteer-profile", token=token), 404, "not_found")


def test_search_never_shows_a_non_contactable_volunteer_or_any_email(town):
    client = town["client"]
    anna, _ = volunteer(client, "Anna Blind")
    bert, _ = volunteer(client, "Bert Spik", contact_ok=False)
    cilla, _ = volunteer(client, "Cilla Kuhmunen", skills=["cooking"], seasons=["winter"])
    resident, resident_token = client.resident("Nosy Neighbour")
    error_of(client.get("/volunteers"), 401, "unauthenticated")
    error_of(client.get("/volunteers", token=resident_token), 403, "forbidden")
    error_of(
        client.get("/volunteers", token=town["admin_token"], params={"season": "x"}),
        400,
        "validation_error",
    )
    for token in (town["admin_token"], town["staff_token"]):
        found = client.get("/volunteers", token=token, params={"per_page": 100})
        assert found.status_code == 200, found.text
        ids = {item["account_id"] for item in found.json()["items"]}
        assert {anna["id"], cilla["id"]} <= ids and bert["id"] not in ids
        assert resident["id"] not in ids
        assert "@" not in found.text  # no email address, of anyone
        assert all("email" not in item for item in found.json()["items"])
    by_skill = client.get("/volunteers", token=town["admin_token"], params={"skill": "cooking"})
    assert [v["account_id"] for v in by_skill.json()["items"]] == [cilla["id"]]
    by_all = client.get(
        "/volunteers",
        token=town["admin_token"],
        params={"availability": "evenings", "season": "summer", "interest": "culture", "skill": ""},
    )
    assert anna["id"] in {v["account_id"] for v in by_all.json()["items"]}
    assert cilla["id"] not in {v["account_id"] for v in by_all.json()["items"]}


def test_invitations_to_a_group_an_event_and_a_project(town):
    client, group = town["client"], town["group"]
    anna, anna_token = volunteer(client, "Anna Blind")
    bert, bert_token = volunteer(client, "Bert Spik", contact_ok=False)
    _, outsider_token = client.resident("Outsider")
    invite = {"group_id": group["id"], "target_type": "group", "target_id": group["id"]}
    path = f"/volunteers/{anna['id']}/invitations"
    error_of(client.post(path, json=invite), 401, "unauthenticated")
    error_of(client.post(path, token=outsider_token, json=invite), 403, "forbidden")
    error_of(
        client.post(
            f"/volunteers/{bert['id']}/invitations", token=town["admin_token"], json=invite
        ),
        404,
        "not_found",
    )
    error_of(
        client.post(
            f"/volunteers/{MISSING_ID}/invitations", token=town["admin_token"], json=invite
        ),
        404,
        "not_found",
    )
    error = error_of(
        client.post(path, token=town["admin_token"], json={**invite, "message": "x" * 501}),
        400,
        "validation_error",
    )
    assert "message" in error["fields"]
    sent = client.post(path, token=town["admin_token"], json={**invite, "message": "Välkommen!"})
    assert sent.status_code == 201, sent.text
    assert sent.json()["target_title"] == group["name"] and sent.json()["status"] == "pending"
    error_of(client.post(path, token=town["admin_token"], json=invite), 409, "conflict")

    # An event the group organises, with one of its roles; another group's event is not
    # the group's to invite to.
    event = new_event(town)
    roles = set_roles(town, event["id"], [{"name": "Förare", "needed": 2}]).json()["roles"]
    event_invite = {
        "group_id": group["id"],
        "target_type": "event",
        "target_id": event["id"],
        "role_id": roles[0]["id"],
    }
    by_event = client.post(path, token=town["admin_token"], json=event_invite)
    assert by_event.status_code == 201, by_event.text
    assert by_event.json()["target_title"] == event["title"]
    error_of(
        client.post(path, token=town["admin_token"], json={**event_invite, "role_id": MISSING_ID}),
        404,
        "not_found",
    )
    error_of(
        client.post(
            path, token=town["admin_token"], json={**event_invite, "target_id": MISSING_ID}
        ),
        404,
        "not_found",
    )
    other_admin, other_token = client.resident("Other Admin")
    other = new_group(client, other_token, "Andra laget")
    error_of(
        client.post(path, token=other_token, json={**event_invite, "group_id": other["id"]}),
        404,
        "not_found",
    )

    # A project the group leads.
    project = once_known(
        lambda: client.post(
            "/projects",
            token=town["admin_token"],
            json={
                "title": "Bygdegårdens nya tak",
                "description": "Vi lägger om taket tillsammans.",
                "lead_group_id": group["id"],
                "partner_group_ids": [],
            },
        ),
        "the proposals service knows the group's admin",
    ).json()
    project_invite = {"group_id": group["id"], "target_type": "project", "target_id": project["id"]}
    by_project = client.post(path, token=town["admin_token"], json=project_invite)
    assert by_project.status_code == 201, by_project.text
    assert by_project.json()["target_title"] == "Bygdegårdens nya tak"
    error_of(
        client.post(path, token=other_token, json={**project_invite, "group_id": other["id"]}),
        404,
        "not_found",
    )

    # The volunteer answers.
    error_of(client.get("/me/volunteer-invitations"), 401, "unauthenticated")
    mine = client.get("/me/volunteer-invitations", token=anna_token)
    assert mine.status_code == 200 and mine.json()["total"] == 3
    accept = f"/me/volunteer-invitations/{sent.json()['id']}/accept"
    error_of(client.post(accept, token=bert_token), 404, "not_found")
    error_of(
        client.post(f"/me/volunteer-invitations/{MISSING_ID}/accept", token=anna_token),
        404,
        "not_found",
    )
    accepted = client.post(accept, token=anna_token)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    error_of(client.post(accept, token=anna_token), 409, "conflict")
    decline = f"/me/volunteer-invitations/{by_project.json()['id']}/decline"
    declined = client.post(decline, token=anna_token)
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    error_of(client.post(decline, token=anna_token), 409, "conflict")
    me = client.get("/me", token=anna_token).json()
    assert group["id"] in {m["group_id"] for m in me["memberships"] if m["status"] == "active"}
    pending = client.get(
        "/me/volunteer-invitations", token=anna_token, params={"status": "pending"}
    ).json()
    assert [i["target_type"] for i in pending["items"]] == ["event"]

    # The group's admins see what it sent, with the answers.
    listing = f"/groups/{group['id']}/volunteer-invitations"
    error_of(client.get(listing, token=anna_token), 403, "forbidden")
    error_of(
        client.get(f"/groups/{MISSING_ID}/volunteer-invitations", token=town["admin_token"]),
        404,
        "not_found",
    )
    sent_list = client.get(listing, token=town["admin_token"])
    assert sent_list.status_code == 200
    assert {i["status"] for i in sent_list.json()["items"]} == {"accepted", "declined", "pending"}
    assert "@" not in sent_list.text


def test_roles_offers_and_helpers(town):
    client = town["client"]
    event = new_event(town)
    roles_path = f"/events/{event['id']}/roles"
    _, elin_token = client.resident("Elin Åström")
    error_of(set_roles(town, event["id"], [], token=elin_token), 403, "forbidden")
    error_of(set_roles(town, MISSING_ID, []), 404, "not_found")
    error_of(set_roles(town, event["id"], [{"name": "", "needed": 1}]), 400, "validation_error")
    error_of(
        set_roles(town, event["id"], [{"name": "Förare", "needed": 0}]), 400, "validation_error"
    )
    error_of(client.request("PUT", roles_path, json={"roles": []}), 401, "unauthenticated")
    answer = set_roles(
        town, event["id"], [{"name": "Förare", "needed": 1}, {"name": "Plockare", "needed": 5}]
    )
    assert answer.status_code == 200, answer.text
    driver, pickers = (role["id"] for role in answer.json()["roles"])
    shown = client.get(f"/events/{event['id']}").json()["roles"]
    assert [(r["name"], r["needed"], r["filled"]) for r in shown] == [
        ("Förare", 1, 0),
        ("Plockare", 5, 0),
    ]

    offers = f"/events/{event['id']}/roles/{driver}/offers"
    error_of(client.post(offers), 401, "unauthenticated")
    made = client.post(offers, token=elin_token)
    assert made.status_code == 201 and made.json()["role_name"] == "Förare"
    error_of(client.post(offers, token=elin_token), 409, "conflict")
    _, johan_token = client.resident("Johan Spik")
    error_of(client.post(offers, token=johan_token), 409, "conflict")  # full
    error_of(
        client.post(f"/events/{event['id']}/roles/{MISSING_ID}/offers", token=johan_token),
        404,
        "not_found",
    )
    assert (
        client.post(f"/events/{event['id']}/roles/{pickers}/offers", token=johan_token).status_code
        == 201
    )
    mine = client.get(f"/events/{event['id']}", token=elin_token).json()["roles"]
    assert [(r["filled"], r["offered_by_me"]) for r in mine] == [(1, True), (1, False)]

    # A role with offers is neither removed nor cut below them.
    error_of(
        set_roles(town, event["id"], [{"id": pickers, "name": "Plockare", "needed": 5}]),
        409,
        "conflict",
    )
    error_of(
        set_roles(
            town,
            event["id"],
            [
                {"id": driver, "name": "Förare", "needed": 1},
                {"id": pickers, "name": "Plockare", "needed": 0},
            ],
        ),
        400,
        "validation_error",
    )
    renamed = set_roles(
        town,
        event["id"],
        [{"id": driver, "name": "Chaufför", "needed": 2}, {"name": "Plockare", "needed": 1}],
    )
    assert [(r["name"], r["filled"]) for r in renamed.json()["roles"]] == [
        ("Chaufför", 1),
        ("Plockare", 1),
    ]

    helpers = f"/events/{event['id']}/helpers"
    error_of(client.get(helpers, token=elin_token), 403, "forbidden")
    error_of(client.get(helpers), 401, "unauthenticated")
    listed = client.get(helpers, token=town["admin_token"])
    assert listed.status_code == 200, listed.text
    assert [(h["role_name"], h["display_name"]) for h in listed.json()["items"]] == [
        ("Chaufför", "Elin Åström"),
        ("Plockare", "Johan Spik"),
    ]
    assert client.get(helpers, token=town["staff_token"]).status_code == 200

    withdraw = f"{offers}/mine"
    assert client.delete(withdraw, token=elin_token).status_code == 204
    error_of(client.delete(withdraw, token=elin_token), 404, "not_found")
    error_of(client.delete(withdraw), 401, "unauthenticated")

    # A cancelled event takes no more offers or role changes.
    cancelled = client.post(
        f"/events/{event['id']}/cancel", token=town["admin_token"], json={"reason": "Storm"}
    )
    assert cancelled.status_code == 200
    error_of(client.post(offers, token=elin_token), 409, "conflict")
    error_of(
        set_roles(
            town,
            event["id"],
            [
                {"id": driver, "name": "Förare", "needed": 3},
                {"id": pickers, "name": "Plockare", "needed": 1},
            ],
        ),
        409,
        "conflict",
    )


def test_concurrent_offers_for_the_last_place_one_wins(town):
    client = town["client"]
    event = new_event(town)
    (role,) = set_roles(town, event["id"], [{"name": "Förare", "needed": 1}]).json()["roles"]
    tokens = [client.resident(f"Volunteer {n}")[1] for n in range(8)]
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(len(tokens))

    def offer(token):
        start.wait(timeout=10)
        response = client.post(f"/events/{event['id']}/roles/{role['id']}/offers", token=token)
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=offer, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [201] + [409] * 7
    shown = client.get(f"/events/{event['id']}").json()["roles"]
    assert (shown[0]["needed"], shown[0]["filled"]) == (1, 1)


def test_an_accepted_event_invitation_with_a_role_fills_the_role(town):
    client, group = town["client"], town["group"]
    anna, anna_token = volunteer(client, "Anna Blind")
    event = new_event(town)
    (role,) = set_roles(town, event["id"], [{"name": "Värd", "needed": 1}]).json()["roles"]
    sent = client.post(
        f"/volunteers/{anna['id']}/invitations",
        token=town["admin_token"],
        json={
            "group_id": group["id"],
            "target_type": "event",
            "target_id": event["id"],
            "role_id": role["id"],
            "message": "Vill du vara värd?",
        },
    )
    assert sent.status_code == 201, sent.text
    accepted = client.post(
        f"/me/volunteer-invitations/{sent.json()['id']}/accept", token=anna_token
    )
    assert accepted.status_code == 200, accepted.text

    def filled():
        roles = client.get(f"/events/{event['id']}", token=anna_token).json()["roles"]
        return roles[0]["filled"] == 1 and roles[0]["offered_by_me"] and roles

    wait_for(filled, message="the events service to give the role")
    helpers = client.get(f"/events/{event['id']}/helpers", token=town["admin_token"]).json()
    assert [(h["display_name"], h["source"]) for h in helpers["items"]] == [
        ("Anna Blind", "invitation")
    ]


def test_export_and_erasure_cover_profile_invitations_and_roles(town):
    client, group = town["client"], town["group"]
    anna, anna_token = volunteer(client, "Anna Blind")
    event = new_event(town)
    (role,) = set_roles(town, event["id"], [{"name": "Förare", "needed": 2}]).json()["roles"]
    assert (
        client.post(
            f"/events/{event['id']}/roles/{role['id']}/offers", token=anna_token
        ).status_code
        == 201
    )
    invite = {"group_id": group["id"], "target_type": "group", "target_id": group["id"]}
    sent = client.post(
        f"/volunteers/{anna['id']}/invitations", token=town["admin_token"], json=invite
    )
    assert sent.status_code == 201
    exported = client.get("/me/export", token=anna_token).json()
    assert exported["groups"]["volunteer_profile"]["other_skills"] == "Har egen släpvagn"
    assert exported["groups"]["volunteer_invitations_received"][0]["id"] == sent.json()["id"]
    assert exported["events"]["volunteer_roles"][0]["role_name"] == "Förare"
    admin_export = client.get("/me/export", token=town["admin_token"]).json()
    assert admin_export["groups"]["volunteer_invitations_sent"][0]["volunteer_id"] == anna["id"]

    assert client.delete("/me", token=anna_token).status_code == 202

    def gone():
        roles = client.get(f"/events/{event['id']}").json()["roles"]
        return roles[0]["filled"] == 0

    wait_for(gone, message="the events service to forget the erased volunteer's offer")
    found = client.get("/volunteers", token=town["admin_token"], params={"per_page": 100})
    assert anna["id"] not in {v["account_id"] for v in found.json()["items"]}
    sent_list = client.get(
        f"/groups/{group['id']}/volunteer-invitations", token=town["admin_token"]
    ).json()
    assert sent_list["total"] == 0
