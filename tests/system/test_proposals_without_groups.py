"""With the groups service stopped, listing, reading, supporting and commenting on
proposals still work.

Groups runs in a runner of its own, the gateway and proposals in another: the test signs
in while groups runs, then stops just groups. Residents active in the last minute stay
signed in (the gateway caches checked tokens, see services/gateway/auth.py), reading
needs no token, and what needs groups itself is a 503.
"""

import pytest
from nameko import config as nameko_config

from services.gateway.auth import PrincipalCache, actor_of, token_key
from tests.system.conftest import error_of, new_proposal

# Short, so that asking the stopped groups service gives up quickly.
RPC_TIMEOUT_WHILE_DOWN = 2.0


@pytest.fixture
def split_platform(run_services, start_services):
    """(groups runner, gateway client): groups can be stopped on its own."""
    from services.gateway.service import GatewayService
    from services.groups.service import GroupsService
    from services.proposals.service import ProposalsService

    groups = run_services(GroupsService)
    client = start_services(GatewayService, ProposalsService)
    return groups, client


def test_proposals_work_while_the_groups_service_is_stopped(split_platform):
    groups, api = split_platform
    author, author_token = api.resident("Ann Author")
    supporter, supporter_token = api.resident("Sam Supporter")
    _, idle_token = api.resident("Ida Idle")  # signed in, but not active since
    proposal = new_proposal(api, author_token, "Lights along the ski track")
    path = f"/proposals/{proposal['id']}"
    assert api.get(path, token=supporter_token).status_code == 200  # Sam is active

    groups.stop()

    with nameko_config.patch({"CIVIC_RPC_TIMEOUT": RPC_TIMEOUT_WHILE_DOWN}, clear=False):
        # Groups really is gone: what only it can answer is a 503.
        error_of(api.get("/groups"), 503, "unavailable")

        listed = api.get("/proposals")
        assert listed.status_code == 200, listed.text
        assert [item["id"] for item in listed.json()["items"]] == [proposal["id"]]
        read = api.get(path)
        assert read.status_code == 200, read.text
        assert read.json()["title"] == proposal["title"]

        supported = api.post(f"{path}/supports", token=supporter_token)
        assert supported.status_code == 201, supported.text
        assert supported.json()["support_count"] == 1
        commented = api.post(
            f"{path}/comments",
            token=supporter_token,
            json={"body": "Yes, the track is dark by four."},
        )
        assert commented.status_code == 201, commented.text
        assert commented.json()["author_name"] == "Sam Supporter"
        also_commented = api.post(f"{path}/comments", token=author_token, json={"body": "Thanks!"})
        assert also_commented.status_code == 201, also_commented.text

        seen = api.get(path, token=supporter_token)
        assert seen.status_code == 200, seen.text
        assert seen.json()["support_count"] == 1 and seen.json()["supported_by_me"] is True
        assert [c["author_id"] for c in seen.json()["comments"]] == [supporter["id"], author["id"]]
        listed_for_sam = api.get("/proposals", token=supporter_token).json()["items"]
        assert listed_for_sam[0]["supported_by_me"] is True

        # A token the gateway has not checked lately cannot be checked now: reading
        # goes on as for anyone, acting waits for groups.
        as_anyone = api.get(path, token=idle_token)
        assert as_anyone.status_code == 200, as_anyone.text
        assert as_anyone.json()["supported_by_me"] is False
        error_of(api.post(f"{path}/supports", token=idle_token), 503, "unavailable")

        withdrawn = api.delete(f"{path}/supports/mine", token=supporter_token)
        assert withdrawn.status_code == 204
        assert api.get(path).json()["support_count"] == 0


def test_signing_out_is_not_undone_by_the_cache(split_platform):
    """The cache must not keep a signed-out token alive, even while groups is down."""
    groups, api = split_platform
    _, token = api.resident("Leaving Soon")
    proposal = new_proposal(api, token)
    assert api.delete("/sessions/current", token=token).status_code == 204
    error_of(api.post(f"/proposals/{proposal['id']}/supports", token=token), 401, "unauthenticated")
    groups.stop()
    with nameko_config.patch({"CIVIC_RPC_TIMEOUT": RPC_TIMEOUT_WHILE_DOWN}, clear=False):
        error_of(api.post(f"/proposals/{proposal['id']}/supports", token=token), 503, "unavailable")
        assert api.get(f"/proposals/{proposal['id']}").json()["support_count"] == 0


# --- the cache itself (pure; a fake clock, no waiting) -----------------------------------


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def principal(account_id="a1", is_staff=False):
    return {"account_id": account_id, "display_name": "Ann", "locale": "sv", "is_staff": is_staff}


def test_principal_cache_keeps_a_principal_for_its_lifetime_only():
    clock = FakeClock()
    cache = PrincipalCache(ttl=60, clock=clock)
    cache.put("token-1", principal())
    assert cache.get("token-1") == principal()
    assert cache.get("token-2") is None
    clock.now += 59.9
    assert cache.get("token-1") == principal()
    clock.now += 0.1
    assert cache.get("token-1") is None and len(cache) == 0


def test_principal_cache_forgets_signed_out_tokens_and_erased_accounts():
    cache = PrincipalCache(ttl=60, clock=FakeClock())
    cache.put("laptop", principal("a1"))
    cache.put("phone", principal("a1"))
    cache.put("other", principal("a2"))
    cache.forget("laptop")
    assert cache.get("laptop") is None and cache.get("phone") is not None
    cache.forget_account("a1")
    assert cache.get("phone") is None and cache.get("other") == principal("a2")


def test_a_check_that_began_before_a_sign_out_is_not_cached():
    """A request whose check was in flight while the token signed out (or the account
    was erased) must not bring it back into the cache."""
    clock = FakeClock()
    cache = PrincipalCache(ttl=60, clock=clock)
    checked_at = cache.now()
    clock.now += 0.01
    cache.forget("racing-token")
    cache.put("racing-token", principal("a1"), checked_at=checked_at)
    assert cache.get("racing-token") is None

    checked_at = cache.now()
    clock.now += 0.01
    cache.forget_account("a2")
    cache.put("other-device", principal("a2"), checked_at=checked_at)
    assert cache.get("other-device") is None

    clock.now += 0.01
    cache.put("racing-token", principal("a1"), checked_at=cache.now())  # signed in anew
    assert cache.get("racing-token") == principal("a1")


def test_principal_cache_is_bounded_and_keeps_no_token():
    clock = FakeClock()
    cache = PrincipalCache(ttl=60, max_entries=2, clock=clock)
    cache.put("t1", principal("a1"))
    clock.now += 1
    cache.put("t2", principal("a2"))
    cache.put("t3", principal("a3"))  # full: the oldest goes
    assert len(cache) == 2 and cache.get("t1") is None and cache.get("t3") is not None
    assert "t3" not in repr(cache._entries) and token_key("t3") in cache._entries
    # A copy comes out: changing it changes nothing cached.
    cache.get("t3")["is_staff"] = True
    assert cache.get("t3")["is_staff"] is False

    off = PrincipalCache(ttl=0, clock=clock)
    off.put("t1", principal())
    assert off.get("t1") is None and not off.enabled


def test_the_actor_is_what_services_are_told_of_the_caller():
    assert actor_of(None) is None
    assert actor_of(principal("a9", is_staff=True)) == {
        "account_id": "a9",
        "is_staff": True,
        "display_name": "Ann",
    }
