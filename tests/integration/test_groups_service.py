"""The groups service over real RPC, with its migrated database and real RabbitMQ.

Every call goes through the broker as the gateway's would; the errors come back as
civic's own classes; what the service publishes is read from a queue bound to its
event exchange, and from its outbox.
"""

import pytest
from nameko.standalone.rpc import ClusterRpcClient
from sqlalchemy import select

from civic.db import ServiceDatabase
from civic.errors import Conflict, Forbidden, NotFound, Unauthenticated, ValidationError
from services.groups.models import metadata
from services.groups.service import GroupsService
from tests.conftest import wait_for
from tests.support import outbox_envelopes

PASSWORD = "correct horse battery"
CORRELATION_ID = "corr-groups-test"
MISSING_ID = "6f9619ff-8b86-d011-b42d-00c04fc964ff"


@pytest.fixture
def service(migrated, published, container_factory):
    container = container_factory(GroupsService)
    container.start()
    return container


@pytest.fixture
def rpc(service):
    with ClusterRpcClient(context_data={"correlation_id": CORRELATION_ID}, timeout=15) as client:
        yield client.groups


@pytest.fixture
def groups_db(migrated):
    """The service's database as the CLI opens it (no nameko container)."""
    database = ServiceDatabase("groups", metadata)
    yield database
    database.dispose()


def groups_events(published):
    """What groups published, each event once (at least once: a rare duplicate is allowed;
    the id tells them apart)."""
    return published("groups", distinct=True)


def wait_for_events(published, count):
    return wait_for(
        lambda: len(groups_events(published)) >= count and groups_events(published),
        message=f"{count} groups events",
    )


def as_actor(account_id):
    """The caller, as the gateway tells the service of it."""
    return {"account_id": account_id, "is_staff": False, "display_name": ""}


def register(rpc, name="anna", **extra):
    return rpc.register_account(
        {
            "email": f"{name}@example.org",
            "password": PASSWORD,
            "display_name": name.title(),
            **extra,
        }
    )


def make_staff(rpc, name):
    return rpc.create_staff_account(f"{name}@example.org", PASSWORD, name.title())["account"]


# --- accounts and sessions --------------------------------------------------------------


def test_register_sign_in_authenticate_sign_out(rpc, published, groups_db):
    account = register(rpc, locale="en")
    assert account["email"] == "anna@example.org" and account["locale"] == "en"
    assert account["created_at"].endswith("+00:00")

    session = rpc.sign_in("Anna@Example.org", PASSWORD)
    assert session["account"] == account and len(session["token"]) >= 43
    assert rpc.authenticate(session["token"]) == {
        "account_id": account["id"],
        "display_name": "Anna",
        "locale": "en",
        "is_staff": False,
        "email_confirmed": False,
        "created_at": account["created_at"],
    }
    assert rpc.sign_out(session["token"]) is None
    with pytest.raises(Unauthenticated):
        rpc.authenticate(session["token"])

    event, confirmation, signed_out = wait_for_events(published, 3)
    assert event["type"] == "account_registered" and event["producer"] == "groups"
    assert event["data"] == {"account_id": account["id"], "display_name": "Anna", "locale": "en"}
    assert event["correlation_id"] == CORRELATION_ID
    assert event["actor_id"] == account["id"]
    # The notifications service is asked to send a confirmation link, in English.
    assert confirmation["type"] == "email_confirmation_requested"
    assert confirmation["data"] == {"account_id": account["id"], "locale": "en"}
    # Every gateway is told to forget the account's cached sessions (no token in it).
    assert signed_out["type"] == "signed_out"
    assert signed_out["data"] == {"account_id": account["id"]}

    def all_sent():
        with groups_db.sessions() as db_session:
            return db_session.execute(select(groups_db.outbox.c.sent_at)).scalars().all()

    assert all(wait_for(lambda: all(all_sent()) and all_sent(), message="outbox sent"))


def test_registration_errors_change_nothing(rpc, published, groups_db):
    register(rpc)
    with pytest.raises(Conflict, match="email already registered"):
        register(rpc)
    with pytest.raises(Conflict):
        rpc.register_account(
            {"email": "ANNA@example.org", "password": PASSWORD, "display_name": "Anna"}
        )
    with pytest.raises(ValidationError) as caught:
        rpc.register_account(
            {"email": "bo@example.org", "password": "short", "display_name": "Bo", "is_staff": True}
        )
    assert set(caught.value.fields) == {"password", "is_staff"}
    with pytest.raises(ValidationError):
        rpc.register_account("bo@example.org")
    assert len(outbox_envelopes(groups_db)) == 2
    assert [e["type"] for e in wait_for_events(published, 2)] == [
        "account_registered",
        "email_confirmation_requested",
    ]


def test_staff_accounts_are_created_or_promoted_and_emails_confirmed(rpc, published):
    made = rpc.create_staff_account(" Staff@Example.org ", PASSWORD, " Staff ")
    assert made["created"] is True
    staff = made["account"]
    assert (staff["email"], staff["display_name"], staff["locale"]) == (
        "staff@example.org",
        "Staff",
        "sv",
    )
    principal = rpc.authenticate(rpc.sign_in("staff@example.org", PASSWORD)["token"])
    assert principal["is_staff"] is True and principal["email_confirmed"] is True

    # An existing account is promoted: its password and name stay as they were.
    bo = register(rpc, "bo")
    promoted = rpc.create_staff_account("bo@example.org", "another password", "Ignored")
    assert promoted == {"account": bo, "created": False}
    assert rpc.authenticate(rpc.sign_in("bo@example.org", PASSWORD)["token"])["is_staff"]
    assert rpc.get_me(as_actor(bo["id"]))["email_confirmed"] is True

    cia, dan = register(rpc, "cia"), register(rpc, "dan")
    assert rpc.confirm_emails([cia["id"], dan["id"], bo["id"], MISSING_ID]) == 2
    assert rpc.confirm_emails([cia["id"]]) == 0
    assert rpc.get_me(as_actor(cia["id"]))["email_confirmed"] is True

    for email, password, name, field in [
        ("not an email", PASSWORD, "X", "email"),
        ("x@example.org", "short", "X", "password"),
        ("x@example.org", "p" * 201, "X", "password"),
        ("x@example.org", PASSWORD, "  ", "display_name"),
        ("x@example.org", PASSWORD, "x" * 101, "display_name"),
    ]:
        with pytest.raises(ValidationError) as caught:
            rpc.create_staff_account(email, password, name)
        assert set(caught.value.fields) == {field}
        assert password not in str(caught.value.fields)
    for bad in ("not a list", [None], ["x" * 65], ["id"] * 1001):
        with pytest.raises(ValidationError):
            rpc.confirm_emails(bad)

    def confirmed():
        found = sorted(
            e["data"]["account_id"]
            for e in groups_events(published)
            if e["type"] == "email_confirmed"
        )
        return found if len(found) == 3 else None

    assert wait_for(confirmed, message="three confirmations") == sorted(
        [bo["id"], cia["id"], dan["id"]]
    )
    # The refused input made no account.
    assert sorted(
        e["data"]["account_id"]
        for e in groups_events(published)
        if e["type"] == "account_registered"
    ) == sorted([staff["id"], bo["id"], cia["id"], dan["id"]])


def test_sign_in_refusals(rpc):
    register(rpc)
    with pytest.raises(Unauthenticated) as wrong_password:
        rpc.sign_in("anna@example.org", "not the password")
    with pytest.raises(Unauthenticated) as unknown_email:
        rpc.sign_in("nobody@example.org", PASSWORD)
    assert wrong_password.value.message == unknown_email.value.message
    with pytest.raises(ValidationError) as caught:
        rpc.sign_in("not an email", PASSWORD)
    assert "email" in caught.value.fields
    with pytest.raises(Unauthenticated):
        rpc.authenticate("made-up-token")
    assert rpc.sign_out("made-up-token") is None


def test_me_export_and_erasure(rpc, published):
    anna = register(rpc)
    bo = register(rpc, "bo")
    group = rpc.create_group(
        as_actor(anna["id"]),
        {"name": "Skidklubben", "kind": "association", "description": "Längdskidor", "open": True},
    )
    rpc.join_group(as_actor(bo["id"]), group["id"])
    token = rpc.sign_in("bo@example.org", PASSWORD)["token"]

    me = rpc.get_me(as_actor(bo["id"]))
    assert me["roles"] == ["resident"] and me["email"] == "bo@example.org"
    assert me["memberships"] == [
        {
            "group_id": group["id"],
            "group_name": "Skidklubben",
            "kind": "association",
            "role": "member",
            "status": "active",
        }
    ]
    export = rpc.export_account(bo["id"])
    assert export["account"]["email"] == "bo@example.org"
    assert [m["group_id"] for m in export["memberships"]] == [group["id"]]
    assert export["sessions"]["count"] == 1

    assert rpc.erase_account(as_actor(bo["id"])) is None
    with pytest.raises(Unauthenticated):
        rpc.authenticate(token)
    with pytest.raises(NotFound):
        rpc.get_me(as_actor(bo["id"]))
    assert rpc.export_account(bo["id"])["account"]["email"] == f"erased-{bo['id']}@invalid"
    assert rpc.get_group(group["id"])["member_count"] == 1
    assert rpc.get_accounts([anna["id"], bo["id"], MISSING_ID]) == {
        anna["id"]: {"id": anna["id"], "display_name": "Anna"},
        bo["id"]: {"id": bo["id"], "display_name": "Erased account"},
    }
    with pytest.raises(NotFound):
        rpc.erase_account(as_actor(MISSING_ID))
    with pytest.raises(ValidationError):
        rpc.get_accounts("not a list")

    events = wait_for_events(published, 7)
    assert [(e["type"], e["data"]) for e in events[-2:]] == [
        (
            "member_left",
            {"group_id": group["id"], "account_id": bo["id"], "membership_version": 3},
        ),
        ("account_erased", {"account_id": bo["id"]}),
    ]


# --- groups and memberships -------------------------------------------------------------


def test_groups_are_created_listed_and_found(rpc, published):
    anna = register(rpc)
    group = rpc.create_group(
        as_actor(anna["id"]),
        {"name": "Skidklubben", "kind": "association", "description": "", "open": False},
    )
    assert group["verified"] is False and group["open"] is False
    assert group["admins"] == [{"id": anna["id"], "display_name": "Anna"}]
    assert group["member_count"] == 1 and group["networks"] == []
    working = rpc.create_group(
        as_actor(anna["id"]),
        {
            "name": "Bättre belysning",
            "kind": "working_group",
            "description": "Gatlysen",
            "open": True,
        },
    )
    assert working["verified"] is True
    assert rpc.get_group(group["id"]) == group
    assert rpc.is_group_admin(anna["id"], group["id"]) is True

    listed = rpc.list_groups()
    assert [g["id"] for g in listed["items"]] == [working["id"], group["id"]]
    assert (listed["total"], listed["page"], listed["per_page"]) == (2, 1, 20)
    only = rpc.list_groups(kind="working_group", page=1, per_page=1)
    assert [g["id"] for g in only["items"]] == [working["id"]] and only["total"] == 1

    with pytest.raises(Conflict):
        rpc.create_group(
            as_actor(anna["id"]),
            {"name": "SKIDKLUBBEN", "kind": "business", "description": "", "open": True},
        )
    with pytest.raises(ValidationError) as caught:
        rpc.create_group(as_actor(anna["id"]), {"name": "", "kind": "club", "colour": "red"})
    assert set(caught.value.fields) == {"name", "kind", "colour"}
    with pytest.raises(Unauthenticated):
        rpc.create_group(as_actor(MISSING_ID), {"name": "Ghosts", "kind": "association"})
    with pytest.raises(Unauthenticated):
        rpc.create_group(None, {"name": "Ghosts", "kind": "association"})
    with pytest.raises(ValidationError) as caught:  # the actor, not a bare account id
        rpc.create_group(anna["id"], {"name": "Ghosts", "kind": "association"})
    assert set(caught.value.fields) == {"actor"}
    for bad in ({"kind": "club"}, {"per_page": 101}, {"page": 0}):
        with pytest.raises(ValidationError):
            rpc.list_groups(**bad)
    with pytest.raises(NotFound):
        rpc.get_group(MISSING_ID)
    with pytest.raises(ValidationError) as caught:
        rpc.get_group(42)
    assert caught.value.fields == {"group_id": ["Not a valid id."]}

    events = wait_for_events(published, 6)
    assert [e["type"] for e in events] == [
        "account_registered",
        "email_confirmation_requested",
        "group_created",
        "member_joined",
        "group_created",
        "member_joined",
    ]
    assert events[2]["data"] == {
        "group_id": group["id"],
        "name": "Skidklubben",
        "kind": "association",
        "open": False,
        "created_by": anna["id"],
    }
    assert events[3]["data"] == {
        "group_id": group["id"],
        "account_id": anna["id"],
        "role": "admin",
        "membership_version": 1,
    }


def test_joining_approving_and_leaving(rpc, published):
    anna, bo, cia = register(rpc), register(rpc, "bo"), register(rpc, "cia")
    open_group = rpc.create_group(
        as_actor(anna["id"]),
        {"name": "Open", "kind": "association", "description": "", "open": True},
    )
    closed = rpc.create_group(
        as_actor(anna["id"]),
        {"name": "Closed", "kind": "business", "description": "", "open": False},
    )
    joined = rpc.join_group(as_actor(bo["id"]), open_group["id"])
    assert joined["status"] == "member" and joined["membership"]["status"] == "active"
    asked = rpc.join_group(as_actor(bo["id"]), closed["id"])
    assert asked["status"] == "pending" and asked["membership"]["status"] == "pending"
    with pytest.raises(Conflict):
        rpc.join_group(as_actor(bo["id"]), open_group["id"])
    with pytest.raises(Conflict):
        rpc.join_group(as_actor(bo["id"]), closed["id"])
    with pytest.raises(NotFound):
        rpc.join_group(as_actor(bo["id"]), MISSING_ID)

    with pytest.raises(Forbidden):
        rpc.approve_member(as_actor(cia["id"]), closed["id"], bo["id"])
    with pytest.raises(NotFound):
        rpc.approve_member(as_actor(anna["id"]), closed["id"], cia["id"])
    approved = rpc.approve_member(as_actor(anna["id"]), closed["id"], bo["id"])
    assert approved["status"] == "active" and approved["role"] == "member"
    assert rpc.get_group(closed["id"])["member_count"] == 2

    with pytest.raises(Forbidden):
        rpc.remove_member(as_actor(cia["id"]), open_group["id"], bo["id"])
    with pytest.raises(NotFound):
        rpc.remove_member(as_actor(cia["id"]), open_group["id"], cia["id"])
    assert rpc.remove_member(as_actor(bo["id"]), open_group["id"], bo["id"]) is None
    assert rpc.remove_member(as_actor(anna["id"]), closed["id"], bo["id"]) is None
    assert rpc.is_group_admin(bo["id"], closed["id"]) is False
    assert rpc.get_me(as_actor(bo["id"]))["memberships"] == []

    events = wait_for_events(published, 15)  # each registration: two events
    assert [(e["type"], e["data"]) for e in events[10:]] == [
        (
            "member_joined",
            {
                "group_id": open_group["id"],
                "account_id": bo["id"],
                "role": "member",
                "membership_version": 2,
            },
        ),
        (
            "join_requested",
            {"group_id": closed["id"], "account_id": bo["id"], "admin_ids": [anna["id"]]},
        ),
        (
            "member_joined",
            {
                "group_id": closed["id"],
                "account_id": bo["id"],
                "role": "member",
                "membership_version": 2,
            },
        ),
        (
            "member_left",
            {"group_id": open_group["id"], "account_id": bo["id"], "membership_version": 3},
        ),
        (
            "member_left",
            {"group_id": closed["id"], "account_id": bo["id"], "membership_version": 3},
        ),
    ]
    assert events[-1]["actor_id"] == anna["id"]


def test_handover_needing_an_admin_and_staff_appointing_one(rpc, published):
    anna, bo = register(rpc), register(rpc, "bo")
    staff = make_staff(rpc, "staff")
    group = rpc.create_group(
        as_actor(anna["id"]),
        {"name": "Handed", "kind": "association", "description": "", "open": True},
    )
    rpc.join_group(as_actor(bo["id"]), group["id"])
    assert rpc.remove_member(as_actor(anna["id"]), group["id"], anna["id"]) is None  # last admin
    assert rpc.get_group(group["id"])["admins"] == [{"id": bo["id"], "display_name": "Bo"}]
    assert rpc.remove_member(as_actor(bo["id"]), group["id"], bo["id"]) is None  # last member
    flagged = rpc.list_groups(needs_admin=True)
    assert [g["id"] for g in flagged["items"]] == [group["id"]]
    assert flagged["items"][0]["needs_admin"] is True

    with pytest.raises(Forbidden):
        rpc.appoint_admin(as_actor(anna["id"]), group["id"], anna["id"])
    with pytest.raises(ValidationError):
        rpc.appoint_admin(as_actor(staff["id"]), group["id"], "not-a-uuid")
    with pytest.raises(NotFound):
        rpc.appoint_admin(as_actor(staff["id"]), group["id"], MISSING_ID)
    appointed = rpc.appoint_admin(as_actor(staff["id"]), group["id"], anna["id"])
    assert appointed["needs_admin"] is False
    assert appointed["admins"] == [{"id": anna["id"], "display_name": "Anna"}]
    assert rpc.list_groups(needs_admin=True)["total"] == 0
    with pytest.raises(Conflict):
        rpc.appoint_admin(as_actor(staff["id"]), group["id"], anna["id"])

    wanted = ("admin_appointed", "group_needs_admin")

    def facts():
        found = [
            (e["type"], e["data"], e["actor_id"])
            for e in groups_events(published)
            if e["type"] in wanted
        ]
        return found if len(found) == 3 else None

    assert wait_for(facts, message="the handover, the flag and the appointment") == [
        (
            "admin_appointed",
            {
                "group_id": group["id"],
                "account_id": bo["id"],
                "reason": "handover",
                "membership_version": 4,
            },
            anna["id"],
        ),
        ("group_needs_admin", {"group_id": group["id"]}, bo["id"]),
        (
            "admin_appointed",
            {
                "group_id": group["id"],
                "account_id": anna["id"],
                "reason": "staff",
                "membership_version": 7,
            },
            staff["id"],
        ),
    ]


def test_verification_and_networks(rpc, published):
    anna, bo = register(rpc), register(rpc, "bo")
    staff = make_staff(rpc, "staff")
    assert rpc.authenticate(rpc.sign_in("staff@example.org", PASSWORD)["token"])["is_staff"]
    business = rpc.create_group(
        as_actor(anna["id"]),
        {"name": "Jokkmokks Bageri", "kind": "business", "description": "", "open": True},
    )
    network = rpc.create_group(
        as_actor(bo["id"]),
        {"name": "Företagarna", "kind": "network", "description": "", "open": True},
    )

    with pytest.raises(Forbidden):
        rpc.verify_group(as_actor(anna["id"]), business["id"])
    assert rpc.verify_group(as_actor(staff["id"]), business["id"])["verified"] is True
    with pytest.raises(Conflict):
        rpc.verify_group(as_actor(staff["id"]), business["id"])
    with pytest.raises(Conflict):
        rpc.verify_group(as_actor(staff["id"]), network["id"])
    with pytest.raises(NotFound):
        rpc.verify_group(as_actor(staff["id"]), MISSING_ID)

    with pytest.raises(Forbidden):
        rpc.join_network(as_actor(bo["id"]), business["id"], network["id"])
    with pytest.raises(NotFound):
        rpc.join_network(as_actor(anna["id"]), business["id"], MISSING_ID)
    with pytest.raises(NotFound):
        rpc.join_network(as_actor(anna["id"]), MISSING_ID, network["id"])
    for not_a_network in ("not-a-uuid", business["id"]):
        with pytest.raises(ValidationError) as caught:
            rpc.join_network(as_actor(anna["id"]), business["id"], not_a_network)
        assert "network_id" in caught.value.fields
    joined = rpc.join_network(as_actor(anna["id"]), business["id"], network["id"])
    assert joined["networks"] == [{"id": network["id"], "name": "Företagarna"}]
    with pytest.raises(Conflict):
        rpc.join_network(as_actor(anna["id"]), business["id"], network["id"])

    events = wait_for_events(published, 9)
    assert [(e["type"], e["data"], e["actor_id"]) for e in events[-2:]] == [
        ("group_verified", {"group_id": business["id"]}, staff["id"]),
        (
            "group_joined_network",
            {"group_id": business["id"], "network_id": network["id"]},
            anna["id"],
        ),
    ]


def test_refusing_verification_with_a_reason_and_verifying_later(rpc, published):
    anna = register(rpc)
    staff = make_staff(rpc, "staff")
    association = rpc.create_group(
        as_actor(anna["id"]),
        {"name": "Skidklubben", "kind": "association", "description": "", "open": True},
    )
    rpc.create_group(
        as_actor(anna["id"]),
        {"name": "Kultur", "kind": "working_group", "description": "", "open": True},
    )

    def waiting():
        answer = rpc.list_groups(awaiting_verification=True)
        return [group["id"] for group in answer["items"]]

    assert waiting() == [association["id"]]
    assert association["verification_refused_at"] is None

    with pytest.raises(Forbidden):
        rpc.refuse_group_verification(as_actor(anna["id"]), association["id"], "No.")
    for blank in ("", "   "):
        with pytest.raises(ValidationError) as caught:
            rpc.refuse_group_verification(as_actor(staff["id"]), association["id"], blank)
        assert "reason" in caught.value.fields
    with pytest.raises(ValidationError):
        rpc.refuse_group_verification(as_actor(staff["id"]), association["id"], "x" * 1001)
    assert waiting() == [association["id"]]  # nothing changed

    reason = "  The statutes are missing.  "
    refused = rpc.refuse_group_verification(as_actor(staff["id"]), association["id"], reason)
    assert refused["verified"] is False and refused["verification_refused_at"]
    assert waiting() == []
    listed = rpc.list_groups(verification_refused=True)["items"]
    assert [group["id"] for group in listed] == [association["id"]]
    assert association["id"] in [
        group["id"] for group in rpc.list_groups(awaiting_verification=False)["items"]
    ]
    with pytest.raises(Conflict):
        rpc.refuse_group_verification(as_actor(staff["id"]), association["id"], "Again.")

    # Verified later, after all: the refusal is cleared.
    verified = rpc.verify_group(as_actor(staff["id"]), association["id"])
    assert verified["verified"] is True and verified["verification_refused_at"] is None
    assert rpc.list_groups(verification_refused=True)["items"] == []
    with pytest.raises(Conflict):
        rpc.refuse_group_verification(as_actor(staff["id"]), association["id"], "Too late.")

    events = wait_for(
        lambda: (
            [e for e in groups_events(published) if e["type"].startswith("group_verif")]
            if len([e for e in groups_events(published) if e["type"].startswith("group_verif")])
            >= 2
            else None
        ),
        message="the refusal and the verification",
    )
    assert [(e["type"], e["data"], e["actor_id"]) for e in events] == [
        (
            "group_verification_refused",
            {"group_id": association["id"], "reason": "The statutes are missing."},
            staff["id"],
        ),
        ("group_verified", {"group_id": association["id"]}, staff["id"]),
    ]


def test_staff_find_an_account_by_email(rpc):
    anna = register(rpc)
    staff = make_staff(rpc, "staff")
    found = rpc.find_account(as_actor(staff["id"]), " ANNA@example.org ")
    assert found == {"id": anna["id"], "display_name": "Anna"}
    with pytest.raises(Forbidden):
        rpc.find_account(as_actor(anna["id"]), "anna@example.org")
    with pytest.raises(NotFound):
        rpc.find_account(as_actor(staff["id"]), "nobody@example.org")
    with pytest.raises(ValidationError):
        rpc.find_account(as_actor(staff["id"]), "not an email")


def test_health(rpc):
    health = rpc.health()
    assert health["service"] == "groups" and health["database"] == "ok"
