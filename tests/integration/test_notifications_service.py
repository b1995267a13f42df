"""The notifications service running, with real RabbitMQ, database and SMTP server:
redelivered events, events that waited while it was stopped, and email that has to
be retried or waits for the groups service."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from nameko import config as nameko_config
from nameko.standalone.rpc import ClusterRpcClient
from sqlalchemy import select

from civic import migrations, topology
from civic.db import ServiceDatabase
from services.groups.service import GroupsService
from services.notifications import email
from services.notifications.models import Email, Follow, Notification, metadata
from services.notifications.service import NotificationsService
from tests.conftest import wait_for
from tests.integration.conftest import read_log_lines
from tests.integration.notifications_support import SmtpServer, without_confirmations
from tests.support import count, envelope, publish

PASSWORD = "correct horse battery"


@pytest.fixture
def smtp(tmp_path):
    servers = []

    def start(refuse_first=0):
        server = SmtpServer(tmp_path / f"smtp{len(servers)}", refuse_first).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def world(civic_settings):
    for service in ("groups", "notifications"):
        migrations.upgrade(service)
    topology.declare(civic_settings["AMQP_URI"], services=[GroupsService, NotificationsService])
    database = ServiceDatabase("notifications", metadata)
    with nameko_config.patch({"CIVIC_EMAIL_INTERVAL": 0.2}, clear=False):
        yield database
    database.dispose()


def rows(database, *columns, where=()):
    with database.sessions() as session:
        return session.execute(select(*columns).where(*where)).all()


def account(client, name, locale="en"):
    return client.groups.register_account(
        {
            "email": f"{name.lower()}.{uuid.uuid4().hex[:8]}@example.org",
            "password": PASSWORD,
            "display_name": name,
            "locale": locale,
        }
    )


def as_actor(account_id):
    """The caller, as the gateway tells a service of it."""
    return {"account_id": account_id, "is_staff": False, "display_name": ""}


def uid():
    return str(uuid.uuid4())


# --- delivery -----------------------------------------------------------------------------


def test_a_redelivered_event_tells_each_recipient_once(world, civic_settings, runner_factory):
    runner_factory(NotificationsService).start()
    admins = [uid(), uid()]
    group_id = uid()
    publish(
        civic_settings["AMQP_URI"],
        *[
            envelope(
                "member_joined",
                {"group_id": group_id, "account_id": admin, "role": "admin"},
                actor_id=admin,
            )
            for admin in admins
        ],
    )
    wait_for(lambda: count(world, Follow) == 2, message="the admins known")
    request = envelope(
        "join_requested", {"group_id": group_id, "account_id": uid(), "admin_ids": admins}
    )
    publish(civic_settings["AMQP_URI"], request, request, request)

    def skipped():
        lines = read_log_lines([f"{civic_settings['CIVIC_LOG_DIR']}/tests.log"])
        return (
            len(
                [
                    line
                    for line in lines
                    if line.get("event") == "duplicate_skipped"
                    and line.get("message_id") == request.id
                ]
            )
            == 2
        )

    wait_for(skipped, message="both redeliveries skipped")
    told = rows(world, Notification.account_id, where=[Notification.event_id == request.id])
    assert sorted(account_id for (account_id,) in told) == sorted(admins)


def test_events_published_while_stopped_are_each_told_exactly_once(
    world, civic_settings, runner_factory
):
    organiser, members = uid(), [uid(), uid(), uid()]
    group_id = uid()
    runner = runner_factory(NotificationsService)
    runner.start()
    publish(
        civic_settings["AMQP_URI"],
        envelope(
            "group_created",
            {
                "group_id": group_id,
                "name": "Byalaget",
                "kind": "association",
                "open": True,
                "created_by": organiser,
            },
            actor_id=organiser,
        ),
        *[
            envelope(
                "member_joined",
                {"group_id": group_id, "account_id": member, "role": "member"},
                actor_id=member,
            )
            for member in [organiser, *members]
        ],
    )
    wait_for(lambda: count(world, Follow) == 4, message="the members known")
    runner.stop()

    scheduled = [
        envelope(
            "event_scheduled",
            {
                "event_id": uid(),
                "title": f"Möte {n}",
                "organiser_group_id": group_id,
                "starts_at": "2026-12-05T17:00:00+00:00",
                "kind": "meeting",
                "ends_at": "2026-12-05T18:00:00+00:00",
                "location": "Folkets hus",
                "capacity": None,
                "proposal_id": None,
                "project_id": None,
                "created_by": organiser,
            },
            actor_id=organiser,
        )
        for n in range(200)
    ]
    publish(civic_settings["AMQP_URI"], *scheduled)
    assert count(world, Notification) == 0

    runner_factory(NotificationsService).start()
    wait_for(
        lambda: count(world, Notification) >= 600,
        timeout=120,
        interval=0.2,
        message="600 notifications",
    )
    ids = [item.id for item in scheduled]
    inbox = world.inbox
    wait_for(
        lambda: (
            count(
                world,
                inbox,
                inbox.c.message_id.in_(ids),
                inbox.c.handler == "notifications.on_event",
            )
            == 200
        ),
        message="every event handled",
    )
    pairs = rows(world, Notification.event_id, Notification.account_id)
    assert len(pairs) == 600 == len(set(pairs))
    for member in members:
        assert count(world, Notification, Notification.account_id == member) == 200
    assert count(world, Notification, Notification.account_id == organiser) == 0


# --- email ------------------------------------------------------------------------------

NOTIFICATION = Email.kind == "notification"


def test_a_refusing_smtp_server_still_gets_the_email_once(world, smtp, runner_factory):
    plain, server = smtp(), smtp(refuse_first=2)
    with nameko_config.patch(plain.settings(), clear=False):
        runner_factory(GroupsService, NotificationsService).start()
        with ClusterRpcClient() as client:
            admin, asker = account(client, "Admin"), account(client, "Asker")
        # Each got an email to confirm its address; the refusing server gets what follows.
        wait_for(
            lambda: count(world, Email, Email.kind == "confirmation", Email.status == "sent") == 2,
            message="confirmations sent",
        )
    with nameko_config.patch(server.settings(), clear=False):
        with ClusterRpcClient() as client:
            client.notifications.set_preferences(as_actor(admin["id"]), {"email": "immediate"})
            group = client.groups.create_group(
                as_actor(admin["id"]),
                {"name": f"Closed {uuid.uuid4().hex[:6]}", "kind": "association", "open": False},
            )
            client.groups.join_group(as_actor(asker["id"]), group["id"])
            wait_for(lambda: server.messages(), timeout=30, message="the email")
            # The server has the message a moment before the service commits "sent".
            wait_for(lambda: count(world, Email, Email.status == "sent"), message="sent")
    sent = rows(world, Email.status, Email.attempts, Email.account_id, where=[NOTIFICATION])
    assert [tuple(row) for row in sent] == [("sent", 3, admin["id"])]
    assert server.refused() == 2
    (message,) = server.messages()
    assert message["To"] == admin["email"]
    assert message["Subject"] == f"New request to join {group['name']}"
    assert message["List-Unsubscribe"].startswith("<http")
    body = message.get_content()
    assert f"/groups/{group['id']}" in body
    token = re.search(r"/unsubscribe/([A-Za-z0-9_.-]+)\?lang=", body).group(1)
    assert email.account_of_token(token) == admin["id"]


def test_email_waits_while_the_groups_service_is_away(world, smtp, runner_factory, civic_settings):
    server = smtp()
    with nameko_config.patch(server.settings(), clear=False):
        groups_runner = runner_factory(GroupsService)
        groups_runner.start()
        with ClusterRpcClient() as client:
            admin = account(client, "Admin")
        groups_runner.stop()

        runner_factory(NotificationsService).start()
        with ClusterRpcClient() as client:
            client.notifications.set_preferences(as_actor(admin["id"]), {"email": "immediate"})
        publish(
            civic_settings["AMQP_URI"],
            envelope(
                "join_requested",
                {"group_id": uid(), "account_id": uid(), "admin_ids": [admin["id"]]},
            ),
        )
        wait_for(lambda: count(world, Email, NOTIFICATION) == 1, message="the email queued")

        def deferred():
            lines = read_log_lines([f"{civic_settings['CIVIC_LOG_DIR']}/tests.log"])
            return any(line.get("event") == "email_addresses_unavailable" for line in lines)

        wait_for(deferred, message="a pass without addresses")
        # The admin's confirmation email too (its account_registered may be handled after
        # the join request: the notifications service starts many consumers at once).
        wait_for(lambda: count(world, Email) == 2, message="the confirmation email queued")
        # The notification's email (and the admin's confirmation email) wait.
        assert sorted(tuple(r) for r in rows(world, Email.kind, Email.status, Email.attempts)) == [
            ("confirmation", "queued", 0),
            ("notification", "queued", 0),
        ]
        assert server.messages() == []

        runner_factory(GroupsService).start()
        wait_for(
            lambda: without_confirmations(server.messages()),
            timeout=30,
            message="the email, at last",
        )
        # The server has the message a moment before the service commits "sent".
        wait_for(lambda: count(world, Email, NOTIFICATION, Email.status == "sent"), message="sent")
    assert without_confirmations(server.messages())[0]["To"] == admin["email"]
    assert [tuple(r) for r in rows(world, Email.status, where=[NOTIFICATION])] == [("sent",)]


def test_a_daily_digest_of_three_events_is_one_email(world, smtp, runner_factory, civic_settings):
    server = smtp()
    with nameko_config.patch(server.settings(), clear=False):
        runner_factory(GroupsService, NotificationsService).start()
        with ClusterRpcClient() as client:
            admin = account(client, "Admin", locale="sv")
            assert client.notifications.get_preferences(as_actor(admin["id"]))["email"] == "daily"
            group = client.groups.create_group(
                as_actor(admin["id"]),
                {"name": f"Stängd {uuid.uuid4().hex[:6]}", "kind": "association", "open": False},
            )
            for name in ("Ann", "Bo", "Cia"):
                client.groups.join_group(as_actor(account(client, name)["id"]), group["id"])
        # Registering sent each account an email to confirm its address: out of the way.
        wait_for(
            lambda: count(world, Email, Email.kind == "confirmation", Email.status == "sent") == 4,
            message="confirmations sent",
        )
        wait_for(
            lambda: count(world, Notification, Notification.digest == "pending") == 3,
            message="three notifications waiting for the digest",
        )
        # Tomorrow at 07:00 in Jokkmokk, on an injected clock: the digest is due, and
        # is sent by a pass of the sender on the same clock.
        tomorrow = datetime.now(UTC) + timedelta(days=1)
        settings = email.MailSettings.from_config()
        seven = email.last_digest_time(tomorrow, "daily", settings.digest_hour, settings.tz)
        with world.unit_of_work() as uow:
            assert email.enqueue_due_digests(uow, seven - timedelta(minutes=1), settings) == 0
        with world.unit_of_work() as uow:
            assert email.enqueue_due_digests(uow, seven + timedelta(minutes=1), settings) == 1
        with ClusterRpcClient() as client:
            sender = email.EmailSender(world.unit_of_work, client.groups.get_emails, settings)
            assert sender.send_due(seven + timedelta(minutes=2))["sent"] == 1
    (digest,) = without_confirmations(server.messages())
    assert digest["To"] == admin["email"]
    assert digest["Subject"] == "Civic: 3 nya händelser"
    assert digest.get_content().count(f"Ny ansökan om medlemskap i {group['name']}") == 3
    assert digest["List-Unsubscribe"]
