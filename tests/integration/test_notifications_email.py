"""The email queue against a real database and real SMTP servers (or a port nobody
listens on), driven with an injected clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from civic import migrations
from civic.db import ServiceDatabase
from civic.errors import Unavailable
from services.notifications import email
from services.notifications.models import Activity, Email, metadata
from tests.integration.notifications_support import SmtpServer, free_port
from tests.support import outbox_envelopes

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def db(civic_settings):
    migrations.upgrade("notifications")
    database = ServiceDatabase("notifications", metadata)
    yield database
    database.dispose()


def queue(db, account_id=None, subject="Hej") -> str:
    row = email.queue_rows(
        [
            {
                "account_id": account_id or str(uuid.uuid4()),
                "kind": "notification",
                "locale": "sv",
                "subject": subject,
                "body": "Något hände.",
            }
        ],
        NOW,
    )[0]
    with db.unit_of_work() as uow:
        uow.session.execute(insert(Email.__table__), [row])
    return row["id"]


def the_email(db, email_id) -> Email:
    with db.sessions() as session:
        return session.get(Email, email_id)


def everyone(address="resident@example.org"):
    return lambda account_ids: {account_id: address for account_id in account_ids}


def test_an_unreachable_server_costs_attempts_with_backoff_then_email_failed(db):
    settings = email.MailSettings(port=free_port(), interval=1.0)
    sender = email.EmailSender(db.unit_of_work, everyone(), settings)
    email_id = queue(db)
    now, waits = NOW, []
    for attempt in range(1, email.MAX_ATTEMPTS):
        assert sender.send_due(now) == {"sent": 0, "retry": 1, "failed": 0, "deferred": 0}
        row = the_email(db, email_id)
        assert (row.status, row.attempts) == ("queued", attempt)
        assert row.last_error == "ConnectionRefusedError"
        waits.append(row.next_attempt_at - now)
        # Not due before its time: a pass in between leaves it alone.
        assert sender.send_due(now + waits[-1] - timedelta(seconds=0.5))["retry"] == 0
        now = row.next_attempt_at
    assert waits[:3] == [timedelta(seconds=2), timedelta(seconds=4), timedelta(seconds=8)]
    assert all(wait <= email.BACKOFF_MAX for wait in waits)

    assert sender.send_due(now)["failed"] == 1
    row = the_email(db, email_id)
    assert (row.status, row.attempts) == ("failed", email.MAX_ATTEMPTS)
    [failed] = outbox_envelopes(db)
    assert failed["type"] == "email_failed"
    with db.sessions() as session:
        assert failed["data"] == {
            "email_id": email_id,
            "account_id": row.account_id,
            "kind": "notification",
            "attempts": email.MAX_ATTEMPTS,
            "reason": "ConnectionRefusedError",
        }
        assert session.get(Activity, failed["id"]).type == "email_failed"
    assert sender.send_due(now + timedelta(days=1))["failed"] == 0  # never again


def test_a_server_that_refuses_twice_delivers_once(db, tmp_path):
    server = SmtpServer(tmp_path / "smtp", refuse_first=2).start()
    try:
        settings = email.MailSettings(port=server.port, interval=1.0)
        sender = email.EmailSender(db.unit_of_work, everyone(), settings)
        email_id = queue(db, subject="Tredje gången gillt")
        now = NOW
        for _ in range(2):
            assert sender.send_due(now)["retry"] == 1
            now = the_email(db, email_id).next_attempt_at
        assert the_email(db, email_id).last_error == "SMTPDataError 451"
        assert sender.send_due(now)["sent"] == 1
        assert sender.send_due(now + timedelta(hours=1))["sent"] == 0
        messages = server.messages()
    finally:
        server.stop()
    assert [m["Subject"] for m in messages] == ["Tredje gången gillt"]
    row = the_email(db, email_id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)


def test_without_addresses_nothing_is_attempted_and_nothing_lost(db):
    def groups_away(account_ids):
        raise Unavailable("the groups service did not answer in time")

    settings = email.MailSettings(port=free_port(), interval=5.0)
    email_id = queue(db)
    outcome = email.EmailSender(db.unit_of_work, groups_away, settings).send_due(NOW)
    assert outcome == {"sent": 0, "retry": 0, "failed": 0, "deferred": 1}
    row = the_email(db, email_id)
    assert (row.status, row.attempts) == ("queued", 0)
    assert row.next_attempt_at == NOW + timedelta(seconds=5)


def test_an_account_without_an_address_fails_at_once(db):
    settings = email.MailSettings(port=free_port(), interval=1.0)
    email_id = queue(db)
    sender = email.EmailSender(db.unit_of_work, lambda account_ids: {}, settings)
    assert sender.send_due(NOW)["failed"] == 1
    row = the_email(db, email_id)
    assert (row.status, row.last_error) == ("failed", "no email address")
    assert [e["type"] for e in outbox_envelopes(db)] == ["email_failed"]


def test_groups_gives_the_addresses_of_live_accounts_only(civic_settings):
    from services.groups import domain as groups
    from services.groups.models import metadata as groups_metadata

    migrations.upgrade("groups")
    database = ServiceDatabase("groups", groups_metadata)
    try:
        with database.unit_of_work() as uow:
            kept = groups.register_account(uow, "kept@example.org", "long enough pw", "K")
            gone = groups.register_account(uow, "gone@example.org", "long enough pw", "G")
        with database.unit_of_work() as uow:
            groups.erase_account(uow, gone["id"])
        with database.unit_of_work() as uow:
            found = groups.get_emails(uow, [kept["id"], gone["id"], "unknown", kept["id"]])
            assert groups.get_emails(uow, []) == {}
    finally:
        database.dispose()
    assert found == {kept["id"]: "kept@example.org"}


class StopsAfter:
    """A transport that hands over `n` messages, then stops the pass as a killed worker
    does (an exception that is not an SMTP error)."""

    def __init__(self, n: int):
        self.left = n

    def send(self, message):
        if self.left == 0:
            raise KeyboardInterrupt("the worker is stopped")
        self.left -= 1

    def close(self):
        pass


def test_a_pass_stopped_part_way_gives_back_what_it_had_not_handed_over(db):
    """Claimed rows carry a lease of minutes; a pass that stops early (its process
    stopping) gives back at once the rows it had not reached, and keeps the lease on the
    one it was sending (it may have gone)."""
    ids = [queue(db, subject=f"Hej {n}") for n in range(3)]
    sender = email.EmailSender(db.unit_of_work, everyone(), email.MailSettings(), StopsAfter(1))
    with pytest.raises(KeyboardInterrupt):
        sender.send_due(NOW)
    # (A pass takes its rows in creation order, then by id: any order here.)
    rows = {row.status: row for row in (the_email(db, email_id) for email_id in ids)}
    assert sorted(rows) == ["queued", "sending", "sent"]
    assert rows["sending"].next_attempt_at > NOW + timedelta(minutes=1)  # it may have gone
    assert (rows["queued"].next_attempt_at, rows["queued"].lease_owner) == (NOW, None)

    def lookup_fails(account_ids):
        raise RuntimeError("not an outage: a bug")

    failing = email.EmailSender(db.unit_of_work, lookup_fails, email.MailSettings())
    fresh = queue(db, subject="Hej igen")
    later = NOW + timedelta(seconds=1)
    with pytest.raises(RuntimeError):
        failing.send_due(later)
    row = the_email(db, fresh)
    assert (row.status, row.next_attempt_at, row.lease_owner) == ("queued", later, None)
