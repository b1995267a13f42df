"""Shared fixtures: a fresh RabbitMQ vhost (nameko's `rabbit_config`) and fresh service
databases for every test, on SQLite or PostgreSQL (`CIVIC_TEST_DB`)."""

from civic import green

green.patch()

import os  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

import pytest  # noqa: E402
from nameko import config as nameko_config  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from civic import config as civic_config  # noqa: E402
from civic import log  # noqa: E402

TEST_DB = os.environ.get("CIVIC_TEST_DB", "sqlite")
PG_SERVER = os.environ.get("CIVIC_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
PG_DATABASE = "civic_test"
# The type of the queues the tests declare. Classic by default: each test has a vhost of
# its own, and a quorum queue is a Raft group the broker starts and, when the vhost is
# deleted, stops again (hundreds a minute hung a single-node RabbitMQ 3.10 under a whole
# suite). The quorum behaviour itself is tested with CIVIC_QUEUE_TYPE=quorum where it
# matters (tests marked `quorum`, the chaos suite, the cluster), and the whole suite runs
# on quorum queues with CIVIC_TEST_QUEUE_TYPE=quorum.
TEST_QUEUE_TYPE = os.environ.get("CIVIC_TEST_QUEUE_TYPE", "classic")


def wait_for(predicate, timeout=15.0, interval=0.05, message="condition"):
    """Poll until `predicate()` is truthy; returns its value or fails at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def pg_url():
    if TEST_DB != "postgresql":
        return None
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": PG_DATABASE}
        ).first()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
    admin.dispose()
    return f"{PG_SERVER}/{PG_DATABASE}"


@pytest.fixture
def civic_settings(request, rabbit_config, tmp_path, pg_url):
    """nameko config for one test: its own vhost, databases, log directory; quorum queues
    for a test marked `quorum`."""
    queue_type = "quorum" if request.node.get_closest_marker("quorum") else TEST_QUEUE_TYPE
    env = {
        "CIVIC_AMQP_URI": nameko_config["AMQP_URI"],
        "CIVIC_VAR_DIR": str(tmp_path / "var"),
        "CIVIC_RETRY_DELAYS": "0.2,0.4",
        "CIVIC_RELAY_INTERVAL": "0.2",
        "CIVIC_RPC_TIMEOUT": "5",
        "CIVIC_WEB_ADDRESS": "127.0.0.1:0",
        "CIVIC_LOG_LEVEL": "INFO",
        "CIVIC_QUEUE_TYPE": queue_type,
    }
    if pg_url:
        env["CIVIC_DATABASE_URL"] = pg_url
        env["CIVIC_SCHEMA_PREFIX"] = f"t{uuid.uuid4().hex[:10]}_"
    settings = civic_config.from_env(env)
    settings["AMQP_URI"] = nameko_config["AMQP_URI"]
    with nameko_config.patch(settings, clear=False):
        log.configure("tests", log_dir=settings["CIVIC_LOG_DIR"], fmt="json", level="INFO")
        yield settings
    if pg_url:
        from civic.db import drop_schema

        for service in civic_config.DOMAIN_SERVICES:
            drop_schema(pg_url, settings["CIVIC_SCHEMA_PREFIX"] + service)


@pytest.fixture
def migrated(civic_settings):
    """Every domain service's database migrated to head, and the topology declared."""
    from civic import topology
    from tests.support import migrate

    for service in civic_config.DOMAIN_SERVICES:
        migrate(service)
    topology.declare(civic_settings["AMQP_URI"])
    return civic_settings


@pytest.fixture
def published(migrated):
    """What the domain services publish from now on, read from the broker:
    `published("groups", "member_joined")` (see tests.support.Publications)."""
    from tests.support import Publications

    publications = Publications(migrated["AMQP_URI"])
    yield publications
    publications.close()
