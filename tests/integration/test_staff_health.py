"""The staff health report (services.gateway.staff): each service's answer, its queues
with consumers and message rates from the management API, the dead-letter count asked
of the broker, the instances answering for themselves, and what is wrong, in order."""

from __future__ import annotations

from services.gateway import staff
from tests.integration.test_deadletters import _park_for


class Answers:
    def __init__(self, answer):
        self.answer = answer

    def health(self, timeout):
        return self.answer


class Down:
    def health(self, timeout):
        raise TimeoutError


def test_the_report_counts_dead_letters_and_says_what_is_wrong_first(toys_world):
    world = toys_world
    world.declare()
    envelope = {"id": "7d7a3a56-0a8e-4f3c-9a43-3f7e1a7b1c01", "type": "toy_noted"}
    _park_for(world, "some-handler", envelope)
    clients = {
        "proposals": Answers(
            {
                "service": "proposals",
                "status": "ok",
                "version": "1.2.3",
                "database": "ok",
                "outbox_unsent": 0,
                "outbox_parked": 2,
            }
        ),
        "groups": Down(),
    }

    report = staff.system_health(
        clients,
        ["proposals", "groups"],
        world.settings["RABBIT_MANAGEMENT_URI"],
        world.amqp_uri,
    )

    assert report["dead_letters"] == {"count": 1, "queue": "civic.dead-letters"}
    assert report["management"] == {"ok": True, "error": None}
    assert report["services"]["groups"]["status"] == "down"
    proposals = report["services"]["proposals"]
    assert proposals["version"] == "1.2.3" and "service" not in proposals
    for queue in proposals["queues"]:  # whatever this vhost holds of theirs
        assert {"publish_rate", "deliver_rate", "consumers", "messages"} <= set(queue)
    # No instance of either runs here: none answers (or the kernel cannot ask).
    assert proposals["instances"] in (None, [])
    kinds = [(item["kind"], item["service"]) for item in staff.problems(report)]
    assert kinds[0] == ("down", "groups")
    assert ("dead_letters", None) in kinds and ("outbox_parked", "proposals") in kinds
    assert kinds.index(("dead_letters", None)) < kinds.index(("outbox_parked", "proposals"))
    parked = next(item for item in staff.problems(report) if item["kind"] == "outbox_parked")
    assert parked["count"] == 2


def test_the_report_without_the_management_api_still_names_every_service(toys_world):
    world = toys_world
    world.declare()
    report = staff.system_health(
        {"proposals": Down()}, ["proposals"], "http://127.0.0.1:9/", world.amqp_uri
    )
    assert report["services"]["proposals"]["queues"] is None
    assert report["orphaned_queues"] is None and not report["management"]["ok"]
    assert report["dead_letters"]["count"] == 0
    kinds = [item["kind"] for item in staff.problems(report)]
    assert kinds == ["down", "management"]


def test_retry_queues_fold_into_their_handler_queue():
    queues = [
        {"name": "evt-a-x--s.h", "messages": 1, "consumers": 1},
        {"name": "evt-a-x--s.h.retry-500ms", "messages": 2, "consumers": 0},
        {"name": "evt-a-x--s.h.retry-1000ms", "messages": 3, "consumers": 0},
        {"name": "rpc-s", "messages": 0, "consumers": 0},
    ]
    folded = staff.folded_queues(queues)
    assert [(q["name"], q["messages"], q["retrying"]) for q in folded] == [
        ("evt-a-x--s.h", 1, 5),
        ("rpc-s", 0, 0),
    ]
    assert staff.queue_problems(folded[1]) == ["no_consumer"]
    assert staff.queue_problems(folded[0]) == []


def test_what_is_wrong_comes_in_order_of_urgency():
    from civic.clock import iso, utcnow

    report = {
        "services": {
            "events": {
                "status": "ok",
                "outbox_parked": 0,
                "outbox_oldest_unsent_at": iso(utcnow().replace(microsecond=0))[:19] + "+00:00",
                "instances": [{"instance_id": "a"}],
                "instances_listening": 2,
                "queues": [],
            },
            "groups": {
                "status": "ok",
                "outbox_oldest_unsent_age_s": 600,
                "instances": [],
                "instances_listening": 0,
                "queues": [{"name": "rpc-groups", "messages": 3, "consumers": 0}],
            },
        },
        "management": {"ok": True, "error": None},
        "orphaned_queues": [{"name": "evt-x--groups.gone", "service": "groups", "messages": 1}],
        "dead_letters": {"count": 0},
    }
    found = staff.problems(report)
    assert [(item["kind"], item["service"], item["count"]) for item in found] == [
        ("instances_silent", "events", 1),
        ("no_instances", "groups", None),
        ("outbox_behind", "groups", 600.0),
        ("queue_without_consumer", "groups", None),
        ("orphaned_queues", None, 1),
    ]
    assert staff.outbox_oldest_age(report["services"]["events"]) < 60
