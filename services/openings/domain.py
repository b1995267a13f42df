"""The rules of openings, returnee profiles and expressions of interest, as plain
functions.

Each function takes a unit of work that is already entered (`uow.session` is a
SQLAlchemy session, `uow.publish` writes an event to the outbox in the same
transaction), the caller's account id (None for an anonymous reader) and values
validated by api.py, and returns data (dates and times as such), which service.py
dumps with api.py's schemas. A broken rule raises a civic error; the caller's `with`
block then rolls everything back, so a refused request changes nothing and publishes
nothing. `now` can be given (tests); it defaults to the current time.

Who may post for a business, and whether staff verified it, comes from the read models
of groups' facts (models.group_facts, civic.readmodels), never from a call to the
groups service. Which returnees an opening is
for is matching.py's rule.

Openings move `open → closed` (an admin of the business) or `open → expired` (the
timer, once the apply-by day has ended in the town's time zone). Both are conditional
updates (`… WHERE status = 'open'`): of two racing instances or requests, exactly one
changes the row and publishes the event.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, delete, func, insert, select, update

from civic.clock import iso, iso_values, town_zone
from civic.db import flush_unique, new_id, paginate, utcnow
from civic.errors import Conflict, Forbidden, NotFound, ValidationError
from services.openings import api, matching
from services.openings.models import (
    Interest,
    Opening,
    OpeningMatch,
    ProfileEmploymentType,
    ProfileSector,
    ReturneeProfile,
    group_facts,
)

# The kind of group that posts openings.
BUSINESS = "business"
# How far ahead an apply-by date may lie: openings stay current, and typos like 2206
# for 2026 are caught.
APPLY_BY_HORIZON = timedelta(days=2 * 366)
# How many openings one tick of the timer expires (the next tick takes the rest).
EXPIRY_BATCH = 200


# --- openings: state ---------------------------------------------------------------------


def current_status(opening: Opening, now: datetime) -> str:
    """The status to show: an opening past its apply-by day is expired even in the
    moments before the timer records it."""
    if opening.status == "open" and now >= opening.expires_at:
        return "expired"
    return opening.status


def _open_now(now: datetime):
    return (Opening.status == "open") & (Opening.expires_at > now)


def _opening(session, opening_id: str, *, shared_lock: bool = False) -> Opening:
    """The opening; with `shared_lock`, its row stays as read until the transaction
    ends (`FOR SHARE` on PostgreSQL; SQLite serialises writers anyway), so it cannot be
    closed or expired in between."""
    query = select(Opening).where(Opening.id == opening_id)
    if shared_lock:
        query = query.with_for_update(read=True)
    opening = session.execute(query).scalar_one_or_none()
    if opening is None:
        raise NotFound("no such opening")
    return opening


def _terms(opening: Opening) -> matching.Terms:
    return matching.Terms(opening.sector, opening.employment_type, opening.start_date)


def _ref(opening: Opening) -> dict:
    return {
        "opening_id": opening.id,
        "title": opening.title,
        "business_group_id": opening.business_group_id,
    }


# --- openings: views ---------------------------------------------------------------------


def _opening_views(
    session, openings: list[Opening], actor_id: str | None, now: datetime
) -> list[dict]:
    """Openings as this caller sees them, in a few queries whatever their number."""
    if not openings:
        return []
    ids = [opening.id for opening in openings]
    group_ids = {opening.business_group_id for opening in openings}
    names = group_facts.group_names(session, group_ids)
    admin_of = group_facts.administered(session, actor_id, group_ids)
    mine: set[str] = set()
    if actor_id:
        mine = set(
            session.execute(
                select(Interest.opening_id).where(
                    Interest.account_id == actor_id, Interest.opening_id.in_(ids)
                )
            ).scalars()
        )
    counts: dict[str, int] = {}
    administered_ids = [o.id for o in openings if o.business_group_id in admin_of]
    if administered_ids:
        counts = dict(
            session.execute(
                select(Interest.opening_id, func.count())
                .where(Interest.opening_id.in_(administered_ids))
                .group_by(Interest.opening_id)
            ).all()
        )
    views = []
    for opening in openings:
        is_admin = opening.business_group_id in admin_of
        view = {
            "id": opening.id,
            "business_group_id": opening.business_group_id,
            "business_name": names.get(opening.business_group_id),
            "title": opening.title,
            "description": opening.description,
            "sector": opening.sector,
            "employment_type": opening.employment_type,
            "location": opening.location,
            "remote": opening.remote,
            "apply_by": opening.apply_by,
            "start_date": opening.start_date,
            "salary_min": opening.salary_min,
            "salary_max": opening.salary_max,
            "contact": opening.contact,
            "status": current_status(opening, now),
            "created_at": opening.created_at,
            "ended_at": opening.ended_at,
            "interested_by_me": opening.id in mine,
            "is_admin": is_admin,
        }
        if is_admin:
            view["interest_count"] = counts.get(opening.id, 0)
        views.append(view)
    return views


def _page_view(items, total, page, per_page) -> dict:
    return {"items": items, "total": total, "page": page, "per_page": per_page}


# --- openings: reading -------------------------------------------------------------------


def list_openings(
    uow,
    actor_id: str | None,
    sector: str | None = None,
    employment_type: str | None = None,
    page: int = 1,
    per_page: int = 20,
    now: datetime | None = None,
) -> dict:
    """Open openings, newest first."""
    session, now = uow.session, now or utcnow()
    query = select(Opening).where(_open_now(now))
    if sector is not None:
        query = query.where(Opening.sector == sector)
    if employment_type is not None:
        query = query.where(Opening.employment_type == employment_type)
    query = query.order_by(Opening.created_at.desc(), Opening.id.desc())
    openings, total = paginate(session, query, page, per_page)
    return _page_view(_opening_views(session, openings, actor_id, now), total, page, per_page)


def list_group_openings(
    uow,
    actor_id: str | None,
    group_id: str,
    page: int = 1,
    per_page: int = 20,
    now: datetime | None = None,
) -> dict:
    """A business's openings, newest first: every one for its admins, the open ones for
    everyone else."""
    session, now = uow.session, now or utcnow()
    query = select(Opening).where(Opening.business_group_id == group_id)
    if not group_facts.is_group_admin(session, group_id, actor_id):
        query = query.where(_open_now(now))
    query = query.order_by(Opening.created_at.desc(), Opening.id.desc())
    openings, total = paginate(session, query, page, per_page)
    return _page_view(_opening_views(session, openings, actor_id, now), total, page, per_page)


def get_opening(uow, actor_id: str | None, opening_id: str, now: datetime | None = None) -> dict:
    """One opening, whatever its status (a link in a notification keeps working)."""
    session = uow.session
    return _opening_views(session, [_opening(session, opening_id)], actor_id, now or utcnow())[0]


# --- openings: posting and closing -------------------------------------------------------


def _check_dates(apply_by: date, start_date: date | None, today: date) -> None:
    problems = {}
    if apply_by < today:
        problems["apply_by"] = ["The apply-by date has passed."]
    elif apply_by > today + APPLY_BY_HORIZON:
        problems["apply_by"] = ["At most two years ahead."]
    if start_date is not None and start_date < today:
        problems["start_date"] = ["The start date has passed."]
    if problems:
        raise ValidationError("the input is not valid", fields=problems)


def _as_date(value) -> date | None:
    # Loaded data holds dates; tolerate ISO strings from direct callers too.
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def post_opening(
    uow,
    actor_id: str,
    business_group_id: str,
    title: str,
    description: str,
    sector: str,
    employment_type: str,
    apply_by,
    contact: str,
    location: str | None = None,
    remote: bool = False,
    start_date=None,
    salary_min: int | None = None,
    salary_max: int | None = None,
    now: datetime | None = None,
) -> dict:
    """A verified business's admin posts an opening; every matching returnee is
    announced in opening_matched events."""
    session, now = uow.session, now or utcnow()
    business = group_facts.group(session, business_group_id)
    if business is None or business.kind is None:
        raise ValidationError(
            "no such business group", fields={"business_group_id": ["No such business group."]}
        )
    if business.kind != BUSINESS:
        raise ValidationError(
            "only businesses post openings", fields={"business_group_id": ["Not a business group."]}
        )
    if not business.verified:
        raise Forbidden(
            "the business is not verified yet: staff verify businesses before they post openings"
        )
    if not group_facts.is_group_admin(session, business.group_id, actor_id):
        raise Forbidden("only an admin of the business may post openings for it")
    zone = town_zone()
    apply_by, start_date = _as_date(apply_by), _as_date(start_date)
    _check_dates(apply_by, start_date, matching.today_in(zone, now))
    opening = Opening(
        id=new_id(),
        business_group_id=business.group_id,
        title=title,
        description=description,
        sector=sector,
        employment_type=employment_type,
        location=location,
        remote=remote,
        apply_by=apply_by,
        start_date=start_date,
        salary_min=salary_min,
        salary_max=salary_max,
        contact=contact,
        status="open",
        expires_at=matching.expiry_moment(apply_by, zone),
        created_by=actor_id,
        created_at=now,
    )
    session.add(opening)
    session.flush()
    uow.publish(
        "opening_posted",
        {
            **_ref(opening),
            "business_name": business.name,
            "sector": sector,
            "employment_type": employment_type,
            "apply_by": iso(apply_by),
            "created_by": actor_id,
        },
        actor_id=actor_id,
    )
    _announce_matches(uow, opening, now)
    return _opening_views(session, [opening], actor_id, now)[0]


def _announce_matches(uow, opening: Opening, now: datetime) -> list[str]:
    """Record and publish every returnee a new opening matches, in batches."""
    session = uow.session
    # The database narrows to the profiles in the opening's sector (an index lookup)
    # with their employment types; the matching rule decides.
    rows = session.execute(
        select(
            ReturneeProfile.account_id,
            ReturneeProfile.available_from,
            ProfileEmploymentType.employment_type,
        )
        .join(
            ProfileSector,
            (ProfileSector.account_id == ReturneeProfile.account_id)
            & (ProfileSector.sector == opening.sector),
        )
        .join(ProfileEmploymentType, ProfileEmploymentType.account_id == ReturneeProfile.account_id)
    ).all()
    available: dict[str, date] = {}
    types: dict[str, set[str]] = defaultdict(set)
    for account_id, available_from, employment_type in rows:
        available[account_id] = available_from
        types[account_id].add(employment_type)
    terms = _terms(opening)
    told = set(
        session.execute(
            select(OpeningMatch.account_id).where(OpeningMatch.opening_id == opening.id)
        ).scalars()
    )
    # Each candidate's sectors are known to include the opening's, which is all of
    # them the rule looks at here.
    matched = sorted(
        account_id
        for account_id, available_from in available.items()
        if account_id not in told
        and matching.matches(
            matching.Preferences(
                frozenset({opening.sector}), frozenset(types[account_id]), available_from
            ),
            terms,
        )
    )
    if matched:
        session.execute(
            insert(OpeningMatch.__table__),
            [
                {"opening_id": opening.id, "account_id": account_id, "matched_at": now}
                for account_id in matched
            ],
        )
    for batch in matching.batches(matched, matching.MATCH_BATCH):
        uow.publish("opening_matched", {**_ref(opening), "account_ids": batch})
    return matched


def close_opening(uow, actor_id: str, opening_id: str, now: datetime | None = None) -> dict:
    session, now = uow.session, now or utcnow()
    opening = _opening(session, opening_id)
    if not group_facts.is_group_admin(session, opening.business_group_id, actor_id):
        raise Forbidden("only an admin of the business may close its openings")
    closed = session.execute(
        update(Opening)
        .where(Opening.id == opening.id, _open_now(now))
        .values(status="closed", ended_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(opening)
    if closed.rowcount != 1:  # closed or expired, maybe a moment ago by someone else
        raise Conflict(f"the opening is {current_status(opening, now)}, not open")
    uow.publish("opening_closed", _ref(opening), actor_id=actor_id)
    return _opening_views(session, [opening], actor_id, now)[0]


# --- expiry ----------------------------------------------------------------------------------


def due_for_expiry(uow, now: datetime | None = None, limit: int = EXPIRY_BATCH) -> list[str]:
    """Open openings whose apply-by day has ended, oldest deadline first."""
    now = now or utcnow()
    return list(
        uow.session.execute(
            select(Opening.id)
            .where(Opening.status == "open", Opening.expires_at <= now)
            .order_by(Opening.expires_at, Opening.id)
            .limit(limit)
        ).scalars()
    )


def expire_opening(uow, opening_id: str, now: datetime | None = None) -> bool:
    """Expire one opening if it is still open and due. Of several instances trying at
    once, exactly one changes the row (the others find it expired) and only that one
    publishes opening_expired, in the same transaction."""
    session, now = uow.session, now or utcnow()
    expired = session.execute(
        update(Opening)
        .where(Opening.id == opening_id, Opening.status == "open", Opening.expires_at <= now)
        .values(status="expired", ended_at=now)
        .execution_options(synchronize_session=False)
    )
    if expired.rowcount != 1:
        return False
    opening = session.get(Opening, opening_id, populate_existing=True)
    uow.publish(
        "opening_expired", {**_ref(opening), "apply_by": iso(opening.apply_by)}, actor_id=None
    )
    return True


# --- interest --------------------------------------------------------------------------------


def _interest_view(interest: Interest) -> dict:
    return {
        "id": interest.id,
        "opening_id": interest.opening_id,
        "account_id": interest.account_id,
        "message": interest.message,
        "created_at": interest.created_at,
    }


def register_interest(
    uow, actor_id: str, opening_id: str, message: str | None = None, now: datetime | None = None
) -> dict:
    """A resident's expression of interest, once per opening, while it is open; the
    business's admins are told."""
    session, now = uow.session, now or utcnow()
    # Locked as read: an admin closing it meanwhile waits until this interest is in.
    opening = _opening(session, opening_id, shared_lock=True)
    status = current_status(opening, now)
    if status != "open":
        raise Conflict(f"the opening is {status}: it takes no more interest")
    if session.execute(
        select(Interest.id).where(
            Interest.opening_id == opening.id, Interest.account_id == actor_id
        )
    ).first():
        raise Conflict("you registered interest in this opening already")
    interest = Interest(
        id=new_id(), opening_id=opening.id, account_id=actor_id, message=message, created_at=now
    )
    session.add(interest)
    flush_unique(session, "you registered interest in this opening already")
    uow.publish(
        "interest_registered",
        {
            **_ref(opening),
            "account_id": actor_id,
            "admin_ids": group_facts.admin_ids(session, opening.business_group_id),
        },
        actor_id=actor_id,
    )
    return _interest_view(interest)


def list_interest(uow, actor_id: str, opening_id: str, page: int = 1, per_page: int = 20) -> dict:
    """Who expressed interest, with their messages, newest first: for the business's
    admins only."""
    session = uow.session
    opening = _opening(session, opening_id)
    if not group_facts.is_group_admin(session, opening.business_group_id, actor_id):
        raise Forbidden("only the business's admins see who is interested")
    query = (
        select(Interest)
        .where(Interest.opening_id == opening.id)
        .order_by(Interest.created_at.desc(), Interest.id.desc())
    )
    interests, total = paginate(session, query, page, per_page)
    names = group_facts.display_names(session, [i.account_id for i in interests])
    items = [{**_interest_view(i), "display_name": names.get(i.account_id)} for i in interests]
    return _page_view(items, total, page, per_page)


# --- returnee profiles -----------------------------------------------------------------------


def _profile_view(
    account_id: str,
    sectors,
    employment_types,
    available_from: date,
    message: str | None,
    created_at: datetime,
    updated_at: datetime,
) -> dict:
    # In the order of the published lists, whatever order they were given in.
    return {
        "account_id": account_id,
        "sectors": sorted(sectors, key=api.SECTORS.index),
        "employment_types": sorted(employment_types, key=api.EMPLOYMENT_TYPES.index),
        "available_from": available_from,
        "message": message,
        "created_at": created_at,
        "updated_at": updated_at,
    }


def _stored_profile_view(session, profile: ReturneeProfile) -> dict:
    sectors = (
        session.execute(
            select(ProfileSector.sector).where(ProfileSector.account_id == profile.account_id)
        )
        .scalars()
        .all()
    )
    types = (
        session.execute(
            select(ProfileEmploymentType.employment_type).where(
                ProfileEmploymentType.account_id == profile.account_id
            )
        )
        .scalars()
        .all()
    )
    return _profile_view(
        profile.account_id,
        sectors,
        types,
        profile.available_from,
        profile.message,
        profile.created_at,
        profile.updated_at,
    )


def _remove_profile_rows(session, account_id: str) -> None:
    session.execute(delete(ProfileSector).where(ProfileSector.account_id == account_id))
    session.execute(
        delete(ProfileEmploymentType).where(ProfileEmploymentType.account_id == account_id)
    )


def save_profile(
    uow,
    account_id: str,
    sectors: list[str],
    employment_types: list[str],
    available_from,
    message: str | None = None,
    now: datetime | None = None,
) -> dict:
    """Create or replace the account's returnee profile, then announce the open
    openings it matches that the returnee was not told about yet."""
    return save_profiles(
        uow,
        [
            {
                "account_id": account_id,
                "sectors": sectors,
                "employment_types": employment_types,
                "available_from": available_from,
                "message": message,
            }
        ],
        now=now,
    )[0]


def _chunks(values: list, size: int = 500):
    # Bounded IN lists: every database takes this many parameters.
    for start in range(0, len(values), size):
        yield values[start : start + size]


def save_profiles(uow, profiles: list[dict], now: datetime | None = None) -> list[dict]:
    """Create or replace several accounts' profiles (each as save_profile takes it) with
    a few statements for all of them, and announce what each matches among the open
    openings: an import of many profiles costs about as much as one."""
    session, now = uow.session, now or utcnow()
    wanted = [
        {
            **profile,
            "available_from": _as_date(profile["available_from"]),
            "message": profile.get("message"),
        }
        for profile in profiles
    ]
    ids = [profile["account_id"] for profile in wanted]
    if len(set(ids)) != len(ids):
        raise ValueError("one profile per account")
    table = ReturneeProfile.__table__
    sectors_table, types_table = ProfileSector.__table__, ProfileEmploymentType.__table__
    created: dict[str, datetime] = {}
    for chunk in _chunks(ids):
        created.update(
            session.execute(
                select(table.c.account_id, table.c.created_at).where(table.c.account_id.in_(chunk))
            ).all()
        )
        session.execute(delete(sectors_table).where(sectors_table.c.account_id.in_(chunk)))
        session.execute(delete(types_table).where(types_table.c.account_id.in_(chunk)))
    replaced = [p for p in wanted if p["account_id"] in created]
    if replaced:
        session.execute(
            update(table)
            .where(table.c.account_id == bindparam("key"))
            .values(
                available_from=bindparam("available_from"),
                message=bindparam("message"),
                updated_at=now,
            ),
            [
                {
                    "key": p["account_id"],
                    "available_from": p["available_from"],
                    "message": p["message"],
                }
                for p in replaced
            ],
        )
    new = [p for p in wanted if p["account_id"] not in created]
    if new:
        session.execute(
            insert(table),
            [
                {
                    "account_id": p["account_id"],
                    "available_from": p["available_from"],
                    "message": p["message"],
                    "created_at": now,
                    "updated_at": now,
                }
                for p in new
            ],
        )
    session.execute(
        insert(sectors_table),
        [
            {"account_id": p["account_id"], "sector": sector}
            for p in wanted
            for sector in p["sectors"]
        ],
    )
    session.execute(
        insert(types_table),
        [
            {"account_id": p["account_id"], "employment_type": employment_type}
            for p in wanted
            for employment_type in p["employment_types"]
        ],
    )
    _announce_openings(uow, wanted, now)
    return [
        _profile_view(
            p["account_id"],
            p["sectors"],
            p["employment_types"],
            p["available_from"],
            p["message"],
            created.get(p["account_id"], now),
            now,
        )
        for p in wanted
    ]


def _announce_openings(uow, profiles: list[dict], now: datetime) -> None:
    """Record and publish the open openings each saved profile matches, each pair
    once: one event per opening and returnee."""
    session = uow.session
    # Rows, not ORM objects; they carry what _terms and _ref read.
    open_openings = session.execute(
        select(
            Opening.id,
            Opening.title,
            Opening.business_group_id,
            Opening.sector,
            Opening.employment_type,
            Opening.start_date,
        )
        .where(_open_now(now))
        .order_by(Opening.created_at, Opening.id)
    ).all()
    if not open_openings:
        return
    told: set[tuple[str, str]] = set()
    ids = [profile["account_id"] for profile in profiles]
    for chunk in _chunks(ids):
        told.update(
            session.execute(
                select(OpeningMatch.opening_id, OpeningMatch.account_id).where(
                    OpeningMatch.account_id.in_(chunk)
                )
            ).all()
        )
    found = []
    for profile in profiles:
        preferences = matching.Preferences(
            frozenset(profile["sectors"]),
            frozenset(profile["employment_types"]),
            profile["available_from"],
        )
        for opening in open_openings:
            if (opening.id, profile["account_id"]) not in told and matching.matches(
                preferences, _terms(opening)
            ):
                found.append((opening, profile["account_id"]))
    if not found:
        return
    session.execute(
        insert(OpeningMatch.__table__),
        [
            {"opening_id": opening.id, "account_id": account_id, "matched_at": now}
            for opening, account_id in found
        ],
    )
    for opening, account_id in found:
        uow.publish("opening_matched", {**_ref(opening), "account_ids": [account_id]})


def get_profile(uow, account_id: str) -> dict:
    session = uow.session
    profile = session.get(ReturneeProfile, account_id)
    if profile is None:
        raise NotFound("no returnee profile")
    return _stored_profile_view(session, profile)


def delete_profile(uow, account_id: str) -> None:
    """Remove the profile: no more matches from now on (past announcements stay
    recorded, so saving a profile again does not repeat them)."""
    session = uow.session
    profile = session.get(ReturneeProfile, account_id)
    if profile is None:
        raise NotFound("no returnee profile")
    _remove_profile_rows(session, account_id)
    session.delete(profile)
    return None


# --- personal data ---------------------------------------------------------------------------


def export_account(uow, account_id: str) -> dict:
    """Everything this service holds about an account."""
    session = uow.session
    profile = session.get(ReturneeProfile, account_id)
    interests = session.execute(
        select(Interest, Opening.title, Opening.business_group_id)
        .join(Opening, Opening.id == Interest.opening_id)
        .where(Interest.account_id == account_id)
        .order_by(Interest.created_at, Interest.id)
    ).all()
    matches = session.execute(
        select(OpeningMatch.opening_id, Opening.title, OpeningMatch.matched_at)
        .join(Opening, Opening.id == OpeningMatch.opening_id)
        .where(OpeningMatch.account_id == account_id)
        .order_by(OpeningMatch.matched_at, OpeningMatch.opening_id)
    ).all()
    posted = (
        session.execute(
            select(Opening)
            .where(Opening.created_by == account_id)
            .order_by(Opening.created_at, Opening.id)
        )
        .scalars()
        .all()
    )
    return {
        "returnee_profile": iso_values(_stored_profile_view(session, profile)) if profile else None,
        "interests": [
            {
                "opening_id": interest.opening_id,
                "title": title,
                "business_group_id": group_id,
                "message": interest.message,
                "created_at": iso(interest.created_at),
            }
            for interest, title, group_id in interests
        ],
        "matched_openings": [
            {"opening_id": opening_id, "title": title, "matched_at": iso(matched_at)}
            for opening_id, title, matched_at in matches
        ],
        "openings_posted": [
            {
                "id": o.id,
                "title": o.title,
                "business_group_id": o.business_group_id,
                "created_at": iso(o.created_at),
            }
            for o in posted
        ],
    }


def erase_account(session, account_id: str) -> None:
    """What an erased account leaves here: nothing of its own. Its profile, expressions
    of interest and matches go; openings it posted stay (they are the business's), with
    no link to it."""
    group_facts.account_erased(session, account_id)
    session.execute(
        update(Opening)
        .where(Opening.created_by == account_id)
        .values(created_by=None)
        .execution_options(synchronize_session=False)
    )
    _remove_profile_rows(session, account_id)
    session.execute(delete(ReturneeProfile).where(ReturneeProfile.account_id == account_id))
    session.execute(delete(Interest).where(Interest.account_id == account_id))
    session.execute(delete(OpeningMatch).where(OpeningMatch.account_id == account_id))
