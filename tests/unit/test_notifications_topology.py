"""The kernel's every-event subscription: one queue, bound type by type (never `#`)."""

from sqlalchemy import MetaData

from civic import topology
from civic.contracts import CATALOGUE
from civic.db import Database, kernel_tables
from civic.messaging import (
    AllEventsSubscription,
    all_events_handler,
    catalogued_routes,
    event_handler,
)
from civic.service import ServiceBase


class Listener(ServiceBase):
    name = "groups"  # a producer itself: its own events are left out
    db = Database(kernel_tables(MetaData())[0].metadata)

    @all_events_handler(name="on_anything")
    def on_anything(self, envelope, uow):
        pass

    @event_handler("proposals", "proposal_submitted", name="on_submitted")
    def on_submitted(self, envelope, uow):
        pass


def test_one_queue_is_bound_to_every_catalogued_type_of_the_other_producers():
    found = topology.subscriptions([Listener])
    shared = [sub for sub in found if sub.method == "on_anything"]
    expected = {(c.producer, c.type) for c in CATALOGUE.values() if c.producer != "groups"}
    assert {(sub.source, sub.event_type) for sub in shared} == expected
    assert {sub.queue for sub in shared} == {"evt-all--groups.on_anything"}

    queues = {queue.name: queue for queue in topology.queues(found)}
    every = queues["evt-all--groups.on_anything"]
    assert every.durable and not every.auto_delete
    bound = {(b.exchange.name, b.routing_key) for b in every.bindings}
    assert bound == {(f"{producer}.events", event_type) for producer, event_type in expected}
    assert not any("#" in key or "*" in key for _, key in bound)
    assert any(name.startswith("evt-all--groups.on_anything.retry-") for name in queues)
    # Ordinary handlers keep their own queue.
    assert (
        queues["evt-proposals-proposal_submitted--groups.on_submitted"].routing_key
        == "proposal_submitted"
    )


def test_own_events_can_be_included():
    assert ("groups", "group_created") not in catalogued_routes("groups")
    assert ("groups", "group_created") in catalogued_routes()
    every = AllEventsSubscription("on_all", include_own=True)
    assert ("groups", "group_created") in every.routes("groups")
