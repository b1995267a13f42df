"""Email: the queue, digests, one-click unsubscribe tokens, and sending over SMTP.

Emails are rows of the `emails` table, written in the same transaction as what caused
them (an immediate notification, a digest), with the correlation id of that cause (a
digest, caused by no one event, gets its own); the log lines of its sending carry it.
A timer sends what is due: it claims a batch (moving `next_attempt_at` a lease ahead and
writing its own token in `lease_owner`), asks the groups service once for the batch's
addresses, and sends each email. A refused or unreachable SMTP server costs an attempt:
the row waits with exponential backoff and, after the last attempt, is marked failed and
`email_failed` is published. When the groups service cannot be asked, nothing is
attempted and the rows wait for the next tick: an email is never lost and never blocks
the inbox.

Sent at most once, or, after a crash, twice with the same Message-ID:
- A sender changes only rows that still carry its token, so a batch slower than its
  lease (a slow SMTP server) loses the rows it has not reached to the next instance to
  claim them instead of sending them too. Each email's own lease is renewed when it is
  handed over, so the one being sent is not claimed by another (one SMTP exchange, at
  most a few SMTP_TIMEOUTs, is far shorter than the lease).
- Before an email is handed to the SMTP server its row is marked `sending` (committed);
  after the server's answer, `sent`. A row still `sending` when its lease runs out is
  one whose sender died in between: it may have gone. It is sent again, once, marked
  with `resent_at`; found `sending` again after that, it is not handed over a third
  time but taken as sent (and logged as unconfirmed).
- The Message-ID is the row's id (`<id@sender's domain>`), the same for every copy, so
  recipients' mail systems (and the chaos checker) can tell a resend from a new email.

Digests: an account on `daily` (or `weekly`) email gets, at CIVIC_DIGEST_HOUR (07:00)
in the town's time zone (on Mondays for weekly), one email grouping every notification
that waited for it since the last digest — none when nothing waited.

Confirmation emails (kind `confirmation`, asked for by the groups service's
`email_confirmation_requested`) go through the same queue, whatever the account's email
preference: they are transactional, carry no unsubscribe link and never reach the inbox.
The row holds the words with a placeholder; the signed, expiring link (valid
CIVIC_CONFIRMATION_TTL from the row's creation) is put in when the email is sent, so no
live token is kept in the table.
"""

from __future__ import annotations

import smtplib
import ssl
import time as monotonic_time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import delete, func, insert, or_, select, update

from civic import clock, config, signing
from civic.db import new_id
from civic.errors import Unavailable
from civic.log import get_logger, new_correlation_id
from civic.signing import signing_key
from services.notifications import activity
from services.notifications.models import (
    DEFAULT_EMAIL_MODE,
    DIGEST_PENDING,
    Account,
    Email,
    Message,
    Notification,
    Preference,
)

log = get_logger(__name__)

MAX_ATTEMPTS = 10
BACKOFF_MAX = timedelta(hours=1)  # the default of CIVIC_EMAIL_BACKOFF_MAX
# A claimed row is not claimed again before then; renewed when it is handed to SMTP, so
# it must outlast one email's SMTP exchange (SMTP_TIMEOUT per command) by far.
LEASE = timedelta(minutes=5)
BATCH = 50
SMTP_TIMEOUT = 30.0
DIGEST_ITEMS_MAX = 200  # more than this in one digest are counted, not listed
CONFIRMATION = "confirmation"  # the kind of a confirmation email (sent whatever the
# account's email preference: it is transactional)


# --- settings -------------------------------------------------------------------------


@dataclass(frozen=True)
class MailSettings:
    host: str = "127.0.0.1"
    port: int = 1025
    tls: str = "none"  # none | starttls | tls
    user: str | None = None
    password: str | None = None
    sender: str = "Civic Jokkmokk <civic@localhost>"
    public_url: str = "http://127.0.0.1:8000"
    interval: float = 10.0
    # The longest wait between two attempts of one email (seconds).
    backoff_max: float = BACKOFF_MAX.total_seconds()
    # How long a pass holds the rows it claimed (seconds); None: LEASE.
    lease: float | None = None
    digest_hour: int = 7
    confirmation_ttl: float = 72 * 3600.0  # seconds a confirmation link stays valid

    @classmethod
    def from_config(cls) -> MailSettings:
        return cls(
            host=config.get("CIVIC_SMTP_HOST", cls.host),
            port=int(config.get("CIVIC_SMTP_PORT", cls.port)),
            tls=config.get("CIVIC_SMTP_TLS", cls.tls),
            user=config.get("CIVIC_SMTP_USER"),
            password=config.get("CIVIC_SMTP_PASSWORD"),
            sender=config.get("CIVIC_MAIL_FROM", cls.sender),
            public_url=config.get("CIVIC_PUBLIC_URL", cls.public_url).rstrip("/"),
            interval=float(config.get("CIVIC_EMAIL_INTERVAL", cls.interval)),
            backoff_max=float(config.get("CIVIC_EMAIL_BACKOFF_MAX", cls.backoff_max)),
            lease=float(config.get("CIVIC_EMAIL_LEASE", LEASE.total_seconds())),
            digest_hour=int(config.get("CIVIC_DIGEST_HOUR", cls.digest_hour)),
            confirmation_ttl=float(config.get("CIVIC_CONFIRMATION_TTL", cls.confirmation_ttl)),
        )

    @property
    def tz(self) -> ZoneInfo:
        """The town's time zone (civic.clock), which digests are timed in and times in
        messages are written in."""
        return clock.town_zone()

    def link(self, path: str) -> str:
        return f"{self.public_url}{path}"


# --- unsubscribe tokens ---------------------------------------------------------------
# Signed with the kernel's key (civic.signing), which every emailed link shares.


def unsubscribe_token(account_id: str, key: bytes | None = None) -> str:
    """`<account id, base64url>.<HMAC-SHA256, base64url>`: valid until the key changes."""
    return signing.sign(signing.UNSUBSCRIBE, account_id, key or signing_key())


def account_of_token(token, key: bytes | None = None) -> str | None:
    """The account a token was made for; None for anything not signed by us (compared
    whole and in constant time, so only the one canonical spelling passes)."""
    return signing.unsign(signing.UNSUBSCRIBE, token, key or signing_key())


def unsubscribe_url(settings: MailSettings, account_id: str) -> str:
    """For mail clients (List-Unsubscribe): the API's route, which their one-click POST
    (RFC 8058) reaches without a page in between or a form's token."""
    return settings.link(f"/api/v1/unsubscribe/{unsubscribe_token(account_id)}")


def unsubscribe_page_url(settings: MailSettings, account_id: str, locale: str) -> str:
    """For a person (the footer's link): the site's page, which asks before it turns
    email off, in the email's language (the account's) whatever the browser's."""
    token = unsubscribe_token(account_id)
    return settings.link(f"/unsubscribe/{token}?lang={locale_of(locale)}")


# --- the words of emails ---------------------------------------------------------------

FOOTER = {
    "sv": "Du får det här mejlet för att du har e-postaviseringar påslagna i Civic.\n"
    "Stäng av e-post med ett klick: {url}",
    "en": "You get this email because email notifications are on in Civic.\n"
    "Turn email off with one click: {url}",
}
DIGEST_SUBJECT = {
    "sv": ("Civic: 1 ny händelse", "Civic: {count} nya händelser"),
    "en": ("Civic: 1 new notification", "Civic: {count} new notifications"),
}
DIGEST_INTRO = {
    "sv": "Det här har hänt sedan förra sammanfattningen:",
    "en": "This happened since your last digest:",
}
DIGEST_MORE = {
    "sv": "… och {count} till. Se alla: {url}",
    "en": "… and {count} more. See them all: {url}",
}


CONFIRMATION_LINK = "[[confirmation-link]]"  # replaced by the link when sent
CONFIRMATION_SUBJECT = {
    "sv": "Bekräfta din e-postadress för Civic",
    "en": "Confirm your email address for Civic",
}
CONFIRMATION_BODY = {
    "sv": "Hej!\n\nBekräfta din e-postadress för ditt konto i Civic genom att "
    "öppna länken:\n\n{link}\n\nLänken gäller i {hours} timmar. Har den gått ut "
    "kan du be om en ny när du har loggat in.\n\nHar du inte skapat något konto "
    "i Civic kan du bortse från det här mejlet.",
    "en": "Hello,\n\nConfirm the email address of your Civic account by opening "
    "this link:\n\n{link}\n\nThe link is valid for {hours} hours. If it has "
    "expired, sign in and ask for a new one.\n\nIf you did not create an account "
    "on Civic, you can ignore this email.",
}
CONFIRMATION_FOOTER = {
    "sv": "Det här mejlet skickas bara för att bekräfta adressen; det är ingen avisering.",
    "en": "This email is only sent to confirm the address; it is not a notification.",
}


def locale_of(value) -> str:
    return value if value in ("sv", "en") else "sv"


def notification_email(message: Message, locale: str, settings: MailSettings) -> tuple:
    """(subject, body) of one notification's email, without the footer."""
    title = getattr(message, f"title_{locale}")
    body = getattr(message, f"body_{locale}")
    return title, f"{body}\n\n{settings.link(message.link)}"


def digest_email(messages: list[Message], locale: str, settings: MailSettings) -> tuple:
    """(subject, body) of a digest of these messages (oldest first)."""
    one, many = DIGEST_SUBJECT[locale]
    subject = one if len(messages) == 1 else many.format(count=len(messages))
    lines = [DIGEST_INTRO[locale], ""]
    for message in messages[:DIGEST_ITEMS_MAX]:
        lines += [
            f"• {getattr(message, f'title_{locale}')}",
            f"  {getattr(message, f'body_{locale}')}",
            f"  {settings.link(message.link)}",
            "",
        ]
    if len(messages) > DIGEST_ITEMS_MAX:
        lines.append(
            DIGEST_MORE[locale].format(
                count=len(messages) - DIGEST_ITEMS_MAX, url=settings.link("/notifications")
            )
        )
    return subject, "\n".join(lines).rstrip()


def confirmation_url(settings: MailSettings, account_id: str, requested_at: datetime) -> str:
    """The emailed link: valid CIVIC_CONFIRMATION_TTL from when it was asked for."""
    expires_at = requested_at + timedelta(seconds=settings.confirmation_ttl)
    token = signing.email_confirmation_token(account_id, expires_at, signing_key())
    return settings.link(f"/confirm/{token}")


def confirmation_email(account_id: str, locale: str, settings: MailSettings) -> dict:
    """An email row (without id and times) asking the account to confirm its address;
    the link goes in when it is sent."""
    locale = locale_of(locale)
    hours = max(1, round(settings.confirmation_ttl / 3600))
    return {
        "account_id": account_id,
        "kind": CONFIRMATION,
        "locale": locale,
        "subject": CONFIRMATION_SUBJECT[locale],
        "body": CONFIRMATION_BODY[locale].format(link=CONFIRMATION_LINK, hours=hours),
    }


def build_message(row: Email, address: str, settings: MailSettings) -> EmailMessage:
    if row.kind == CONFIRMATION:
        return _confirmation_message(row, address, settings)
    url = unsubscribe_url(settings, row.account_id)
    message = _headers(row, address, settings)
    # RFC 2369 and RFC 8058: mail clients offer (and may POST) a one-click unsubscribe.
    message["List-Unsubscribe"] = f"<{url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    page_url = unsubscribe_page_url(settings, row.account_id, row.locale)
    footer = FOOTER[locale_of(row.locale)].format(url=page_url)
    message.set_content(f"{row.body}\n\n-- \n{footer}\n")
    return message


def _confirmation_message(row: Email, address: str, settings: MailSettings) -> EmailMessage:
    message = _headers(row, address, settings)
    link = confirmation_url(settings, row.account_id, row.created_at)
    footer = CONFIRMATION_FOOTER[locale_of(row.locale)]
    message.set_content(f"{row.body.replace(CONFIRMATION_LINK, link)}\n\n-- \n{footer}\n")
    return message


def _headers(row: Email, address: str, settings: MailSettings) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = row.subject
    message["From"] = settings.sender
    message["To"] = address
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(row, settings)
    message["Auto-Submitted"] = "auto-generated"
    return message


def message_id(row: Email, settings: MailSettings) -> str:
    """The email's Message-ID: from the row's id, so a resend carries the same one."""
    domain = parseaddr(settings.sender)[1].rpartition("@")[2] or "localhost"
    return f"<{row.id}@{domain}>"


# --- enqueueing -------------------------------------------------------------------------


def queue_rows(rows: list[dict], now: datetime, correlation_id: str | None = None) -> list[dict]:
    """Complete email rows (account_id, kind, locale, subject, body) for insertion;
    `correlation_id` is that of what caused them."""
    return [
        {
            "id": new_id(),
            "status": "queued",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "sent_at": None,
            "last_error": None,
            "lease_owner": None,
            "resent_at": None,
            "correlation_id": correlation_id,
            **row,
        }
        for row in rows
    ]


def enqueue_confirmation(
    session,
    account_id: str,
    locale: str,
    settings: MailSettings,
    now: datetime,
    correlation_id: str | None = None,
) -> None:
    """Queue a confirmation email, whatever the account's email preference."""
    session.execute(
        insert(Email),
        queue_rows([confirmation_email(account_id, locale, settings)], now, correlation_id),
    )


def drop_queued_confirmations(session, account_id: str) -> int:
    """The account confirmed: confirmation emails still waiting are not sent."""
    return (
        session.execute(
            delete(Email).where(
                Email.account_id == account_id, Email.kind == CONFIRMATION, Email.status == "queued"
            )
        ).rowcount
        or 0
    )


# --- digests ----------------------------------------------------------------------------


def last_digest_time(now: datetime, mode: str, hour: int, tz: ZoneInfo) -> datetime:
    """The latest digest time at or before `now`: today's (or, weekly, this Monday's)
    `hour` o'clock in the town's time zone, else the one before."""
    local = now.astimezone(tz)
    day = local.date()
    if mode == "weekly":
        day -= timedelta(days=day.weekday())
    at = datetime.combine(day, time(hour), tzinfo=tz)
    if at > local:
        at = datetime.combine(
            day - timedelta(days=7 if mode == "weekly" else 1), time(hour), tzinfo=tz
        )
    return at


def enqueue_due_digests(uow, now: datetime, settings: MailSettings) -> int:
    """Queue one digest email per account whose digest is due; returns how many.

    A digest is due when something has waited since before the account's latest digest
    time. Everything that waits goes into it. An account that turned email off has its
    waiting notifications dropped from the digest (they stay in the inbox); one that
    switched to immediate gets what waited at once.
    """
    session = uow.session
    tz = settings.tz
    mode = func.coalesce(Preference.email_mode, DEFAULT_EMAIL_MODE)
    oldest = func.min(Notification.created_at)
    # Nothing can be due that waited only since the latest daily time (a weekly time is
    # never later): those accounts are left out by the query already.
    daily = last_digest_time(now, "daily", settings.digest_hour, tz)
    waiting = session.execute(
        select(Notification.account_id, oldest, mode)
        .outerjoin(Preference, Preference.account_id == Notification.account_id)
        .where(Notification.digest == DIGEST_PENDING)
        .group_by(Notification.account_id, Preference.email_mode)
        .having(or_(oldest < daily, mode.in_(("immediate", "off"))))
    ).all()
    queued = 0
    for account_id, first_waiting, email_mode in waiting:
        if email_mode == "off":
            _take_waiting(session, account_id)
            continue
        if email_mode in ("daily", "weekly") and first_waiting >= last_digest_time(
            now, email_mode, settings.digest_hour, tz
        ):
            continue
        message_ids = _take_waiting(session, account_id)
        if not message_ids:
            continue  # another instance took them a moment ago
        messages = []
        for start in range(0, len(message_ids), 1000):  # within any driver's limits
            messages += (
                session.execute(
                    select(Message).where(Message.id.in_(message_ids[start : start + 1000]))
                )
                .scalars()
                .all()
            )
        messages.sort(key=lambda message: (message.created_at, message.id))
        locale = locale_of(
            session.execute(select(Account.locale).where(Account.id == account_id)).scalar()
        )
        subject, body = digest_email(messages, locale, settings)
        [row] = queue_rows(
            [
                {
                    "account_id": account_id,
                    "kind": "digest",
                    "locale": locale,
                    "subject": subject,
                    "body": body,
                }
            ],
            now,
            # Caused by many events, none of which it could name alone: its own.
            new_correlation_id(),
        )
        session.execute(insert(Email), [row])
        log.info("digest_queued", email_id=row["id"], correlation_id=row["correlation_id"])
        queued += 1
    return queued


def _take_waiting(session, account_id: str) -> list[str]:
    """Mark the account's waiting notifications as digested; their message ids.

    One UPDATE … RETURNING: of two instances at it at once, only one gets the rows.
    """
    rows = session.execute(
        update(Notification)
        .where(Notification.account_id == account_id, Notification.digest == DIGEST_PENDING)
        .values(digest=None)
        .returning(Notification.message_id)
    ).all()
    return [message_id for (message_id,) in rows]


# --- sending ----------------------------------------------------------------------------


def backoff(attempts: int, settings: MailSettings) -> timedelta:
    """Wait before attempt `attempts + 1`: doubling from the timer interval, capped at
    CIVIC_EMAIL_BACKOFF_MAX."""
    seconds = settings.interval * (2 ** min(attempts, 62))
    return timedelta(seconds=min(seconds, settings.backoff_max))


def short_error(exc: BaseException) -> str:
    """What went wrong, without anything an SMTP server may have quoted back (such as an
    address): the exception type and the SMTP reply code."""
    code = getattr(exc, "smtp_code", None)
    if code is None and isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({value[0] for value in exc.recipients.values()})
        code = ",".join(str(c) for c in codes)
    return f"{type(exc).__name__}{f' {code}' if code else ''}"[:200]


class ConnectFailed(Exception):
    """The SMTP server could not be reached, or refused the session (TLS, login)."""

    def __init__(self, cause: BaseException):
        super().__init__(short_error(cause))
        self.cause = cause


class SmtpTransport:
    """One SMTP connection at a time, opened when first needed."""

    def __init__(self, settings: MailSettings):
        self.settings = settings
        self.connection: smtplib.SMTP | None = None

    def open(self) -> None:
        s = self.settings
        try:
            if s.tls == "tls":
                connection = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=SMTP_TIMEOUT, context=ssl.create_default_context()
                )
            else:
                connection = smtplib.SMTP(s.host, s.port, timeout=SMTP_TIMEOUT)
        except (smtplib.SMTPException, OSError) as exc:
            raise ConnectFailed(exc) from exc
        try:
            if s.tls == "starttls":
                connection.starttls(context=ssl.create_default_context())
            if s.user:
                connection.login(s.user, s.password or "")
        except (smtplib.SMTPException, OSError) as exc:
            _quietly_close(connection)
            raise ConnectFailed(exc) from exc
        self.connection = connection

    def send(self, message: EmailMessage) -> None:
        if self.connection is None:
            self.open()
        try:
            self.connection.send_message(message)
        except (smtplib.SMTPServerDisconnected, OSError):
            self.reset()  # the connection is gone: the next email opens a new one
            raise

    def reset(self) -> None:
        if self.connection is not None:
            _quietly_close(self.connection)
            self.connection = None

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.quit()
            except Exception:  # closing a broken connection: nothing more to do
                _quietly_close(self.connection)
            self.connection = None


def _quietly_close(connection) -> None:
    try:
        connection.close()
    except Exception:  # it is broken already
        pass


UNCONFIRMED = "unconfirmed: handed to SMTP twice, the sender stopped both times"


class EmailSender:
    """Sends what is due from one service's email queue.

    `unit_of_work()` gives a fresh unit of work (one short transaction each: no
    connection is held while SMTP is talked to); `addresses` is a callable
    `(account_ids) -> {account_id: email}` (the groups service), which may raise
    `Unavailable`.
    """

    def __init__(
        self,
        unit_of_work,
        addresses,
        settings: MailSettings,
        transport: SmtpTransport | None = None,
    ):
        self.unit_of_work = unit_of_work
        self.addresses = addresses
        self.settings = settings
        self.transport = transport or SmtpTransport(settings)

    def send_due(self, now: datetime) -> dict:
        """One pass: returns counts of sent, retried, failed and deferred emails.

        `now` is when the pass starts: what is due, backoff and sent times count from
        it. A lease renewed later in the pass counts from `now` plus the time the pass
        has taken, so an injected clock holds throughout."""
        outcome = {"sent": 0, "retry": 0, "failed": 0, "deferred": 0}
        started = monotonic_time.monotonic()

        def pass_time() -> datetime:
            return now + timedelta(seconds=monotonic_time.monotonic() - started)

        owner = new_id()  # this pass's claim: only rows still carrying it are changed
        rows = self._claim(now, owner)
        if not rows:
            return outcome
        try:
            return self._send_claimed(rows, owner, now, pass_time, outcome)
        except BaseException:
            # Stopped part-way (an unexpected error, or the worker killed as its process
            # stops): what it had not handed to the SMTP server is due again at once,
            # rather than when the claim's lease runs out minutes later.
            self._give_back(rows, owner, now)
            raise

    def _send_claimed(self, rows, owner, now, pass_time, outcome) -> dict:
        try:
            addresses = self.addresses(sorted({row.account_id for row in rows}))
        except Unavailable as exc:
            # Not the email's fault: try again next tick, without costing an attempt.
            self._release(rows, owner, now + timedelta(seconds=self.settings.interval))
            log.warning("email_addresses_unavailable", count=len(rows), error=str(exc))
            outcome["deferred"] = len(rows)
            return outcome
        try:
            for index, row in enumerate(rows):
                with _caused_by(row):
                    try:
                        result = self._send_one(
                            row, addresses.get(row.account_id), owner, now, pass_time
                        )
                    except ConnectFailed as exc:
                        # The server cannot be reached: the rest of the batch would only
                        # wait for the same answer, one by one. All of it is retried.
                        result = self._failed_attempt(row, str(exc), owner, now)
                        connect_failed = exc
                    else:
                        connect_failed = None
                if result:
                    outcome[result] += 1
                if connect_failed is not None:
                    for rest in rows[index + 1 :]:
                        with _caused_by(rest):
                            result = self._not_attempted(
                                rest, addresses, str(connect_failed), owner, now
                            )
                        if result:
                            outcome[result] += 1
                    break
        finally:
            self.transport.close()
        if outcome["sent"] or outcome["retry"] or outcome["failed"]:
            log.info("emails_sent", **outcome)
        return outcome

    def _send_one(
        self,
        row: Email,
        address: str | None,
        owner: str,
        now: datetime,
        pass_time: Callable[[], datetime],
    ) -> str | None:
        """Hand one email to the SMTP server: "sent", "retry", "failed", or None when
        it was not this pass's to send (any more). Raises ConnectFailed."""
        if not address:
            return "failed" if self._give_up(row, "no email address", owner, now) else None
        if row.status == "sending" and row.resent_at is not None:
            # Its sender stopped after handing it over, twice: most likely it went.
            if self._finish(row, owner, now, status="sent", last_error=UNCONFIRMED):
                log.warning("email_unconfirmed", email_id=row.id)
            return None
        resend = row.status == "sending"
        if not self._hand_over(row, owner, pass_time(), resend):
            log.info("email_lease_lost", email_id=row.id)
            return None
        if resend:
            log.warning("email_resent_after_crash", email_id=row.id)
        try:
            self.transport.send(build_message(row, address, self.settings))
        except ConnectFailed:
            raise
        except (smtplib.SMTPException, OSError) as exc:
            return self._failed_attempt(row, short_error(exc), owner, now)
        if not self._finish(
            row, owner, now, status="sent", attempts=row.attempts + 1, last_error=None
        ):
            # Another instance took it over after its lease ran out mid-send; it will
            # send it once more, with the same Message-ID.
            log.warning("email_sent_after_its_lease", email_id=row.id)
        log.info("email_sent", email_id=row.id, kind=row.kind, resend=resend)
        return "sent"

    def _not_attempted(
        self, row: Email, addresses: dict, error: str, owner: str, at: datetime
    ) -> str | None:
        """A row of the batch after the SMTP server could not be reached."""
        if not addresses.get(row.account_id):
            return "failed" if self._give_up(row, "no email address", owner, at) else None
        return self._failed_attempt(row, error, owner, at, handed_over=False)

    def _claim(self, now: datetime, owner: str) -> list[Email]:
        """Up to BATCH due rows, leased to `owner`: queued ones, and `sending` ones whose
        lease ran out (their sender stopped between handing them over and marking)."""
        claimable = (Email.status.in_(("queued", "sending")), Email.next_attempt_at <= now)
        due = (
            select(Email.id)
            .where(*claimable)
            .order_by(Email.next_attempt_at, Email.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
        with self.unit_of_work() as uow:
            # One UPDATE, a write from its first statement (SQLite takes its lock then,
            # rather than failing to upgrade a read): of two instances at it at once,
            # the second finds the rows no longer claimable (PostgreSQL re-checks the
            # WHERE on the row it waited for, or skips it while it is locked).
            claimed = (
                uow.session.execute(
                    update(Email)
                    .where(Email.id.in_(due), *claimable)
                    .values(next_attempt_at=now + self._lease(), lease_owner=owner)
                    .returning(Email.id)
                    .execution_options(synchronize_session=False)
                )
                .scalars()
                .all()
            )
            if not claimed:
                return []
            return list(
                uow.session.execute(
                    select(Email)
                    .where(Email.id.in_(claimed))
                    .order_by(Email.created_at, Email.id)
                    .execution_options(populate_existing=True)
                )
                .scalars()
                .all()
            )

    def _update_held(self, row: Email, owner: str, **values) -> bool:
        """Change the row if this pass still holds it; whether it did."""
        with self.unit_of_work() as uow:
            changed = uow.session.execute(
                update(Email).where(Email.id == row.id, Email.lease_owner == owner).values(**values)
            ).rowcount
        return changed == 1

    def _lease(self) -> timedelta:
        return LEASE if self.settings.lease is None else timedelta(seconds=self.settings.lease)

    def _give_back(self, rows: list[Email], owner: str, at: datetime) -> None:
        """The rows of this claim not yet handed over (still `queued`), due at `at`;
        those handed over keep their lease (they may have been sent)."""
        with self.unit_of_work() as uow:
            uow.session.execute(
                update(Email)
                .where(
                    Email.id.in_([r.id for r in rows]),
                    Email.lease_owner == owner,
                    Email.status == "queued",
                )
                .values(next_attempt_at=at, lease_owner=None)
            )

    def _release(self, rows: list[Email], owner: str, at: datetime) -> None:
        with self.unit_of_work() as uow:
            uow.session.execute(
                update(Email)
                .where(Email.id.in_([r.id for r in rows]), Email.lease_owner == owner)
                .values(next_attempt_at=at, lease_owner=None)
            )

    def _hand_over(self, row: Email, owner: str, at: datetime, resend: bool) -> bool:
        """Mark the row `sending` (committed before SMTP is talked to) and renew its
        lease; False if another instance has claimed it since."""
        values = {"status": "sending", "next_attempt_at": at + self._lease()}
        if resend:
            values["resent_at"] = at
        return self._update_held(row, owner, **values)

    def _finish(self, row: Email, owner: str, at: datetime, **values) -> bool:
        return self._update_held(row, owner, sent_at=at, lease_owner=None, **values)

    def _failed_attempt(
        self, row: Email, error: str, owner: str, now: datetime, handed_over: bool = True
    ) -> str | None:
        """An attempt that did not deliver: the row waits with backoff, or has failed."""
        attempts = row.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            return "failed" if self._give_up(row, error, owner, now, attempts) else None
        held = self._update_held(
            row,
            owner,
            # Handed over in this pass, it did not go: queued again. One not handed
            # over keeps its status: `sending` (after a crash) means it may have gone.
            status="queued" if handed_over else row.status,
            attempts=attempts,
            last_error=error,
            next_attempt_at=now + backoff(attempts, self.settings),
            lease_owner=None,
        )
        if not held:
            return None
        log.warning("email_attempt_failed", email_id=row.id, attempt=attempts, error=error)
        return "retry"

    def _give_up(
        self, row: Email, error: str, owner: str, now: datetime, attempts: int | None = None
    ) -> bool:
        """Mark the row failed and publish `email_failed`; False if it was not held."""
        attempts = row.attempts + 1 if attempts is None else attempts
        with self.unit_of_work() as uow:
            changed = uow.session.execute(
                update(Email)
                .where(Email.id == row.id, Email.lease_owner == owner)
                .values(
                    status="failed", attempts=attempts, last_error=error[:200], lease_owner=None
                )
            ).rowcount
            if changed != 1:
                return False
            with _correlated(uow, row.correlation_id):
                activity.publish(
                    uow,
                    "email_failed",
                    {
                        "email_id": row.id,
                        "account_id": row.account_id,
                        "kind": row.kind,
                        "attempts": attempts,
                        "reason": error[:200],
                    },
                    now=now,
                )
        log.error("email_failed", email_id=row.id, attempts=attempts, error=error)
        return True


@contextmanager
def _caused_by(row: Email):
    """Log lines about this email carry the correlation id of what caused it."""
    if row.correlation_id:
        with structlog.contextvars.bound_contextvars(correlation_id=row.correlation_id):
            yield
    else:
        yield


@contextmanager
def _correlated(uow, correlation_id: str | None):
    """Events published in `uow` (email_failed) carry the email's correlation id."""
    context = uow.context_data
    if not correlation_id:
        yield
        return
    had, before = "correlation_id" in context, context.get("correlation_id")
    context["correlation_id"] = correlation_id
    try:
        yield
    finally:
        if had:
            context["correlation_id"] = before
        else:
            del context["correlation_id"]
