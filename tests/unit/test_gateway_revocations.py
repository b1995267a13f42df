"""What a gateway makes of a revocation (no broker): which messages it reads, what it
forgets in its cache, and the cache's `forget_all` after a reconnection."""

import json

import pytest

from civic.errors import ContractError
from services.gateway.auth import PrincipalCache
from services.gateway.revocations import (
    REVOKING,
    RevocationListener,
    account_revoked,
    queue_name,
)
from tests.support import envelope

ACCOUNT = "6f9619ff-8b86-d011-b42d-00c04fc964ff"


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def principal(account_id=ACCOUNT, is_staff=False):
    return {"account_id": account_id, "display_name": "Anna", "is_staff": is_staff}


def body_of(event_type, payload, **changes) -> bytes:
    found = envelope(event_type, payload).to_dict()
    found.update(changes)
    return json.dumps(found).encode()


@pytest.mark.parametrize(
    "event_type, data",
    [
        ("signed_out", {"account_id": ACCOUNT}),
        ("account_erased", {"account_id": ACCOUNT}),
        ("email_confirmed", {"account_id": ACCOUNT}),
        ("staff_role_changed", {"account_id": ACCOUNT, "is_staff": False}),
    ],
)
def test_each_revocation_names_its_account(event_type, data):
    assert event_type in REVOKING
    assert account_revoked(body_of(event_type, data)) == (event_type, ACCOUNT)
    assert account_revoked(body_of(event_type, data).decode()) == (event_type, ACCOUNT)
    assert account_revoked(json.loads(body_of(event_type, data))) == (event_type, ACCOUNT)


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe not utf-8",
        b"not json",
        b"[1, 2]",
        b"{}",
        b"x" * (64 * 1024 + 1),
        body_of("group_verified", {"group_id": "g-1"}),  # another type
        body_of("signed_out", {"account_id": ACCOUNT}, producer="proposals"),
        body_of("signed_out", {"account_id": ACCOUNT}, version=2),
        body_of("signed_out", {"account_id": ACCOUNT}, data={"account": ACCOUNT}),
        body_of("signed_out", {"account_id": ACCOUNT}, type="made_up"),
        None,
    ],
)
def test_anything_else_is_refused(body):
    with pytest.raises(ContractError):
        account_revoked(body)


def test_the_listener_forgets_the_account_and_drops_the_rest():
    clock = Clock()
    cache = PrincipalCache(ttl=60, clock=clock)
    listener = RevocationListener("memory://", cache.forget_account, cache.forget_all, "abc")
    assert listener.queue_name == queue_name("abc") == "gateway.revocations.abc"
    cache.put("laptop", principal())
    cache.put("phone", principal())
    cache.put("other", principal("a2"))
    assert listener.handle(b"junk") is None
    assert listener.handle(body_of("group_verified", {"group_id": "g-1"})) is None
    assert len(cache) == 3
    assert listener.handle(body_of("signed_out", {"account_id": ACCOUNT})) == ACCOUNT
    assert cache.get("laptop") is None and cache.get("phone") is None
    assert cache.get("other") == principal("a2")


def test_a_check_in_flight_when_its_account_is_revoked_is_not_kept():
    clock = Clock()
    cache = PrincipalCache(ttl=60, clock=clock)
    checked_at = cache.now()
    clock.now += 0.5
    cache.forget_account(ACCOUNT)  # the revocation arrives while groups is being asked
    cache.put("laptop", principal(), checked_at=checked_at)
    assert cache.get("laptop") is None
    clock.now += 0.1  # a check that began after the revocation is kept
    cache.put("laptop", principal(), checked_at=cache.now())
    assert cache.get("laptop") == principal()


def test_forget_all_forgets_every_entry_and_every_check_in_flight():
    clock = Clock()
    cache = PrincipalCache(ttl=60, clock=clock)
    cache.put("laptop", principal())
    cache.put("other", principal("a2"))
    in_flight = cache.now()
    clock.now += 1
    cache.forget_all()
    assert len(cache) == 0 and cache.get("other") is None
    cache.put("late", principal("a3"), checked_at=in_flight)  # began before: not kept
    assert cache.get("late") is None
    clock.now += 1
    cache.put("fresh", principal("a3"), checked_at=cache.now())
    assert cache.get("fresh") == principal("a3")
