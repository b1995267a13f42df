"""The rules of notifications, as plain functions over a unit of work.

Every event reaches `handle_event` (one handler for every catalogued type): it goes
into the staff activity feed, the rules table (rules.py) decides who is told and how,
the read models and automatic follows move on (readmodels.py), a confirmation email is
queued when the groups service asks for one, and an erased account's data is deleted.
Telling many people is a handful of queries and batched inserts, not one round trip per
recipient.

Functions take an entered unit of work (`uow.session`, `uow.publish`) and validated
values, and return plain data (times as datetimes: service.py dumps them with api.py's
schemas); broken rules raise civic.errors, and the caller's `with` rolls everything back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, insert, select, update

from civic.clock import iso, iso_values
from civic.contracts import Envelope
from civic.db import insert_rows, new_id, new_ids, paginate, utcnow
from civic.errors import Conflict, NotFound
from services.notifications import activity, email, readmodels, rules
from services.notifications.api import PROGRAMME_ID, PROGRAMME_TITLE
from services.notifications.models import (
    DEFAULT_EMAIL_MODE,
    DIGEST_PENDING,
    Account,
    Email,
    ErasedAccount,
    Follow,
    Group,
    Membership,
    Message,
    MutedKind,
    Notification,
    Preference,
    Registration,
    Target,
    VolunteerInterest,
)

CHUNK = 1000  # rows per INSERT, ids per IN (…): well inside every driver's limits
DIGEST_MODES = ("daily", "weekly")


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _ids(value) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, (list, tuple)):
        return [item for item in value if isinstance(item, str) and item]
    return []


# --- one event --------------------------------------------------------------------------


def handle_event(
    uow, envelope: Envelope, settings: email.MailSettings, now: datetime | None = None
) -> int:
    """Everything this service does with one event; returns how many were told."""
    now = now or utcnow()
    session = uow.session
    activity.record(session, envelope, now)
    told, kinds = notify(uow, envelope, settings, now)
    transactional_email(session, envelope, settings, now)
    readmodels.apply(session, envelope, now)
    if envelope.type == "account_erased":
        erase_account(session, envelope.data["account_id"])
    if told:
        activity.publish(
            uow,
            "notification_delivered",
            {
                "source_event_id": envelope.id,
                "source_event_type": envelope.type,
                "kinds": kinds,
                "recipient_count": told,
            },
            actor_id=activity.actor_of(session, envelope),
            now=now,
        )
    return told


def transactional_email(
    session, envelope: Envelope, settings: email.MailSettings, now: datetime
) -> None:
    """Emails that are not notifications: sent whatever the account's preferences, and
    never in the inbox. The groups service asks for a confirmation email (registration,
    resend); once the address is confirmed, one still waiting is not sent."""
    if envelope.type == "email_confirmation_requested":
        if readmodels.is_erased(session, envelope.data["account_id"]):
            return  # erased since it asked: there is no address to confirm any more
        email.enqueue_confirmation(
            session,
            envelope.data["account_id"],
            envelope.data["locale"],
            settings,
            now,
            correlation_id=envelope.correlation_id,
        )
    elif envelope.type == "email_confirmed":
        email.drop_queued_confirmations(session, envelope.data["account_id"])


def recipients(session, audiences, data: dict) -> set[str]:
    found: set[str] = set()
    for audience in audiences:
        ids = _ids(data.get(audience.field))
        if not ids:
            continue
        if isinstance(audience, rules.Account):
            found.update(ids)
        elif isinstance(audience, rules.Followers):
            found.update(
                session.execute(
                    select(Follow.account_id).where(
                        Follow.target_type == audience.target_type, Follow.target_id.in_(ids)
                    )
                ).scalars()
            )
        elif isinstance(audience, rules.ProgrammeFollowers):
            found.update(
                session.execute(
                    select(Follow.account_id).where(
                        Follow.target_type == audience.target_type,
                        Follow.target_id == audience.target_id,
                    )
                ).scalars()
            )
        elif isinstance(audience, rules.Interested):
            found.update(
                session.execute(
                    select(VolunteerInterest.account_id)
                    .where(VolunteerInterest.category.in_(ids))
                    .distinct()
                ).scalars()
            )
        elif isinstance(audience, rules.GroupAdmins):
            found.update(
                session.execute(
                    select(Membership.account_id).where(
                        Membership.group_id.in_(ids), Membership.role == "admin"
                    )
                ).scalars()
            )
        elif isinstance(audience, rules.Registrants):
            found.update(
                session.execute(
                    select(Registration.account_id).where(Registration.event_id.in_(ids))
                ).scalars()
            )
        else:  # a rule names an audience this code does not know: a bug, say so
            raise TypeError(f"unknown audience {audience!r}")
    return found


def _group_names(session, data: dict) -> dict[str, str]:
    ids = sorted(
        {
            value
            for key, value in data.items()
            if (key.endswith("group_id") or key == "network_id") and isinstance(value, str)
        }
        | {
            value
            for key, value in data.items()
            if key.endswith("group_ids")
            for value in _ids(value)
        }
    )
    if not ids:
        return {}
    return dict(session.execute(select(Group.id, Group.name).where(Group.id.in_(ids))).all())


def _email_modes(session, account_ids: list[str]) -> dict[str, str]:
    modes: dict[str, str] = {}
    for chunk in _chunks(account_ids):
        modes.update(
            session.execute(
                select(Preference.account_id, Preference.email_mode).where(
                    Preference.account_id.in_(chunk)
                )
            ).all()
        )
    return modes


def _locales(session, account_ids: list[str]) -> dict[str, str]:
    locales: dict[str, str] = {}
    for chunk in _chunks(account_ids):
        locales.update(
            session.execute(select(Account.id, Account.locale).where(Account.id.in_(chunk))).all()
        )
    return locales


def notify(
    uow, envelope: Envelope, settings: email.MailSettings, now: datetime
) -> tuple[int, list[str]]:
    """Apply the rules of this event type: (how many were told, of which kinds)."""
    event_rules = rules.rules_for(envelope.type)
    if not event_rules:
        return 0, []
    session = uow.session
    data = envelope.data
    # The actor is never told of their own action (unless the rule says it is news to
    # them); nobody is told twice of one event.
    named: set[str] = {envelope.actor_id} if envelope.actor_id else set()
    group_names = _group_names(session, data)
    told, kinds = 0, []
    for rule in event_rules:
        if not rule.applies(data):
            continue
        excluded = named - {envelope.actor_id} if rule.tells_actor else named
        for field in rule.not_told:
            excluded = excluded | set(_ids(data.get(field)))
        to_tell = recipients(session, rule.tell, data) - excluded
        named |= to_tell
        if to_tell:
            muted = set(
                session.execute(
                    select(MutedKind.account_id).where(MutedKind.kind == rule.kind)
                ).scalars()
            )
            to_tell -= muted
        if not to_tell:
            continue
        words = rules.words_for(rule, data, group_names, settings.tz)
        told += deliver(
            session, envelope, rule.kind, words, sorted(to_tell), settings, envelope.occurred_at
        )
        kinds.append(rule.kind)
    return told, kinds


def deliver(
    session,
    envelope: Envelope,
    kind: str,
    words: dict,
    account_ids: list[str],
    settings: email.MailSettings,
    created_at: datetime,
) -> int:
    """One message, one inbox row per recipient (in bulk), and the immediate emails."""
    message_id = new_id()
    session.execute(
        insert(Message.__table__).values(
            id=message_id,
            event_id=envelope.id,
            event_type=envelope.type,
            kind=kind,
            created_at=created_at,
            **words,
        )
    )
    modes = _email_modes(session, account_ids)
    rows, immediate = [], []
    for account_id, row_id in zip(account_ids, new_ids(len(account_ids)), strict=True):
        mode = modes.get(account_id, DEFAULT_EMAIL_MODE)
        rows.append(
            {
                "id": row_id,
                "event_id": envelope.id,
                "account_id": account_id,
                "message_id": message_id,
                "kind": kind,
                "created_at": created_at,
                "read_at": None,
                "digest": DIGEST_PENDING if mode in DIGEST_MODES else None,
            }
        )
        if mode == "immediate":
            immediate.append(account_id)
    insert_rows(session, Notification.__table__, rows, CHUNK)
    if immediate:
        message = Message(
            id=message_id,
            link=words["link"],
            **{key: value for key, value in words.items() if key.startswith(("title_", "body_"))},
        )
        locales = _locales(session, immediate)
        emails = []
        for account_id in immediate:
            locale = email.locale_of(locales.get(account_id))
            subject, body = email.notification_email(message, locale, settings)
            emails.append(
                {
                    "account_id": account_id,
                    "kind": "notification",
                    "locale": locale,
                    "subject": subject,
                    "body": body,
                }
            )
        insert_rows(
            session,
            Email.__table__,
            email.queue_rows(emails, utcnow(), envelope.correlation_id),
            CHUNK,
        )
    return len(rows)


# --- the inbox --------------------------------------------------------------------------


def _locale(session, account_id: str) -> str:
    return email.locale_of(
        session.execute(select(Account.locale).where(Account.id == account_id)).scalar()
    )


def notification_view(notification: Notification, message: Message, locale: str) -> dict:
    return {
        "id": notification.id,
        "kind": notification.kind,
        "title": getattr(message, f"title_{locale}"),
        "body": getattr(message, f"body_{locale}"),
        "link": message.link,
        "target_type": message.target_type,
        "target_id": message.target_id,
        "created_at": notification.created_at,
        "read_at": notification.read_at,
    }


def unread_count(session, account_id: str) -> int:
    return session.execute(
        select(func.count())
        .select_from(Notification)
        .where(Notification.account_id == account_id, Notification.read_at.is_(None))
    ).scalar_one()


def list_notifications(
    uow, account_id: str, unread: bool | None = None, page: int = 1, per_page: int = 20
) -> dict:
    """The account's inbox, newest first; `unread=True` only the unread ones."""
    session = uow.session
    where = [Notification.account_id == account_id]
    if unread is True:
        where.append(Notification.read_at.is_(None))
    elif unread is False:
        where.append(Notification.read_at.is_not(None))
    notifications, total = paginate(
        session,
        select(Notification)
        .where(*where)
        .order_by(Notification.created_at.desc(), Notification.id.desc()),
        page,
        per_page,
    )
    messages = {
        message.id: message
        for message in session.execute(
            select(Message).where(Message.id.in_({n.message_id for n in notifications}))
        ).scalars()
    }
    locale = _locale(session, account_id)
    return {
        "items": [notification_view(n, messages[n.message_id], locale) for n in notifications],
        "total": total,
        "page": page,
        "per_page": per_page,
        "unread_count": unread_count(session, account_id),
    }


def mark_read(uow, account_id: str, notification_id: str) -> dict:
    session = uow.session
    found = session.execute(
        select(Notification, Message)
        .join(Message, Message.id == Notification.message_id)
        .where(Notification.id == notification_id, Notification.account_id == account_id)
    ).first()
    if found is None:
        raise NotFound("no such notification")
    notification, message = found
    if notification.read_at is None:
        notification.read_at = utcnow()
    return notification_view(notification, message, _locale(session, account_id))


def mark_all_read(uow, account_id: str) -> dict:
    result = uow.session.execute(
        update(Notification)
        .where(Notification.account_id == account_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    return {"marked": result.rowcount or 0, "unread_count": 0}


# --- preferences and unsubscribing ------------------------------------------------------


def get_preferences(uow, account_id: str) -> dict:
    session = uow.session
    found = session.get(Preference, account_id)
    muted = (
        session.execute(
            select(MutedKind.kind)
            .where(MutedKind.account_id == account_id)
            .order_by(MutedKind.kind)
        )
        .scalars()
        .all()
    )
    return {"email": found.email_mode if found else DEFAULT_EMAIL_MODE, "muted_kinds": list(muted)}


def set_preferences(
    uow, account_id: str, email: str | None = None, muted_kinds: list[str] | None = None
) -> dict:
    """Change what is given; what is left out stays as it was."""
    session = uow.session
    if email is not None:
        _set_email_mode(session, account_id, email)
    if muted_kinds is not None:
        session.execute(delete(MutedKind).where(MutedKind.account_id == account_id))
        rows = [{"account_id": account_id, "kind": kind} for kind in sorted(set(muted_kinds))]
        if rows:
            session.execute(insert(MutedKind.__table__), rows)
    return get_preferences(uow, account_id)


def _set_email_mode(session, account_id: str, mode: str) -> None:
    found = session.get(Preference, account_id)
    if found is None:
        session.add(Preference(account_id=account_id, email_mode=mode, updated_at=utcnow()))
    else:
        found.email_mode = mode
        found.updated_at = utcnow()


def unsubscribe(uow, token) -> dict:
    """The emailed one-click link: email off for the account it was made for."""
    account_id = email.account_of_token(token)
    if account_id is None:
        raise NotFound("this unsubscribe link is not valid")
    _set_email_mode(uow.session, account_id, "off")
    return {"email": "off"}


# --- follows ----------------------------------------------------------------------------


def follow_view(follow: Follow, title: str | None) -> dict:
    return {
        "target_type": follow.target_type,
        "target_id": follow.target_id,
        "title": title,
        "automatic": follow.source == "auto",
        "created_at": follow.created_at,
    }


def _is_programme(target_type: str, target_id: str) -> bool:
    return target_type == "programme" and target_id == PROGRAMME_ID


def follow(uow, account_id: str, target_type: str, target_id: str) -> dict:
    """Follow something this service knows of (its events made it known), or the
    programme (always: no event makes it known)."""
    session = uow.session
    target = session.get(Target, (target_type, target_id))
    if target is not None:
        title = target.title
    elif _is_programme(target_type, target_id):
        title = PROGRAMME_TITLE
    else:
        raise NotFound(f"no such {target_type}")
    if session.get(Follow, (account_id, target_type, target_id)) is not None:
        raise Conflict(f"already following this {target_type}")
    found = Follow(
        account_id=account_id,
        target_type=target_type,
        target_id=target_id,
        source="manual",
        created_at=utcnow(),
    )
    session.add(found)
    return follow_view(found, title)


def unfollow(uow, account_id: str, target_type: str, target_id: str) -> None:
    result = uow.session.execute(
        delete(Follow).where(
            Follow.account_id == account_id,
            Follow.target_type == target_type,
            Follow.target_id == target_id,
        )
    )
    if not result.rowcount:
        raise NotFound(f"not following this {target_type}")


def list_follows(uow, account_id: str, page: int = 1, per_page: int = 20) -> dict:
    session = uow.session
    follows, total = paginate(
        session,
        select(Follow)
        .where(Follow.account_id == account_id)
        .order_by(Follow.created_at.desc(), Follow.target_id),
        page,
        per_page,
    )
    titles = {
        (target_type, target_id): title
        for target_type, target_id, title in session.execute(
            select(Target.type, Target.id, Target.title).where(
                Target.id.in_({found.target_id for found in follows})
            )
        )
    }
    titles[("programme", PROGRAMME_ID)] = PROGRAMME_TITLE
    return {
        "items": [
            follow_view(found, titles.get((found.target_type, found.target_id)))
            for found in follows
        ],
        "total": total,
        "page": page,
        "per_page": per_page,
    }


# --- personal data ----------------------------------------------------------------------


def export_account(uow, account_id: str) -> dict:
    """Everything this service holds about an account, as it is sent: times already
    ISO 8601 text, as every service's export holds them (no output schema describes an
    export)."""
    session = uow.session
    locale = _locale(session, account_id)
    inbox = session.execute(
        select(Notification, Message)
        .join(Message, Message.id == Notification.message_id)
        .where(Notification.account_id == account_id)
        .order_by(Notification.created_at)
    ).all()
    follows = session.execute(
        select(Follow).where(Follow.account_id == account_id).order_by(Follow.created_at)
    ).scalars()
    emails = session.execute(
        select(Email).where(Email.account_id == account_id).order_by(Email.created_at)
    ).scalars()
    return {
        "preferences": get_preferences(uow, account_id),
        "follows": [iso_values(follow_view(found, None)) for found in follows],
        "notifications": [iso_values(notification_view(n, m, locale)) for n, m in inbox],
        "emails": [
            {
                "kind": e.kind,
                "subject": e.subject,
                "status": e.status,
                "created_at": iso(e.created_at),
                "sent_at": iso(e.sent_at),
            }
            for e in emails
        ],
    }


def erase_account(session, account_id: str) -> None:
    """Delete what this service holds about the account. The activity feed keeps its
    entries (public ids and titles only: it is the platform's audit trail) but not the
    account's id in them; the id alone is kept, as a tombstone, so a late event about
    the account is recorded without it and brings nothing back."""
    if session.get(ErasedAccount, account_id) is None:
        session.add(ErasedAccount(account_id=account_id))
    activity.forget(session, account_id)
    for model in (Notification, Email, Follow, Preference, MutedKind):
        session.execute(delete(model).where(model.account_id == account_id))
    session.execute(delete(Membership).where(Membership.account_id == account_id))
    session.execute(delete(Registration).where(Registration.account_id == account_id))
    session.execute(delete(VolunteerInterest).where(VolunteerInterest.account_id == account_id))
    session.execute(delete(Account).where(Account.id == account_id))
