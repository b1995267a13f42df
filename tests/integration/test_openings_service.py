"""The openings service over real RPC, with its migrated database and real RabbitMQ.

What openings publishes is read from a queue bound to `openings.events`. Its read models
are fed either by the real groups service's events, or (where a test needs a large or
past-dated world quickly) through the same functions its handlers call, in one unit of
work on the service's own database.
"""

import uuid
from datetime import date, timedelta

import pytest
from nameko import config as nameko_config
from nameko.standalone.rpc import ClusterRpcClient
from sqlalchemy import select

from civic.db import ServiceDatabase, utcnow
from civic.errors import Conflict, Forbidden, NotFound, ValidationError
from civic.validation import load
from services.groups import domain as groups_domain
from services.groups.models import metadata as groups_metadata
from services.groups.service import GroupsService
from services.openings import api, domain
from services.openings.models import Opening, group_facts, metadata
from services.openings.service import OpeningsService
from tests.conftest import wait_for
from tests.support import outbox_envelopes

CORRELATION_ID = "corr-openings-test"
PASSWORD = "correct horse battery"
PORJUS = str(uuid.uuid5(uuid.NAMESPACE_DNS, "vattenfall-porjus"))
ADMIN = str(uuid.uuid5(uuid.NAMESPACE_DNS, "lars.example.org"))
# The admin as the gateway names a signed-in caller to a service.
AS_ADMIN = {"account_id": ADMIN, "is_staff": False, "display_name": "Lars"}
MISSING_ID = "6f9619ff-8b86-d011-b42d-00c04fc964ff"


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def openings_db(migrated):
    """The service's database, as another process of the service would open it."""
    database = ServiceDatabase("openings", metadata)
    yield database
    database.dispose()


@pytest.fixture
def client(migrated, published):
    with ClusterRpcClient(context_data={"correlation_id": CORRELATION_ID}, timeout=30) as cluster:
        yield cluster


@pytest.fixture
def openings(migrated, published, container_factory, client):
    container_factory(OpeningsService).start()
    return client.openings


def verified_business(session, group_id=PORJUS, admin_id=ADMIN, name="Vattenfall Porjus"):
    """What groups' events would have told openings about a verified business."""
    group_facts.group_created(session, group_id, name, "business")
    group_facts.group_verified(session, group_id)
    group_facts.member_joined(session, group_id, admin_id, "admin", utcnow())


def opening_payload(**overrides):
    data = {
        "business_group_id": PORJUS,
        "title": "Drifttekniker vattenkraft",
        "description": "Underhåll och drift av aggregaten i Porjus.",
        "sector": "energy",
        "employment_type": "full_time",
        "location": "Porjus",
        "apply_by": (date.today() + timedelta(days=30)).isoformat(),
        "contact": "rekrytering@porjus.example",
    }
    data.update(overrides)
    return data


# --- the acceptance checks ---------------------------------------------------------------


def test_an_opening_matching_120_of_1000_profiles_names_exactly_those_120(
    openings, published, openings_db
):
    start = date.today() + timedelta(days=120)
    ready, too_late = (
        (start - timedelta(days=30)).isoformat(),
        (start + timedelta(days=1)).isoformat(),
    )
    # (sectors, employment types, available from) for each kind of profile
    kinds = [
        (120, ["energy", "it"], ["full_time", "seasonal"], ready),  # match
        (100, ["energy"], ["full_time"], too_late),  # cannot start in time
        (100, ["energy", "construction"], ["part_time", "internship"], ready),  # other type
        (680, ["tourism", "health_care", "it"], ["full_time"], ready),  # other sectors
    ]
    profiles = [
        {
            "account_id": str(uuid.uuid4()),
            "sectors": sectors,
            "employment_types": types,
            "available_from": available_from,
        }
        for how_many, sectors, types, available_from in kinds
        for _ in range(how_many)
    ]
    expected = {p["account_id"] for p in profiles[:120]}
    with openings_db.unit_of_work({"correlation_id": "corr-profiles"}) as uow:
        verified_business(uow.session)
        saved = domain.save_profiles(uow, profiles)
    assert len(saved) == 1000

    opening = openings.post_opening(AS_ADMIN, opening_payload(start_date=start.isoformat()))

    def matched():
        found = published("openings", "opening_matched")
        ids = [account_id for body in found for account_id in body["data"]["account_ids"]]
        return found if len(set(ids)) >= 120 else None

    bodies = wait_for(matched, timeout=30, message="opening_matched events for 120")
    wait_for(lambda: openings_db.relay.unsent_count() == 0, message="outbox relayed")
    bodies = published("openings", "opening_matched")
    named = [account_id for body in bodies for account_id in body["data"]["account_ids"]]
    assert set(named) == expected
    assert all(body["data"]["opening_id"] == opening["id"] for body in bodies)
    assert all(len(body["data"]["account_ids"]) <= 500 for body in bodies)
    assert all(body["correlation_id"] == CORRELATION_ID for body in bodies)
    assert len(outbox_envelopes(openings_db, "opening_matched")) == 1  # 120 in one batch


def test_expiry_runs_once_with_three_instances_of_the_service(
    migrated, published, openings_db, container_factory
):
    now = utcnow()
    then = now - timedelta(days=10)
    with openings_db.unit_of_work({"correlation_id": "corr-expiry"}) as uow:
        verified_business(uow.session)
        # Posted ten days ago, to be applied for by the day after: long past.
        due = [
            domain.post_opening(
                uow,
                ADMIN,
                **load(
                    api.OpeningCreateSchema,
                    opening_payload(
                        title=f"Tjänst {n}", apply_by=(then + timedelta(days=1)).date().isoformat()
                    ),
                ),
                now=then,
            )["id"]
            for n in range(12)
        ]
        current = domain.post_opening(
            uow, ADMIN, **load(api.OpeningCreateSchema, opening_payload()), now=now
        )["id"]

    with nameko_config.patch({"CIVIC_EXPIRY_INTERVAL": 0.1}, clear=False):
        instances = [container_factory(OpeningsService) for _ in range(3)]
        for container in instances:
            container.start()

    def statuses():
        with openings_db.sessions() as session:
            return dict(session.execute(select(Opening.id, Opening.status)).all())

    wait_for(
        lambda: all(statuses()[opening_id] == "expired" for opening_id in due),
        timeout=30,
        message="every due opening expired",
    )
    wait_for(lambda: openings_db.relay.unsent_count() == 0, message="outbox relayed")
    # Exactly one opening_expired was written per opening, whichever instance won.
    assert len(outbox_envelopes(openings_db, "opening_expired")) == len(due)

    def expired_deliveries():
        return published.deliveries("openings", "opening_expired")

    expired = wait_for(
        lambda: len(expired_deliveries()) >= len(due) and expired_deliveries(),
        message="opening_expired events",
    )
    opened = sorted(body["data"]["opening_id"] for _, body in expired)
    assert len({message_id for message_id, _ in expired}) == len(due)
    assert sorted(set(opened)) == sorted(due)
    assert statuses()[current] == "open"


# --- with the real groups service ----------------------------------------------------------


def test_openings_learns_businesses_from_groups_and_forgets_an_erased_returnee(
    migrated, published, openings, client, container_factory, openings_db
):
    container_factory(GroupsService).start()
    groups = client.groups

    def account(name):
        """A new account, as the actor the gateway would pass for it."""
        account_id = groups.register_account(
            {"email": f"{name}@example.org", "password": PASSWORD, "display_name": name.title()}
        )["id"]
        return {"account_id": account_id, "is_staff": False, "display_name": name.title()}

    anna, bo, cia = account("anna"), account("bo"), account("cia")
    groups_db = ServiceDatabase("groups", groups_metadata)
    try:
        with groups_db.unit_of_work() as uow:
            staff, _ = groups_domain.create_or_promote_staff(
                uow, "maria@example.org", PASSWORD, "Maria"
            )
    finally:
        groups_db.dispose()
    # Each service is told who calls by the actor, as the gateway builds it.
    park = groups.create_group(
        anna, {"name": "Jokkmokks viltpark", "kind": "business", "description": "", "open": True}
    )["id"]
    groups.join_group(bo, park)
    openings.save_profile(
        cia,
        {
            "sectors": ["tourism"],
            "employment_types": ["seasonal"],
            "available_from": date.today().isoformat(),
            "message": "Hemma igen!",
        },
    )
    payload = opening_payload(
        business_group_id=park,
        title="Djurskötare",
        sector="tourism",
        employment_type="seasonal",
        location="Jokkmokk",
    )

    def refused_as_unverified():
        try:
            openings.post_opening(anna, payload)
        except ValidationError:  # group_created not handled yet
            return False
        except Forbidden as exc:
            return "verified" in exc.message
        raise AssertionError("an unverified business posted an opening")

    wait_for(refused_as_unverified, message="openings knows the unverified business")
    groups.verify_group({"account_id": staff["id"], "is_staff": True}, park)

    def posted():
        try:
            return openings.post_opening(anna, payload)
        except Forbidden:  # group_verified not handled yet
            return None

    opening = wait_for(posted, message="openings knows the business is verified")
    assert opening["business_name"] == "Jokkmokks viltpark"
    with pytest.raises(Forbidden, match="admin"):
        openings.post_opening(bo, payload)  # a member, not an admin

    openings.register_interest(cia, opening["id"], {"message": "Jag älskar djur."})
    with pytest.raises(Conflict):
        openings.register_interest(cia, opening["id"], {})
    with pytest.raises(Forbidden):
        openings.list_interest(bo, opening["id"])
    interested = wait_for(
        lambda: (lambda listing: listing["items"][0]["display_name"] and listing)(
            openings.list_interest(anna, opening["id"])
        ),
        message="Cia's name known to openings",
    )
    assert [(i["display_name"], i["message"]) for i in interested["items"]] == [
        ("Cia", "Jag älskar djur.")
    ]
    interest_events = wait_for(
        lambda: published("openings", "interest_registered"), message="interest_registered"
    )
    assert interest_events[0]["data"]["admin_ids"] == [anna["account_id"]]
    matched = wait_for(lambda: published("openings", "opening_matched"), message="opening_matched")
    assert matched[0]["data"]["account_ids"] == [cia["account_id"]]

    exported = openings.export_account(cia["account_id"])
    assert exported["returnee_profile"]["message"] == "Hemma igen!"
    assert [i["message"] for i in exported["interests"]] == ["Jag älskar djur."]
    groups.erase_account(cia)
    wait_for(
        lambda: (
            openings.export_account(cia["account_id"])
            == {
                "returnee_profile": None,
                "interests": [],
                "matched_openings": [],
                "openings_posted": [],
            }
        ),
        message="openings erased Cia's data",
    )
    with pytest.raises(NotFound):
        openings.get_profile(cia)
    assert openings.list_interest(anna, opening["id"])["total"] == 0
    assert openings.health()["database"] == "ok"


def test_bad_input_is_refused_with_the_fields_named(openings, openings_db):
    with openings_db.unit_of_work() as uow:
        verified_business(uow.session)
    with pytest.raises(ValidationError) as caught:
        openings.post_opening(
            AS_ADMIN, opening_payload(apply_by=(date.today() - timedelta(days=2)).isoformat())
        )
    assert list(caught.value.fields) == ["apply_by"]
    with pytest.raises(ValidationError) as caught:
        openings.post_opening(AS_ADMIN, {**opening_payload(), "pay": "lots"})
    assert caught.value.fields == {"pay": ["Unknown field."]}
    with pytest.raises(ValidationError) as caught:
        openings.get_opening(None, 42)
    assert caught.value.fields == {"opening_id": ["Not a valid id."]}
    with pytest.raises(NotFound):
        openings.get_opening(None, MISSING_ID)
    with pytest.raises(ValidationError):
        openings.list_openings(None, sector="mining")
    with pytest.raises(ValidationError):
        openings.register_interest(AS_ADMIN, MISSING_ID, {"message": "x" * 2001})
    assert openings.list_openings(None) == {"items": [], "total": 0, "page": 1, "per_page": 20}


# --- the Jokkmokk demo -------------------------------------------------------------------


def test_the_demo_posts_its_openings_and_profiles_once(
    migrated, client, published, container_factory
):
    """The openings part of `civic seed`, on just the people and businesses it needs
    (the whole demo loads in the CLI test)."""
    import demo

    for service_cls in (GroupsService, OpeningsService):
        container_factory(service_cls).start()
    loader = demo.DemoLoader(client.groups, PASSWORD, say=lambda _: None)
    businesses = [
        group
        for group in demo.GROUPS
        if group.name in {opening.business for opening in demo.OPENINGS}
    ]
    people = (
        {group.admin for group in businesses}
        | {key for group in businesses for key in group.members}
        | {profile.person for profile in demo.PROFILES}
    )
    existing: dict[str, dict] = {}
    loader.load_groups(
        existing, businesses, [person for person in demo.RESIDENTS if person.key in people]
    )
    part = demo.OpeningsDemo(client.openings, loader)
    assert part.is_loaded(existing) is False
    part.load(existing)
    assert part.is_loaded(existing) is True and not part.skipped

    listed = client.openings.list_openings(None, per_page=100)["items"]
    assert sorted(o["title"] for o in listed) == sorted(d.title for d in demo.OPENINGS)
    assert {o["business_name"] for o in listed} == {group.name for group in businesses}
    emma = loader.ids["emma"]
    assert client.openings.get_profile(loader.actor("emma"))["sectors"] == ["tourism", "culture"]

    def emma_matched():
        titles = {
            body["data"]["title"]
            for body in published("openings", "opening_matched")
            if emma in body["data"]["account_ids"]
        }
        return titles if len(titles) >= 2 else None

    matched = wait_for(emma_matched, message="emma matched")
    assert matched == {"Naturguide vid viltparken", "Djurskötare, säsongsanställning"}

    created = loader.created
    part.load(existing)  # again: everything is found
    assert loader.created == created
    assert client.openings.list_openings(None)["total"] == len(demo.OPENINGS)


def test_the_demo_skips_openings_when_the_service_is_not_running(migrated, client):
    import demo

    said = []
    loader = demo.DemoLoader(client.groups, PASSWORD, say=said.append)
    part = demo.OpeningsDemo(client.openings, loader)
    groups = {opening.business.casefold(): {"id": MISSING_ID} for opening in demo.OPENINGS}
    assert part.is_loaded(groups) is True  # nothing it could load
    part.load(groups)
    assert part.skipped and len(said) == 1 and "not running" in said[0]
