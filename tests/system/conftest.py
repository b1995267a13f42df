"""System fixtures: the gateway (and the services behind it) in-process, over real HTTP.

`start_services(GatewayService, GroupsService)` runs the services with nameko's
`runner_factory` on the `migrated` settings; the web server binds port 0 and the client
asks it which port it got, so parallel test runs never race for a port.
`run_services(GroupsService)` runs services without a gateway and returns their runner,
so a test can stop just those (`runner.stop()`) while the others keep running.
`platform` is the gateway with groups and proposals.
"""

import uuid

import pytest
import requests
from nameko import config as nameko_config
from requests.adapters import HTTPAdapter

from services.gateway.http import API_PREFIX, ApiHandler
from services.gateway.service import GatewayService
from services.groups.service import GroupsService
from services.notifications.service import NotificationsService
from tests.conftest import wait_for
from tests.integration.notifications_support import SmtpServer

# Small limits, so the edge tests reach them with little traffic; registrations are not
# limited in practice (tests register many accounts from 127.0.0.1), but for the test of
# that limit, which sets its own.
SIGNIN_LIMIT = 3
SIGNUP_LIMIT = 10_000
MAX_BODY_BYTES = 4096
PASSWORD = "correct horse battery"


class ApiClient:
    """A small `requests` client for the gateway: paths are relative to /api/v1."""

    def __init__(self, base_url: str, source_address: str | None = None):
        self.base_url = base_url
        self.http = requests.Session()
        if source_address is not None:
            self.http.mount("http://", SourceAddressAdapter(source_address))

    def from_address(self, address: str) -> "ApiClient":
        """A client of the same gateway whose requests come from another local address
        (127.0.0.2, …: all loopback), as another client's would."""
        return ApiClient(self.base_url, source_address=address)

    def close(self):
        self.http.close()

    def request(self, method, path, *, token=None, prefix=API_PREFIX, headers=None, **kwargs):
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        kwargs.setdefault("timeout", 15)
        return self.http.request(
            method, f"{self.base_url}{prefix}{path}", headers=headers, **kwargs
        )

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)

    def register(self, name="Resident", email=None, password=PASSWORD):
        email = email or f"{name.lower().replace(' ', '.')}.{uuid.uuid4().hex[:8]}@example.org"
        response = self.post(
            "/accounts", json={"email": email, "password": password, "display_name": name}
        )
        assert response.status_code == 201, response.text
        return response.json()

    def sign_in(self, email, password=PASSWORD):
        response = self.post("/sessions", json={"email": email, "password": password})
        assert response.status_code == 201, response.text
        return response.json()["token"]

    def resident(self, name="Resident"):
        """A new account, signed in: (account, token)."""
        account = self.register(name)
        return account, self.sign_in(account["email"])


class SourceAddressAdapter(HTTPAdapter):
    """Connections from a given local address."""

    def __init__(self, address: str, **kwargs):
        self.source_address = (address, 0)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = self.source_address
        super().init_poolmanager(*args, **kwargs)


def gateway_port(runner) -> int:
    for container in runner.containers:
        for entrypoint in container.entrypoints:
            if isinstance(entrypoint, ApiHandler):
                return entrypoint.server.port
    raise AssertionError("no HTTP entrypoint is running")


@pytest.fixture
def system_settings(migrated):
    overrides = {
        "CIVIC_SIGNIN_LIMIT": SIGNIN_LIMIT,
        "CIVIC_SIGNIN_WINDOW": 300.0,
        "CIVIC_SIGNUP_LIMIT": SIGNUP_LIMIT,
        "CIVIC_SIGNUP_WINDOW": 3600.0,
        "CIVIC_MAX_BODY_BYTES": MAX_BODY_BYTES,
        "WEB_SERVER_ADDRESS": "127.0.0.1:0",
    }
    with nameko_config.patch(overrides, clear=False):
        yield {**migrated, **overrides}


@pytest.fixture
def start_services(system_settings, runner_factory):
    """Start services in-process; returns an ApiClient for the gateway among them."""
    clients = []

    def start(*service_classes):
        runner = runner_factory(*service_classes)
        runner.start()
        client = ApiClient(f"http://127.0.0.1:{gateway_port(runner)}")
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.close()


@pytest.fixture
def run_services(system_settings, runner_factory):
    """Start services in-process, without a gateway; returns their runner."""

    def run(*service_classes):
        runner = runner_factory(*service_classes)
        runner.start()
        return runner

    return run


@pytest.fixture
def platform(start_services):
    """The gateway, groups and proposals, running."""
    from services.proposals.service import ProposalsService

    return start_services(GatewayService, GroupsService, ProposalsService)


@pytest.fixture
def whole_platform(start_services):
    """The gateway and every domain service, running."""
    from services.consultations.service import ConsultationsService
    from services.events.service import EventsService
    from services.openings.service import OpeningsService
    from services.proposals.service import ProposalsService

    return start_services(
        GatewayService,
        GroupsService,
        ProposalsService,
        EventsService,
        OpeningsService,
        ConsultationsService,
        NotificationsService,
    )


@pytest.fixture
def api(start_services):
    """The gateway and the groups service, running."""
    return start_services(GatewayService, GroupsService)


@pytest.fixture
def make_staff(system_settings):
    """Create a staff account the way the CLI does; returns its email."""
    from civic.db import ServiceDatabase
    from services.groups.domain import create_or_promote_staff
    from services.groups.models import metadata

    databases = []

    def make(name="Staff Member"):
        email = f"staff.{uuid.uuid4().hex[:8]}@example.org"
        database = ServiceDatabase("groups", metadata)
        databases.append(database)
        with database.unit_of_work() as uow:
            create_or_promote_staff(uow, email, PASSWORD, name)
        return email

    yield make
    for database in databases:
        database.dispose()


# --- helpers for the proposals and projects tests ---------------------------------------


@pytest.fixture
def smtp(tmp_path):
    """A real SMTP server (aiosmtpd, in a child process) that keeps what it receives."""
    server = SmtpServer(tmp_path / "smtp").start()
    yield server
    server.stop()


@pytest.fixture
def mailing_platform(start_services, smtp):
    """The gateway, groups and notifications, sending email to `smtp` every 0.2 s."""
    with nameko_config.patch({**smtp.settings(), "CIVIC_EMAIL_INTERVAL": 0.2}, clear=False):
        yield start_services(GatewayService, GroupsService, NotificationsService)


def error_of(response, status, code):
    """The error of a response that must be `status` with error code `code`."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code, error
    return error


def new_group(client, token, name, kind="working_group", open=True):
    response = client.post(
        "/groups",
        token=token,
        json={
            "name": f"{name} {uuid.uuid4().hex[:6]}",
            "kind": kind,
            "description": f"The {name}",
            "open": open,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def new_proposal(client, token, title="More benches by the river", **fields):
    body = {"title": title, "body": f"{title}, please.", "category": "leisure", **fields}
    response = client.post("/proposals", token=token, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def once_known(attempt, message):
    """Retry `attempt()` (an HTTP call) until it succeeds.

    The proposals and events services learn of groups and their admins from the groups
    service's events, a moment after the groups exist; until then a call naming them is
    refused (400 unknown group, 403 not an admin of it) and changes nothing, so retrying
    it is safe. Returns the successful response.
    """
    refused = []

    def succeeded():
        response = attempt()
        if response.status_code in (400, 403):
            refused[:] = [response.text]
            return None
        assert response.status_code < 300, response.text
        return response

    try:
        return wait_for(succeeded, timeout=20, interval=0.1, message=message)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last refusal: {refused[-1:]}") from None
