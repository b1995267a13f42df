"""The groups service announces what makes a gateway's cached session wrong — a sign-out,
a staff role given or taken — in the transaction of the change (read back from the
outbox of a throw-away SQLite database, no broker)."""

import json

import pytest

from civic.contracts import CATALOGUE, parse_envelope
from services.groups import domain
from services.groups.models import metadata
from tests.support import outbox_envelopes
from tests.unit.domain_support import domain_database, events, run

PASSWORD = "correct horse battery"


@pytest.fixture
def db(tmp_path):
    database = domain_database(tmp_path, "groups", metadata)
    yield database
    database.dispose()


def register(db, email="anna@example.org", name="Anna"):
    return run(db, domain.register_account, email, PASSWORD, name)


def promote(db, email):
    with db.unit_of_work() as uow:
        return domain.create_or_promote_staff(uow, email, PASSWORD, "Staff")


def test_the_new_contracts_carry_an_account_id_and_nothing_secret():
    assert set(CATALOGUE["signed_out"].schema().fields) == {"account_id"}
    assert set(CATALOGUE["staff_role_changed"].schema().fields) == {"account_id", "is_staff"}
    assert CATALOGUE["signed_out"].producer == CATALOGUE["staff_role_changed"].producer == "groups"


def test_signing_out_is_announced_once_without_the_token(db):
    anna = register(db)
    token = run(db, domain.sign_in, "anna@example.org", PASSWORD)["token"]
    before = len(events(db))
    run(db, domain.sign_out, token)
    run(db, domain.sign_out, token)  # ended already: nothing to announce
    run(db, domain.sign_out, "made-up-token")
    assert events(db)[before:] == [("signed_out", {"account_id": anna["id"]}, anna["id"])]
    (envelope,) = outbox_envelopes(db, "signed_out")
    assert token not in json.dumps(envelope)
    assert domain.token_digest(token) not in json.dumps(envelope)
    assert parse_envelope(envelope, "signed_out").data == {"account_id": anna["id"]}


def test_promoting_an_account_to_staff_is_announced_once(db):
    bo = register(db, "bo@example.org", "Bo")
    before = len(events(db))
    promote(db, "bo@example.org")
    promote(db, "bo@example.org")  # staff already: nothing changes
    assert [(t, d, a) for t, d, a in events(db)[before:] if t == "staff_role_changed"] == [
        ("staff_role_changed", {"account_id": bo["id"], "is_staff": True}, None)
    ]


def test_an_account_made_staff_from_the_start_changes_no_role(db):
    promote(db, "staff@example.org")
    assert events(db, "staff_role_changed") == []


def test_erasing_a_staff_account_takes_its_role_before_it_is_erased(db):
    _, _ = promote(db, "staff@example.org")
    staff = run(db, domain.sign_in, "staff@example.org", PASSWORD)["account"]
    before = len(events(db))
    run(db, domain.erase_account, staff["id"])
    assert [(t, d) for t, d, _ in events(db)[before:]] == [
        ("staff_role_changed", {"account_id": staff["id"], "is_staff": False}),
        ("account_erased", {"account_id": staff["id"]}),
    ]


def test_erasing_a_resident_changes_no_role(db):
    anna = register(db)
    run(db, domain.erase_account, anna["id"])
    assert events(db, "staff_role_changed") == []
    assert events(db, "account_erased") == [
        ("account_erased", {"account_id": anna["id"]}, anna["id"])
    ]
