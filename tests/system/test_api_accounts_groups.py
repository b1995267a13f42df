"""Every accounts/sessions/groups/staff route of API.md over HTTP, with its status codes."""

import uuid

import pytest

from civic.config import DOMAIN_SERVICES
from tests.conftest import wait_for
from tests.system.conftest import PASSWORD, error_of, new_group, once_known

# --- accounts and sessions --------------------------------------------------------------


def test_register_sign_in_me_sign_out(api):
    email = f"Ann.{uuid.uuid4().hex[:6]}@Example.org"
    created = api.post(
        "/accounts",
        json={"email": email, "password": PASSWORD, "display_name": "Ann", "locale": "en"},
    )
    assert created.status_code == 201, created.text
    account = created.json()
    assert account["email"] == email.lower()
    assert account["display_name"] == "Ann" and account["locale"] == "en"
    uuid.UUID(account["id"])
    assert account["created_at"].endswith("+00:00")
    assert "password" not in account

    duplicate = api.post(
        "/accounts",
        json={"email": email.upper(), "password": PASSWORD, "display_name": "Ann again"},
    )
    error_of(duplicate, 409, "conflict")

    short = api.post(
        "/accounts", json={"email": "bo@example.org", "password": "short", "display_name": "Bo"}
    )
    assert "password" in error_of(short, 400, "validation_error")["fields"]
    missing = api.post("/accounts", json={"email": "not-an-email"})
    fields = error_of(missing, 400, "validation_error")["fields"]
    assert {"email", "password", "display_name"} <= set(fields)
    # RFC 5321: at most 64 characters before the @ (and 63 per domain label).
    for too_long in ("a" * 65 + "@example.org", "ann@" + "d" * 64 + ".example.org"):
        refused = api.post(
            "/accounts", json={"email": too_long, "password": PASSWORD, "display_name": "Long"}
        )
        assert "email" in error_of(refused, 400, "validation_error")["fields"]
    assert (
        api.post(
            "/accounts",
            json={
                "email": "a" * 64 + "@example.org",
                "password": PASSWORD,
                "display_name": "Just fits",
            },
        ).status_code
        == 201
    )

    signed_in = api.post("/sessions", json={"email": email, "password": PASSWORD})
    assert signed_in.status_code == 201, signed_in.text
    session = signed_in.json()
    assert session["account"]["id"] == account["id"] and session["token"]
    token = session["token"]

    wrong = error_of(
        api.post("/sessions", json={"email": email, "password": "x" * 12}), 401, "unauthenticated"
    )
    unknown = error_of(
        api.post("/sessions", json={"email": "nobody@example.org", "password": "x" * 12}),
        401,
        "unauthenticated",
    )
    assert wrong["message"] == unknown["message"]  # an email's existence is not told
    assert "fields" in error_of(
        api.post("/sessions", json={"email": email}), 400, "validation_error"
    )

    me = api.get("/me", token=token)
    assert me.status_code == 200, me.text
    assert me.json()["id"] == account["id"]
    assert me.json()["roles"] == ["resident"] and me.json()["memberships"] == []
    assert me.json()["email_confirmed"] is False  # the emailed link was not followed
    error_of(api.get("/me"), 401, "unauthenticated")
    error_of(api.get("/me", token="not-a-real-token"), 401, "unauthenticated")
    error_of(api.get("/me", headers={"Authorization": "Basic YWJj"}), 401, "unauthenticated")

    signed_out = api.delete("/sessions/current", token=token)
    assert signed_out.status_code == 204 and signed_out.content == b""
    error_of(api.get("/me", token=token), 401, "unauthenticated")
    error_of(api.delete("/sessions/current", token=token), 401, "unauthenticated")


def test_export_gathers_every_service_and_marks_silent_ones(api):
    account, token = api.resident("Export Me")
    error_of(api.get("/me/export"), 401, "unauthenticated")
    exported = api.get("/me/export", token=token)
    assert exported.status_code == 200, exported.text
    body = exported.json()
    assert set(body) == set(DOMAIN_SERVICES)
    assert body["groups"]["account"]["id"] == account["id"]
    # Only the groups service runs in this test: the others cannot answer.
    for service in set(DOMAIN_SERVICES) - {"groups"}:
        assert body[service] == {"unavailable": True}


def test_erasure(api):
    account, token = api.resident("Erase Me")
    error_of(api.delete("/me"), 401, "unauthenticated")
    erased = api.delete("/me", token=token)
    assert erased.status_code == 202, erased.text
    assert erased.json()["account_id"] == account["id"]
    error_of(api.get("/me", token=token), 401, "unauthenticated")
    error_of(
        api.post("/sessions", json={"email": account["email"], "password": PASSWORD}),
        401,
        "unauthenticated",
    )


# --- groups -------------------------------------------------------------------------------


def test_group_listing_and_creation(api):
    admin, token = api.resident("Group Admin")
    error_of(
        api.post(
            "/groups", json={"name": "Nobody's", "kind": "network", "description": "", "open": True}
        ),
        401,
        "unauthenticated",
    )
    group = new_group(api, token, "Ski Club", kind="association")
    assert group["kind"] == "association" and group["verified"] is False
    assert group["member_count"] == 1
    assert [a["id"] for a in group["admins"]] == [admin["id"]]

    duplicate = api.post(
        "/groups",
        token=token,
        json={
            "name": group["name"].upper(),
            "kind": "association",
            "description": "",
            "open": True,
        },
    )
    error_of(duplicate, 409, "conflict")
    bad = api.post(
        "/groups",
        token=token,
        json={"name": "", "kind": "guild", "description": "", "open": "maybe"},
    )
    assert {"name", "kind", "open"} <= set(error_of(bad, 400, "validation_error")["fields"])

    listed = api.get("/groups", params={"kind": "association", "page": 1, "per_page": 10})
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert set(page) == {"items", "total", "page", "per_page"}
    assert page["page"] == 1 and page["per_page"] == 10
    assert group["id"] in [item["id"] for item in page["items"]]
    assert api.get("/groups", params={"kind": "business"}).json()["total"] == 0

    for params, field in (
        ({"per_page": 101}, "per_page"),
        ({"page": 0}, "page"),
        ({"page": "two"}, "page"),
        ({"kind": "guild"}, "kind"),
        ({"colour": "red"}, "colour"),
    ):
        error = error_of(api.get("/groups", params=params), 400, "validation_error")
        assert field in error["fields"], (params, error)

    fetched = api.get(f"/groups/{group['id']}")
    assert fetched.status_code == 200 and fetched.json()["id"] == group["id"]
    error_of(api.get(f"/groups/{uuid.uuid4()}"), 404, "not_found")
    error_of(api.get("/groups/not-a-uuid"), 404, "not_found")


def test_joining_approving_and_leaving(api):
    admin, admin_token = api.resident("Admin")
    member, member_token = api.resident("Member")
    other, other_token = api.resident("Other")
    open_group = new_group(api, admin_token, "Open Group", open=True)
    closed_group = new_group(api, admin_token, "Closed Group", open=False)

    error_of(api.post(f"/groups/{open_group['id']}/members"), 401, "unauthenticated")
    joined = api.post(f"/groups/{open_group['id']}/members", token=member_token)
    assert joined.status_code == 201, joined.text
    assert joined.json()["status"] == "member"
    assert joined.json()["membership"]["status"] == "active"
    error_of(api.post(f"/groups/{open_group['id']}/members", token=member_token), 409, "conflict")
    error_of(api.post(f"/groups/{uuid.uuid4()}/members", token=member_token), 404, "not_found")
    fields = error_of(
        api.post(f"/groups/{open_group['id']}/members", token=other_token, json={"role": "admin"}),
        400,
        "validation_error",
    )["fields"]
    assert "role" in fields

    pending = api.post(f"/groups/{closed_group['id']}/members", token=member_token)
    assert pending.status_code == 202, pending.text
    assert pending.json()["status"] == "pending"

    approve = f"/groups/{closed_group['id']}/members/{member['id']}/approve"
    error_of(api.post(approve), 401, "unauthenticated")
    error_of(api.post(approve, token=other_token), 403, "forbidden")
    approved = api.post(approve, token=admin_token)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "active" and approved.json()["role"] == "member"
    error_of(api.post(approve, token=admin_token), 404, "not_found")
    error_of(
        api.post(f"/groups/{closed_group['id']}/members/not-an-id/approve", token=admin_token),
        404,
        "not_found",
    )

    membership = f"/groups/{open_group['id']}/members/{member['id']}"
    error_of(api.delete(membership), 401, "unauthenticated")
    error_of(api.delete(membership, token=other_token), 403, "forbidden")
    left = api.delete(membership, token=member_token)
    assert left.status_code == 204 and left.content == b""
    error_of(api.delete(membership, token=member_token), 404, "not_found")
    removed = api.delete(f"/groups/{closed_group['id']}/members/{member['id']}", token=admin_token)
    assert removed.status_code == 204

    me = api.get("/me", token=admin_token).json()
    assert {m["group_id"] for m in me["memberships"]} == {open_group["id"], closed_group["id"]}


def test_a_groups_members_are_for_its_members_and_its_requests_for_its_admins(api):
    admin, admin_token = api.resident("Admin")
    member, member_token = api.resident("Member")
    asking, asking_token = api.resident("Asking")
    closed_group = new_group(api, admin_token, "Members Group", open=False)
    members = f"/groups/{closed_group['id']}/members"
    api.post(members, token=member_token)
    api.post(f"{members}/{member['id']}/approve", token=admin_token)
    api.post(members, token=asking_token)

    seen_by_admin = api.get(members, token=admin_token)
    assert seen_by_admin.status_code == 200, seen_by_admin.text
    assert [(m["account_id"], m["role"], m["status"]) for m in seen_by_admin.json()["items"]] == [
        (asking["id"], "member", "pending"),
        (admin["id"], "admin", "active"),
        (member["id"], "member", "active"),
    ]
    assert seen_by_admin.json()["items"][1]["display_name"] == "Admin"
    seen_by_member = api.get(members, token=member_token).json()
    assert {m["account_id"] for m in seen_by_member["items"]} == {admin["id"], member["id"]}
    error_of(api.get(members), 401, "unauthenticated")
    error_of(api.get(members, token=asking_token), 403, "forbidden")
    error_of(api.get(f"/groups/{uuid.uuid4()}/members", token=admin_token), 404, "not_found")


def test_verification_is_for_staff(api, make_staff):
    _, token = api.resident("Association Admin")
    association = new_group(api, token, "Heritage Society", kind="association")
    verify = f"/groups/{association['id']}/verify"
    error_of(api.post(verify), 401, "unauthenticated")
    error_of(api.post(verify, token=token), 403, "forbidden")

    staff_token = api.sign_in(make_staff())
    verified = api.post(verify, token=staff_token)
    assert verified.status_code == 200, verified.text
    assert verified.json()["verified"] is True
    error_of(api.post(verify, token=staff_token), 409, "conflict")
    error_of(api.post(f"/groups/{uuid.uuid4()}/verify", token=staff_token), 404, "not_found")
    assert api.get("/me", token=staff_token).json()["roles"] == ["resident", "staff"]


def test_joining_a_network(api):
    admin, token = api.resident("Network Admin")
    _, outsider_token = api.resident("Outsider")
    network = new_group(api, token, "Village Network", kind="network")
    business = new_group(api, token, "Bakery", kind="business")
    path = f"/groups/{business['id']}/networks"

    error_of(api.post(path, json={"network_id": network["id"]}), 401, "unauthenticated")
    error_of(
        api.post(path, token=outsider_token, json={"network_id": network["id"]}), 403, "forbidden"
    )
    for body, field in (
        ({}, "network_id"),
        ({"network_id": "nope"}, "network_id"),
        ({"network_id": network["id"], "x": 1}, "x"),
        ({"network_id": business["id"]}, "network_id"),
    ):
        error = error_of(api.post(path, token=token, json=body), 400, "validation_error")
        assert field in error["fields"], (body, error)
    error_of(api.post(path, token=token, json={"network_id": str(uuid.uuid4())}), 404, "not_found")

    joined = api.post(path, token=token, json={"network_id": network["id"]})
    assert joined.status_code == 200, joined.text
    assert joined.json()["networks"] == [{"id": network["id"], "name": network["name"]}]
    error_of(api.post(path, token=token, json={"network_id": network["id"]}), 409, "conflict")
    assert api.get(f"/groups/{business['id']}").json()["networks"][0]["id"] == network["id"]


# --- admins: handover, groups needing one, staff appointing -----------------------------


@pytest.fixture
def groups_platform(start_services):
    """The gateway, groups, proposals (acting as a group admin elsewhere) and
    notifications (telling the new admin)."""
    from services.gateway.service import GatewayService
    from services.groups.service import GroupsService
    from services.notifications.service import NotificationsService
    from services.proposals.service import ProposalsService

    return start_services(GatewayService, GroupsService, ProposalsService, NotificationsService)


def told(client, token, kind):
    def found():
        items = client.get("/notifications", token=token).json()["items"]
        return [item for item in items if item["kind"] == kind] or None

    return wait_for(found, message=f"a {kind} notification")


def test_the_longest_standing_member_takes_over_from_the_last_admin(groups_platform):
    client = groups_platform
    admin, admin_token = client.resident("Leaving Admin")
    elder, elder_token = client.resident("Elder Member")
    newer, newer_token = client.resident("Newer Member")
    group = new_group(client, admin_token, "Trail Builders")
    for token in (elder_token, newer_token):  # the elder joins first
        assert client.post(f"/groups/{group['id']}/members", token=token).status_code == 201

    left = client.delete(f"/groups/{group['id']}/members/{admin['id']}", token=admin_token)
    assert left.status_code == 204, left.text
    seen = client.get(f"/groups/{group['id']}").json()
    assert seen["admins"] == [{"id": elder["id"], "display_name": "Elder Member"}]
    assert seen["member_count"] == 2 and seen["needs_admin"] is False

    (notification,) = told(client, elder_token, "admin_appointed")
    assert notification["target_id"] == group["id"]
    assert notification["title"] == f"Du är nu administratör för {group['name']}"
    assert not [
        item
        for item in client.get("/notifications", token=newer_token).json()["items"]
        if item["kind"] == "admin_appointed"
    ]
    # Other services know the new admin too: the elder registers the group's project.
    project = once_known(
        lambda: client.post(
            "/projects",
            token=elder_token,
            json={
                "title": "New trail",
                "description": "",
                "lead_group_id": group["id"],
                "partner_group_ids": [],
            },
        ),
        "the new admin known to proposals",
    )
    assert project.status_code == 201
    error_of(
        client.post(
            "/projects",
            token=newer_token,
            json={
                "title": "Not mine",
                "description": "",
                "lead_group_id": group["id"],
                "partner_group_ids": [],
            },
        ),
        403,
        "forbidden",
    )


def test_a_group_left_without_members_waits_for_staff_to_appoint_an_admin(
    groups_platform, make_staff
):
    client = groups_platform
    founder, founder_token = client.resident("Lone Founder")
    resident, resident_token = client.resident("Willing Resident")
    group = new_group(client, founder_token, "Quiet Club", kind="association")
    assert client.delete("/me", token=founder_token).status_code == 202

    seen = client.get(f"/groups/{group['id']}").json()
    assert seen["needs_admin"] is True and seen["admins"] == [] and seen["member_count"] == 0
    assert seen["created_by"] is None  # the erased founder is not named
    flagged = client.get("/groups", params={"needs_admin": "true", "per_page": 100}).json()
    assert group["id"] in {g["id"] for g in flagged["items"]}
    assert all(g["needs_admin"] for g in flagged["items"])
    error_of(client.get("/groups", params={"needs_admin": "maybe"}), 400, "validation_error")

    staff_token = client.sign_in(make_staff())
    admins = f"/groups/{group['id']}/admins"
    body = {"account_id": resident["id"]}
    error_of(client.post(admins, json=body), 401, "unauthenticated")
    error_of(client.post(admins, token=resident_token, json=body), 403, "forbidden")
    for bad in ({}, {"account_id": "nope"}, {"account_id": resident["id"], "role": "x"}):
        error_of(client.post(admins, token=staff_token, json=bad), 400, "validation_error")
    error_of(
        client.post(f"/groups/{uuid.uuid4()}/admins", token=staff_token, json=body),
        404,
        "not_found",
    )
    error_of(
        client.post(admins, token=staff_token, json={"account_id": str(uuid.uuid4())}),
        404,
        "not_found",
    )
    error_of(
        client.post(admins, token=staff_token, json={"account_id": founder["id"]}), 409, "conflict"
    )  # erased

    appointed = client.post(admins, token=staff_token, json=body)
    assert appointed.status_code == 200, appointed.text
    group_now = appointed.json()
    assert group_now["needs_admin"] is False and group_now["member_count"] == 1
    assert group_now["admins"] == [{"id": resident["id"], "display_name": "Willing Resident"}]
    assert group["id"] not in {
        g["id"]
        for g in client.get("/groups", params={"needs_admin": "true", "per_page": 100}).json()[
            "items"
        ]
    }
    error_of(client.post(admins, token=staff_token, json=body), 409, "conflict")
    me = client.get("/me", token=resident_token).json()
    assert {(m["group_id"], m["role"]) for m in me["memberships"]} == {(group["id"], "admin")}
    (notification,) = told(client, resident_token, "admin_appointed")
    assert notification["body"].startswith("Personalen har utsett dig")

    def needs_admin_in_feed():
        found = client.get(
            "/staff/activity", token=staff_token, params={"type": "group_needs_admin"}
        ).json()["items"]
        # Once the erasure is handled there too, the founder's id is not kept.
        return [
            entry
            for entry in found
            if entry["subject_id"] == group["id"] and entry["actor_id"] is None
        ] or None

    (entry,) = wait_for(needs_admin_in_feed, message="group_needs_admin in the feed")
    assert entry["summary"] == f"Group needs admin: “{group['name']}”"


def test_openapi_documents_appointing_admins():
    from services.gateway import openapi
    from services.gateway.service import GatewayService

    document = openapi.build(GatewayService)
    operation = document["paths"]["/api/v1/groups/{group_id}/admins"]["post"]
    assert {"200", "400", "401", "403", "404", "409"} <= set(operation["responses"])
    listing = document["paths"]["/api/v1/groups"]["get"]
    assert "needs_admin" in {parameter["name"] for parameter in listing["parameters"]}
    group = document["components"]["schemas"]["Group"]["properties"]
    assert group["needs_admin"]["type"] == "boolean"
    assert group["created_by"].get("nullable") is True


# --- staff --------------------------------------------------------------------------------


def test_staff_health_reports_services_and_queues(api, make_staff):
    _, resident_token = api.resident("Curious Resident")
    error_of(api.get("/staff/health"), 401, "unauthenticated")
    error_of(api.get("/staff/health", token=resident_token), 403, "forbidden")

    staff_token = api.sign_in(make_staff())
    health = api.get("/staff/health", token=staff_token)
    assert health.status_code == 200, health.text
    report = health.json()
    assert set(report["services"]) == set(DOMAIN_SERVICES)
    groups = report["services"]["groups"]
    assert groups["status"] == "ok" and groups["database"] == "ok" and groups["version"]
    assert report["management"] == {"ok": True, "error": None}
    queue_names = {queue["name"] for queue in groups["queues"]}
    assert "rpc-groups" in queue_names
    assert groups["queue_totals"] == {
        "messages": sum(q["messages"] for q in groups["queues"]),
        "consumers": sum(q["consumers"] for q in groups["queues"]),
    }

    def groups_rpc_consumers():
        # RabbitMQ's management statistics lag a few seconds behind the broker.
        queues = api.get("/staff/health", token=staff_token).json()["services"]["groups"]["queues"]
        return next(q for q in queues if q["name"] == "rpc-groups")["consumers"]

    assert (
        wait_for(
            groups_rpc_consumers,
            timeout=30,
            interval=0.5,
            message="the groups RPC consumer in the management statistics",
        )
        >= 1
    )
    # Not running here: down, but still reported with its declared event queues.
    assert report["services"]["notifications"]["status"] == "down"
    notification_queues = report["services"]["notifications"]["queues"]
    assert all(
        q["name"].startswith("evt-") or q["name"] == "rpc-notifications"
        for q in notification_queues
    )


def test_staff_health_without_the_management_api(api, make_staff):
    from nameko import config as nameko_config

    staff_token = api.sign_in(make_staff())
    # A port nothing listens on: the management API cannot be asked.
    with nameko_config.patch(
        {"RABBIT_MANAGEMENT_URI": "http://guest:guest@127.0.0.1:9"}, clear=False
    ):
        health = api.get("/staff/health", token=staff_token)
    assert health.status_code == 200, health.text
    report = health.json()
    assert report["management"]["ok"] is False and report["management"]["error"]
    assert report["services"]["groups"]["status"] == "ok"
    assert report["services"]["groups"]["queues"] is None


def test_dead_letter_routes_are_for_staff(api, make_staff):
    _, resident_token = api.resident("Nosy Resident")
    replay = f"/staff/dead-letters/{uuid.uuid4()}/replay"
    error_of(api.get("/staff/dead-letters"), 401, "unauthenticated")
    error_of(api.get("/staff/dead-letters", token=resident_token), 403, "forbidden")
    error_of(api.post(replay), 401, "unauthenticated")
    error_of(api.post(replay, token=resident_token), 403, "forbidden")

    staff_token = api.sign_in(make_staff())
    listed = api.get("/staff/dead-letters", token=staff_token)
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == [] and listed.json()["total"] == 0
    error = error_of(
        api.get("/staff/dead-letters", token=staff_token, params={"per_page": 500}),
        400,
        "validation_error",
    )
    assert "per_page" in error["fields"]
    error_of(api.post(replay, token=staff_token), 404, "not_found")


def test_a_dead_letter_is_listed_and_replayed(api, make_staff, system_settings):
    """A message dead-lettered by the kernel shows up for staff and can be replayed."""
    from kombu import Connection, Exchange, Producer, Queue

    from civic.messaging import DEAD_LETTER_QUEUE, dead_letter_queue

    staff_token = api.sign_in(make_staff())
    # An unreadable event to a groups-style queue: the kernel's dead-letter format is
    # built by civic.messaging; here a message is put straight in the queue, as the
    # kernel does, with the headers civic.deadletters reads.
    with Connection(system_settings["AMQP_URI"]) as connection:
        queue = dead_letter_queue()
        producer = Producer(connection)
        message_id = str(uuid.uuid4())
        producer.publish(
            {"id": message_id, "type": "nothing_known"},
            exchange=Exchange(""),
            routing_key=DEAD_LETTER_QUEUE,
            declare=[queue],
            serializer="json",
            message_id=message_id,
            delivery_mode=2,
            headers={
                "x-civic-attempts": 3,
                "x-civic-queue": "civic.test-target",
                "x-civic-service": "groups",
                "x-civic-handler": "groups.on_nothing",
                "x-civic-error": "ContractError: unknown type",
                "x-civic-failed-at": "2026-11-28T10:00:00+00:00",
            },
        )
        Queue("civic.test-target", durable=True)(connection.default_channel).declare()

    def listed():
        response = api.get("/staff/dead-letters", token=staff_token)
        assert response.status_code == 200, response.text
        return response.json()["items"]

    items = wait_for(listed, message="the dead letter is listed")
    assert len(items) == 1
    dead_letter_id = items[0]["id"]

    replayed = api.post(f"/staff/dead-letters/{dead_letter_id}/replay", token=staff_token)
    assert replayed.status_code == 200, replayed.text
    assert wait_for(lambda: listed() == [], message="the dead letter left the queue")
