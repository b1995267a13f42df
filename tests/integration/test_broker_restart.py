"""The transactional outbox across a real broker outage: stops and restarts the local
RabbitMQ (`rabbitmqctl stop_app` / `start_app`). It would break any other test using the
broker at that moment, so it is skipped unless asked for (`pytest -m broker_restart`, or
CIVIC_TEST_BROKER_RESTART=1; see conftest.py) and belongs last, run alone."""

import shutil
import subprocess

import pytest
import requests

from civic.db import Database
from civic.messaging import queue_name
from tests.conftest import wait_for
from tests.integration.toys import ToySink, ToySource

pytestmark = pytest.mark.broker_restart

SINK_QUEUE = queue_name("toysource", "toy_noted", "toysink", "on_noted")


def rabbitmqctl(*args, timeout=120):
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=timeout)


def management_answers(settings) -> bool:
    try:
        return (
            requests.get(f"{settings['RABBIT_MANAGEMENT_URI']}/api/overview", timeout=2).status_code
            == 200
        )
    except requests.RequestException:
        return False


def container_database(runner, service_name):
    """The ServiceDatabase a running container's `Database` dependency uses."""
    container = runner.service_map[service_name]
    [dependency] = [ext for ext in container.dependencies if isinstance(ext, Database)]
    return dependency.database


@pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="needs a local RabbitMQ")
def test_event_written_while_the_broker_is_down_reaches_its_consumer(toys_world):
    world = toys_world
    world.declare(ToySink)
    producer = world.start(ToySource)
    world.start(ToySink)
    producer_db = container_database(producer, "toysource")
    try:
        rabbitmqctl("stop_app")
        # Written through the producer's own unit of work: no RPC while the broker is down.
        with producer_db.unit_of_work({"correlation_id": "corr-down"}) as uow:
            envelope = uow.publish("toy_noted", {"n": 99})
        assert producer_db.relay.unsent_count() == 1
        assert world.outbox_row("toysource", envelope.id).sent_at is None
    finally:
        rabbitmqctl("start_app")
        rabbitmqctl("await_startup")
        # Later tests create their vhosts through the management API.
        wait_for(
            lambda: management_answers(world.settings),
            timeout=60,
            message="the management API back",
        )

    # The producer's relay timer publishes it, the consumer reconnects and handles it.
    wait_for(
        lambda: world.noted() == [(envelope.id, 99, "corr-down")],
        timeout=60,
        message="the event handled after the restart",
    )
    assert producer_db.relay.unsent_count() == 0
