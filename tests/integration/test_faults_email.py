"""Finding 4 of the faults issue (emails can go twice) and finding 12's email half (email
rows lose the correlation id), against a real database and a real SMTP server.

Two senders share one queue as two notifications instances would; a crash is a
`BaseException` raised right after the SMTP server accepted a message and before the
row was marked, so nothing the sender would catch; times are injected (`send_due(now)`)
except in the two-senders test, where the lease runs out in real time.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import eventlet
import pytest
from sqlalchemy import insert, select

from civic import migrations
from civic.clock import utcnow
from civic.db import ServiceDatabase
from services.notifications import domain, email
from services.notifications.models import Email, metadata
from tests.integration.conftest import read_log_lines
from tests.integration.notifications_support import SmtpServer
from tests.support import envelope

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # a Tuesday, 09:00 in Jokkmokk


@pytest.fixture
def db(civic_settings):
    migrations.upgrade("notifications")
    database = ServiceDatabase("notifications", metadata)
    yield database
    database.dispose()


@pytest.fixture
def smtp(tmp_path):
    servers = []

    def start(delay=0.0):
        server = SmtpServer(tmp_path / f"smtp{len(servers)}", delay=delay).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def queue(db, count: int, now: datetime) -> list[str]:
    rows = email.queue_rows(
        [
            {
                "account_id": str(uuid.uuid4()),
                "kind": "notification",
                "locale": "sv",
                "subject": f"Nummer {number}",
                "body": "Något hände.",
            }
            for number in range(count)
        ],
        now,
    )
    with db.unit_of_work() as uow:
        uow.session.execute(insert(Email.__table__), rows)
    return [row["id"] for row in rows]


def the_email(db, email_id) -> Email:
    with db.sessions() as session:
        return session.get(Email, email_id)


def everyone(account_ids):
    return {account_id: "resident@example.org" for account_id in account_ids}


class Crash(BaseException):
    """The sending process dies here (kill -9): nothing in the sender catches it."""


class CrashAfterSending(email.SmtpTransport):
    """The server has accepted the message; the process dies before the row is marked."""

    def send(self, message):
        super().send(message)
        raise Crash


# --- finding 4: emails can go twice ------------------------------------------------------


def test_three_senders_with_a_slow_server_deliver_each_email_once(db, smtp, monkeypatch):
    # A batch of 12 at 0.25 s a message takes 3 s: more than twice the lease.
    monkeypatch.setattr(email, "LEASE", timedelta(seconds=1.2))
    server = smtp(delay=0.25)
    settings = email.MailSettings(port=server.port, interval=1.0)
    email_ids = queue(db, 12, utcnow() - timedelta(minutes=1))
    senders = [email.EmailSender(db.unit_of_work, everyone, settings) for _ in range(3)]
    deadline = utcnow() + timedelta(seconds=60)

    def all_sent() -> bool:
        with db.sessions() as session:
            statuses = session.execute(
                select(Email.status).where(Email.id.in_(email_ids))
            ).scalars()
            return all(status == "sent" for status in statuses)

    def keep_sending(sender):
        while not all_sent() and utcnow() < deadline:
            sender.send_due(utcnow())
            eventlet.sleep(0.05)  # the next tick of this instance's timer

    workers = [eventlet.spawn(keep_sending, sender) for sender in senders]
    for worker in workers:
        worker.wait()

    assert all_sent()
    subjects = sorted(message["Subject"] for message in server.messages())
    assert subjects == sorted(f"Nummer {number}" for number in range(12))  # each once
    message_ids = {message["Message-ID"] for message in server.messages()}
    assert message_ids == {f"<{email_id}@localhost>" for email_id in email_ids}


def test_a_crash_between_send_and_mark_resends_once_with_the_same_message_id(db, smtp):
    server = smtp()
    settings = email.MailSettings(port=server.port, interval=1.0)
    [email_id] = queue(db, 1, NOW)

    def crashing_sender():
        return email.EmailSender(
            db.unit_of_work, everyone, settings, transport=CrashAfterSending(settings)
        )

    with pytest.raises(Crash):
        crashing_sender().send_due(NOW)
    assert len(server.messages()) == 1
    # Within its lease the row is nobody else's, even if its sender is gone.
    sender = email.EmailSender(db.unit_of_work, everyone, settings)
    assert sender.send_due(NOW + timedelta(minutes=1))["sent"] == 0

    # The lease has run out: sent again, once, with the same Message-ID, and the
    # process dies again before marking it.
    later = NOW + email.LEASE + timedelta(minutes=1)
    with pytest.raises(Crash):
        crashing_sender().send_due(later)
    first, again = server.messages()
    assert first["Message-ID"] == again["Message-ID"] == f"<{email_id}@localhost>"

    # At most one resend: the next instance to find it does not hand it over again.
    much_later = later + email.LEASE + timedelta(minutes=1)
    sender.send_due(much_later)
    assert sender.send_due(much_later + timedelta(days=1))["sent"] == 0
    assert len(server.messages()) == 2
    row = the_email(db, email_id)
    assert row.status == "sent"


def test_a_crash_then_a_resend_that_goes_through_marks_the_email_sent(db, smtp):
    server = smtp()
    settings = email.MailSettings(port=server.port, interval=1.0)
    [email_id] = queue(db, 1, NOW)
    with pytest.raises(Crash):
        email.EmailSender(
            db.unit_of_work, everyone, settings, transport=CrashAfterSending(settings)
        ).send_due(NOW)
    sender = email.EmailSender(db.unit_of_work, everyone, settings)
    later = NOW + email.LEASE + timedelta(seconds=1)
    assert sender.send_due(later)["sent"] == 1
    assert sender.send_due(later + timedelta(days=1))["sent"] == 0
    first, again = server.messages()
    assert first["Message-ID"] == again["Message-ID"] == f"<{email_id}@localhost>"
    row = the_email(db, email_id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)


# --- finding 12: email rows lose the correlation id ------------------------------------


def handle(db, event_type, data, correlation_id, actor_id=None):
    item = dataclasses.replace(
        envelope(event_type, data, actor_id=actor_id),
        correlation_id=correlation_id,
        occurred_at=NOW,
    )
    with db.unit_of_work() as uow:
        domain.handle_event(uow, item, email.MailSettings(), now=NOW)


def test_an_email_keeps_the_correlation_id_of_what_caused_it(db, smtp, civic_settings):
    server = smtp()
    eager, waiting = str(uuid.uuid4()), str(uuid.uuid4())
    for account_id in (eager, waiting):
        handle(
            db,
            "account_registered",
            {"account_id": account_id, "display_name": "A", "locale": "sv"},
            correlation_id=f"registered-{account_id}",
            actor_id=account_id,
        )
    with db.unit_of_work() as uow:
        domain.set_preferences(uow, eager, email="immediate")
    handle(
        db,
        "email_confirmation_requested",
        {"account_id": eager, "locale": "sv"},
        correlation_id="confirm-request",
    )
    handle(
        db,
        "join_requested",
        {"group_id": str(uuid.uuid4()), "account_id": str(uuid.uuid4()), "admin_ids": [eager]},
        correlation_id="join-request",
    )
    handle(
        db,
        "join_requested",
        {"group_id": str(uuid.uuid4()), "account_id": str(uuid.uuid4()), "admin_ids": [waiting]},
        correlation_id="join-request-for-the-digest",
    )
    tomorrow = NOW + timedelta(days=1)
    with db.unit_of_work() as uow:
        assert email.enqueue_due_digests(uow, tomorrow, email.MailSettings()) == 1

    with db.sessions() as session:
        rows = session.execute(select(Email)).scalars().all()
    by_kind = {row.kind: row for row in rows}
    assert by_kind["confirmation"].correlation_id == "confirm-request"
    assert by_kind["notification"].correlation_id == "join-request"
    digest_correlation = by_kind["digest"].correlation_id
    assert digest_correlation  # a digest has its own: it is caused by no one event
    assert digest_correlation not in {"join-request-for-the-digest", "join-request"}

    settings = email.MailSettings(port=server.port, interval=1.0)
    sender = email.EmailSender(db.unit_of_work, everyone, settings)
    # The handlers queued their rows at the wall clock's time, the digest at `tomorrow`:
    # send when all of them are due, whatever today's date is.
    send_at = max(tomorrow, utcnow() + timedelta(minutes=1))
    assert sender.send_due(send_at)["sent"] == 3
    log_file = Path(civic_settings["CIVIC_LOG_DIR"]) / "tests.log"
    sent = {
        line["email_id"]: line["correlation_id"]
        for line in read_log_lines([log_file])
        if line.get("event") == "email_sent"
    }
    assert sent == {row.id: row.correlation_id for row in rows}
