"""Gateways agree (issue 15, part 4): two gateway processes behind "one address", and
the groups service.

A session signed out, an account erased or made staff through one gateway counts at the
other within a second, though each caches checked tokens for minutes here
(CIVIC_AUTH_CACHE_SECONDS=300: only the groups service's events can explain it); and the
sign-in and registration limits are counted once for both.

Two gateways cannot be two nameko containers of one process (their HTTP entrypoints
would share one port), so each runs as its own `python -m civic.runner gateway`, on
this test's broker vhost and var directory, with a port of its own; groups runs in this
process (on this test's database).
"""

import socket
import subprocess
import sys
import uuid

import pytest
import requests
from nameko import config as nameko_config
from nameko.standalone.rpc import ClusterRpcClient

from civic.config import ROOT
from services.groups.service import GroupsService
from tests.conftest import wait_for
from tests.integration.conftest import read_log_lines
from tests.support import process_env
from tests.system.conftest import PASSWORD, SIGNIN_LIMIT, ApiClient, error_of

# Each gateway keeps a checked token for this long: far longer than any wait below.
CACHE_SECONDS = 300
# The acceptance check: the other gateway refuses within this long (seconds).
AGREED_WITHIN = 1.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class GatewayProcess:
    """`python -m civic.runner gateway` on this test's broker, logging to a directory of
    its own (as on a machine of its own)."""

    def __init__(self, name: str, settings: dict, log_dir):
        self.name = name
        self.port = free_port()
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        env = process_env(
            settings,
            CIVIC_LOG_DIR=str(log_dir),
            CIVIC_WEB_ADDRESS=f"127.0.0.1:{self.port}",
            CIVIC_AUTH_CACHE_SECONDS=str(CACHE_SECONDS),
            CIVIC_RPC_TIMEOUT="5",
        )
        with open(log_dir / "stdio.txt", "wb") as stdio:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "civic.runner", "gateway"],
                cwd=str(ROOT),
                env=env,
                stdout=stdio,
                stderr=subprocess.STDOUT,
            )
        self.client = ApiClient(f"http://127.0.0.1:{self.port}")

    def log_events(self, event: str) -> list[dict]:
        return [
            line
            for line in read_log_lines([self.log_dir / "gateway.log"])
            if line.get("event") == event
        ]

    def ready(self) -> bool:
        """Started, answering, and hearing revocations."""
        if self.process.poll() is not None:
            output = (self.log_dir / "stdio.txt").read_text(errors="replace")[-3000:]
            raise AssertionError(
                f"gateway {self.name} exited ({self.process.returncode}):\n{output}"
            )
        if not (self.log_events("service_started") and self.log_events("revocations_listening")):
            return False
        try:
            return self.client.get("/healthz", prefix="", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture
def two_gateways(system_settings, run_services, tmp_path):
    """Start groups (in this process; `settings` patched while it starts, which is when
    it reads its limits) and two gateway processes: returns (a, b), their ApiClients."""
    gateways = []

    def start(**settings):
        with nameko_config.patch(settings, clear=False):
            run_services(GroupsService)
        for name in ("a", "b"):
            gateways.append(GatewayProcess(name, system_settings, tmp_path / f"gateway-{name}"))
        for gateway in gateways:
            wait_for(gateway.ready, timeout=60, interval=0.2, message=f"gateway {gateway.name}")
        return tuple(gateway.client for gateway in gateways)

    yield start
    for gateway in gateways:
        gateway.stop()


def new_resident(client, name="Resident"):
    """An account registered and signed in through `client`: (account, token)."""
    account = client.register(name)
    return account, client.sign_in(account["email"])


def refused_within(client, path, status, method="GET", **kwargs):
    """Wait (AGREED_WITHIN at most) until `client` answers `path` with `status`."""
    return wait_for(
        lambda: client.request(method, path, **kwargs).status_code == status,
        timeout=AGREED_WITHIN,
        interval=0.02,
        message=f"{method} {path} answered {status} at the other gateway",
    )


def test_a_sign_out_at_one_gateway_is_refused_at_the_other_within_a_second(two_gateways):
    a, b = two_gateways()
    _, token = new_resident(a, "Anna")
    _, bystander = new_resident(b, "Bo")
    # B checks the token now and keeps it for CACHE_SECONDS.
    assert b.get("/me", token=token).status_code == 200
    assert b.get("/me", token=bystander).status_code == 200

    signed_out = a.delete("/sessions/current", token=token)
    assert signed_out.status_code == 204, signed_out.text
    refused_within(b, "/me", 401, token=token)

    error_of(b.get("/me", token=token), 401, "unauthenticated")
    error_of(a.get("/me", token=token), 401, "unauthenticated")
    # Another account's session at B is untouched.
    assert b.get("/me", token=bystander).status_code == 200


def test_an_erasure_at_one_gateway_is_refused_at_the_other_within_a_second(two_gateways):
    a, b = two_gateways()
    account, token = new_resident(a, "Cia")
    second_session = b.sign_in(account["email"])  # another device, through B
    assert b.get("/me", token=token).status_code == 200
    assert b.get("/me", token=second_session).status_code == 200

    erased = a.delete("/me", token=token)
    assert erased.status_code == 202, erased.text
    refused_within(b, "/me", 401, token=token)
    refused_within(b, "/me", 401, token=second_session)


def test_a_staff_role_given_or_taken_counts_at_the_other_gateway_within_a_second(
    two_gateways,
):
    a, b = two_gateways()
    account, token = new_resident(a, "Dan")
    missing_group = str(uuid.uuid4())
    verify = f"/groups/{missing_group}/verify"
    # Not staff: B refuses the staff route itself, and keeps the principal that says so.
    error_of(b.post(verify, token=token), 403, "forbidden")

    # Made staff the way `civic staff create` does, through the groups service.
    with ClusterRpcClient(context_data={"correlation_id": "corr-staff"}, timeout=15) as rpc:
        promoted = rpc.groups.create_staff_account(account["email"], PASSWORD, "Dan")
    assert promoted["created"] is False
    # Staff now: B lets it through to groups, which finds no such group.
    refused_within(b, verify, 404, method="POST", token=token)
    assert b.get("/me", token=token).json()["roles"] == ["resident", "staff"]

    # Erased (its staff role goes with it): B stops treating it as staff at once.
    assert a.delete("/me", token=token).status_code == 202
    refused_within(b, verify, 401, method="POST", token=token)


def test_failed_sign_ins_through_both_gateways_add_up_to_one_limit(two_gateways):
    a, b = two_gateways()
    account = a.register("Eva")
    wrong = {"email": account["email"], "password": "not the password"}
    for client in [a, b, a, b, a][:SIGNIN_LIMIT]:
        error_of(client.post("/sessions", json=wrong), 401, "unauthenticated")
    for client in (b, a):
        limited = client.post("/sessions", json=wrong)
        error_of(limited, 429, "rate_limited")
        assert 0 < int(limited.headers["Retry-After"]) <= 300
    # Even the right password waits, at either gateway.
    right = {"email": account["email"], "password": PASSWORD}
    error_of(b.post("/sessions", json=right), 429, "rate_limited")


def test_registrations_through_both_gateways_add_up_to_one_limit(two_gateways):
    a, b = two_gateways(CIVIC_SIGNUP_LIMIT=3)
    for client in (a, b, a):
        client.register("Signup")
    for client in (b, a):
        limited = client.post(
            "/accounts",
            json={
                "email": f"late.{uuid.uuid4().hex[:8]}@example.org",
                "password": PASSWORD,
                "display_name": "Too many",
            },
        )
        error_of(limited, 429, "rate_limited")
        assert 3500 < int(limited.headers["Retry-After"]) <= 3600
