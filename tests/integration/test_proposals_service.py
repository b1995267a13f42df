"""The proposals service over real RPC, with its migrated database and real RabbitMQ.

Its read models of accounts, groups and memberships are fed the way they are in
production: by groups events on the `groups.events` exchange, either published here as
envelopes or by the real groups service. What proposals publishes is read from a queue
bound to `proposals.events`.
"""

import uuid

import pytest
from kombu import Connection
from nameko.standalone.rpc import ClusterRpcClient

from civic.db import ServiceDatabase
from civic.errors import Conflict, Forbidden, NotFound, Unauthenticated, ValidationError
from services.groups.service import GroupsService
from services.proposals.models import KnownAccount, KnownGroup, KnownMembership, Support, metadata
from services.proposals.service import ProposalsService
from tests.conftest import wait_for
from tests.support import count, envelope, publish

CORRELATION_ID = "corr-proposals-test"
PASSWORD = "correct horse battery"
ENVELOPE_FIELDS = {
    "id",
    "type",
    "version",
    "occurred_at",
    "producer",
    "correlation_id",
    "actor_id",
    "data",
}


def actor(name, staff=False):
    return {
        "account_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.example.org")),
        "is_staff": staff,
        "display_name": name.title(),
    }


ANNA, BO, CIA, DAN = actor("anna"), actor("bo"), actor("cia"), actor("dan")
STAFF = actor("maria", staff=True)
WORKING = str(uuid.uuid5(uuid.NAMESPACE_DNS, "kultur-och-fritid"))
CLUB = str(uuid.uuid5(uuid.NAMESPACE_DNS, "skidklubben"))
MISSING_ID = "6f9619ff-8b86-d011-b42d-00c04fc964ff"


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def proposals_db(migrated):
    """The service's database, to watch its read models fill."""
    database = ServiceDatabase("proposals", metadata)
    yield database
    database.dispose()


@pytest.fixture
def service(migrated, published, container_factory):
    container = container_factory(ProposalsService)
    container.start()
    return container


@pytest.fixture
def client(service):
    with ClusterRpcClient(context_data={"correlation_id": CORRELATION_ID}, timeout=30) as cluster:
        yield cluster


@pytest.fixture
def rpc(client):
    return client.proposals


@pytest.fixture
def town(migrated, service, proposals_db):
    """Accounts, a working group and a club whose admin is Bo, known to proposals."""
    for person in (ANNA, BO, CIA, DAN, STAFF):
        publish(
            migrated["AMQP_URI"],
            envelope(
                "account_registered",
                {
                    "account_id": person["account_id"],
                    "display_name": person["display_name"],
                    "locale": "sv",
                },
                actor_id=person["account_id"],
            ),
        )
    for group_id, name, kind in (
        (WORKING, "Kultur och fritid", "working_group"),
        (CLUB, "Skidklubben", "association"),
    ):
        publish(
            migrated["AMQP_URI"],
            envelope(
                "group_created",
                {
                    "group_id": group_id,
                    "name": name,
                    "kind": kind,
                    "open": True,
                    "created_by": BO["account_id"],
                },
                actor_id=BO["account_id"],
            ),
        )
        publish(
            migrated["AMQP_URI"],
            envelope(
                "member_joined",
                {"group_id": group_id, "account_id": BO["account_id"], "role": "admin"},
            ),
        )
    wait_for(
        lambda: (
            count(proposals_db, KnownAccount) == 5
            and count(proposals_db, KnownGroup) == 2
            and count(proposals_db, KnownMembership) == 2
        ),
        message="read models fed",
    )


def submit(rpc, who=ANNA, title="Isbana i parken på vintern", **extra):
    return rpc.submit_proposal(
        who, {"title": title, "body": "Spola en isbana i parken.", "category": "leisure", **extra}
    )


def events_of(published, count_, message="proposals events"):
    """[(message_id, envelope)] of what proposals published, once there are `count_`."""

    def deliveries():
        return published.deliveries("proposals")

    return wait_for(lambda: len(deliveries()) >= count_ and deliveries(), message=message)


# --- one event per change ----------------------------------------------------------------


def test_every_change_publishes_exactly_one_event(rpc, published, town):
    expected = []

    def did(event_type):
        expected.append(event_type)

    rink = submit(rpc, location={"name": "Stadsparken", "lat": 66.6066, "lon": 19.8227})
    did("proposal_submitted")
    assert rink["author_name"] == "Anna" and rink["location"]["name"] == "Stadsparken"
    rpc.support(BO, rink["id"])
    did("proposal_supported")
    rpc.support(CIA, rink["id"])
    did("proposal_supported")
    rpc.withdraw_support(CIA, rink["id"])
    did("proposal_support_withdrawn")
    comment = rpc.add_comment(BO, rink["id"], {"body": "Bra idé!"})
    did("comment_added")
    rpc.transition(STAFF, rink["id"], {"status": "under_review"})
    did("proposal_status_changed")
    rpc.assign(STAFF, rink["id"], {"group_id": WORKING})
    did("proposal_assigned")
    accepted = rpc.transition(
        STAFF, rink["id"], {"status": "accepted", "answer": "Kommunen spolar i vinter."}
    )
    did("proposal_answered")
    rpc.transition(STAFF, rink["id"], {"status": "in_progress"})
    did("proposal_status_changed")

    zoo = submit(rpc, BO, title="Polarzoo i Jokkmokk")
    did("proposal_submitted")
    rpc.report(ANNA, zoo["id"], {"reason": "Skämt"})
    did("proposal_reported")
    rpc.report(CIA, zoo["id"], {"reason": "Skämt"})
    did("proposal_reported")
    assert rpc.report(DAN, zoo["id"], {"reason": "Skämt"})["hidden"] is True
    did("proposal_hidden")
    rpc.moderate(STAFF, zoo["id"], {"action": "restore"})
    did("proposal_restored")
    rpc.moderate(STAFF, zoo["id"], {"action": "remove"})
    did("proposal_removed")

    twin = submit(rpc, CIA, title="Spola is i Stadsparken")
    did("proposal_submitted")
    rpc.merge(STAFF, twin["id"], {"into_id": rink["id"]})
    did("proposal_merged")
    signs = submit(rpc, DAN, title="Ta ner skyltar från stängda butiker")
    did("proposal_submitted")
    rpc.withdraw(DAN, signs["id"])
    did("proposal_status_changed")

    project = rpc.register_project(
        BO,
        {
            "title": "Isbanan i Stadsparken",
            "description": "Föreningarna spolar och sköter.",
            "lead_group_id": CLUB,
            "partner_group_ids": [],
            "origin_proposal_id": rink["id"],
        },
    )
    did("project_registered")
    rpc.add_partner(BO, project["id"], {"group_id": WORKING})
    did("project_partner_added")
    rpc.transition_project(BO, project["id"], {"status": "active"})
    did("project_status_changed")

    # Refused requests change nothing and publish nothing.
    refusals = [
        (Conflict, lambda: rpc.support(BO, rink["id"])),
        (
            Conflict,
            lambda: rpc.transition(STAFF, rink["id"], {"status": "rejected", "answer": "Nej."}),
        ),
        (ValidationError, lambda: rpc.transition(STAFF, signs["id"], {"status": "paused"})),
        (Forbidden, lambda: rpc.transition(ANNA, rink["id"], {"status": "done"})),
        (Forbidden, lambda: rpc.withdraw(BO, rink["id"])),
        (NotFound, lambda: rpc.withdraw_support(DAN, rink["id"])),
        (NotFound, lambda: rpc.get_proposal(ANNA, zoo["id"])),
        (
            Conflict,
            lambda: (
                rpc.report(ANNA, rink["id"], {"reason": "a"})
                and rpc.report(ANNA, rink["id"], {"reason": "b"})
            ),
        ),
        (ValidationError, lambda: rpc.assign(STAFF, rink["id"], {"group_id": CLUB})),
        (
            Forbidden,
            lambda: rpc.register_project(CIA, {"title": "Cias projekt", "lead_group_id": CLUB}),
        ),
        (Conflict, lambda: rpc.transition_project(BO, project["id"], {"status": "planned"})),
        (Unauthenticated, lambda: rpc.support(None, rink["id"])),
    ]
    for error, call in refusals:
        with pytest.raises(error):
            call()
    did("proposal_reported")  # the first report of the Conflict case above stands

    events = events_of(published, len(expected))
    # Drain once more after a last successful call: nothing beyond what was done.
    assert rpc.health()["outbox_unsent"] == 0
    events = published.deliveries("proposals")
    assert [body["type"] for _, body in events] == expected
    assert len({body["id"] for _, body in events}) == len(expected)
    for message_id, body in events:
        assert set(body) == ENVELOPE_FIELDS
        assert message_id == body["id"] and body["producer"] == "proposals"
        assert body["version"] == 1 and body["occurred_at"].endswith("+00:00")
        assert body["correlation_id"] == CORRELATION_ID
        assert body["actor_id"] is not None
    by_type = {}
    for _, body in events:
        by_type.setdefault(body["type"], []).append(body)
    answered = by_type["proposal_answered"][0]
    assert answered["actor_id"] == STAFF["account_id"]
    assert answered["data"] == {
        "proposal_id": rink["id"],
        "title": rink["title"],
        "author_id": ANNA["account_id"],
        "from_status": "under_review",
        "to_status": "accepted",
        "answer": "Kommunen spolar i vinter.",
        "answered_by": STAFF["account_id"],
        "assigned_group_id": WORKING,
    }
    assert by_type["comment_added"][0]["data"]["comment_id"] == comment["id"]
    assert by_type["proposal_merged"][0]["data"]["into_id"] == rink["id"]
    assert by_type["project_registered"][0]["data"]["origin_proposal_id"] == rink["id"]
    assert by_type["proposal_assigned"][0]["data"]["group_name"] == "Kultur och fritid"

    final = rpc.get_proposal(None, rink["id"])
    assert final["status"] == "in_progress" and final["answer"] == accepted["answer"]
    assert final["project_ids"] == [project["id"]]
    assert final["assigned_group_name"] == "Kultur och fritid"
    assert [h["to_status"] for h in final["history"]] == [
        "submitted",
        "under_review",
        "accepted",
        "in_progress",
    ]
    assert all(h["at"].endswith("+00:00") for h in final["history"])


# --- supports under concurrency ----------------------------------------------------------


def test_fifty_concurrent_supports_from_fifty_accounts_count_fifty(rpc, published, proposals_db):
    proposal = submit(rpc)
    supporters = [actor(f"supporter{n}") for n in range(50)]
    pending = [rpc.support.call_async(who, proposal["id"]) for who in supporters]
    results = [reply.result() for reply in pending]
    assert sorted(result["support_count"] for result in results) == list(range(1, 51))
    assert rpc.get_proposal(None, proposal["id"])["support_count"] == 50
    assert count(proposals_db, Support, Support.proposal_id == proposal["id"]) == 50
    events = events_of(published, 51)
    supported = [body["data"] for _, body in events if body["type"] == "proposal_supported"]
    assert sorted(data["support_count"] for data in supported) == list(range(1, 51))
    assert {data["account_id"] for data in supported} == {who["account_id"] for who in supporters}


def test_the_same_account_supporting_twice_at_once_counts_once(rpc, proposals_db):
    proposals = [submit(rpc, title=f"Förslag nummer {n}") for n in range(5)]
    for proposal in proposals:
        pending = [rpc.support.call_async(BO, proposal["id"]) for _ in range(2)]
        outcomes = []
        for reply in pending:
            try:
                outcomes.append(reply.result()["support_count"])
            except Conflict:
                outcomes.append("conflict")
        assert sorted(outcomes, key=str) == [1, "conflict"]
        assert rpc.get_proposal(BO, proposal["id"])["support_count"] == 1
        assert count(proposals_db, Support, Support.proposal_id == proposal["id"]) == 1


# --- working while groups is down --------------------------------------------------------


def test_reading_supporting_and_commenting_work_while_groups_is_down(
    migrated, client, container_factory, proposals_db
):
    groups_container = container_factory(GroupsService)
    groups_container.start()
    groups, rpc = client.groups, client.proposals
    accounts = {}
    for name in ("lars", "karin", "staff"):
        accounts[name] = groups.register_account(
            {
                "email": f"{name}@jokkmokk.example",
                "password": PASSWORD,
                "display_name": name.title(),
            }
        )
    # The groups service is told who calls by the actor, as the gateway builds it.
    working = groups.create_group(
        {"account_id": accounts["lars"]["id"]},
        {"name": "Trafik och gator", "kind": "working_group", "description": "", "open": True},
    )
    club = groups.create_group(
        {"account_id": accounts["karin"]["id"]},
        {"name": "Jokkmokks skidklubb", "kind": "association", "description": "", "open": True},
    )
    groups.join_group({"account_id": accounts["lars"]["id"]}, club["id"])
    wait_for(
        lambda: (
            count(proposals_db, KnownAccount) == 3
            and count(proposals_db, KnownGroup) == 2
            and count(proposals_db, KnownMembership) == 3
        ),
        message="proposals' read models fed by the groups service",
    )

    groups_container.stop()
    with Connection(migrated["AMQP_URI"]) as connection:
        _, _, consumers = connection.default_channel.queue_declare(queue="rpc-groups", passive=True)
    assert consumers == 0  # nobody answers for groups any more

    lars = {"account_id": accounts["lars"]["id"], "is_staff": False, "display_name": "Lars"}
    karin = {"account_id": accounts["karin"]["id"], "is_staff": False, "display_name": "Karin"}
    staff = {"account_id": accounts["staff"]["id"], "is_staff": True, "display_name": "Staff"}
    proposal = submit(rpc, lars, title="Hundbajs på gatorna")
    assert proposal["author_name"] == "Lars"
    assert rpc.list_proposals(None, q="hundbajs")["total"] == 1
    assert rpc.support(karin, proposal["id"])["support_count"] == 1
    comment = rpc.add_comment(karin, proposal["id"], {"body": "Fler soptunnor behövs."})
    assert comment["author_name"] == "Karin"
    seen = rpc.get_proposal(karin, proposal["id"])
    assert seen["supported_by_me"] is True and len(seen["comments"]) == 1
    assigned = rpc.assign(staff, proposal["id"], {"group_id": working["id"]})
    assert assigned["assigned_group_name"] == "Trafik och gator"
    project = rpc.register_project(
        karin,
        {
            "title": "Rena gator",
            "lead_group_id": club["id"],
            "partner_group_ids": [working["id"]],
            "origin_proposal_id": proposal["id"],
        },
    )
    assert project["lead_group_name"] == "Jokkmokks skidklubb"
    with pytest.raises(Forbidden):  # a member of the club, not its admin
        rpc.transition_project(lars, project["id"], {"status": "active"})


# --- personal data -----------------------------------------------------------------------


def test_an_erased_account_leaves_its_words_but_not_its_name(migrated, rpc, town, proposals_db):
    filed = submit(
        rpc, STAFF, title="Hundbajs på gatorna", channel="drop_in", contact="Gunnel, 070-123 45 67"
    )
    mine = submit(rpc, CIA, title="Skyltar från stängda butiker")
    rpc.support(CIA, filed["id"])
    rpc.support(DAN, filed["id"])
    rpc.add_comment(CIA, filed["id"], {"body": "Håller med!"})
    rpc.report(CIA, mine["id"], {"reason": "Dubblett"})
    exported = rpc.export_account(CIA["account_id"])
    assert [p["id"] for p in exported["proposals"]] == [mine["id"]]
    assert [s["proposal_id"] for s in exported["supports"]] == [filed["id"]]
    assert [c["body"] for c in exported["comments"]] == ["Håller med!"]
    assert [r["proposal_id"] for r in exported["reports"]] == [mine["id"]]

    publish(
        migrated["AMQP_URI"],
        envelope("account_erased", {"account_id": CIA["account_id"]}, actor_id=CIA["account_id"]),
        envelope(
            "account_erased", {"account_id": STAFF["account_id"]}, actor_id=STAFF["account_id"]
        ),
    )
    wait_for(
        lambda: (
            rpc.get_proposal(None, mine["id"])["author_name"] == "former resident"
            and rpc.get_proposal(None, filed["id"])["author_name"] == "former resident"
        ),
        message="erasure handled",
    )
    seen = rpc.get_proposal(
        {**STAFF, "account_id": actor("other-staff")["account_id"]}, filed["id"]
    )
    assert seen["contact"] is None and seen["support_count"] == 2
    assert seen["comments"][0]["author_name"] == "former resident"
    assert rpc.get_proposal(None, mine["id"])["title"] == "Skyltar från stängda butiker"
    after = rpc.export_account(CIA["account_id"])
    assert after["supports"] == [] and after["reports"] == []
    assert count(proposals_db, Support, Support.account_id.is_(None)) == 1


# --- input and errors over RPC -----------------------------------------------------------


def test_bad_input_is_refused_with_the_fields_named(rpc, town):
    with pytest.raises(ValidationError) as caught:
        rpc.submit_proposal(
            ANNA, {"title": "Kort", "body": "", "category": "sport", "colour": "red"}
        )
    assert set(caught.value.fields) == {"title", "category", "colour"}
    with pytest.raises(ValidationError):
        rpc.submit_proposal(ANNA, "not an object")
    with pytest.raises(Forbidden):
        rpc.submit_proposal(
            ANNA,
            {"title": "Drop-in förslag", "body": "", "category": "other", "channel": "town_hall"},
        )
    with pytest.raises(Unauthenticated):
        rpc.submit_proposal(None, {"title": "Anonymt förslag", "body": "", "category": "other"})
    with pytest.raises(ValidationError) as caught:
        rpc.get_proposal(None, 42)
    assert caught.value.fields == {"proposal_id": ["Not a valid id."]}
    with pytest.raises(ValidationError):
        rpc.list_proposals(None, per_page=101)
    with pytest.raises(NotFound):
        rpc.get_proposal(None, MISSING_ID)
    with pytest.raises(NotFound):
        rpc.get_project(None, MISSING_ID)
    with pytest.raises(ValidationError) as caught:
        rpc.register_project(
            BO, {"title": "Projekt", "lead_group_id": CLUB, "partner_group_ids": [CLUB]}
        )
    assert "partner_group_ids" in caught.value.fields
    listed = rpc.list_projects(None, status="planned", group_id=CLUB)
    assert listed == {"items": [], "total": 0, "page": 1, "per_page": 20}
    assert rpc.health()["database"] == "ok"


# --- the Jokkmokk demo -------------------------------------------------------------------


def test_the_demo_files_its_proposals_once(migrated, client, container_factory):
    """The proposals part of `civic seed`: through the running groups and proposals
    services, as the demo residents; a second run finds everything and changes nothing.
    (The other services' parts of the demo are theirs to test.)"""
    import demo

    groups_container = container_factory(GroupsService)
    groups_container.start()

    def groups_part(loader):
        existing = demo.all_groups(loader.groups)
        loader.load_groups(existing)
        return existing

    said = []
    loader = demo.DemoLoader(client.groups, PASSWORD, say=said.append)
    existing = groups_part(loader)
    part = demo.ProposalsDemo(loader.proposals, loader)
    assert part.is_loaded(existing) is False
    part.load(existing)
    rpc = client.proposals
    listed = {p["title"]: p for p in rpc.list_proposals(None, per_page=100)["items"]}
    assert set(listed) == {d.title for d in demo.PROPOSALS}
    rink = rpc.get_proposal(None, listed[demo.RINK]["id"])
    assert rink["status"] == "accepted" and rink["answer"]["body"].startswith("Kommunen")
    assert rink["assigned_group_name"] == "Kultur och fritid"
    assert rink["support_count"] == 6 and len(rink["comments"]) == 2
    [project] = rpc.list_projects(None)["items"]
    assert project["status"] == "active" and project["origin_proposal_id"] == rink["id"]
    assert rink["project_ids"] == [project["id"]]
    dog = listed["Hundbajs på gatorna"]
    assert dog["channel"] == "drop_in" and "contact" not in dog

    again = demo.DemoLoader(client.groups, PASSWORD, say=said.append)
    existing = groups_part(again)
    second = demo.ProposalsDemo(again.proposals, again)
    assert second.is_loaded(existing) is True
    second.load(existing)
    assert again.created == 0
    assert rpc.list_proposals(None)["total"] == len(demo.PROPOSALS)
    assert rpc.list_projects(None)["total"] == 1
