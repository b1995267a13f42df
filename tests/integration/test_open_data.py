"""Open data (issue 13): the notifications service running with real RabbitMQ and its
migrated database keeps the open datasets from the events it hears (one queue per event
type), and answers `open_dataset` / `open_data_catalogue` over RPC: facts out of order
and twice, a proposal hidden by reports left out, no account id anywhere."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from nameko.standalone.rpc import ClusterRpcClient

from civic import migrations, topology
from civic.errors import NotFound
from services.notifications.service import NotificationsService
from tests.conftest import wait_for
from tests.support import envelope, publish

AUTHOR = "open-data-author-" + uuid.uuid4().hex
GROUP = str(uuid.uuid4())


def uid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def running(civic_settings, runner_factory):
    migrations.upgrade("notifications")
    topology.declare(civic_settings["AMQP_URI"], services=[NotificationsService])
    runner_factory(NotificationsService).start()
    with ClusterRpcClient() as client:
        yield civic_settings["AMQP_URI"], client


def titles(client, name: str) -> set[str]:
    return {row["title"] for row in client.notifications.open_dataset(name)["rows"]}


def test_the_datasets_follow_the_events_and_name_no_account(running):
    amqp, client = running
    shown, hidden = uid(), uid()
    ref = {"author_id": AUTHOR}
    submitted = [
        envelope(
            "proposal_submitted",
            {
                **ref,
                "proposal_id": pid,
                "title": title,
                "category": "leisure",
                "channel": "online",
                "status": "submitted",
            },
            actor_id=AUTHOR,
        )
        for pid, title in ((shown, "Isbana i parken"), (hidden, "Något som anmäldes"))
    ]
    starts = datetime.now(UTC) + timedelta(days=9)
    publish(
        amqp,
        *submitted,
        submitted[0],  # twice
        envelope(
            "proposal_hidden",
            {**ref, "proposal_id": hidden, "title": "Något som anmäldes", "report_count": 3},
        ),
        envelope(
            "event_scheduled",
            {
                "event_id": uid(),
                "title": "Städdag",
                "organiser_group_id": GROUP,
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=3)).isoformat(),
                "kind": "clean_up_day",
                "location": "Talvatis",
                "capacity": None,
                "proposal_id": shown,
                "project_id": None,
                "created_by": AUTHOR,
            },
            actor_id=AUTHOR,
        ),
        envelope(
            "project_registered",
            {
                "project_id": uid(),
                "title": "Isbanan",
                "lead_group_id": GROUP,
                "partner_group_ids": [],
                "origin_proposal_id": shown,
                "origin_proposal_author_id": AUTHOR,
                "created_by": AUTHOR,
            },
            actor_id=AUTHOR,
        ),
        envelope(
            "opening_posted",
            {
                "opening_id": uid(),
                "title": "Guide",
                "business_group_id": GROUP,
                "business_name": "Fjällturer AB",
                "sector": "tourism",
                "employment_type": "seasonal",
                "apply_by": "2027-04-30",
                "created_by": AUTHOR,
            },
            actor_id=AUTHOR,
        ),
    )
    wait_for(
        lambda: (
            titles(client, "proposals") == {"Isbana i parken"}
            and titles(client, "events") == {"Städdag"}
            and titles(client, "projects") == {"Isbanan"}
            and titles(client, "openings") == {"Guide"}
        ),
        timeout=20,
        message="every dataset to hold what was published (the hidden proposal left out)",
    )
    everything = json.dumps(
        [
            client.notifications.open_dataset(name)
            for name in ("proposals", "events", "projects", "openings")
        ]
    )
    assert AUTHOR not in everything
    catalogue = {
        item["name"]: item for item in client.notifications.open_data_catalogue()["datasets"]
    }
    assert catalogue["proposals"]["count"] == 1 and catalogue["openings"]["count"] == 1
    assert all(item["modified"] for item in catalogue.values())
    with pytest.raises(NotFound):
        client.notifications.open_dataset("accounts")
