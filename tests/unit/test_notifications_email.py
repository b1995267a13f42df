"""Email's pure parts: unsubscribe tokens, digest times, backoff, the message itself."""

from __future__ import annotations

import dataclasses
import smtplib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.notifications import email
from services.notifications.models import Email

KEY = b"k" * 40
TZ = ZoneInfo("Europe/Stockholm")
SETTINGS = email.MailSettings(
    public_url="https://civic.example", interval=10.0, sender="Civic <civic@jokkmokk.example>"
)


def test_a_token_names_its_account_and_nothing_else_passes():
    token = email.unsubscribe_token("acc-1", KEY)
    assert email.account_of_token(token, KEY) == "acc-1"
    assert email.account_of_token(email.unsubscribe_token("acc-2", KEY), KEY) == "acc-2"
    encoded_id, signature = token.split(".")
    other_id = email.unsubscribe_token("acc-2", KEY).split(".")[0]
    for forged in (
        f"{other_id}.{signature}",
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        email.unsubscribe_token("acc-1", b"x" * 40),
        "",
        "a.b.c",
        "nodot",
        "%%%.***",
        None,
        42,
        "a" * 400,
    ):
        assert email.account_of_token(forged, KEY) is None, forged


@pytest.mark.parametrize(
    "now, mode, expected",
    [
        # Winter (UTC+1): 07:00 local is 06:00 UTC.
        ("2026-12-01T06:00:00+00:00", "daily", "2026-12-01T07:00:00+01:00"),
        ("2026-12-01T05:59:00+00:00", "daily", "2026-11-30T07:00:00+01:00"),
        # Summer (UTC+2): 07:00 local is 05:00 UTC.
        ("2026-07-01T05:30:00+00:00", "daily", "2026-07-01T07:00:00+02:00"),
        # The night the clocks go forward (29 March 2026) and back (25 October 2026).
        ("2026-03-29T05:00:00+00:00", "daily", "2026-03-29T07:00:00+02:00"),
        ("2026-10-25T06:00:00+00:00", "daily", "2026-10-25T07:00:00+01:00"),
        # Weekly: Mondays. 2 December 2026 is a Wednesday; 30 November a Monday.
        ("2026-12-02T12:00:00+00:00", "weekly", "2026-11-30T07:00:00+01:00"),
        ("2026-11-30T05:00:00+00:00", "weekly", "2026-11-23T07:00:00+01:00"),
    ],
)
def test_the_latest_digest_time(now, mode, expected):
    got = email.last_digest_time(datetime.fromisoformat(now), mode, 7, TZ)
    assert got == datetime.fromisoformat(expected)


def test_backoff_doubles_from_the_interval_and_is_capped():
    assert [email.backoff(n, SETTINGS).total_seconds() for n in (1, 2, 3)] == [20, 40, 80]
    assert email.backoff(30, SETTINGS) == email.BACKOFF_MAX
    assert email.backoff(1000, SETTINGS) == email.BACKOFF_MAX  # no overflow
    capped = dataclasses.replace(SETTINGS, backoff_max=30.0)
    assert [email.backoff(n, capped).total_seconds() for n in (0, 1, 2, 9)] == [10, 20, 30, 30]


def test_errors_are_recorded_without_what_the_server_quoted():
    refused = smtplib.SMTPRecipientsRefused({"anna@example.org": (550, b"no anna here")})
    assert email.short_error(refused) == "SMTPRecipientsRefused 550"
    data = smtplib.SMTPDataError(451, b"<anna@example.org> try later")
    assert email.short_error(data) == "SMTPDataError 451"
    assert email.short_error(ConnectionRefusedError(111, "refused")) == "ConnectionRefusedError"


def test_every_email_has_a_one_click_unsubscribe(monkeypatch):
    monkeypatch.setattr(email, "signing_key", lambda: KEY)
    row = Email(
        id="5b0e8c1e-0000-4000-8000-000000000001",
        account_id="acc-1",
        kind="notification",
        locale="en",
        subject="New event: “Städdag”",
        body="Come along.\n\nhttps://civic.example/events/e1",
    )
    message = email.build_message(row, "anna@example.org", SETTINGS)
    url = f"https://civic.example/api/v1/unsubscribe/{email.unsubscribe_token('acc-1', KEY)}"
    assert message["List-Unsubscribe"] == f"<{url}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["To"] == "anna@example.org"
    assert message["From"] == "Civic <civic@jokkmokk.example>"
    assert message["Message-ID"].endswith("@jokkmokk.example>")
    assert message["Subject"] == "New event: “Städdag”"
    body = message.get_content()
    assert body.startswith("Come along.")
    # A person follows the footer's link to the site's page, which asks first, in the
    # email's language.
    page = f"https://civic.example/unsubscribe/{email.unsubscribe_token('acc-1', KEY)}?lang=en"
    assert f"Turn email off with one click: {page}" in body
    assert "/api/v1/" not in body


def test_a_digest_lists_each_notification_and_counts_the_rest():
    class Item:
        def __init__(self, n):
            self.title_sv, self.body_sv, self.link = f"Rubrik {n}", f"Text {n}", f"/x/{n}"

    subject, body = email.digest_email([Item(1)], "sv", SETTINGS)
    assert subject == "Civic: 1 ny händelse"
    assert "• Rubrik 1\n  Text 1\n  https://civic.example/x/1" in body
    many = [Item(n) for n in range(email.DIGEST_ITEMS_MAX + 5)]
    subject, body = email.digest_email(many, "sv", SETTINGS)
    assert subject == f"Civic: {email.DIGEST_ITEMS_MAX + 5} nya händelser"
    assert body.count("• ") == email.DIGEST_ITEMS_MAX
    assert "… och 5 till." in body


def test_a_development_key_is_made_once_and_kept(tmp_path, monkeypatch):
    from nameko import config as nameko_config

    from civic import signing

    monkeypatch.setattr(signing, "_dev_key", None)
    with nameko_config.patch(
        {"CIVIC_SECRET_KEY": None, "CIVIC_VAR_DIR": str(tmp_path)}, clear=False
    ):
        first = email.signing_key()
        monkeypatch.setattr(signing, "_dev_key", None)
        assert email.signing_key() == first and len(first) >= 32
        assert (tmp_path / signing.KEY_FILE).stat().st_mode & 0o077 == 0
    with nameko_config.patch({"CIVIC_SECRET_KEY": "s" * 32}, clear=False):
        assert email.signing_key() == b"s" * 32


@pytest.mark.parametrize(
    "locale, subject, words",
    [
        ("sv", "Bekräfta din e-postadress för Civic", "Länken gäller i 72 timmar"),
        ("en", "Confirm your email address for Civic", "The link is valid for 72 hours"),
    ],
)
def test_a_confirmation_email_has_a_signed_expiring_link_and_no_unsubscribe(
    monkeypatch, locale, subject, words
):
    from civic import signing

    monkeypatch.setattr(email, "signing_key", lambda: KEY)
    queued_at = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    fields = email.confirmation_email("acc-1", locale, SETTINGS)
    assert (fields["kind"], fields["locale"], fields["subject"]) == (
        "confirmation",
        locale,
        subject,
    )
    assert email.CONFIRMATION_LINK in fields["body"]  # no token is stored
    (row,) = email.queue_rows([fields], queued_at)
    message = email.build_message(Email(**row), "anna@example.org", SETTINGS)
    assert message["Subject"] == subject and message["To"] == "anna@example.org"
    assert "List-Unsubscribe" not in message
    body = message.get_content()
    assert words in body and email.CONFIRMATION_LINK not in body
    assert "unsubscribe" not in body
    link = next(
        line for line in body.splitlines() if line.startswith("https://civic.example/confirm/")
    )
    found = signing.email_confirmation_of(link.rsplit("/", 1)[1], KEY)
    assert found.account_id == "acc-1"
    assert found.expires_at == queued_at + timedelta(hours=72)
    # Sent again (a retry), the same link: it is made from the row, not the clock.
    assert email.build_message(Email(**row), "anna@example.org", SETTINGS).get_content() == body


def test_queue_rows_are_due_at_once():
    now = datetime(2026, 12, 1, tzinfo=UTC)
    (row,) = email.queue_rows(
        [{"account_id": "a", "kind": "digest", "locale": "sv", "subject": "s", "body": "b"}], now
    )
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("queued", 0, now)
    assert timedelta(0) < email.LEASE
