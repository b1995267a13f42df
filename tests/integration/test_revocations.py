"""A gateway's listener for revocations, with a real RabbitMQ: what it hears on a queue of
its own, what it drops, and what it does when its connection is closed under it; and the
groups service's new events going out of its outbox with no gateway listening."""

import json

import eventlet
import pytest
from kombu import Connection, Producer
from nameko.standalone.rpc import ClusterRpcClient
from sqlalchemy import select

from civic.db import ServiceDatabase
from civic.outbox import event_exchange
from services.gateway.auth import PrincipalCache
from services.gateway.revocations import QUEUE_PREFIX, REVOKING, RevocationListener
from services.groups.models import metadata
from services.groups.service import GroupsService
from tests.conftest import wait_for
from tests.support import envelope, publish, vhost_of

ANNA = "6f9619ff-8b86-d011-b42d-00c04fc964ff"
BO = "0b5f4d3e-2d7c-4f43-9d3b-3f3a2c1e9a11"
PASSWORD = "correct horse battery"


def principal(account_id):
    return {"account_id": account_id, "display_name": "Someone", "is_staff": False}


class Running:
    """A listener in a green thread of this process, with its cache."""

    def __init__(self, amqp_uri: str):
        self.cache = PrincipalCache(ttl=300)
        self.listener = RevocationListener(
            amqp_uri, self.cache.forget_account, self.cache.forget_all, heartbeat=5
        )
        self.stopped = False
        self.thread = eventlet.spawn(self.listener.run, lambda: self.stopped, eventlet.sleep)

    def stop(self):
        self.stopped = True
        self.thread.wait()


@pytest.fixture
def running(civic_settings):
    started = []

    def start():
        item = Running(civic_settings["AMQP_URI"])
        started.append(item)
        wait_for(lambda: item.listener.listening, timeout=10, message="the listener listening")
        return item

    yield start
    for item in started:
        item.stop()


def publish_raw(amqp_uri: str, body: bytes, routing_key: str) -> None:
    """Bytes on the groups service's exchange, as a broken or hostile producer might."""
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as connection:
        Producer(connection.default_channel).publish(
            body,
            exchange=event_exchange("groups"),
            routing_key=routing_key,
            content_type="application/json",
            content_encoding="utf-8",
            declare=[event_exchange("groups")],
            retry=False,
        )


def test_every_revocation_forgets_its_account_and_nothing_else(running, civic_settings):
    uri = civic_settings["AMQP_URI"]
    first, second = running(), running()
    for item in (first, second):
        item.cache.put("anna-laptop", principal(ANNA))
        item.cache.put("bo-phone", principal(BO))
    publish(uri, envelope("signed_out", {"account_id": ANNA}, actor_id=ANNA))
    # Both instances hear it: a broadcast, not a shared queue.
    for item in (first, second):
        wait_for(lambda item=item: item.cache.get("anna-laptop") is None, timeout=5)
        assert item.cache.get("bo-phone") == principal(BO)

    data = {
        "account_erased": {"account_id": BO},
        "email_confirmed": {"account_id": BO},
        "staff_role_changed": {"account_id": BO, "is_staff": True},
    }
    assert set(data) | {"signed_out"} == set(REVOKING)
    for event_type, payload in data.items():
        first.cache.put("bo-phone", principal(BO))
        publish(uri, envelope(event_type, payload))
        wait_for(lambda: first.cache.get("bo-phone") is None, timeout=5, message=event_type)


def test_a_message_that_is_no_revocation_is_dropped_and_the_listener_goes_on(
    running, civic_settings
):
    uri = civic_settings["AMQP_URI"]
    item = running()
    item.cache.put("anna-laptop", principal(ANNA))
    for junk in (b"not json", b'{"type": "signed_out"}', b"\xff\xfe", b"[]"):
        publish_raw(uri, junk, "signed_out")
    bad = envelope("signed_out", {"account_id": ANNA}).to_dict()
    bad["version"] = 7  # a version this code cannot read
    publish_raw(uri, json.dumps(bad).encode(), "signed_out")
    # Not bound: another type never reaches it.
    publish(uri, envelope("group_verified", {"group_id": "g-1"}))
    # The good one after the bad ones is heard: the bad ones changed nothing.
    item.cache.put("bo-phone", principal(BO))
    publish(uri, envelope("signed_out", {"account_id": BO}))
    wait_for(lambda: item.cache.get("bo-phone") is None, timeout=5, message="bo forgotten")
    assert item.cache.get("anna-laptop") == principal(ANNA)
    assert item.listener.listening and item.listener.connections == 1


def test_its_queue_is_its_own_and_goes_with_it(running, civic_settings, rabbit_manager):
    vhost = vhost_of(civic_settings["AMQP_URI"])
    item = running()
    queue = rabbit_manager.get_queue(vhost, item.listener.queue_name)
    assert queue["exclusive"] and queue["auto_delete"] and not queue["durable"]
    assert item.listener.queue_name.startswith(QUEUE_PREFIX)
    bindings = rabbit_manager.get_queue_bindings(vhost, item.listener.queue_name)
    assert {b["routing_key"] for b in bindings if b["source"] == "groups.events"} == set(REVOKING)
    item.stop()

    def gone():
        names = {q["name"] for q in rabbit_manager.get_queues(vhost)}
        return item.listener.queue_name not in names

    wait_for(gone, timeout=10, message="the listener's queue gone")


def test_after_its_connection_is_closed_it_listens_again_and_forgets_everything(
    running, civic_settings, rabbit_manager
):
    uri = civic_settings["AMQP_URI"]
    vhost = vhost_of(uri)
    item = running()
    item.cache.put("anna-laptop", principal(ANNA))

    def owner():
        details = rabbit_manager.get_queue(vhost, item.listener.queue_name).get("owner_pid_details")
        return isinstance(details, dict) and details.get("name")

    # (The management API says it once its statistics have come in: a few seconds.)
    connection = wait_for(owner, timeout=30, message="the connection owning its queue")
    # The broker closes the connection (as in an outage, or an operator's hand): what
    # was published meanwhile is lost for this queue, so the cache may be stale.
    rabbit_manager._delete("connections", connection)
    wait_for(
        lambda: item.listener.connections == 2 and item.listener.listening,
        timeout=20,
        message="the listener listening again",
    )
    assert item.cache.get("anna-laptop") is None and len(item.cache) == 0
    # And it hears again.
    item.cache.put("bo-phone", principal(BO))
    publish(uri, envelope("signed_out", {"account_id": BO}))
    wait_for(lambda: item.cache.get("bo-phone") is None, timeout=5, message="bo forgotten")


def test_the_new_events_leave_the_outbox_with_no_gateway_listening(
    migrated, container_factory, published
):
    """No gateway runs: the events still reach a queue (the notifications service's, which
    binds every catalogued type) and their outbox rows are sent, none kept back."""
    container = container_factory(GroupsService)
    container.start()
    with ClusterRpcClient(context_data={"correlation_id": "corr-revoke"}, timeout=15) as client:
        groups = client.groups
        groups.register_account(
            {"email": "anna@example.org", "password": PASSWORD, "display_name": "Anna"}
        )
        token = groups.sign_in("anna@example.org", PASSWORD)["token"]
        groups.sign_out(token)
        made = groups.create_staff_account("anna@example.org", PASSWORD, "Anna")
    anna = made["account"]["id"]

    def types():
        return [e["type"] for e in published("groups", distinct=True)]

    wait_for(lambda: {"signed_out", "staff_role_changed"} <= set(types()), message="published")
    database = ServiceDatabase("groups", metadata)
    try:

        def unsent():
            with database.sessions() as session:
                outbox = database.outbox
                return session.execute(
                    select(outbox.c.type, outbox.c.last_error).where(outbox.c.sent_at.is_(None))
                ).all()

        wait_for(lambda: unsent() == [], message="every outbox row sent")
    finally:
        database.dispose()
    signed_out = published("groups", "signed_out", distinct=True)
    assert [e["data"] for e in signed_out] == [{"account_id": anna}]
    changed = published("groups", "staff_role_changed", distinct=True)
    assert [e["data"] for e in changed] == [{"account_id": anna, "is_staff": True}]


def test_the_notifications_service_takes_the_new_types_in_its_stride(civic_settings):
    """Its `@all_events_handler` queue binds every catalogued type, so sign-outs and staff
    roles reach it: each is one entry of the staff activity feed, nobody is told, and
    nothing else changes."""
    from civic import migrations
    from services.notifications import activity, email
    from services.notifications import domain as notifications
    from services.notifications.models import Notification
    from services.notifications.models import metadata as notifications_metadata
    from tests.support import count

    migrations.upgrade("notifications")
    database = ServiceDatabase("notifications", notifications_metadata)
    settings = email.MailSettings(public_url="https://civic.example", interval=1.0)
    staff = {"account_id": "staff-account", "is_staff": True, "display_name": "Staff"}
    try:
        for item in (
            envelope("signed_out", {"account_id": ANNA}, actor_id=ANNA),
            envelope("staff_role_changed", {"account_id": ANNA, "is_staff": True}),
        ):
            with database.unit_of_work() as uow:
                assert notifications.handle_event(uow, item, settings) == 0
        with database.unit_of_work() as uow:
            feed = activity.list_entries(uow, staff)["items"]
        assert sorted((entry["type"], entry["subject_id"]) for entry in feed) == [
            ("signed_out", ANNA),
            ("staff_role_changed", ANNA),
        ]
        assert count(database, Notification) == 0
    finally:
        database.dispose()
