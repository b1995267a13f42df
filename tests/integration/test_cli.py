"""The `civic` command line, run as a subprocess against the test's broker vhost and
databases (SQLite files or PostgreSQL schemas, per CIVIC_TEST_DB)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest
from kombu import Connection
from nameko.standalone.rpc import ClusterRpcClient
from sqlalchemy import inspect

from civic import config, topology
from civic.db import make_engine
from civic.errors import Unauthenticated
from tests.conftest import wait_for
from tests.support import process_env

CIVIC = Path(sys.executable).with_name("civic")


def civic(settings: dict, *args, timeout: float = 60, **extra) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CIVIC), *args],
        env=process_env(settings, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def has_alembic_version(settings: dict, service: str) -> bool:
    url = settings["CIVIC_DATABASES"][service]
    schema = None if url.startswith("sqlite") else settings["CIVIC_SCHEMA_PREFIX"] + service
    engine = make_engine(url, schema)
    try:
        return inspect(engine).has_table("alembic_version", schema=schema)
    finally:
        engine.dispose()


def queue_exists(amqp_uri: str, name: str) -> bool:
    with Connection(amqp_uri) as connection:
        try:
            connection.default_channel.queue_declare(name, passive=True)
            return True
        except Exception:  # amqp NotFound closes the channel: the queue is not there
            return False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- migrate -------------------------------------------------------------------------


def test_migrate_upgrades_every_database_and_declares_every_queue(civic_settings):
    first = civic(civic_settings, "migrate")
    assert first.returncode == 0, first.stderr
    for service in config.DOMAIN_SERVICES:
        assert f"migrating {service}" in first.stdout
        assert has_alembic_version(civic_settings, service), service
    expected = [queue.name for queue in topology.queues(topology.subscriptions())]
    assert "civic.dead-letters" in expected
    for name in expected:
        assert queue_exists(civic_settings["AMQP_URI"], name), name
    # Idempotent: a second run changes nothing and succeeds.
    again = civic(civic_settings, "migrate")
    assert again.returncode == 0, again.stderr
    assert "migrations done" in again.stdout


@pytest.mark.quorum
def test_queues_migrate_moves_a_classic_broker_to_quorum_queues(civic_settings):
    """An existing broker's classic queues (a Civic of before quorum queues) are refused,
    with the command to run, which moves them."""
    classic = civic(civic_settings, "migrate", CIVIC_QUEUE_TYPE="classic")
    assert classic.returncode == 0, classic.stderr

    refused = civic(civic_settings, "migrate")
    assert refused.returncode == 1
    assert "civic queues migrate" in refused.stderr
    assert "Traceback" not in refused.stderr

    planned = civic(civic_settings, "queues", "migrate", "--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert "would move civic.dead-letters to quorum" in planned.stdout

    moved = civic(civic_settings, "queues", "migrate")
    assert moved.returncode == 0, moved.stderr
    assert "moved civic.dead-letters (0 message(s))" in moved.stdout
    again = civic(civic_settings, "queues", "migrate", "--dry-run")
    assert "0 queue(s) would move to quorum" in again.stdout
    assert civic(civic_settings, "migrate").returncode == 0


def test_a_bad_setting_is_a_clean_configuration_error(civic_settings):
    result = civic(civic_settings, "migrate", CIVIC_LOG_FORMAT="xml")
    assert result.returncode == 2
    assert "configuration error: CIVIC_LOG_FORMAT" in result.stderr
    assert "Traceback" not in result.stderr
    assert not has_alembic_version(civic_settings, "groups")


# --- staff ---------------------------------------------------------------------------


@pytest.fixture
def groups_service(migrated, runner_factory):
    from services.groups.service import GroupsService

    runner = runner_factory(GroupsService)
    runner.start()
    with ClusterRpcClient(context_data={"correlation_id": "test-cli"}, timeout=10) as rpc:
        yield rpc.groups


def test_staff_create_creates_then_promotes(migrated, groups_service):
    password = "staff-password-1"
    created = civic(
        migrated,
        "staff",
        "create",
        "--email",
        "Chief@Jokkmokk.example",
        "--display-name",
        "Maria Sarri",
        CIVIC_STAFF_PASSWORD=password,
    )
    assert created.returncode == 0, created.stderr
    assert "created staff account chief@jokkmokk.example" in created.stdout
    assert password not in created.stdout + created.stderr
    session = groups_service.sign_in("chief@jokkmokk.example", password)
    principal = groups_service.authenticate(session["token"])
    assert principal["is_staff"] is True
    assert principal["email_confirmed"] is True  # staff made here need no emailed link

    resident_password = "resident-password"
    groups_service.register_account(
        {
            "email": "karin@jokkmokk.example",
            "password": resident_password,
            "display_name": "Karin Labba",
        }
    )
    token = groups_service.sign_in("karin@jokkmokk.example", resident_password)["token"]
    assert groups_service.authenticate(token)["is_staff"] is False
    assert groups_service.authenticate(token)["email_confirmed"] is False
    promoted = civic(
        migrated,
        "staff",
        "create",
        "--email",
        "karin@jokkmokk.example",
        "--display-name",
        "Karin Labba",
        "--password",
        "another-password",
    )
    assert promoted.returncode == 0, promoted.stderr
    assert "is staff now" in promoted.stdout
    assert groups_service.authenticate(token)["is_staff"] is True
    assert groups_service.authenticate(token)["email_confirmed"] is True
    # Promoting is not resetting: the resident's own password still works.
    groups_service.sign_in("karin@jokkmokk.example", resident_password)


def test_staff_create_refuses_bad_input_and_changes_nothing(migrated, groups_service):
    short = civic(
        migrated,
        "staff",
        "create",
        "--email",
        "new@jokkmokk.example",
        "--display-name",
        "New",
        "--password",
        "short",
    )
    assert short.returncode == 2
    assert "at least 10 characters" in short.stderr
    assert "short" not in short.stdout
    bad_email = civic(
        migrated,
        "staff",
        "create",
        "--email",
        "not-an-email",
        "--display-name",
        "New",
        "--password",
        "long-enough-pw",
    )
    assert bad_email.returncode == 2
    assert "--email" in bad_email.stderr
    with pytest.raises(Unauthenticated):
        groups_service.sign_in("new@jokkmokk.example", "long-enough-pw")


def test_staff_create_needs_the_running_groups_service(migrated):
    """The groups service owns its database: without it running, the command says so
    (and leaves no call waiting in its queue for the next start)."""
    password = "staff-password-1"
    result = civic(
        migrated,
        "staff",
        "create",
        "--email",
        "chief@jokkmokk.example",
        "--display-name",
        "Maria Sarri",
        CIVIC_STAFF_PASSWORD=password,
    )
    assert result.returncode == 1
    assert "the groups service is not running" in result.stderr
    assert "`civic up`" in result.stderr and "Traceback" not in result.stderr
    assert password not in result.stdout + result.stderr


# --- logs ------------------------------------------------------------------------------


def test_logs_trace_finds_one_request_in_the_real_log_lines(migrated, runner_factory):
    from services.groups.service import GroupsService

    runner = runner_factory(GroupsService)
    runner.start()
    trace = str(uuid.uuid4())
    with ClusterRpcClient(context_data={"correlation_id": trace}, timeout=10) as rpc:
        rpc.groups.register_account(
            {
                "email": "elin@jokkmokk.example",
                "password": "elin-password",
                "display_name": "Elin Åström",
            }
        )
        rpc.groups.list_groups()
    with ClusterRpcClient(context_data={"correlation_id": "someone-else"}, timeout=10) as rpc:
        rpc.groups.list_groups()

    def traced():
        result = civic(migrated, "logs", "--trace", trace, "--json")
        assert result.returncode == 0, result.stderr
        records = [json.loads(line) for line in result.stdout.splitlines()]
        done = [r for r in records if r.get("event") == "worker_done"]
        return records if len(done) >= 2 else None

    records = wait_for(traced, timeout=15, message="both calls in the log")
    assert {r["correlation_id"] for r in records} == {trace}
    entrypoints = [r["entrypoint"] for r in records if r.get("event") == "worker_done"]
    assert entrypoints == ["groups.register_account", "groups.list_groups"]
    assert [r["ts"] for r in records] == sorted(r["ts"] for r in records)
    assert "elin-password" not in json.dumps(records)

    readable = civic(migrated, "logs", "--trace", trace, "--service", "groups")
    assert readable.returncode == 0
    assert "groups.register_account worker_done" in readable.stdout
    assert "someone-else" not in readable.stdout
    none = civic(migrated, "logs", "--trace", trace, "--level", "error")
    assert none.returncode == 0 and none.stdout == ""


def test_logs_trace_asks_the_running_instances_not_only_local_files(
    migrated, runner_factory, tmp_path
):
    """The lines of a service on "another machine" (this test process, whose log file the
    command is not given) reach `civic logs --trace`: its instance answers for them."""
    from services.groups.service import GroupsService

    runner = runner_factory(GroupsService)
    runner.start()
    trace = str(uuid.uuid4())
    with ClusterRpcClient(context_data={"correlation_id": trace}, timeout=10) as rpc:
        rpc.groups.list_groups()
    elsewhere = tmp_path / "no-files-here"
    elsewhere.mkdir()

    def traced():
        result = civic(migrated, "logs", "--trace", trace, "--json", CIVIC_LOG_DIR=str(elsewhere))
        assert result.returncode == 0, result.stderr
        records = [json.loads(line) for line in result.stdout.splitlines()]
        return records if any(r.get("event") == "worker_done" for r in records) else None

    records = wait_for(traced, timeout=15, message="the instance's lines")
    assert {r["correlation_id"] for r in records} == {trace}
    assert [r["entrypoint"] for r in records if r["event"] == "worker_done"] == [
        "groups.list_groups"
    ]
    # Asked and read from the file too, each line is printed once.
    both = civic(migrated, "logs", "--trace", trace, "--json")
    lines = both.stdout.splitlines()
    assert len(lines) == len(set(lines)) and len(lines) >= len(records)


# --- the whole platform ----------------------------------------------------------------


@pytest.fixture
def platform(civic_settings):
    """`civic up` for real (every service its own process); always `civic down` after."""
    port = free_port()
    settings = {**civic_settings, "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}"}
    # No CIVIC_SMTP_HOST: `civic up` starts the local mail catcher, on a port of its own.
    extra = {"CIVIC_WEB_ADDRESS": f"127.0.0.1:{port}", "CIVIC_SMTP_PORT": str(free_port())}
    try:
        yield settings, extra
    finally:
        down = civic(settings, "down", **extra)
        assert down.returncode == 0, down.stderr


def http_get(url: str, correlation_id: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"X-Correlation-ID": correlation_id})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_up_serves_the_platform_traces_a_request_and_down_stops_it(platform):
    settings, extra = platform
    up = civic(settings, "up", "--no-seed", "--wait", "90", timeout=150, **extra)
    assert up.returncode == 0, up.stdout + up.stderr
    base = f"http://{extra['CIVIC_WEB_ADDRESS']}"
    assert f"Civic is running: {base}" in up.stdout
    run_dir = Path(settings["CIVIC_VAR_DIR"]) / "run"
    pids = {service: int((run_dir / f"{service}.pid").read_text()) for service in config.SERVICES}

    status = civic(settings, "status", **extra)
    assert status.returncode == 0, status.stdout + status.stderr
    for service in config.SERVICES:
        assert f"running (pid {pids[service]})" in status.stdout

    again = civic(settings, "up", "--no-seed", "--services", "groups", **extra)
    assert again.returncode == 0, again.stderr
    assert f"groups         already running (pid {pids['groups']})" in again.stdout

    code, document = http_get(f"{base}/api/v1/openapi.json", "openapi-trace")
    assert code == 200 and document["openapi"].startswith("3.")
    trace = str(uuid.uuid4())
    code, listing = http_get(f"{base}/api/v1/groups", trace)
    assert code == 200 and listing["items"] == []

    def story():
        result = civic(settings, "logs", "--trace", trace, "--json")
        records = [json.loads(line) for line in result.stdout.splitlines()]
        services = {r.get("service") for r in records}
        return records if {"gateway", "groups"} <= services else None

    records = wait_for(story, timeout=20, message="gateway and groups lines of one request")
    assert [r["ts"] for r in records] == sorted(r["ts"] for r in records)
    groups_done = [r for r in records if r.get("entrypoint") == "groups.list_groups"]
    assert groups_done, records

    seeded = civic(settings, "seed", timeout=120, **extra)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    assert "demo data loaded" in seeded.stdout
    code, listing = http_get(f"{base}/api/v1/groups?per_page=100", "after-seed")
    names = {group["name"] for group in listing["items"]}
    assert {"Trafik och gator", "Jokkmokks skidklubb", "Jokkmokks föreningsnätverk"} <= names
    # Nobody reads the demo's mailboxes: its residents count as confirmed.
    from demo import DEFAULT_PASSWORD as demo_password  # CIVIC_* is not passed on

    signed_in = urllib.request.Request(
        f"{base}/api/v1/sessions",
        method="POST",
        data=json.dumps(
            {"email": "karin.labba@jokkmokk.example", "password": demo_password}
        ).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(signed_in, timeout=10) as response:
        token = json.loads(response.read())["token"]
    me = urllib.request.Request(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(me, timeout=10) as response:
        assert json.loads(response.read())["email_confirmed"] is True
    reseeded = civic(settings, "seed", **extra)
    assert reseeded.returncode == 0
    assert "already loaded" in reseeded.stdout

    down = civic(settings, "down", **extra)
    assert down.returncode == 0, down.stderr
    assert not list(run_dir.glob("*.pid"))
    for service, pid in pids.items():
        assert not _alive(pid), f"{service} (pid {pid}) still running after civic down"
    with pytest.raises(OSError):
        http_get(f"{base}/healthz", "after-down")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


# --- asyncapi ------------------------------------------------------------------------


def test_asyncapi_document_covers_the_whole_catalogue(tmp_path):
    import yaml

    from civic.contracts import CATALOGUE

    out = tmp_path / "asyncapi.yaml"
    result = subprocess.run(
        [str(CIVIC), "asyncapi", "--output", str(out)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    document = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert document["asyncapi"] == "2.6.0"
    # This process's catalogue also holds the toy contracts of other tests.
    real = {
        event_type
        for event_type, contract in CATALOGUE.items()
        if contract.schema.__module__.startswith(("civic.", "services."))
    }
    assert real <= set(document["channels"]) <= set(CATALOGUE)
    found = topology.subscriptions()
    for event_type in document["channels"]:
        contract = CATALOGUE[event_type]
        channel = document["channels"][event_type]
        exchange = channel["bindings"]["amqp"]["exchange"]
        assert exchange["name"] == f"{contract.producer}.events"
        assert exchange["type"] == "topic"
        assert {s["queue"] for s in channel["x-civic-subscribers"]} == {
            s.queue for s in found if s.event_type == event_type
        }
        message = document["components"]["messages"][event_type]
        envelope_ref, specific = message["payload"]["allOf"]
        assert envelope_ref == {"$ref": "#/components/schemas/Envelope"}
        assert specific["properties"]["type"]["const"] == event_type
        data_ref = specific["properties"]["data"]["$ref"]
        data = document["components"]["schemas"][data_ref.rsplit("/", 1)[1]]
        declared = contract.schema().fields
        assert set(data["properties"]) == set(declared)
        assert set(data.get("required", [])) == {
            name for name, field in declared.items() if field.required
        }
    envelope = document["components"]["schemas"]["Envelope"]
    assert {"id", "type", "version", "occurred_at", "producer", "correlation_id", "data"} <= set(
        envelope["required"]
    )

    as_json = subprocess.run([str(CIVIC), "asyncapi"], capture_output=True, text=True, timeout=60)
    assert json.loads(as_json.stdout) == document
