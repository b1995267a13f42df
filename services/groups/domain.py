"""The rules of accounts, sessions, groups and memberships, as plain functions.

Each function takes a unit of work that is already entered (`uow.session` is a
SQLAlchemy session, `uow.publish` writes an event to the outbox in the same
transaction) and values the caller has validated (see api.py), and returns plain data
(times as datetimes) that the entrypoint dumps with api.py's output schemas. Rules that
are broken raise civic.errors; the caller's `with` block then rolls everything back, so
a refused request changes nothing and publishes nothing.
"""

from __future__ import annotations

import hashlib
import os
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from eventlet.semaphore import Semaphore
from sqlalchemy import bindparam, delete, func, select, update

from civic import config, prebuilt, signing
from civic.clock import iso
from civic.db import flush_unique, new_id, paginate, utcnow
from civic.errors import Conflict, Forbidden, NotFound, Unauthenticated, ValidationError
from services.groups import limits
from services.groups.api import TooManyAttempts
from services.groups.models import Account, Group, Membership, NetworkLink, SessionToken

VERIFIABLE_KINDS = ("association", "business")
# Working groups are set up by the programme itself and networks only gather groups:
# neither speaks for an outside organisation, so neither needs checking by staff.
TRUSTED_KINDS = ("working_group", "network")
ERASED_NAME = "Erased account"
WRONG_CREDENTIALS = "wrong email or password"

# OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane): about 50 ms on one core, which a
# small two-core server can afford per sign-in. Hashes made with other parameters are
# upgraded at the next successful sign-in.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_dummy_hash: str | None = None


# --- passwords and tokens ---------------------------------------------------------------


# At most this many hashes at once per process (CIVIC_PASSWORD_HASH_CONCURRENCY, default
# one per CPU): each holds 19 MiB while it runs, and more threads than cores make no
# sign-in faster. The others wait on a green semaphore, as green threads holding nothing,
# not as tpool's OS threads (20 by default) each holding its 19 MiB.
_hash_slots: tuple[int, Semaphore] | None = None


def hashing_slots() -> Semaphore:
    """The semaphore bounding concurrent hashes, sized from the configuration now (so a
    changed setting, as in a test, takes effect at the next hash)."""
    global _hash_slots
    size = int(config.get("CIVIC_PASSWORD_HASH_CONCURRENCY") or os.cpu_count() or 1)
    if _hash_slots is None or _hash_slots[0] != size:
        _hash_slots = (size, Semaphore(size))
    return _hash_slots[1]


def _off_the_hub(fn, *args):
    """Run argon2 (tens of milliseconds of CPU, GIL released) in a real thread when the
    process is green, so the other workers of the process keep running meanwhile; at
    most `hashing_slots()` at once. Unpatched (a plain script), it runs here and now."""
    from eventlet import patcher, tpool

    if patcher.is_monkey_patched("thread"):
        with hashing_slots():
            return tpool.execute(fn, *args)
    return fn(*args)


def hash_password(password: str) -> str:
    return _off_the_hub(_hasher.hash, password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if `password` matches. Always does the work of one verification, even with
    no hash to check against, so the answer time does not tell whether an email exists."""
    global _dummy_hash
    if stored_hash is None:
        if _dummy_hash is None:
            _dummy_hash = hash_password(secrets.token_urlsafe(16))
        stored_hash, password = _dummy_hash, password + "\x00never"
    try:
        return _off_the_hub(_hasher.verify, stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def name_key(name: str) -> str:
    """What makes two group names the same: case and spacing do not count."""
    return " ".join(name.split()).casefold()


def tombstone_email(account_id: str) -> str:
    return f"erased-{account_id}@invalid"


# --- views (plain data: api.AccountSchema, MembershipSchema, GroupSchema dump them) -----


def account_view(account: Account) -> dict:
    return {
        "id": account.id,
        "email": account.email,
        "display_name": account.display_name,
        "locale": account.locale,
        "created_at": account.created_at,
    }


def membership_view(membership: Membership) -> dict:
    return {
        "group_id": membership.group_id,
        "account_id": membership.account_id,
        "role": membership.role,
        "status": membership.status,
        "created_at": membership.created_at,
    }


class _ViewQueries:
    """`_group_views`' four queries, built once with the groups' ids as a bind parameter
    (every list of groups runs them; built afresh, SQLAlchemy worked each one's cache
    key out again: issue 14), on the tables themselves (rows, not ORM objects)."""

    def __init__(self, _memberships):
        membership, account = Membership.__table__.c, Account.__table__.c
        link, group = NetworkLink.__table__.c, Group.__table__.c

        def ids():
            return bindparam("ids", expanding=True)

        self.counts = (
            select(membership.group_id, func.count())
            .where(membership.group_id.in_(ids()), membership.status == "active")
            .group_by(membership.group_id)
        )
        self.admins = (
            select(membership.group_id, account.id, account.display_name)
            .join(Account.__table__, account.id == membership.account_id)
            .where(
                membership.group_id.in_(ids()),
                membership.role == "admin",
                membership.status == "active",
            )
            .order_by(membership.created_at, account.id)
        )
        self.networks = (
            select(link.group_id, group.id, group.name)
            .join(Group.__table__, group.id == link.network_id)
            .where(link.group_id.in_(ids()))
            .order_by(group.name_key)
        )
        self.erased = select(account.id).where(
            account.id.in_(ids()), account.erased_at.is_not(None)
        )


def _group_views(session, groups: list) -> list[dict]:
    """Groups (`Group` objects, or the groups table's rows as a list of them reads them)
    with their member count, admins and networks, in four queries in all.

    An erased creator is not shown (null): nothing in the answer links back to it."""
    ids = [group.id for group in groups]
    if not ids:
        return []
    queries = prebuilt.once(Membership.__table__, "group_views", _ViewQueries)
    counts = dict(session.execute(queries.counts, {"ids": ids}).all())
    admins: dict[str, list] = {group_id: [] for group_id in ids}
    for group_id, account_id, display_name in session.execute(queries.admins, {"ids": ids}):
        admins[group_id].append({"id": account_id, "display_name": display_name})
    networks: dict[str, list] = {group_id: [] for group_id in ids}
    for group_id, network_id, network_name in session.execute(queries.networks, {"ids": ids}):
        networks[group_id].append({"id": network_id, "name": network_name})
    creators = sorted({group.created_by for group in groups if group.created_by})
    erased_creators = set(session.execute(queries.erased, {"ids": creators}).scalars())
    return [
        {
            "id": group.id,
            "name": group.name,
            "kind": group.kind,
            "description": group.description,
            "open": group.open,
            "verified": group.verified,
            "created_by": None if group.created_by in erased_creators else group.created_by,
            "created_at": group.created_at,
            "needs_admin": group.needs_admin,
            "verification_refused_at": group.verification_refused_at,
            "member_count": counts.get(group.id, 0),
            "admins": admins[group.id],
            "networks": networks[group.id],
        }
        for group in groups
    ]


def group_view(session, group: Group) -> dict:
    return _group_views(session, [group])[0]


# --- lookups ----------------------------------------------------------------------------


def _actor(session, actor_id: str) -> Account:
    """The signed-in account acting; gone or erased means it is signed in no more."""
    account = session.get(Account, actor_id)
    if account is None or account.erased_at is not None:
        raise Unauthenticated("the account no longer exists")
    return account


def _live_account(session, account_id: str) -> Account:
    account = session.get(Account, account_id)
    if account is None or account.erased_at is not None:
        raise NotFound("no such account")
    return account


def _group(session, group_id: str) -> Group:
    group = session.get(Group, group_id)
    if group is None:
        raise NotFound("no such group")
    return group


def _membership(session, group_id: str, account_id: str) -> Membership | None:
    return session.get(Membership, (group_id, account_id))


def _is_admin(session, group_id: str, account_id: str) -> bool:
    membership = _membership(session, group_id, account_id)
    return membership is not None and membership.status == "active" and membership.role == "admin"


def _next_membership_version(session, group_id: str) -> int:
    """A new version for a fact about one of the group's memberships (see
    Group.membership_version); the group's row stays locked until the commit."""
    return session.execute(
        update(Group)
        .where(Group.id == group_id)
        .values(membership_version=Group.membership_version + 1)
        .returning(Group.membership_version)
        .execution_options(synchronize_session=False)
    ).scalar_one()


def _publish_membership(uow, event_type: str, group_id: str, account_id: str, actor_id, **data):
    """Publish a fact about a membership, stamped with the membership's next version."""
    version = _next_membership_version(uow.session, group_id)
    uow.publish(
        event_type,
        {"group_id": group_id, "account_id": account_id, **data, "membership_version": version},
        actor_id=actor_id,
    )


def _admin_ids(session, group_id: str) -> list[str]:
    return list(
        session.execute(
            select(Membership.account_id)
            .where(
                Membership.group_id == group_id,
                Membership.role == "admin",
                Membership.status == "active",
            )
            .order_by(Membership.created_at, Membership.account_id)
        ).scalars()
    )


# --- admins: handing over, appointing ---------------------------------------------------


def successor(members) -> str | None:
    """Who takes over a group whose last admin goes: of the active members that stay,
    given as (membership created_at, account_id), the longest-standing one (ties: the
    smaller id, so the choice never depends on row order); None when nobody stays."""
    staying = sorted(members, key=lambda member: (member[0], member[1]))
    return staying[0][1] if staying else None


def _hand_over(uow, group: Group, leaving_id: str, actor_id: str | None) -> None:
    """Before (or as) an active admin's membership goes: if no other admin stays, the
    longest-standing active member becomes admin; with nobody left, the group waits
    for staff to appoint one (needs_admin, and group_needs_admin for staff to see)."""
    session = uow.session
    if any(admin_id != leaving_id for admin_id in _admin_ids(session, group.id)):
        return
    chosen = successor(
        session.execute(
            select(Membership.created_at, Membership.account_id).where(
                Membership.group_id == group.id,
                Membership.status == "active",
                Membership.account_id != leaving_id,
            )
        ).all()
    )
    if chosen is None:
        group.needs_admin = True
        uow.publish("group_needs_admin", {"group_id": group.id}, actor_id=actor_id)
        return
    _membership(session, group.id, chosen).role = "admin"
    _publish_membership(uow, "admin_appointed", group.id, chosen, actor_id, reason="handover")


def appoint_admin(uow, actor_id: str, group_id: str, account_id: str) -> dict:
    """Staff make an account an admin of a group (joining it first if need be), e.g. a
    group left without members (needs_admin, which this clears)."""
    session = uow.session
    if not _actor(session, actor_id).is_staff:
        raise Forbidden("only staff appoint group admins")
    group = _group(session, group_id)
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound("no such account")
    if account.erased_at is not None:
        raise Conflict("an erased account cannot be an admin")
    membership = _membership(session, group.id, account.id)
    if membership is not None and membership.status == "active" and membership.role == "admin":
        raise Conflict("the account is an admin of this group already")
    joins = membership is None or membership.status != "active"
    if membership is None:
        membership = Membership(
            group_id=group.id,
            account_id=account.id,
            role="admin",
            status="active",
            created_at=utcnow(),
        )
        session.add(membership)
        flush_unique(session, "the account is a member of this group already")
    membership.status, membership.role = "active", "admin"
    group.needs_admin = False
    if joins:
        _publish_membership(uow, "member_joined", group.id, account.id, actor_id, role="admin")
    _publish_membership(uow, "admin_appointed", group.id, account.id, actor_id, reason="staff")
    return group_view(session, group)


# --- accounts and sessions --------------------------------------------------------------


def _new_account(
    uow,
    email: str,
    password: str,
    display_name: str,
    locale: str,
    is_staff: bool = False,
    confirmed: bool = False,
) -> Account:
    """A new account; unless `confirmed` (staff made by the CLI), it is asked to confirm
    its email address (the notifications service sends the link)."""
    session = uow.session
    # Hash before touching the database: the connection is not held during the work.
    password_hash = hash_password(password)
    if session.execute(select(Account.id).where(Account.email == email)).first():
        raise Conflict("email already registered")
    now = utcnow()
    account = Account(
        id=new_id(),
        email=email,
        password_hash=password_hash,
        display_name=display_name,
        locale=locale,
        is_staff=is_staff,
        created_at=now,
        email_confirmed_at=now if confirmed else None,
    )
    session.add(account)
    flush_unique(session, "email already registered")
    uow.publish(
        "account_registered",
        {"account_id": account.id, "display_name": display_name, "locale": locale},
        actor_id=account.id,
    )
    if not confirmed:
        _ask_for_confirmation(uow, account)
    return account


def _ask_for_confirmation(uow, account: Account) -> None:
    uow.publish(
        "email_confirmation_requested",
        {"account_id": account.id, "locale": account.locale},
        actor_id=account.id,
    )


def _confirmed(uow, account: Account, now) -> None:
    """Mark the account's email confirmed (once: confirming again changes nothing)."""
    if account.email_confirmed_at is None:
        account.email_confirmed_at = now
        uow.publish("email_confirmed", {"account_id": account.id}, actor_id=account.id)


def register_account(uow, email: str, password: str, display_name: str, locale: str = "sv") -> dict:
    return account_view(_new_account(uow, email, password, display_name, locale))


def sign_in(
    uow,
    email: str,
    password: str,
    address: str | None = None,
    rule: limits.SignInRule | None = None,
    now=None,
) -> dict:
    """A new session token for the right password; the token itself is never stored.

    With a `rule` (the gateways' sign-in limits, counted here for all of them: see
    limits.py), an email that failed too often lately from `address` or from everywhere,
    or an address that did, is refused (429) before its password is checked, and a
    success forgives this address its earlier typos of this email. A failure is counted
    by `sign_in_failed`, in a transaction of its own: this one rolls back.
    """
    session = uow.session
    now = now or utcnow()
    if rule is not None:
        wait = limits.sign_in_wait(session, rule, email, address, now)
        if wait is not None:
            raise TooManyAttempts(f"too many sign-in attempts; try again in {wait} seconds", wait)
    account = session.execute(
        select(Account).where(Account.email == email, Account.erased_at.is_(None))
    ).scalar_one_or_none()
    stored_hash = account.password_hash if account is not None else None
    if not verify_password(stored_hash, password) or account is None:
        raise Unauthenticated(WRONG_CREDENTIALS)
    if _hasher.check_needs_rehash(stored_hash):
        account.password_hash = hash_password(password)
    token = new_token()
    session.add(SessionToken(token_hash=token_digest(token), account_id=account.id, created_at=now))
    if rule is not None:
        limits.sign_in_succeeded(session, rule, email, address)
    return {"token": token, "account": account_view(account)}


def sign_in_failed(uow, rule: limits.SignInRule, email: str, address: str, now=None) -> None:
    """Count a failed sign-in (a wrong password, an unknown email) for the limits."""
    limits.sign_in_failed(uow.session, rule, email, address, now or utcnow())


def admit_registration(uow, window: limits.Window, address: str, now=None) -> None:
    """Count a registration from this client address, or refuse it (429) when the
    address registered too often lately (then nothing is counted). Every attempt counts,
    a refused one too (a taken email costs a password hash): hence a transaction of its
    own, before the registration's."""
    wait = limits.admit_registration(uow.session, window, address, now or utcnow())
    if wait is not None:
        raise TooManyAttempts(f"too many registrations; try again in {wait} seconds", wait)


def prune_attempts(uow, configured: limits.Limits, now=None) -> int:
    """Delete the counted attempts that left their windows; how many."""
    return limits.prune(uow.session, configured, now or utcnow())


def _live_session(session, token) -> SessionToken | None:
    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    found = session.get(SessionToken, token_digest(token))
    if found is None or found.revoked_at is not None:
        return None
    return found


def authenticate(uow, token) -> dict:
    """Who holds this bearer token."""
    session = uow.session
    found = _live_session(session, token)
    account = session.get(Account, found.account_id) if found is not None else None
    if account is None or account.erased_at is not None:
        raise Unauthenticated("not signed in, or the session has ended")
    return {
        "account_id": account.id,
        "display_name": account.display_name,
        "locale": account.locale,
        "is_staff": account.is_staff,
        "email_confirmed": account.email_confirmed_at is not None,
        "created_at": account.created_at,
    }


def sign_out(uow, token) -> None:
    """Revoke the session, and say so (`signed_out`: every gateway forgets the account's
    cached sessions at once). Signing out of an ended session is done already: no error,
    no event."""
    found = _live_session(uow.session, token)
    if found is not None:
        found.revoked_at = utcnow()
        uow.publish("signed_out", {"account_id": found.account_id}, actor_id=found.account_id)


def _set_staff(uow, account: Account, is_staff: bool, actor_id: str | None) -> None:
    """Make an existing account staff or not; a change is announced
    (`staff_role_changed`: every gateway forgets the account's cached sessions)."""
    if bool(account.is_staff) == is_staff:
        return
    account.is_staff = is_staff
    uow.publish(
        "staff_role_changed", {"account_id": account.id, "is_staff": is_staff}, actor_id=actor_id
    )


def get_me(uow, account_id: str) -> dict:
    session = uow.session
    account = _live_account(session, account_id)
    memberships = session.execute(
        select(Membership.group_id, Group.name, Group.kind, Membership.role, Membership.status)
        .join(Group, Group.id == Membership.group_id)
        .where(Membership.account_id == account.id)
        .order_by(Group.name_key)
    ).all()
    return {
        **account_view(account),
        "email_confirmed": account.email_confirmed_at is not None,
        "roles": ["resident", "staff"] if account.is_staff else ["resident"],
        "memberships": [
            {"group_id": group_id, "group_name": name, "kind": kind, "role": role, "status": status}
            for group_id, name, kind, role, status in memberships
        ],
    }


def export_account(uow, account_id: str) -> dict:
    """Everything this service holds about an account (the password hash excepted), as
    it is sent: times already ISO 8601 text (no output schema describes an export)."""
    session = uow.session
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound("no such account")
    rows = session.execute(
        select(Membership, Group.name, Group.kind)
        .join(Group, Group.id == Membership.group_id)
        .where(Membership.account_id == account.id)
        .order_by(Membership.created_at)
    ).all()
    sessions = session.execute(
        select(SessionToken.created_at, SessionToken.revoked_at)
        .where(SessionToken.account_id == account.id)
        .order_by(SessionToken.created_at)
    ).all()
    created = (
        session.execute(
            select(Group).where(Group.created_by == account.id).order_by(Group.created_at)
        )
        .scalars()
        .all()
    )
    return {
        "account": {
            **account_view(account),
            "created_at": iso(account.created_at),
            "is_staff": account.is_staff,
            "email_confirmed_at": iso(account.email_confirmed_at),
            "erased_at": iso(account.erased_at),
        },
        "memberships": [
            {
                "group_id": m.group_id,
                "group_name": name,
                "kind": kind,
                "role": m.role,
                "created_at": iso(m.created_at),
            }
            for m, name, kind in rows
            if m.status == "active"
        ],
        "join_requests": [
            {
                "group_id": m.group_id,
                "group_name": name,
                "kind": kind,
                "created_at": iso(m.created_at),
            }
            for m, name, kind in rows
            if m.status == "pending"
        ],
        "sessions": {
            "count": len(sessions),
            "created_at": [iso(created_at) for created_at, _ in sessions],
            "active": sum(1 for _, revoked_at in sessions if revoked_at is None),
        },
        "groups_created": [
            {"id": g.id, "name": g.name, "kind": g.kind, "created_at": iso(g.created_at)}
            for g in created
        ],
    }


def erase_account(uow, account_id: str) -> None:
    """Remove the personal data; the account row stays as a tombstone for other ids.

    Groups the account created stay (they belong to their members; the API shows no
    creator for them any more). A group whose last admin is erased is handed over to its
    longest-standing member, or waits for staff (needs_admin) when nobody is left:
    erasure is a right and is not refused.
    """
    session = uow.session
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound("no such account")
    if account.erased_at is not None:
        return None  # erased already: nothing left to remove
    now = utcnow()
    session.execute(
        update(SessionToken)
        .where(SessionToken.account_id == account.id, SessionToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    memberships = (
        session.execute(
            select(Membership)
            .where(Membership.account_id == account.id)
            .order_by(Membership.created_at)
        )
        .scalars()
        .all()
    )
    # Lock the groups whose membership versions change below in one order (by id), so
    # two erasures sharing groups never wait for each other in a circle.
    session.execute(
        select(Group.id)
        .where(Group.id.in_(sorted({m.group_id for m in memberships if m.status == "active"})))
        .order_by(Group.id)
        .with_for_update()
    ).all()
    for membership in memberships:
        if membership.status == "active":
            _publish_membership(uow, "member_left", membership.group_id, account.id, account.id)
            if membership.role == "admin":
                _hand_over(uow, _group(session, membership.group_id), account.id, account.id)
    session.execute(delete(Membership).where(Membership.account_id == account.id))
    account.email = tombstone_email(account.id)
    account.display_name = ERASED_NAME
    account.password_hash = None
    _set_staff(uow, account, False, account.id)
    account.erased_at = now
    uow.publish("account_erased", {"account_id": account.id}, actor_id=account.id)
    return None


# --- email confirmation -----------------------------------------------------------------

INVALID_CONFIRMATION = "this confirmation link is not valid"
EXPIRED_CONFIRMATION = "this confirmation link has expired: sign in and ask for a new one"


def confirm_email(uow, token: str, now=None) -> dict:
    """Follow the emailed link: the account's email is confirmed. Following it again is
    fine; an expired link, a link of an erased account or anything we did not sign is
    refused (400)."""
    found = signing.email_confirmation_of(token)
    if found is None:
        raise ValidationError(INVALID_CONFIRMATION, fields={"token": ["Not valid."]})
    if found.expired(now or utcnow()):
        raise ValidationError(EXPIRED_CONFIRMATION, fields={"token": ["Expired."]})
    account = uow.session.get(Account, found.account_id)
    if account is None or account.erased_at is not None:
        raise ValidationError(INVALID_CONFIRMATION, fields={"token": ["Not valid."]})
    _confirmed(uow, account, now or utcnow())
    return {"account_id": account.id}


def request_confirmation_email(uow, account_id: str) -> None:
    """Send a new confirmation link (the old ones stay valid until they expire)."""
    account = _actor(uow.session, account_id)
    if account.email_confirmed_at is not None:
        raise Conflict("the email address is confirmed already")
    _ask_for_confirmation(uow, account)


def confirm_emails_directly(uow, account_ids: list[str]) -> int:
    """Confirm accounts without a link (the demo's residents, from the command line);
    returns how many were not confirmed before."""
    now = utcnow()
    accounts = (
        uow.session.execute(
            select(Account).where(
                Account.id.in_(sorted(set(account_ids))),
                Account.erased_at.is_(None),
                Account.email_confirmed_at.is_(None),
            )
        )
        .scalars()
        .all()
    )
    for account in accounts:
        _confirmed(uow, account, now)
    return len(accounts)


def get_accounts(uow, account_ids: list[str]) -> dict:
    wanted = sorted(set(account_ids))
    if not wanted:
        return {}
    rows = uow.session.execute(
        select(Account.id, Account.display_name).where(Account.id.in_(wanted))
    ).all()
    return {
        account_id: {"id": account_id, "display_name": display_name}
        for account_id, display_name in rows
    }


def get_emails(uow, account_ids: list[str]) -> dict:
    """Email addresses by account id; erased and unknown accounts have none."""
    wanted = sorted(set(account_ids))
    if not wanted:
        return {}
    rows = uow.session.execute(
        select(Account.id, Account.email).where(Account.id.in_(wanted), Account.erased_at.is_(None))
    ).all()
    return {account_id: email for account_id, email in rows}


def create_or_promote_staff(
    uow, email: str, password: str, display_name: str, locale: str = "sv"
) -> tuple[dict, bool]:
    """Make the account with this email staff, creating it if needed (`civic staff
    create`, through the create_staff_account RPC); the input is validated by the caller
    (api.AccountCreateSchema).

    An existing account keeps its password and name: promoting is not resetting. Either
    way its email counts as confirmed: whoever runs the command vouches for it.
    """
    existing = uow.session.execute(
        select(Account).where(Account.email == email, Account.erased_at.is_(None))
    ).scalar_one_or_none()
    if existing is not None:
        # Nobody signed in acts here: the command line vouches (no actor).
        _set_staff(uow, existing, True, None)
        _confirmed(uow, existing, utcnow())
        return account_view(existing), False
    account = _new_account(
        uow, email, password, display_name, locale, is_staff=True, confirmed=True
    )
    return account_view(account), True


# --- groups -----------------------------------------------------------------------------


def _list_query(
    table, by_kind: bool, needs_admin, awaiting_verification, verification_refused
) -> prebuilt.Paged:
    """The list of groups for one combination of filters, built once (every list of
    groups runs one; building and keying it per call was a quarter of the read's CPU
    in the groups service, issue 14). The kind is a bind parameter; the others pick
    the statement."""
    query = select(table)
    if by_kind:
        query = query.where(table.c.kind == bindparam("kind"))
    if needs_admin is not None:
        query = query.where(table.c.needs_admin.is_(needs_admin))
    order = (table.c.name_key, table.c.id)
    if awaiting_verification is not None:
        waiting = (
            table.c.kind.in_(VERIFIABLE_KINDS)
            & table.c.verified.is_(False)
            & table.c.verification_refused_at.is_(None)
        )
        query = query.where(waiting if awaiting_verification else ~waiting)
        if awaiting_verification:
            order = (table.c.created_at, table.c.id)
    if verification_refused is not None:
        refused = table.c.verification_refused_at.is_not(None)
        query = query.where(refused if verification_refused else ~refused)
        if verification_refused:
            order = (table.c.verification_refused_at.desc(), table.c.id)
    return prebuilt.paged(query.order_by(*order))


def list_groups(
    uow,
    kind: str | None = None,
    page: int = 1,
    per_page: int = 20,
    needs_admin: bool | None = None,
    awaiting_verification: bool | None = None,
    verification_refused: bool | None = None,
) -> dict:
    """Groups by name; `awaiting_verification=true`: the associations and businesses
    staff have neither verified nor refused, the longest waiting first;
    `verification_refused=true`: those staff refused, the latest refused first."""
    shape = (kind is not None, needs_admin, awaiting_verification, verification_refused)
    query = prebuilt.once(
        Group.__table__, f"list_groups.{shape}", lambda table: _list_query(table, *shape)
    )
    session = uow.session
    values = {"kind": kind} if kind is not None else {}
    groups, total = paginate(session, query, page, per_page, values)
    return {
        "items": _group_views(session, groups),
        "total": total,
        "page": page,
        "per_page": per_page,
    }


def create_group(
    uow, actor_id: str, name: str, kind: str, description: str = "", open: bool = True
) -> dict:
    """A new group whose creator is its first admin."""
    session = uow.session
    actor = _actor(session, actor_id)
    key = name_key(name)
    if session.execute(select(Group.id).where(Group.name_key == key)).first():
        raise Conflict("a group with this name already exists")
    now = utcnow()
    group = Group(
        id=new_id(),
        name=name,
        name_key=key,
        kind=kind,
        description=description,
        open=open,
        verified=kind in TRUSTED_KINDS,
        created_by=actor.id,
        created_at=now,
    )
    session.add(group)
    flush_unique(session, "a group with this name already exists")
    session.add(
        Membership(
            group_id=group.id, account_id=actor.id, role="admin", status="active", created_at=now
        )
    )
    session.flush()
    uow.publish(
        "group_created",
        {
            "group_id": group.id,
            "name": group.name,
            "kind": kind,
            "open": open,
            "created_by": actor.id,
        },
        actor_id=actor.id,
    )
    _publish_membership(uow, "member_joined", group.id, actor.id, actor.id, role="admin")
    return group_view(session, group)


def get_group(uow, group_id: str) -> dict:
    session = uow.session
    return group_view(session, _group(session, group_id))


def is_group_admin(uow, account_id: str, group_id: str) -> bool:
    return _is_admin(uow.session, group_id, account_id)


def list_members(uow, actor_id: str, group_id: str, page: int = 1, per_page: int = 100) -> dict:
    """Who is in a group, with their roles: for its active members and staff (who is a
    member of what is nobody else's business). Its admins and staff also see the
    requests to join, first, to approve or decline."""
    session = uow.session
    actor = _actor(session, actor_id)
    group = _group(session, group_id)
    mine = _membership(session, group.id, actor.id)
    active = mine is not None and mine.status == "active"
    if not (active or actor.is_staff):
        raise Forbidden("only the group's members see who its members are")
    sees_requests = actor.is_staff or (active and mine.role == "admin")
    query = (
        select(Membership)
        .join(Account, Account.id == Membership.account_id)
        .where(Membership.group_id == group.id)
    )
    if not sees_requests:
        query = query.where(Membership.status == "active")
    query = query.order_by(
        (Membership.status == "active"),  # requests first
        (Membership.role != "admin"),
        Account.display_name,
        Account.id,
    )
    memberships, total = paginate(session, query, page, per_page)
    names = dict(
        session.execute(
            select(Account.id, Account.display_name).where(
                Account.id.in_([m.account_id for m in memberships])
            )
        ).all()
    )
    return {
        "items": [
            {
                "account_id": m.account_id,
                "display_name": names.get(m.account_id),
                "role": m.role,
                "status": m.status,
                "created_at": m.created_at,
            }
            for m in memberships
        ],
        "total": total,
        "page": page,
        "per_page": per_page,
    }


def join_group(uow, actor_id: str, group_id: str) -> dict:
    """Join an open group at once; ask the admins of a closed one."""
    session = uow.session
    actor = _actor(session, actor_id)
    group = _group(session, group_id)
    existing = _membership(session, group.id, actor.id)
    if existing is not None:
        raise Conflict(
            "already a member of this group"
            if existing.status == "active"
            else "a request to join this group is already pending"
        )
    membership = Membership(
        group_id=group.id,
        account_id=actor.id,
        role="member",
        status="active" if group.open else "pending",
        created_at=utcnow(),
    )
    session.add(membership)
    flush_unique(session, "already a member of this group")
    if group.open:
        _publish_membership(uow, "member_joined", group.id, actor.id, actor.id, role="member")
        return {"status": "member", "membership": membership_view(membership)}
    uow.publish(
        "join_requested",
        {"group_id": group.id, "account_id": actor.id, "admin_ids": _admin_ids(session, group.id)},
        actor_id=actor.id,
    )
    return {"status": "pending", "membership": membership_view(membership)}


def approve_member(uow, actor_id: str, group_id: str, account_id: str) -> dict:
    session = uow.session
    group = _group(session, group_id)
    if not _is_admin(session, group.id, actor_id):
        raise Forbidden("only an admin of the group may approve members")
    membership = _membership(session, group.id, account_id)
    if membership is None or membership.status != "pending":
        raise NotFound("no pending request to join from this account")
    membership.status = "active"
    _publish_membership(uow, "member_joined", group.id, account_id, actor_id, role=membership.role)
    return membership_view(membership)


def remove_member(uow, actor_id: str, group_id: str, account_id: str) -> None:
    """Leave a group, withdraw or decline a request, or remove a member (admins).

    When the last admin leaves, the longest-standing member takes over (see _hand_over).
    """
    session = uow.session
    group = _group(session, group_id)
    if actor_id != account_id and not _is_admin(session, group.id, actor_id):
        raise Forbidden("only the member or an admin of the group may do this")
    membership = _membership(session, group.id, account_id)
    if membership is None:
        raise NotFound("not a member of this group, and no pending request")
    was_active = membership.status == "active"
    was_admin = was_active and membership.role == "admin"
    session.delete(membership)
    if was_active:
        _publish_membership(uow, "member_left", group.id, account_id, actor_id)
    if was_admin:
        _hand_over(uow, group, account_id, actor_id)
    return None


def verify_group(uow, actor_id: str, group_id: str) -> dict:
    session = uow.session
    if not _actor(session, actor_id).is_staff:
        raise Forbidden("only staff may verify organisations")
    group = _group(session, group_id)
    if group.kind not in VERIFIABLE_KINDS:
        raise Conflict("only associations and businesses are verified")
    if group.verified:
        raise Conflict("the group is verified already")
    group.verified = True
    group.verification_refused_at = group.verification_refusal = None
    uow.publish("group_verified", {"group_id": group.id}, actor_id=actor_id)
    return group_view(session, group)


def refuse_verification(uow, actor_id: str, group_id: str, reason: str) -> dict:
    """Staff refuse to verify an association or business, with a reason its admins are
    told (group_verification_refused). The group leaves the waiting list; staff may
    still verify it later (which clears the refusal)."""
    session = uow.session
    if not _actor(session, actor_id).is_staff:
        raise Forbidden("only staff may refuse to verify organisations")
    group = _group(session, group_id)
    if group.kind not in VERIFIABLE_KINDS:
        raise Conflict("only associations and businesses are verified")
    if group.verified:
        raise Conflict("the group is verified already")
    if group.verification_refused_at is not None:
        raise Conflict("verifying the group was refused already")
    group.verification_refused_at = utcnow()
    group.verification_refusal = reason
    uow.publish(
        "group_verification_refused", {"group_id": group.id, "reason": reason}, actor_id=actor_id
    )
    return group_view(session, group)


def find_account(uow, actor_id: str, email: str) -> dict:
    """Staff look up a live account by its email address (to appoint it an admin):
    its id and display name only."""
    session = uow.session
    if not _actor(session, actor_id).is_staff:
        raise Forbidden("only staff may look accounts up")
    account = session.execute(
        select(Account).where(Account.email == email, Account.erased_at.is_(None))
    ).scalar_one_or_none()
    if account is None:
        raise NotFound("no account with this email address")
    return {"id": account.id, "display_name": account.display_name}


def join_network(uow, actor_id: str, group_id: str, network_id: str) -> dict:
    session = uow.session
    group = _group(session, group_id)
    if not _is_admin(session, group.id, actor_id):
        raise Forbidden("only an admin of the group may join a network")
    if network_id == group.id:
        raise ValidationError(
            "a group cannot join itself", fields={"network_id": ["A group cannot join itself."]}
        )
    network = session.get(Group, network_id)
    if network is None:
        raise NotFound("no such network")
    if network.kind != "network":
        raise ValidationError(
            "that group is not a network", fields={"network_id": ["Not a network."]}
        )
    if session.get(NetworkLink, (group.id, network.id)) is not None:
        raise Conflict("the group is in this network already")
    session.add(NetworkLink(group_id=group.id, network_id=network.id, created_at=utcnow()))
    flush_unique(session, "the group is in this network already")
    uow.publish(
        "group_joined_network", {"group_id": group.id, "network_id": network.id}, actor_id=actor_id
    )
    return group_view(session, group)
