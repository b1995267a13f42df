"""Password hashing is bounded (issue 14, goal 6): at most CIVIC_PASSWORD_HASH_CONCURRENCY
argon2 hashes (19 MiB each) run at once per process; the other sign-ins wait as green
threads. Nothing here is timed: a gated hasher counts who is inside, and the test lets
them out one at a time."""

from __future__ import annotations

import os

import eventlet
import pytest
from eventlet import patcher, tpool
from nameko import config as nameko_config

from civic import runner
from civic.config import ConfigError, from_env
from services.groups import domain
from tests.conftest import wait_for

# The hashes run in tpool's OS threads: they can only wait on the real primitives.
real_threading = patcher.original("threading")
GATE_DEADLINE = 30.0  # seconds a gated hash waits to be let out before failing


class GatedHasher:
    """Stands in for argon2's PasswordHasher: each hash waits at a gate the test opens
    one at a time, and counts how many were inside at once."""

    def __init__(self) -> None:
        self.lock = real_threading.Lock()
        self.gate = real_threading.Semaphore(0)
        self.inside = 0
        self.most_inside = 0
        self.entered = 0
        self.left = 0

    def hash(self, password: str) -> str:
        with self.lock:
            self.inside += 1
            self.entered += 1
            self.most_inside = max(self.most_inside, self.inside)
        try:
            if not self.gate.acquire(timeout=GATE_DEADLINE):
                raise AssertionError("the test never let this hash out")
            return f"hashed:{password}"
        finally:
            with self.lock:
                self.inside -= 1
                self.left += 1


@pytest.fixture
def bound():
    def set_bound(size: int):
        return nameko_config.patch({"CIVIC_PASSWORD_HASH_CONCURRENCY": size}, clear=False)

    return set_bound


def test_at_most_the_bound_hash_at_once_the_rest_wait_as_green_threads(monkeypatch, bound):
    assert patcher.is_monkey_patched("thread")  # tests/conftest.py: the service's path
    hasher = GatedHasher()
    monkeypatch.setattr(domain, "_hasher", hasher)
    calls = 8
    with bound(2):
        threads = [eventlet.spawn(domain.hash_password, f"pw{index}") for index in range(calls)]
        try:
            slots = domain.hashing_slots()
            # Two inside (in tpool's threads), six queued on the green semaphore.
            wait_for(
                lambda: hasher.entered == 2 and slots.balance == 2 - calls,
                message="two hashes running and six waiting",
            )
            assert hasher.inside == 2
            for released in range(1, calls + 1):
                hasher.gate.release()
                expected_in = min(2, calls - released)
                wait_for(
                    lambda released=released, expected_in=expected_in: (
                        hasher.left == released and hasher.inside == expected_in
                    ),
                    message=f"{released} hashes done, {expected_in} running",
                )
                assert hasher.inside <= 2
            results = [thread.wait() for thread in threads]
        finally:
            for _ in range(calls):
                hasher.gate.release()  # never leave a tpool thread blocked
    assert sorted(results) == sorted(f"hashed:pw{index}" for index in range(calls))
    assert hasher.most_inside == 2
    assert hasher.entered == calls
    assert slots.balance == 2  # every slot given back


def test_real_hashes_through_a_bound_of_one_verify(bound):
    with bound(1):
        threads = [eventlet.spawn(domain.hash_password, f"password-{i}") for i in range(3)]
        hashes = [thread.wait() for thread in threads]
        assert [
            domain.verify_password(stored, f"password-{i}") for i, stored in enumerate(hashes)
        ] == [True, True, True]
        assert domain.verify_password(hashes[0], "password-1") is False
        assert domain.hashing_slots().balance == 1


def test_a_changed_bound_takes_effect_at_the_next_hash(bound):
    with bound(3):
        assert domain.hashing_slots().balance == 3
    with bound(1):
        assert domain.hashing_slots().balance == 1


def test_without_monkey_patching_hashing_runs_in_place(monkeypatch):
    def no_tpool(*args, **kwargs):
        raise AssertionError("an unpatched process has no hub to keep free")

    monkeypatch.setattr(patcher, "is_monkey_patched", lambda module: False)
    monkeypatch.setattr(tpool, "execute", no_tpool)
    stored = domain.hash_password("plain-script-password")
    assert domain.verify_password(stored, "plain-script-password") is True
    assert domain.verify_password(stored, "another-password") is False


def test_the_bound_defaults_to_the_cores_and_is_validated():
    assert from_env({})["CIVIC_PASSWORD_HASH_CONCURRENCY"] == min(os.cpu_count() or 1, 64)
    assert (
        from_env({"CIVIC_PASSWORD_HASH_CONCURRENCY": "3"})["CIVIC_PASSWORD_HASH_CONCURRENCY"] == 3
    )
    for bad in ("0", "-1", "two", "1.5", "65"):
        with pytest.raises(ConfigError, match="CIVIC_PASSWORD_HASH_CONCURRENCY"):
            from_env({"CIVIC_PASSWORD_HASH_CONCURRENCY": bad})


def test_the_malloc_hook_is_a_no_op_without_glibc(monkeypatch):
    def not_glibc(name):
        raise ValueError(f"unrecognized configuration name: {name}")

    monkeypatch.setattr(os, "confstr", not_glibc)
    assert runner.return_large_blocks_to_the_system() is False
    monkeypatch.setattr(os, "confstr", lambda name: None)
    assert runner.return_large_blocks_to_the_system() is False


def test_the_malloc_hook_fixes_the_threshold_on_glibc():
    if not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"):
        pytest.skip("not glibc")
    assert runner.return_large_blocks_to_the_system() is True
