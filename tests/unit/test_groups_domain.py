"""The groups rules, on a throw-away SQLite database and no broker.

The relay gets kombu's in-memory transport, so commits publish nowhere; what the rules
published is read back from the outbox table.
"""

import hashlib
import json
from datetime import UTC, timedelta
from unittest import mock

import pytest
from sqlalchemy import select

from civic.db import utcnow
from civic.errors import Conflict, Forbidden, NotFound, Unauthenticated, ValidationError
from civic.validation import clean_id, load
from services.groups import api, domain
from services.groups.models import Account, Membership, SessionToken, metadata
from tests.unit.domain_support import domain_database, events, run

PASSWORD = "correct horse battery"


@pytest.fixture
def db(tmp_path):
    database = domain_database(tmp_path, "groups", metadata)
    yield database
    database.dispose()


def register(db, email="anna@example.org", name="Anna", **kwargs):
    return run(db, domain.register_account, email, PASSWORD, name, **kwargs)


def make_staff(db, account_id):
    with db.sessions() as session, session.begin():
        session.get(Account, account_id).is_staff = True


def new_group(db, actor_id, name="Skidklubben", kind="association", open=True):
    return run(db, domain.create_group, actor_id, name, kind, "", open)


# --- pure helpers -----------------------------------------------------------------------


def test_group_names_differ_only_by_more_than_case_and_spacing():
    assert domain.name_key("  Ski   Club ") == domain.name_key("ski club")
    assert domain.name_key("Ski Club") != domain.name_key("Ski Clubs")


def test_tokens_are_long_random_and_stored_as_sha256():
    first, second = domain.new_token(), domain.new_token()
    assert first != second and len(first) >= 43
    assert domain.token_digest(first) == hashlib.sha256(first.encode()).hexdigest()


def test_password_check_does_the_same_work_without_an_account():
    stored = domain.hash_password(PASSWORD)
    assert domain.verify_password(stored, PASSWORD)
    assert not domain.verify_password(stored, PASSWORD + "!")
    spy = mock.Mock(wraps=domain._hasher)
    with mock.patch.object(domain, "_hasher", spy):
        assert not domain.verify_password(None, PASSWORD)
    # An unknown email still costs one real verification, so timing tells nothing.
    assert spy.verify.call_count == 1


# --- input schemas ----------------------------------------------------------------------


def test_account_input_is_normalised_and_defaults_to_swedish():
    data = load(
        api.AccountCreateSchema,
        {"email": "  Anna@Example.ORG ", "password": PASSWORD, "display_name": " Anna "},
    )
    assert data == {
        "email": "anna@example.org",
        "password": PASSWORD,
        "display_name": "Anna",
        "locale": "sv",
    }


@pytest.mark.parametrize(
    "change, field",
    [
        ({"password": "short"}, "password"),
        ({"password": "x" * 201}, "password"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "erased-1@invalid"}, "email"),
        ({"display_name": "   "}, "display_name"),
        ({"display_name": "x" * 101}, "display_name"),
        ({"locale": "de"}, "locale"),
        ({"is_staff": True}, "is_staff"),
    ],
)
def test_bad_account_input_names_the_field(change, field):
    payload = {"email": "anna@example.org", "password": PASSWORD, "display_name": "Anna", **change}
    with pytest.raises(ValidationError) as caught:
        load(api.AccountCreateSchema, payload)
    assert field in caught.value.fields


def test_input_that_is_not_an_object_is_a_validation_error():
    with pytest.raises(ValidationError) as caught:
        load(api.GroupCreateSchema, ["name"])
    assert caught.value.fields


def test_group_input_collapses_spacing_and_checks_kind():
    data = load(api.GroupCreateSchema, {"name": " Ski   Club ", "kind": "business"})
    assert data == {"name": "Ski Club", "kind": "business", "description": "", "open": True}
    with pytest.raises(ValidationError) as caught:
        load(api.GroupCreateSchema, {"name": "X", "kind": "club"})
    assert "kind" in caught.value.fields


def test_network_id_must_be_a_uuid_and_comes_back_a_string():
    network_id = "6F9619FF-8B86-D011-B42D-00C04FC964FF"
    assert load(api.NetworkJoinSchema, {"network_id": network_id}) == {
        "network_id": network_id.lower()
    }
    with pytest.raises(ValidationError) as caught:
        load(api.NetworkJoinSchema, {"network_id": "nope"})
    assert "network_id" in caught.value.fields


def test_list_query_bounds_page_size():
    assert load(api.GroupListQuerySchema, {"kind": ""}) == {
        "kind": None,
        "page": 1,
        "per_page": 20,
        "needs_admin": None,
    }
    assert load(api.GroupListQuerySchema, {"needs_admin": "true"})["needs_admin"] is True
    for bad in ({"per_page": 101}, {"page": 0}, {"kind": "club"}, {"needs_admin": "maybe"}):
        with pytest.raises(ValidationError):
            load(api.GroupListQuerySchema, bad)


def test_ids_must_be_strings():
    assert clean_id("group_id", "abc") == "abc"
    for bad in (None, 7, "", "x" * 65, {"id": 1}):
        with pytest.raises(ValidationError) as caught:
            clean_id("group_id", bad)
        assert caught.value.fields == {"group_id": ["Not a valid id."]}


# --- accounts and sessions --------------------------------------------------------------


def test_register_publishes_account_registered_and_refuses_a_taken_email(db):
    account = register(db)
    assert account["email"] == "anna@example.org" and account["locale"] == "sv"
    # Plain data, in UTC: the entrypoint dumps it as ISO 8601 text.
    assert account["created_at"].utcoffset() == timedelta(0)
    assert "password" not in account and "password_hash" not in account
    assert events(db) == [
        (
            "account_registered",
            {"account_id": account["id"], "display_name": "Anna", "locale": "sv"},
            account["id"],
        ),
        (
            "email_confirmation_requested",
            {"account_id": account["id"], "locale": "sv"},
            account["id"],
        ),
    ]
    with pytest.raises(Conflict, match="email already registered"):
        register(db, name="Other")
    assert len(events(db)) == 2


def test_sign_in_returns_a_token_of_which_only_the_digest_is_kept(db):
    account = register(db)
    result = run(db, domain.sign_in, "anna@example.org", PASSWORD)
    assert result["account"]["id"] == account["id"]
    with db.sessions() as session:
        stored = session.execute(select(SessionToken.token_hash)).scalars().all()
    assert stored == [domain.token_digest(result["token"])]
    principal = run(db, domain.authenticate, result["token"])
    assert principal == {
        "account_id": account["id"],
        "display_name": "Anna",
        "locale": "sv",
        "is_staff": False,
        "email_confirmed": False,
        "created_at": account["created_at"],
    }


def test_wrong_password_and_unknown_email_get_the_same_answer(db):
    register(db)
    with pytest.raises(Unauthenticated) as wrong_password:
        run(db, domain.sign_in, "anna@example.org", "wrong password!")
    with pytest.raises(Unauthenticated) as unknown_email:
        run(db, domain.sign_in, "nobody@example.org", PASSWORD)
    assert str(wrong_password.value) == str(unknown_email.value) == domain.WRONG_CREDENTIALS


def test_sign_out_ends_the_session_and_is_harmless_twice(db):
    register(db)
    token = run(db, domain.sign_in, "anna@example.org", PASSWORD)["token"]
    run(db, domain.sign_out, token)
    run(db, domain.sign_out, token)
    for bad in (token, "unknown", None, 42, "x" * 500):
        with pytest.raises(Unauthenticated):
            run(db, domain.authenticate, bad)


def test_an_old_hash_is_upgraded_at_sign_in(db):
    from argon2 import PasswordHasher

    account = register(db)
    with db.sessions() as session, session.begin():
        session.get(Account, account["id"]).password_hash = PasswordHasher(
            time_cost=1, memory_cost=8192, parallelism=1
        ).hash(PASSWORD)
    run(db, domain.sign_in, "anna@example.org", PASSWORD)
    with db.sessions() as session:
        upgraded = session.get(Account, account["id"]).password_hash
    assert not domain._hasher.check_needs_rehash(upgraded)


def test_me_lists_roles_and_memberships(db):
    anna = register(db)
    group = new_group(db, anna["id"], open=False)
    bo = register(db, "bo@example.org", "Bo")
    run(db, domain.join_group, bo["id"], group["id"])
    make_staff(db, bo["id"])
    me = run(db, domain.get_me, bo["id"])
    assert me["roles"] == ["resident", "staff"] and me["email"] == "bo@example.org"
    assert me["memberships"] == [
        {
            "group_id": group["id"],
            "group_name": "Skidklubben",
            "kind": "association",
            "role": "member",
            "status": "pending",
        }
    ]
    assert run(db, domain.get_me, anna["id"])["roles"] == ["resident"]
    with pytest.raises(NotFound):
        run(db, domain.get_me, "no-such-account")


def test_erasure_removes_personal_data_and_memberships(db):
    anna = register(db)
    bo = register(db, "bo@example.org", "Bo")
    open_group = new_group(db, anna["id"], "Open")
    closed_group = new_group(db, anna["id"], "Closed", open=False)
    run(db, domain.join_group, bo["id"], open_group["id"])
    run(db, domain.join_group, bo["id"], closed_group["id"])
    token = run(db, domain.sign_in, "bo@example.org", PASSWORD)["token"]
    before = len(events(db))

    assert run(db, domain.erase_account, bo["id"]) is None

    with db.sessions() as session:
        erased = session.get(Account, bo["id"])
        left = session.execute(select(Membership).where(Membership.account_id == bo["id"])).all()
    assert erased.email == f"erased-{bo['id']}@invalid"
    assert erased.display_name == "Erased account"
    assert erased.password_hash is None and erased.erased_at is not None
    assert left == []
    # member_left only for the active membership; the pending request just goes.
    assert [(t, d) for t, d, _ in events(db)[before:]] == [
        (
            "member_left",
            {"group_id": open_group["id"], "account_id": bo["id"], "membership_version": 3},
        ),
        ("account_erased", {"account_id": bo["id"]}),
    ]
    with pytest.raises(Unauthenticated):
        run(db, domain.authenticate, token)
    with pytest.raises(Unauthenticated):
        run(db, domain.sign_in, "bo@example.org", PASSWORD)
    # Erasing again changes and publishes nothing; the address is free again.
    run(db, domain.erase_account, bo["id"])
    assert len(events(db)) == before + 2
    assert register(db, "bo@example.org", "Bo again")["id"] != bo["id"]
    assert run(db, domain.get_accounts, [bo["id"]]) == {
        bo["id"]: {"id": bo["id"], "display_name": "Erased account"}
    }
    with pytest.raises(NotFound):
        run(db, domain.erase_account, "no-such-account")


def test_export_holds_everything_but_the_password_hash(db):
    anna = register(db)
    bo = register(db, "bo@example.org", "Bo")
    mine = new_group(db, anna["id"], "Mine")
    closed = new_group(db, bo["id"], "Closed", open=False)
    run(db, domain.join_group, anna["id"], closed["id"])
    run(db, domain.sign_in, "anna@example.org", PASSWORD)
    export = run(db, domain.export_account, anna["id"])
    assert export["account"]["email"] == "anna@example.org"
    assert "password_hash" not in json.dumps(export)
    assert [m["group_id"] for m in export["memberships"]] == [mine["id"]]
    assert [r["group_id"] for r in export["join_requests"]] == [closed["id"]]
    assert export["sessions"]["count"] == 1 and export["sessions"]["active"] == 1
    assert [g["id"] for g in export["groups_created"]] == [mine["id"]]
    json.dumps(export)  # JSON-able as it is
    with pytest.raises(NotFound):
        run(db, domain.export_account, "no-such-account")


def test_staff_is_created_once_then_promoted(db):
    with db.unit_of_work() as uow:
        account, created = domain.create_or_promote_staff(
            uow, "staff@example.org", PASSWORD, "Staff"
        )
    assert created and account["email"] == "staff@example.org"
    assert [t for t, _, _ in events(db)] == ["account_registered"]
    assert run(db, domain.sign_in, "staff@example.org", PASSWORD)
    bo = register(db, "bo@example.org", "Bo")
    with db.unit_of_work() as uow:
        again, created = domain.create_or_promote_staff(
            uow, "bo@example.org", "another password", "Ignored"
        )
    assert not created and again["id"] == bo["id"] and again["display_name"] == "Bo"
    assert run(db, domain.get_me, bo["id"])["roles"] == ["resident", "staff"]
    # Promoting does not reset the password.
    assert run(db, domain.sign_in, "bo@example.org", PASSWORD)
    # Bad input is refused by the entrypoint (tests/integration/test_groups_service.py).


# --- email addresses and their confirmation -------------------------------------------


@pytest.mark.parametrize("schema", [api.AccountCreateSchema, api.SessionCreateSchema])
@pytest.mark.parametrize(
    "email, valid",
    [
        ("a" * 64 + "@example.org", True),
        ("a" * 65 + "@example.org", False),  # local part > 64 (RFC 5321)
        ("anna@" + "d" * 63 + ".example.org", True),
        ("anna@" + "d" * 64 + ".example.org", False),  # a label > 63
        ("a" * 59 + "@" + ".".join(["d" * 60] * 3) + ".example.org", True),  # 254 in all
        ("a" * 60 + "@" + ".".join(["d" * 60] * 3) + ".example.org", False),  # 255
    ],
)
def test_email_addresses_keep_to_smtp_limits(schema, email, valid):
    payload = {"email": email, "password": PASSWORD}
    if schema is api.AccountCreateSchema:
        payload["display_name"] = "Anna"
    if valid:
        assert load(schema, payload)["email"] == email
    else:
        with pytest.raises(ValidationError) as caught:
            load(schema, payload)
        assert "email" in caught.value.fields


@pytest.fixture
def key():
    from nameko import config as nameko_config

    with nameko_config.patch({"CIVIC_SECRET_KEY": "k" * 40}, clear=False):
        yield


def link_token(account_id, valid_for=timedelta(hours=72), secret=b"k" * 40):
    from civic import signing

    return signing.email_confirmation_token(account_id, utcnow() + valid_for, secret)


def test_following_the_link_confirms_once(db, key):
    anna = register(db)
    token = run(db, domain.sign_in, "anna@example.org", PASSWORD)["token"]
    assert run(db, domain.get_me, anna["id"])["email_confirmed"] is False
    assert run(db, domain.export_account, anna["id"])["account"]["email_confirmed_at"] is None
    before = len(events(db))

    assert run(db, domain.confirm_email, link_token(anna["id"])) == {"account_id": anna["id"]}
    assert events(db)[before:] == [("email_confirmed", {"account_id": anna["id"]}, anna["id"])]
    assert run(db, domain.get_me, anna["id"])["email_confirmed"] is True
    assert run(db, domain.authenticate, token)["email_confirmed"] is True
    assert run(db, domain.export_account, anna["id"])["account"]["email_confirmed_at"]
    # Again (the same link, or another one): fine, and nothing new happens.
    assert run(db, domain.confirm_email, link_token(anna["id"])) == {"account_id": anna["id"]}
    assert len(events(db)) == before + 1
    with pytest.raises(Conflict, match="confirmed already"):
        run(db, domain.request_confirmation_email, anna["id"])


def test_expired_forged_and_erased_links_are_refused(db, key):
    anna, bo = register(db), register(db, "bo@example.org", "Bo")
    expired = link_token(anna["id"], valid_for=timedelta(seconds=-1))
    with pytest.raises(ValidationError, match="expired") as caught:
        run(db, domain.confirm_email, expired)
    assert caught.value.fields == {"token": ["Expired."]}
    # The expiry is the token's own: a clock before it still accepts it.
    later = link_token(anna["id"], valid_for=timedelta(hours=1))
    with pytest.raises(ValidationError, match="expired"):
        run(db, domain.confirm_email, later, now=utcnow() + timedelta(hours=2))
    for forged in (
        link_token(anna["id"], secret=b"x" * 40),
        link_token("no-such-account"),
        "nonsense",
        later[:-2],
    ):
        with pytest.raises(ValidationError, match="not valid"):
            run(db, domain.confirm_email, forged)
    run(db, domain.erase_account, bo["id"])
    with pytest.raises(ValidationError, match="not valid"):
        run(db, domain.confirm_email, link_token(bo["id"]))
    assert run(db, domain.get_me, anna["id"])["email_confirmed"] is False


def test_a_new_confirmation_email_is_asked_for_in_the_account_language(db):
    anna = register(db, locale="en")
    before = len(events(db))
    assert run(db, domain.request_confirmation_email, anna["id"]) is None
    assert events(db)[before:] == [
        ("email_confirmation_requested", {"account_id": anna["id"], "locale": "en"}, anna["id"])
    ]
    run(db, domain.erase_account, anna["id"])
    with pytest.raises(Unauthenticated):
        run(db, domain.request_confirmation_email, anna["id"])


def test_staff_and_directly_confirmed_accounts_are_confirmed(db):
    with db.unit_of_work() as uow:
        staff, _ = domain.create_or_promote_staff(uow, "staff@example.org", PASSWORD, "S")
    assert run(db, domain.get_me, staff["id"])["email_confirmed"] is True
    bo, cia = register(db, "bo@example.org", "Bo"), register(db, "cia@example.org", "Cia")
    with db.unit_of_work() as uow:
        domain.create_or_promote_staff(uow, "bo@example.org", PASSWORD, "Bo")
    assert run(db, domain.get_me, bo["id"])["email_confirmed"] is True
    before = len(events(db))
    assert run(db, domain.confirm_emails_directly, [bo["id"], cia["id"], "unknown"]) == 1
    assert events(db)[before:] == [("email_confirmed", {"account_id": cia["id"]}, cia["id"])]
    assert run(db, domain.get_me, cia["id"])["email_confirmed"] is True


def test_get_accounts_answers_only_for_ids_that_exist(db):
    anna = register(db)
    assert run(db, domain.get_accounts, [anna["id"], anna["id"], "missing"]) == {
        anna["id"]: {"id": anna["id"], "display_name": "Anna"}
    }
    assert run(db, domain.get_accounts, []) == {}


# --- groups -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, verified",
    [("association", False), ("business", False), ("working_group", True), ("network", True)],
)
def test_only_organisations_start_unverified(db, kind, verified):
    anna = register(db)
    group = new_group(db, anna["id"], kind=kind)
    assert group["verified"] is verified


def test_creator_becomes_admin_and_both_facts_are_published(db):
    anna = register(db)
    group = new_group(db, anna["id"], "Ski Club", open=False)
    assert group["member_count"] == 1
    assert group["admins"] == [{"id": anna["id"], "display_name": "Anna"}]
    assert group["networks"] == [] and group["open"] is False
    assert group["created_by"] == anna["id"]
    assert [(t, d) for t, d, _ in events(db)][2:] == [
        (
            "group_created",
            {
                "group_id": group["id"],
                "name": "Ski Club",
                "kind": "association",
                "open": False,
                "created_by": anna["id"],
            },
        ),
        (
            "member_joined",
            {
                "group_id": group["id"],
                "account_id": anna["id"],
                "role": "admin",
                "membership_version": 1,
            },
        ),
    ]
    assert run(db, domain.is_group_admin, anna["id"], group["id"]) is True
    assert run(db, domain.get_group, group["id"]) == group


def test_group_names_are_unique_whatever_the_case(db):
    anna = register(db)
    new_group(db, anna["id"], "Ski Club")
    before = len(events(db))
    with pytest.raises(Conflict):
        new_group(db, anna["id"], "SKI CLUB")
    assert len(events(db)) == before
    assert run(db, domain.list_groups)["total"] == 1


def test_an_unknown_or_erased_actor_cannot_create(db):
    anna = register(db)
    run(db, domain.erase_account, anna["id"])
    for actor_id in (anna["id"], "nobody"):
        with pytest.raises(Unauthenticated):
            new_group(db, actor_id)


def test_list_is_paged_and_filtered_by_kind(db):
    anna = register(db)
    for name in ("Cedar", "alder", "Birch"):
        new_group(db, anna["id"], name, kind="working_group")
    new_group(db, anna["id"], "Network", kind="network")
    page = run(db, domain.list_groups, kind="working_group", page=1, per_page=2)
    assert [g["name"] for g in page["items"]] == ["alder", "Birch"]
    assert (page["total"], page["page"], page["per_page"]) == (3, 1, 2)
    page = run(db, domain.list_groups, kind="working_group", page=2, per_page=2)
    assert [g["name"] for g in page["items"]] == ["Cedar"]
    assert run(db, domain.list_groups)["total"] == 4
    assert run(db, domain.list_groups, page=9)["items"] == []


def test_get_group_not_found(db):
    with pytest.raises(NotFound):
        run(db, domain.get_group, "no-such-group")


# --- memberships ------------------------------------------------------------------------


@pytest.fixture
def people(db):
    return {
        name: register(db, f"{name}@example.org", name.title()) for name in ("anna", "bo", "cia")
    }


def test_joining_an_open_group_makes_a_member(db, people):
    group = new_group(db, people["anna"]["id"])
    result = run(db, domain.join_group, people["bo"]["id"], group["id"])
    assert result["status"] == "member"
    assert result["membership"]["status"] == "active"
    assert result["membership"]["role"] == "member"
    assert events(db)[-1][:2] == (
        "member_joined",
        {
            "group_id": group["id"],
            "account_id": people["bo"]["id"],
            "role": "member",
            "membership_version": 2,
        },
    )
    assert run(db, domain.get_group, group["id"])["member_count"] == 2
    with pytest.raises(Conflict, match="already a member"):
        run(db, domain.join_group, people["bo"]["id"], group["id"])
    with pytest.raises(NotFound):
        run(db, domain.join_group, people["bo"]["id"], "no-such-group")


def test_a_closed_group_asks_its_admins_who_approve(db, people):
    anna, bo, cia = people["anna"]["id"], people["bo"]["id"], people["cia"]["id"]
    group = new_group(db, anna, open=False)
    result = run(db, domain.join_group, bo, group["id"])
    assert result["status"] == "pending"
    assert events(db)[-1][:2] == (
        "join_requested",
        {"group_id": group["id"], "account_id": bo, "admin_ids": [anna]},
    )
    assert run(db, domain.get_group, group["id"])["member_count"] == 1
    with pytest.raises(Conflict, match="pending"):
        run(db, domain.join_group, bo, group["id"])
    with pytest.raises(Forbidden):
        run(db, domain.approve_member, cia, group["id"], bo)
    with pytest.raises(Forbidden):
        run(db, domain.approve_member, bo, group["id"], bo)
    with pytest.raises(NotFound):
        run(db, domain.approve_member, anna, group["id"], cia)
    with pytest.raises(NotFound):
        run(db, domain.approve_member, anna, "no-such-group", bo)

    membership = run(db, domain.approve_member, anna, group["id"], bo)
    assert membership["status"] == "active" and membership["account_id"] == bo
    assert events(db)[-1] == (
        "member_joined",
        {"group_id": group["id"], "account_id": bo, "role": "member", "membership_version": 2},
        anna,
    )
    with pytest.raises(NotFound):  # approved already: no request left
        run(db, domain.approve_member, anna, group["id"], bo)


def test_removing_members(db, people):
    anna, bo, cia = people["anna"]["id"], people["bo"]["id"], people["cia"]["id"]
    group = new_group(db, anna)
    run(db, domain.join_group, bo, group["id"])
    run(db, domain.join_group, cia, group["id"])
    with pytest.raises(Forbidden):
        run(db, domain.remove_member, bo, group["id"], cia)
    assert run(db, domain.remove_member, bo, group["id"], bo) is None  # leaves
    assert events(db)[-1] == (
        "member_left",
        {"group_id": group["id"], "account_id": bo, "membership_version": 4},
        bo,
    )
    run(db, domain.remove_member, anna, group["id"], cia)  # removed by the admin
    assert events(db)[-1] == (
        "member_left",
        {"group_id": group["id"], "account_id": cia, "membership_version": 5},
        anna,
    )
    with pytest.raises(NotFound):
        run(db, domain.remove_member, bo, group["id"], bo)
    with pytest.raises(NotFound):
        run(db, domain.remove_member, bo, "no-such-group", bo)
    assert run(db, domain.get_group, group["id"])["member_count"] == 1


def test_an_admin_may_leave_when_another_admin_stays(db, people):
    anna, bo = people["anna"]["id"], people["bo"]["id"]
    group = new_group(db, anna)
    run(db, domain.join_group, bo, group["id"])
    with db.sessions() as session, session.begin():
        session.get(Membership, (group["id"], bo)).role = "admin"
    run(db, domain.remove_member, anna, group["id"], anna)
    assert run(db, domain.is_group_admin, anna, group["id"]) is False
    assert run(db, domain.get_group, group["id"])["admins"] == [{"id": bo, "display_name": "Bo"}]


def test_the_longest_standing_member_takes_over_from_the_last_admin():
    from datetime import datetime, timedelta

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    assert domain.successor([]) is None
    assert (
        domain.successor([(t0 + timedelta(days=2), "a"), (t0, "c"), (t0 + timedelta(days=1), "b")])
        == "c"
    )
    assert domain.successor([(t0, "b"), (t0, "a")]) == "a"  # a tie: never by row order


def set_joined(db, group_id, account_id, days_ago):
    from datetime import timedelta

    with db.sessions() as session, session.begin():
        membership = session.get(Membership, (group_id, account_id))
        membership.created_at = domain.utcnow() - timedelta(days=days_ago)


def test_the_last_admin_leaving_hands_over_to_the_longest_standing_member(db, people):
    anna, bo, cia = people["anna"]["id"], people["bo"]["id"], people["cia"]["id"]
    group = new_group(db, anna)
    run(db, domain.join_group, cia, group["id"])
    run(db, domain.join_group, bo, group["id"])
    set_joined(db, group["id"], bo, days_ago=30)  # bo joined long before cia
    set_joined(db, group["id"], cia, days_ago=3)
    before = len(events(db))

    assert run(db, domain.remove_member, anna, group["id"], anna) is None
    assert events(db)[before:] == [
        (
            "member_left",
            {"group_id": group["id"], "account_id": anna, "membership_version": 4},
            anna,
        ),
        (
            "admin_appointed",
            {
                "group_id": group["id"],
                "account_id": bo,
                "reason": "handover",
                "membership_version": 5,
            },
            anna,
        ),
    ]
    seen = run(db, domain.get_group, group["id"])
    assert seen["admins"] == [{"id": bo, "display_name": "Bo"}]
    assert seen["member_count"] == 2 and seen["needs_admin"] is False
    assert run(db, domain.is_group_admin, bo, group["id"])


def test_an_admin_leaving_beside_another_admin_hands_nothing_over(db, people):
    anna, bo, cia = people["anna"]["id"], people["bo"]["id"], people["cia"]["id"]
    group = new_group(db, anna)
    run(db, domain.join_group, bo, group["id"])
    run(db, domain.join_group, cia, group["id"])
    with db.sessions() as session, session.begin():
        session.get(Membership, (group["id"], cia)).role = "admin"
    before = len(events(db))
    run(db, domain.remove_member, anna, group["id"], anna)
    assert [t for t, _, _ in events(db)[before:]] == ["member_left"]
    assert not run(db, domain.is_group_admin, bo, group["id"])


def test_the_last_member_leaving_leaves_the_group_for_staff(db, people):
    anna, bo = people["anna"]["id"], people["bo"]["id"]
    group = new_group(db, anna, open=False)
    run(db, domain.join_group, bo, group["id"])  # a pending request is no member
    before = len(events(db))
    run(db, domain.remove_member, anna, group["id"], anna)
    assert events(db)[before:] == [
        (
            "member_left",
            {"group_id": group["id"], "account_id": anna, "membership_version": 2},
            anna,
        ),
        ("group_needs_admin", {"group_id": group["id"]}, anna),
    ]
    seen = run(db, domain.get_group, group["id"])
    assert seen["needs_admin"] is True and seen["admins"] == []
    assert seen["member_count"] == 0
    listed = run(db, domain.list_groups, needs_admin=True)
    assert [g["id"] for g in listed["items"]] == [group["id"]]
    assert group["id"] not in {
        g["id"] for g in run(db, domain.list_groups, needs_admin=False)["items"]
    }


def test_erasing_the_last_admin_hands_over_or_flags_the_group(db, people):
    anna, bo = people["anna"]["id"], people["bo"]["id"]
    shared = new_group(db, anna, "Shared")
    alone = new_group(db, anna, "Alone")
    run(db, domain.join_group, bo, shared["id"])
    before = len(events(db))
    run(db, domain.erase_account, anna)
    published = [(t, d) for t, d, _ in events(db)[before:]]
    assert (
        "admin_appointed",
        {
            "group_id": shared["id"],
            "account_id": bo,
            "reason": "handover",
            "membership_version": 4,
        },
    ) in published
    assert ("group_needs_admin", {"group_id": alone["id"]}) in published
    assert published[-1] == ("account_erased", {"account_id": anna})
    assert run(db, domain.get_group, shared["id"])["admins"] == [{"id": bo, "display_name": "Bo"}]
    flagged = run(db, domain.get_group, alone["id"])
    assert flagged["needs_admin"] is True
    # The erased creator is not shown: the group does not point back at the account.
    assert flagged["created_by"] is None and shared["created_by"] == anna


def test_staff_appoint_an_admin(db, people):
    anna, bo, cia = people["anna"]["id"], people["bo"]["id"], people["cia"]["id"]
    dan = register(db, "dan@example.org", "Dan")["id"]
    make_staff(db, cia)
    group = new_group(db, anna, open=False)
    run(db, domain.join_group, dan, group["id"])  # pending
    run(db, domain.remove_member, anna, group["id"], anna)
    assert run(db, domain.get_group, group["id"])["needs_admin"] is True
    with pytest.raises(Forbidden):
        run(db, domain.appoint_admin, bo, group["id"], bo)
    with pytest.raises(NotFound):
        run(db, domain.appoint_admin, cia, "no-such-group", bo)
    with pytest.raises(NotFound):
        run(db, domain.appoint_admin, cia, group["id"], "no-such-account")
    before = len(events(db))

    seen = run(db, domain.appoint_admin, cia, group["id"], bo)  # not a member yet
    assert seen["needs_admin"] is False
    assert seen["admins"] == [{"id": bo, "display_name": "Bo"}]
    assert events(db)[before:] == [
        (
            "member_joined",
            {"group_id": group["id"], "account_id": bo, "role": "admin", "membership_version": 3},
            cia,
        ),
        (
            "admin_appointed",
            {"group_id": group["id"], "account_id": bo, "reason": "staff", "membership_version": 4},
            cia,
        ),
    ]
    with pytest.raises(Conflict, match="admin of this group already"):
        run(db, domain.appoint_admin, cia, group["id"], bo)
    # A pending request becomes an admin membership; an active member only changes role.
    run(db, domain.appoint_admin, cia, group["id"], dan)
    assert [t for t, _, _ in events(db)[-2:]] == ["member_joined", "admin_appointed"]
    new_member = register(db, "eva@example.org", "Eva")["id"]
    other = new_group(db, bo, "Other")
    run(db, domain.join_group, new_member, other["id"])
    before = len(events(db))
    run(db, domain.appoint_admin, cia, other["id"], new_member)
    assert [t for t, _, _ in events(db)[before:]] == ["admin_appointed"]
    assert run(db, domain.get_group, group["id"])["member_count"] == 2
    run(db, domain.erase_account, dan)
    with pytest.raises(Conflict, match="erased"):
        run(db, domain.appoint_admin, cia, group["id"], dan)


def test_a_declined_or_withdrawn_request_publishes_nothing(db, people):
    anna, bo = people["anna"]["id"], people["bo"]["id"]
    group = new_group(db, anna, open=False)
    run(db, domain.join_group, bo, group["id"])
    before = len(events(db))
    run(db, domain.remove_member, anna, group["id"], bo)
    assert len(events(db)) == before
    assert run(db, domain.get_me, bo)["memberships"] == []


def test_members_see_the_members_and_admins_also_the_requests(db, people):
    anna, bo, cia = people["anna"]["id"], people["bo"]["id"], people["cia"]["id"]
    group = new_group(db, anna, open=False)
    run(db, domain.join_group, bo, group["id"])
    run(db, domain.approve_member, anna, group["id"], bo)
    run(db, domain.join_group, cia, group["id"])

    seen_by_admin = run(db, domain.list_members, anna, group["id"])
    assert [(m["display_name"], m["role"], m["status"]) for m in seen_by_admin["items"]] == [
        ("Cia", "member", "pending"),  # requests first, then admins, then by name
        ("Anna", "admin", "active"),
        ("Bo", "member", "active"),
    ]
    assert seen_by_admin["total"] == 3
    seen_by_member = run(db, domain.list_members, bo, group["id"])
    assert [m["account_id"] for m in seen_by_member["items"]] == [anna, bo]
    with pytest.raises(Forbidden):  # asked, not in yet
        run(db, domain.list_members, cia, group["id"])
    dan = register(db, "dan@example.org", "Dan")["id"]
    with pytest.raises(Forbidden):
        run(db, domain.list_members, dan, group["id"])
    make_staff(db, dan)
    assert run(db, domain.list_members, dan, group["id"])["total"] == 3
    with pytest.raises(NotFound):
        run(db, domain.list_members, anna, "no-such-group")


# --- verification and networks ----------------------------------------------------------


def test_staff_verify_organisations_once(db, people):
    anna, bo = people["anna"]["id"], people["bo"]["id"]
    make_staff(db, bo)
    association = new_group(db, anna)
    working_group = new_group(db, anna, "Working", kind="working_group")
    with pytest.raises(Forbidden):
        run(db, domain.verify_group, anna, association["id"])
    verified = run(db, domain.verify_group, bo, association["id"])
    assert verified["verified"] is True
    assert events(db)[-1] == ("group_verified", {"group_id": association["id"]}, bo)
    with pytest.raises(Conflict):
        run(db, domain.verify_group, bo, association["id"])
    with pytest.raises(Conflict):
        run(db, domain.verify_group, bo, working_group["id"])
    with pytest.raises(NotFound):
        run(db, domain.verify_group, bo, "no-such-group")


def test_joining_a_network(db, people):
    anna, bo = people["anna"]["id"], people["bo"]["id"]
    group = new_group(db, anna)
    network = new_group(db, bo, "Network", kind="network")
    other = new_group(db, bo, "Other")
    with pytest.raises(Forbidden):
        run(db, domain.join_network, bo, group["id"], network["id"])
    with pytest.raises(NotFound):
        run(db, domain.join_network, anna, "no-such-group", network["id"])
    with pytest.raises(NotFound):
        run(db, domain.join_network, anna, group["id"], "6f9619ff-8b86-d011-b42d-00c04fc964ff")
    for not_a_network in (other["id"], group["id"]):
        with pytest.raises(ValidationError) as caught:
            run(db, domain.join_network, anna, group["id"], not_a_network)
        assert "network_id" in caught.value.fields

    joined = run(db, domain.join_network, anna, group["id"], network["id"])
    assert joined["networks"] == [{"id": network["id"], "name": "Network"}]
    assert events(db)[-1] == (
        "group_joined_network",
        {"group_id": group["id"], "network_id": network["id"]},
        anna,
    )
    with pytest.raises(Conflict):
        run(db, domain.join_network, anna, group["id"], network["id"])
    listed = run(db, domain.list_groups, kind="association")["items"]
    assert [g["networks"] for g in listed if g["id"] == group["id"]] == [joined["networks"]]
