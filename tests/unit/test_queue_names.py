"""Civic's queue names, and what staff's health view reads back from them."""

from civic.messaging import all_events_queue_name, queue_name, queue_owner, retry_queue_name
from services.gateway.staff import owns_queue


def test_a_handler_queue_and_its_retry_queues_name_their_service():
    queue = queue_name("groups", "member_joined", "proposals", "on_member_joined")
    assert queue == "evt-groups-member_joined--proposals.on_member_joined"
    assert queue_owner(queue) == "proposals"
    assert queue_owner(retry_queue_name(queue, 1.5)) == "proposals"
    assert queue_owner(all_events_queue_name("notifications", "on_event")) == "notifications"


def test_other_queues_have_no_handler_owner():
    for queue in (
        "rpc-groups",
        "civic.dead-letters",
        "evt-groups-x--proposals",
        "evt-groups-x--proposals.on_x.retry-soon",
    ):
        assert queue_owner(queue) is None


def test_a_service_owns_its_rpc_queue_and_its_handlers_queues_only():
    assert owns_queue("groups", "rpc-groups")
    assert owns_queue("events", "evt-groups-account_erased--events.on_account_erased")
    assert not owns_queue("events", "evt-groups-account_erased--proposals.on_account_erased")
    assert not owns_queue("events", "rpc-groups")
