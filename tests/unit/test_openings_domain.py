"""The openings rules, on a throw-away SQLite database and no broker.

The relay gets kombu's in-memory transport, so commits publish nowhere; what the rules
published is read back from the outbox table. The read models are fed with the same
functions the event handlers call. Every call names its `now`, so dates are fixed.
"""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from civic.errors import Conflict, Forbidden, NotFound, ValidationError
from civic.validation import load
from services.openings import api, domain
from services.openings.models import (
    Interest,
    KnownGroup,
    Opening,
    OpeningMatch,
    ProfileSector,
    ReturneeProfile,
    group_facts,
    metadata,
)
from tests.unit.domain_support import domain_database, events, run

ANNA, BO, CIA, DAN, EVA = "a-anna", "a-bo", "a-cia", "a-dan", "a-eva"
PARK = "0c6b1b2e-5d8a-4d55-9a57-3f2a3a3c0001"  # verified business; BO admin, CIA member
NEWCO = "0c6b1b2e-5d8a-4d55-9a57-3f2a3a3c0002"  # unverified business; DAN admin
CLUB = "0c6b1b2e-5d8a-4d55-9a57-3f2a3a3c0003"  # verified association; BO admin
T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)  # 11:00 in Jokkmokk
APPLY_BY = date(2026, 12, 15)


@pytest.fixture
def db(tmp_path):
    database = domain_database(tmp_path, "openings", metadata)
    with database.unit_of_work() as uow:
        s = uow.session
        for account_id in (ANNA, BO, CIA, DAN, EVA):
            group_facts.account_registered(s, account_id, account_id[2:].title())
        group_facts.group_created(s, PARK, "Jokkmokks viltpark", "business")
        group_facts.group_verified(s, PARK)
        group_facts.group_created(s, NEWCO, "Nystartat AB", "business")
        group_facts.group_created(s, CLUB, "Skidklubben", "association")
        group_facts.group_verified(s, CLUB)
        group_facts.member_joined(s, PARK, BO, "admin", T0)
        group_facts.member_joined(s, PARK, CIA, "member", T0)
        group_facts.member_joined(s, NEWCO, DAN, "admin", T0)
        group_facts.member_joined(s, CLUB, BO, "admin", T0)
    yield database
    database.dispose()


def opening_fields(**overrides):
    data = {
        "business_group_id": PARK,
        "title": "Säsongsarbetare i viltparken",
        "description": "Skötsel av djur och guidning av besökare under sommaren.",
        "sector": "tourism",
        "employment_type": "seasonal",
        "location": "Jokkmokk",
        "apply_by": APPLY_BY.isoformat(),
        "contact": "jobb@viltpark.example",
    }
    data.update(overrides)
    return load(api.OpeningCreateSchema, data)


def post(db, actor_id=BO, now=T0, **overrides):
    return run(db, domain.post_opening, actor_id, **opening_fields(**overrides), now=now)


def save_profile(
    db,
    account_id,
    sectors=("tourism",),
    types=("seasonal",),
    available_from="2027-05-01",
    now=T0,
    **extra,
):
    data = load(
        api.ReturneeProfileSaveSchema,
        {
            "sectors": list(sectors),
            "employment_types": list(types),
            "available_from": available_from,
            **extra,
        },
    )
    return run(db, domain.save_profile, account_id, **data, now=now)


def matched_ids(db, opening_id=None):
    return sorted(
        account_id
        for _, data, _ in events(db, "opening_matched")
        if opening_id is None or data["opening_id"] == opening_id
        for account_id in data["account_ids"]
    )


# --- posting ---------------------------------------------------------------------------------


def test_an_admin_of_a_verified_business_posts_an_opening(db):
    opening = post(db, start_date="2027-06-01", salary_min=28000, salary_max=32000)
    assert opening["status"] == "open" and opening["business_name"] == "Jokkmokks viltpark"
    assert opening["apply_by"] == APPLY_BY and opening["start_date"] == date(2027, 6, 1)
    assert opening["is_admin"] is True and opening["interest_count"] == 0
    assert opening["created_at"] == T0
    [(kind, data, actor)] = events(db)
    assert kind == "opening_posted" and actor == BO
    assert data == {
        "opening_id": opening["id"],
        "title": opening["title"],
        "business_group_id": PARK,
        "business_name": "Jokkmokks viltpark",
        "sector": "tourism",
        "employment_type": "seasonal",
        "apply_by": "2026-12-15",
        "created_by": BO,
    }
    with db.sessions() as session:
        # The end of 15 December in Jokkmokk (UTC+1 in winter).
        assert session.get(Opening, opening["id"]).expires_at == datetime(
            2026, 12, 15, 23, 0, tzinfo=UTC
        )


def test_only_an_admin_of_a_verified_business_may_post(db):
    with pytest.raises(Forbidden, match="not verified"):
        post(db, actor_id=DAN, business_group_id=NEWCO)
    with pytest.raises(Forbidden, match="admin"):
        post(db, actor_id=CIA)  # a member, not an admin
    with pytest.raises(Forbidden, match="admin"):
        post(db, actor_id=ANNA)  # not even a member
    with pytest.raises(ValidationError) as caught:
        post(db, business_group_id=CLUB)  # verified, but an association
    assert caught.value.fields == {"business_group_id": ["Not a business group."]}
    with pytest.raises(ValidationError) as caught:
        post(db, business_group_id="6f9619ff-8b86-d011-b42d-00c04fc964ff")
    assert caught.value.fields == {"business_group_id": ["No such business group."]}
    assert events(db) == []


def test_a_business_whose_verification_arrived_first_is_known_once_created(db):
    late = "0c6b1b2e-5d8a-4d55-9a57-3f2a3a3c0009"
    with db.unit_of_work() as uow:
        group_facts.group_verified(uow.session, late)
        group_facts.member_joined(uow.session, late, EVA, "admin", T0)
    with pytest.raises(ValidationError):  # its kind is not known yet
        post(db, actor_id=EVA, business_group_id=late)
    with db.unit_of_work() as uow:
        group_facts.group_created(uow.session, late, "Porjus kraft", "business")
    assert post(db, actor_id=EVA, business_group_id=late)["business_name"] == "Porjus kraft"


def test_an_admin_who_left_may_post_no_more_and_a_late_old_fact_changes_nothing(db):
    with db.unit_of_work() as uow:
        group_facts.member_left(uow.session, PARK, BO, T0 + timedelta(minutes=2))
        # The join of a minute earlier, redelivered late: the leaving stands.
        group_facts.member_joined(uow.session, PARK, BO, "admin", T0 + timedelta(minutes=1))
    with pytest.raises(Forbidden):
        post(db)


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"apply_by": "2026-11-27"}, "apply_by"),  # yesterday in Jokkmokk
        ({"apply_by": "2029-01-01"}, "apply_by"),  # more than two years ahead
        ({"start_date": "2026-11-01"}, "start_date"),
    ],
)
def test_dates_must_lie_ahead(db, overrides, field):
    with pytest.raises(ValidationError) as caught:
        post(db, **overrides)
    assert list(caught.value.fields) == [field]
    assert events(db) == []


def test_the_apply_by_date_may_be_today_in_the_town(db):
    # 23:30 UTC on the 27th is already the 28th in Jokkmokk.
    late = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)
    assert post(db, apply_by="2026-11-28", now=late)["status"] == "open"
    with pytest.raises(ValidationError):
        post(db, apply_by="2026-11-27", now=late)


# --- matching --------------------------------------------------------------------------------


def test_a_new_opening_is_announced_to_every_matching_returnee_once(db):
    save_profile(db, ANNA, sectors=("tourism", "culture"), types=("seasonal", "full_time"))
    save_profile(
        db, CIA, sectors=("tourism",), types=("seasonal",), available_from="2027-07-01"
    )  # too late to start
    save_profile(db, DAN, sectors=("energy",), types=("seasonal",))  # another sector
    save_profile(db, EVA, sectors=("tourism",), types=("full_time",))  # another type
    save_profile(db, BO, sectors=("other", "tourism"), types=("summer_job", "seasonal"))
    assert events(db) == []  # nothing open yet: nothing to announce
    opening = post(db, start_date="2027-06-01")
    [(kind, data, _)] = events(db, "opening_matched")
    assert data == {
        "opening_id": opening["id"],
        "title": opening["title"],
        "business_group_id": PARK,
        "account_ids": [ANNA, BO],
    }
    # Without a start date, availability does not matter.
    second = post(db, title="Guide vid Ajtte")
    assert matched_ids(db, second["id"]) == [ANNA, BO, CIA]


def test_an_opening_nobody_matches_announces_nothing(db):
    save_profile(db, ANNA, sectors=("it",), types=("full_time",))
    post(db)
    assert events(db, "opening_matched") == []


def test_matches_go_out_in_batches_of_at_most_500(db, monkeypatch):
    monkeypatch.setattr(domain.matching, "MATCH_BATCH", 2)
    for account_id in (ANNA, BO, CIA, DAN, EVA):
        save_profile(db, account_id)
    post(db)
    batches = [data["account_ids"] for _, data, _ in events(db, "opening_matched")]
    assert batches == [[ANNA, BO], [CIA, DAN], [EVA]]


def test_a_saved_profile_is_matched_against_the_open_openings_once(db):
    seasonal = post(db)
    post(db, title="Elektriker", sector="energy", employment_type="full_time")
    closed = post(db, title="Stängd tjänst")
    run(db, domain.close_opening, BO, closed["id"], now=T0)
    profile = save_profile(
        db,
        ANNA,
        sectors=("tourism", "energy"),
        types=("seasonal",),
        message="  Hemma igen efter studierna i Umeå.  ",
    )
    assert profile["sectors"] == ["tourism", "energy"] and profile["message"] == (
        "Hemma igen efter studierna i Umeå."
    )
    [(_, data, _)] = events(db, "opening_matched")
    assert data["opening_id"] == seasonal["id"] and data["account_ids"] == [ANNA]
    # Saving it again (or changing it) does not tell about the same opening twice.
    save_profile(db, ANNA, sectors=("tourism",), types=("seasonal", "full_time"))
    assert len(events(db, "opening_matched")) == 1
    energy = save_profile(db, ANNA, sectors=("energy",), types=("full_time",))
    assert energy["employment_types"] == ["full_time"]
    assert len(events(db, "opening_matched")) == 2


def test_a_profile_is_one_per_account_replaced_read_and_deleted(db):
    first = save_profile(db, ANNA, sectors=("it", "tourism", "it"), types=("full_time",))
    assert first["sectors"] == ["tourism", "it"]  # each once, in the published order
    second = save_profile(
        db,
        ANNA,
        sectors=("health_care",),
        types=("part_time",),
        available_from="2027-01-01",
        now=T0 + timedelta(hours=1),
    )
    assert second["created_at"] == first["created_at"] != second["updated_at"]
    assert run(db, domain.get_profile, ANNA) == second
    with db.sessions() as session:
        assert session.execute(select(func.count()).select_from(ProfileSector)).scalar_one() == 1
    run(db, domain.delete_profile, ANNA)
    with pytest.raises(NotFound):
        run(db, domain.get_profile, ANNA)
    with pytest.raises(NotFound):
        run(db, domain.delete_profile, ANNA)
    post(db, sector="health_care", employment_type="part_time")
    assert events(db, "opening_matched") == []


# --- closing and expiry ----------------------------------------------------------------------


def test_an_admin_closes_an_opening_once(db):
    opening = post(db)
    with pytest.raises(Forbidden):
        run(db, domain.close_opening, CIA, opening["id"], now=T0)
    closed = run(db, domain.close_opening, BO, opening["id"], now=T0 + timedelta(hours=1))
    assert closed["status"] == "closed"
    assert closed["ended_at"] == T0 + timedelta(hours=1)
    with pytest.raises(Conflict, match="closed"):
        run(db, domain.close_opening, BO, opening["id"], now=T0)
    with pytest.raises(NotFound):
        run(db, domain.close_opening, BO, "6f9619ff-8b86-d011-b42d-00c04fc964ff")
    [(kind, data, actor)] = events(db, "opening_closed")
    assert data["opening_id"] == opening["id"] and actor == BO


def test_an_opening_expires_once_after_its_apply_by_day(db):
    opening = post(db)
    other = post(db, apply_by="2026-12-20")
    before, after = (
        datetime(2026, 12, 15, 22, 59, tzinfo=UTC),
        datetime(2026, 12, 15, 23, 0, tzinfo=UTC),
    )
    assert run(db, domain.due_for_expiry, before) == []
    assert run(db, domain.due_for_expiry, after) == [opening["id"]]
    # Shown as expired already, before the timer records it; no interest taken.
    assert run(db, domain.get_opening, None, opening["id"], now=after)["status"] == "expired"
    with pytest.raises(Conflict, match="expired"):
        run(db, domain.register_interest, ANNA, opening["id"], now=after)
    assert run(db, domain.expire_opening, opening["id"], after) is True
    assert run(db, domain.expire_opening, opening["id"], after) is False  # a second try
    assert run(db, domain.expire_opening, other["id"], after) is False  # not due
    [(_, data, actor)] = events(db, "opening_expired")
    assert data == {
        "opening_id": opening["id"],
        "title": opening["title"],
        "business_group_id": PARK,
        "apply_by": "2026-12-15",
    }
    assert actor is None
    with pytest.raises(Conflict, match="expired"):
        run(db, domain.close_opening, BO, opening["id"], now=after)
    assert run(db, domain.due_for_expiry, after) == []


# --- interest --------------------------------------------------------------------------------


def test_a_resident_registers_interest_once_and_the_admins_are_named(db):
    opening = post(db)
    interest = run(
        db,
        domain.register_interest,
        ANNA,
        opening["id"],
        message="Jag har jobbat på Skansen två somrar.",
        now=T0,
    )
    assert interest["opening_id"] == opening["id"] and interest["account_id"] == ANNA
    [(_, data, actor)] = events(db, "interest_registered")
    assert data == {
        "opening_id": opening["id"],
        "title": opening["title"],
        "business_group_id": PARK,
        "account_id": ANNA,
        "admin_ids": [BO],
    }
    assert actor == ANNA and "message" not in data
    with pytest.raises(Conflict, match="already"):
        run(db, domain.register_interest, ANNA, opening["id"], now=T0)
    run(db, domain.close_opening, BO, opening["id"], now=T0)
    with pytest.raises(Conflict, match="closed"):
        run(db, domain.register_interest, EVA, opening["id"], now=T0)


def test_only_the_business_admins_read_who_is_interested(db):
    opening = post(db)
    run(
        db,
        domain.register_interest,
        ANNA,
        opening["id"],
        message="Hej!",
        now=T0 + timedelta(minutes=1),
    )
    run(db, domain.register_interest, EVA, opening["id"], now=T0 + timedelta(minutes=2))
    listing = run(db, domain.list_interest, BO, opening["id"])
    assert listing["total"] == 2 and listing["page"] == 1
    assert [(i["account_id"], i["display_name"], i["message"]) for i in listing["items"]] == [
        (EVA, "Eva", None),
        (ANNA, "Anna", "Hej!"),
    ]
    for outsider in (CIA, ANNA, DAN):
        with pytest.raises(Forbidden):
            run(db, domain.list_interest, outsider, opening["id"])
    assert run(db, domain.get_opening, BO, opening["id"])["interest_count"] == 2
    seen_by_anna = run(db, domain.get_opening, ANNA, opening["id"])
    assert seen_by_anna["interested_by_me"] is True and "interest_count" not in seen_by_anna


# --- listing ---------------------------------------------------------------------------------


def test_the_list_holds_open_openings_newest_first_filtered_and_paged(db):
    first = post(db, title="Guide", now=T0)
    second = post(
        db,
        title="Elektriker",
        sector="energy",
        employment_type="full_time",
        now=T0 + timedelta(minutes=1),
    )
    third = post(db, title="Stugvärd", now=T0 + timedelta(minutes=2))
    closed = post(db, title="Stängd", now=T0 + timedelta(minutes=3))
    run(db, domain.close_opening, BO, closed["id"], now=T0 + timedelta(minutes=4))
    later = T0 + timedelta(minutes=5)
    everything = run(db, domain.list_openings, None, now=later)
    assert [o["id"] for o in everything["items"]] == [third["id"], second["id"], first["id"]]
    assert everything["total"] == 3 and everything["items"][0]["is_admin"] is False
    tourism = run(db, domain.list_openings, None, sector="tourism", per_page=1, page=2, now=later)
    assert tourism == {
        "items": [run(db, domain.get_opening, None, first["id"], now=later)],
        "total": 2,
        "page": 2,
        "per_page": 1,
    }
    full_time = run(db, domain.list_openings, None, employment_type="full_time", now=later)
    assert [o["id"] for o in full_time["items"]] == [second["id"]]
    after_deadline = datetime(2026, 12, 16, tzinfo=UTC)
    assert run(db, domain.list_openings, None, now=after_deadline)["total"] == 0


def test_a_business_page_shows_every_opening_to_its_admins_and_open_ones_to_others(db):
    open_one = post(db, title="Öppen")
    closed = post(db, title="Stängd", now=T0 + timedelta(minutes=1))
    run(db, domain.close_opening, BO, closed["id"], now=T0 + timedelta(minutes=2))
    later = T0 + timedelta(minutes=3)  # the injected clock: apply_by has not passed
    for_admin = run(db, domain.list_group_openings, BO, PARK, now=later)
    assert [(o["title"], o["status"]) for o in for_admin["items"]] == [
        ("Stängd", "closed"),
        ("Öppen", "open"),
    ]
    for viewer in (None, CIA):
        listed = run(db, domain.list_group_openings, viewer, PARK, now=later)
        assert [o["id"] for o in listed["items"]] == [open_one["id"]]
    assert run(db, domain.list_group_openings, None, CLUB, now=later)["total"] == 0


# --- personal data ---------------------------------------------------------------------------


def test_export_and_erasure_cover_the_profile_interest_and_matches(db):
    save_profile(db, ANNA, message="Tillbaka i Jokkmokk")
    opening = post(db)
    run(db, domain.register_interest, ANNA, opening["id"], message="Gärna!", now=T0)
    exported = run(db, domain.export_account, ANNA)
    assert exported["returnee_profile"]["message"] == "Tillbaka i Jokkmokk"
    assert exported["returnee_profile"]["available_from"] == "2027-05-01"
    assert exported["interests"] == [
        {
            "opening_id": opening["id"],
            "title": opening["title"],
            "business_group_id": PARK,
            "message": "Gärna!",
            "created_at": T0.isoformat(),
        }
    ]
    assert [m["opening_id"] for m in exported["matched_openings"]] == [opening["id"]]
    assert exported["openings_posted"] == []
    assert [o["id"] for o in run(db, domain.export_account, BO)["openings_posted"]] == [
        opening["id"]
    ]

    with db.unit_of_work() as uow:
        domain.erase_account(uow.session, ANNA)
    assert run(db, domain.export_account, ANNA) == {
        "returnee_profile": None,
        "interests": [],
        "matched_openings": [],
        "openings_posted": [],
    }
    with db.sessions() as session:
        assert session.get(ReturneeProfile, ANNA) is None
        assert session.execute(select(func.count()).select_from(Interest)).scalar_one() == 0
        assert session.execute(select(func.count()).select_from(OpeningMatch)).scalar_one() == 0
    # An erased admin administers nothing any more.
    with db.unit_of_work() as uow:
        domain.erase_account(uow.session, BO)
    with pytest.raises(Forbidden):
        run(db, domain.close_opening, BO, opening["id"], now=T0)
    # The opening stays (it is the business's), with no link to the erased poster.
    assert run(db, domain.export_account, BO)["openings_posted"] == []
    with db.sessions() as session:
        assert session.get(Opening, opening["id"]).created_by is None
    with db.sessions() as session:
        assert session.get(KnownGroup, PARK).verified is True


# --- input -----------------------------------------------------------------------------------


def test_an_opening_needs_a_place_unless_remote_and_a_sane_salary_range():
    with pytest.raises(ValidationError) as caught:
        opening_fields(location="  ", salary_min=40000, salary_max=30000)
    assert set(caught.value.fields) == {"location", "salary_max"}
    remote = opening_fields(location=None, remote=True)
    assert remote["location"] is None and remote["remote"] is True
    with pytest.raises(ValidationError) as caught:
        opening_fields(sector="mining", employment_type="gig", apply_by="15/12/2026", colour="blue")
    assert set(caught.value.fields) == {"sector", "employment_type", "apply_by", "colour"}


def test_interest_messages_are_bounded_and_blank_is_none():
    assert load(api.InterestCreateSchema, {}) == {"message": None}
    assert load(api.InterestCreateSchema, {"message": "  "}) == {"message": None}
    assert load(api.InterestCreateSchema, {"message": "x" * 2000})["message"]
    with pytest.raises(ValidationError):
        load(api.InterestCreateSchema, {"message": "x" * 2001})


def test_a_profile_names_at_least_one_known_sector_and_employment_type():
    with pytest.raises(ValidationError) as caught:
        load(
            api.ReturneeProfileSaveSchema,
            {"sectors": [], "employment_types": ["x"], "available_from": "soon"},
        )
    assert set(caught.value.fields) == {"sectors", "employment_types", "available_from"}


def test_many_profiles_are_saved_at_once_new_and_replaced_alike(db):
    opening = post(db)
    save_profile(db, ANNA, sectors=("it",), types=("full_time",))
    saved = run(
        db,
        domain.save_profiles,
        [
            {
                "account_id": ANNA,
                "sectors": ["tourism"],
                "employment_types": ["seasonal"],
                "available_from": date(2027, 1, 1),
            },
            {
                "account_id": EVA,
                "sectors": ["tourism"],
                "employment_types": ["seasonal"],
                "available_from": "2027-01-01",
                "message": "Hej",
            },
        ],
        now=T0 + timedelta(hours=1),
    )
    assert [p["account_id"] for p in saved] == [ANNA, EVA]
    assert run(db, domain.get_profile, ANNA)["sectors"] == ["tourism"]
    assert run(db, domain.get_profile, EVA)["message"] == "Hej"
    assert saved[0]["created_at"] == T0 != saved[1]["created_at"]
    assert matched_ids(db, opening["id"]) == [ANNA, EVA]
    with pytest.raises(ValueError):
        run(
            db,
            domain.save_profiles,
            [
                {
                    "account_id": BO,
                    "sectors": ["it"],
                    "employment_types": ["full_time"],
                    "available_from": date(2027, 1, 1),
                }
            ]
            * 2,
        )
