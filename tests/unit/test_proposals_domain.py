"""The proposals rules, on a throw-away SQLite database and no broker.

The relay gets kombu's in-memory transport, so commits publish nowhere; what the rules
published is read back from the outbox table. The read models are fed with the same
functions the event handlers call.
"""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from civic.errors import Conflict, Forbidden, NotFound, Unauthenticated, ValidationError
from civic.validation import load, load_actor
from services.proposals import api, domain
from services.proposals.models import (
    KnownMembership,
    Proposal,
    Report,
    Support,
    group_facts,
    metadata,
)
from tests.unit.domain_support import domain_database, events, run

ANNA = {"account_id": "a-anna", "is_staff": False, "display_name": "Anna"}
BO = {"account_id": "a-bo", "is_staff": False, "display_name": "Bo"}
CIA = {"account_id": "a-cia", "is_staff": False, "display_name": "Cia"}
DAN = {"account_id": "a-dan", "is_staff": False, "display_name": "Dan"}
STAFF = {"account_id": "a-staff", "is_staff": True, "display_name": "Maria"}
WORKING = "0c6b1b2e-5d8a-4d55-9a57-3f2a3a3c0001"
CLUB = "0c6b1b2e-5d8a-4d55-9a57-3f2a3a3c0002"
HEMBYGD = "0c6b1b2e-5d8a-4d55-9a57-3f2a3a3c0003"
T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path):
    database = domain_database(tmp_path, "proposals", metadata)
    with database.unit_of_work() as uow:
        for actor in (ANNA, BO, CIA, DAN, STAFF):
            group_facts.account_registered(uow.session, actor["account_id"], actor["display_name"])
        group_facts.group_created(uow.session, WORKING, "Kultur och fritid", "working_group")
        group_facts.group_created(uow.session, CLUB, "Skidklubben", "association")
        group_facts.group_created(uow.session, HEMBYGD, "Hembygdsföreningen", "association")
        group_facts.member_joined(uow.session, CLUB, BO["account_id"], "admin", T0)
        group_facts.member_joined(uow.session, CLUB, CIA["account_id"], "member", T0)
    yield database
    database.dispose()


def submit(
    db,
    actor=ANNA,
    title="Isbana i parken på vintern",
    body="Spola en isbana.",
    category="leisure",
    **extra,
):
    data = load(
        api.ProposalCreateSchema, {"title": title, "body": body, "category": category, **extra}
    )
    return run(db, domain.submit_proposal, actor, **data)


def move(db, proposal_id, status, answer=None, actor=STAFF):
    return run(db, domain.transition, actor, proposal_id, status, answer)


# --- submitting and reading --------------------------------------------------------------


def test_a_submitted_proposal_reads_back_with_its_history(db):
    proposal = submit(db, location={"name": "Stadsparken", "lat": 66.6066, "lon": 19.8227})
    assert proposal["status"] == "submitted" and proposal["channel"] == "online"
    assert proposal["author_id"] == "a-anna" and proposal["author_name"] == "Anna"
    assert proposal["location"] == {"name": "Stadsparken", "lat": 66.6066, "lon": 19.8227}
    assert (proposal["support_count"], proposal["supported_by_me"]) == (0, False)
    assert proposal["comments"] == [] and proposal["answer"] is None
    assert proposal["project_ids"] == [] and proposal["merged_into_id"] is None
    assert [(h["from_status"], h["to_status"], h["actor_id"]) for h in proposal["history"]] == [
        (None, "submitted", "a-anna")
    ]
    assert api.ProposalSchema().dump(proposal)["created_at"].endswith("+00:00")
    assert "contact" not in proposal and "report_count" not in proposal
    assert run(db, domain.get_proposal, None, proposal["id"]) == proposal
    [(kind, data, actor_id)] = events(db)
    assert kind == "proposal_submitted" and actor_id == "a-anna"
    assert data == {
        "proposal_id": proposal["id"],
        "title": "Isbana i parken på vintern",
        "author_id": "a-anna",
        "category": "leisure",
        "channel": "online",
        "status": "submitted",
    }


def test_only_staff_file_for_visitors_and_only_staff_see_the_contact(db):
    with pytest.raises(Forbidden):
        submit(db, channel="drop_in")
    filed = submit(
        db,
        STAFF,
        title="Hundbajs på gatorna",
        category="environment",
        channel="drop_in",
        contact="Gunnel, 070-123 45 67",
    )
    assert filed["contact"] == "Gunnel, 070-123 45 67" and filed["report_count"] == 0
    seen = run(db, domain.get_proposal, ANNA, filed["id"])
    assert "contact" not in seen and seen["channel"] == "drop_in"
    listed = run(db, domain.list_proposals, None)["items"]
    assert "contact" not in listed[0]
    with pytest.raises(ValidationError) as caught:
        load(
            api.ProposalCreateSchema,
            {"title": "Hundbajs", "body": "", "category": "environment", "contact": "070-1"},
        )
    assert "contact" in caught.value.fields
    assert len(events(db)) == 1


def test_an_unknown_proposal_is_not_found(db):
    with pytest.raises(NotFound):
        run(db, domain.get_proposal, None, "no-such-id")
    with pytest.raises(NotFound):
        run(db, domain.support, ANNA, "no-such-id")


# --- supports ----------------------------------------------------------------------------


def test_one_support_per_account_withdrawable(db):
    proposal = submit(db)
    assert run(db, domain.support, BO, proposal["id"]) == {
        "proposal_id": proposal["id"],
        "support_count": 1,
    }
    assert run(db, domain.support, CIA, proposal["id"])["support_count"] == 2
    with pytest.raises(Conflict):
        run(db, domain.support, BO, proposal["id"])
    seen = run(db, domain.get_proposal, BO, proposal["id"])
    assert seen["support_count"] == 2 and seen["supported_by_me"] is True
    assert run(db, domain.get_proposal, DAN, proposal["id"])["supported_by_me"] is False
    assert run(db, domain.withdraw_support, BO, proposal["id"]) is None
    with pytest.raises(NotFound):
        run(db, domain.withdraw_support, BO, proposal["id"])
    assert run(db, domain.get_proposal, None, proposal["id"])["support_count"] == 1
    assert [(kind, data.get("support_count"), actor) for kind, data, actor in events(db)[1:]] == [
        ("proposal_supported", 1, "a-bo"),
        ("proposal_supported", 2, "a-cia"),
        ("proposal_support_withdrawn", 1, "a-bo"),
    ]


@pytest.mark.parametrize(
    "path, status",
    [
        (["under_review", ("rejected", "Nej tack.")], "rejected"),
        ([], "withdrawn"),
        (["under_review", ("accepted", "Ja."), "in_progress", "done"], "done"),
    ],
)
def test_no_support_once_nothing_more_can_come_of_it(db, path, status):
    proposal = submit(db)
    if status == "withdrawn":
        run(db, domain.withdraw, ANNA, proposal["id"])
    for step in path:
        target, answer = step if isinstance(step, tuple) else (step, None)
        move(db, proposal["id"], target, answer)
    with pytest.raises(Conflict):
        run(db, domain.support, BO, proposal["id"])


# --- lifecycle -------------------------------------------------------------------------


def test_staff_move_a_proposal_and_answer_it(db):
    proposal = submit(db)
    with pytest.raises(Forbidden):
        move(db, proposal["id"], "under_review", actor=ANNA)
    with pytest.raises(Conflict):
        move(db, proposal["id"], "accepted", "Ja")
    with pytest.raises(Forbidden):  # the author's step, not staff's
        move(db, proposal["id"], "withdrawn")
    move(db, proposal["id"], "under_review")
    with pytest.raises(ValidationError) as caught:
        move(db, proposal["id"], "accepted")
    assert "answer" in caught.value.fields
    accepted = move(db, proposal["id"], "accepted", "Kommunen spolar isbanan i vinter.")
    assert accepted["status"] == "accepted"
    assert accepted["answer"]["body"] == "Kommunen spolar isbanan i vinter."
    assert accepted["answer"]["answered_by"] == "a-staff"
    assert [
        (h["from_status"], h["to_status"], h["actor_id"], h.get("answer"))
        for h in accepted["history"]
    ] == [
        (None, "submitted", "a-anna", None),
        ("submitted", "under_review", "a-staff", None),
        ("under_review", "accepted", "a-staff", "Kommunen spolar isbanan i vinter."),
    ]
    with pytest.raises(Conflict):
        move(db, proposal["id"], "withdrawn")
    assert [
        (kind, data.get("from_status"), data.get("to_status"), data.get("answer"))
        for kind, data, _ in events(db)[1:]
    ] == [
        ("proposal_status_changed", "submitted", "under_review", None),
        ("proposal_answered", "under_review", "accepted", "Kommunen spolar isbanan i vinter."),
    ]


def test_only_the_author_withdraws_and_only_before_a_decision(db):
    proposal = submit(db)
    with pytest.raises(Forbidden):
        run(db, domain.withdraw, BO, proposal["id"])
    with pytest.raises(Forbidden):
        run(db, domain.withdraw, STAFF, proposal["id"])
    withdrawn = run(db, domain.withdraw, ANNA, proposal["id"])
    assert withdrawn["status"] == "withdrawn"
    with pytest.raises(Conflict):
        run(db, domain.withdraw, ANNA, proposal["id"])
    other = submit(db, title="Polarzoo i Jokkmokk")
    move(db, other["id"], "under_review")
    move(db, other["id"], "rejected", "Det finns inga medel.")
    with pytest.raises(Conflict):
        run(db, domain.withdraw, ANNA, other["id"])


# --- comments, assignment ----------------------------------------------------------------


def test_comments_show_the_name_from_the_read_model(db):
    proposal = submit(db)
    comment = run(db, domain.add_comment, BO, proposal["id"], "Bra idé!")
    assert comment["author_name"] == "Bo" and comment["body"] == "Bra idé!"
    seen = run(db, domain.get_proposal, None, proposal["id"])
    assert [(c["id"], c["author_id"]) for c in seen["comments"]] == [(comment["id"], "a-bo")]
    kind, data, actor = events(db)[-1]
    assert (kind, data["comment_id"], data["comment_author_id"], data["author_id"], actor) == (
        "comment_added",
        comment["id"],
        "a-bo",
        "a-anna",
        "a-bo",
    )
    unknown = {"account_id": "a-new", "is_staff": False, "display_name": "New"}
    assert run(db, domain.add_comment, unknown, proposal["id"], "Hej")["author_name"] is None


def test_assignment_needs_staff_and_a_known_working_group(db):
    proposal = submit(db)
    with pytest.raises(Forbidden):
        run(db, domain.assign, ANNA, proposal["id"], WORKING)
    for not_working in (CLUB, "0c6b1b2e-5d8a-4d55-9a57-3f2a3a3c0999"):
        with pytest.raises(ValidationError) as caught:
            run(db, domain.assign, STAFF, proposal["id"], not_working)
        assert "group_id" in caught.value.fields
    assigned = run(db, domain.assign, STAFF, proposal["id"], WORKING)
    assert (assigned["assigned_group_id"], assigned["assigned_group_name"]) == (
        WORKING,
        "Kultur och fritid",
    )
    with pytest.raises(Conflict):
        run(db, domain.assign, STAFF, proposal["id"], WORKING)
    kind, data, actor = events(db)[-1]
    assert kind == "proposal_assigned" and actor == "a-staff"
    assert data == {
        "proposal_id": proposal["id"],
        "title": proposal["title"],
        "author_id": "a-anna",
        "group_id": WORKING,
        "group_name": "Kultur och fritid",
        "previous_group_id": None,
    }


# --- reports and moderation --------------------------------------------------------------


def test_three_reports_hide_until_staff_restore_or_remove(db):
    proposal = submit(db)
    assert run(db, domain.report, BO, proposal["id"], "Spam")["hidden"] is False
    with pytest.raises(Conflict):
        run(db, domain.report, BO, proposal["id"], "Spam igen")
    assert run(db, domain.report, CIA, proposal["id"], "Spam")["report_count"] == 2
    assert run(db, domain.report, DAN, proposal["id"], "Spam") == {
        "proposal_id": proposal["id"],
        "report_count": 3,
        "hidden": True,
    }
    assert run(db, domain.list_proposals, None)["total"] == 0
    with pytest.raises(NotFound):
        run(db, domain.get_proposal, ANNA, proposal["id"])
    seen = run(db, domain.get_proposal, STAFF, proposal["id"])
    assert seen["hidden"] is True and seen["report_count"] == 3
    assert [r["reason"] for r in seen["reports"]] == ["Spam", "Spam", "Spam"]

    with pytest.raises(Forbidden):
        run(db, domain.moderate, ANNA, proposal["id"], "restore")
    restored = run(db, domain.moderate, STAFF, proposal["id"], "restore")
    assert restored["hidden"] is False and restored["report_count"] == 0
    with pytest.raises(Conflict):
        run(db, domain.moderate, STAFF, proposal["id"], "restore")
    assert run(db, domain.list_proposals, None)["total"] == 1
    # The reports were dealt with: the same accounts may report again.
    run(db, domain.report, BO, proposal["id"], "Fortfarande spam")

    removed = run(db, domain.moderate, STAFF, proposal["id"], "remove")
    assert removed["hidden"] is True and removed["removed"] is True
    assert removed["status"] == "submitted"
    with pytest.raises(Conflict):
        run(db, domain.moderate, STAFF, proposal["id"], "restore")
    with pytest.raises(NotFound):
        run(db, domain.support, ANNA, proposal["id"])
    assert [kind for kind, _, _ in events(db)[1:]] == [
        "proposal_reported",
        "proposal_reported",
        "proposal_hidden",
        "proposal_restored",
        "proposal_reported",
        "proposal_removed",
    ]


# --- merging -----------------------------------------------------------------------------


def test_merging_moves_supports_without_counting_anyone_twice(db):
    survivor = submit(db, title="Isbana i Stadsparken")
    duplicate = submit(db, BO, title="Spola is i parken")
    for actor in (ANNA, CIA):
        run(db, domain.support, actor, survivor["id"])
    for actor in (CIA, DAN):
        run(db, domain.support, actor, duplicate["id"])
    with pytest.raises(Forbidden):
        run(db, domain.merge, ANNA, duplicate["id"], survivor["id"])
    with pytest.raises(ValidationError):
        run(db, domain.merge, STAFF, duplicate["id"], duplicate["id"])
    with pytest.raises(ValidationError):
        run(db, domain.merge, STAFF, duplicate["id"], "0c6b1b2e-5d8a-4d55-9a57-3f2a3a3c0999")

    merged = run(db, domain.merge, STAFF, duplicate["id"], survivor["id"])
    assert merged["id"] == survivor["id"] and merged["support_count"] == 3
    assert run(db, domain.get_proposal, DAN, survivor["id"])["supported_by_me"] is True
    gone = run(db, domain.get_proposal, None, duplicate["id"])
    assert gone["merged_into_id"] == survivor["id"] and gone["support_count"] == 0
    assert [p["id"] for p in run(db, domain.list_proposals, None)["items"]] == [survivor["id"]]
    with pytest.raises(Conflict):
        run(db, domain.support, ANNA, duplicate["id"])
    with pytest.raises(Conflict):
        run(db, domain.merge, STAFF, duplicate["id"], survivor["id"])
    with pytest.raises(Conflict):
        run(db, domain.merge, STAFF, survivor["id"], duplicate["id"])
    with db.sessions() as session:
        assert (
            session.execute(
                select(func.count())
                .select_from(Support)
                .where(Support.proposal_id == survivor["id"])
            ).scalar_one()
            == 3
        )
    kind, data, _ = events(db)[-1]
    assert kind == "proposal_merged" and data["into_id"] == survivor["id"]
    assert data["support_count"] == 3 and data["author_id"] == "a-bo"


# --- listing -----------------------------------------------------------------------------


def test_filters_search_sort_and_pages(db):
    rink = submit(db, title="Isbana i parken", body="Spola på vintern", category="leisure")
    signs = submit(
        db,
        title="Ta ner gamla skyltar",
        body="Stängda BUTIKER har kvar skyltar",
        category="business",
    )
    zoo = submit(db, title="Polarzoo med fjällräv", body="Ett ÅRLIGT besök", category="leisure")
    run(db, domain.support, BO, signs["id"])
    run(db, domain.support, CIA, signs["id"])
    run(db, domain.support, BO, zoo["id"])
    move(db, rink["id"], "under_review")

    def ids(**query):
        return [p["id"] for p in run(db, domain.list_proposals, None, **query)["items"]]

    assert ids() == [zoo["id"], signs["id"], rink["id"]]
    assert ids(sort="supports") == [signs["id"], zoo["id"], rink["id"]]
    assert ids(category="leisure") == [zoo["id"], rink["id"]]
    assert ids(status="under_review") == [rink["id"]]
    assert ids(q="butiker") == [signs["id"]]
    assert ids(q="årligt") == [zoo["id"]]  # å folds on SQLite too
    assert ids(q="ISBANA vintern") == [rink["id"]]  # every word, title or body
    assert ids(q="100%") == []  # LIKE wildcards are literal
    page = run(db, domain.list_proposals, None, page=2, per_page=2)
    assert ([p["id"] for p in page["items"]], page["total"], page["page"], page["per_page"]) == (
        [rink["id"]],
        3,
        2,
        2,
    )
    assert "comments" not in page["items"][0] and "history" not in page["items"][0]


def test_list_query_input_is_checked():
    assert load(api.ProposalListQuerySchema, {"status": "", "q": "  "}) == {
        "status": None,
        "category": None,
        "q": None,
        "sort": "newest",
        "page": 1,
        "per_page": 20,
    }
    for bad in (
        {"status": "open"},
        {"category": "sport"},
        {"sort": "oldest"},
        {"per_page": 101},
        {"page": 0},
        {"colour": "red"},
    ):
        with pytest.raises(ValidationError):
            load(api.ProposalListQuerySchema, bad)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"title": "Kort"}, "title"),
        ({"title": "x" * 151}, "title"),
        ({"body": "x" * 10001}, "body"),
        ({"category": "sport"}, "category"),
        ({"channel": "email"}, "channel"),
        ({"location": {"name": "Torget", "lat": 66.6}}, "location"),
        ({"location": {"name": "Torget", "lat": 91, "lon": 0}}, "location"),
        ({"location": {"lat": 66.6, "lon": 19.8}}, "location"),
        ({"author_id": "someone"}, "author_id"),
    ],
)
def test_bad_proposal_input_names_the_field(change, field):
    payload = {"title": "Isbana i parken", "body": "", "category": "leisure", **change}
    with pytest.raises(ValidationError) as caught:
        load(api.ProposalCreateSchema, payload)
    assert field in caught.value.fields


def test_loading_twice_gives_the_same_data():
    # The gateway loads a body with these schemas and hands over what it loaded.
    payload = {
        "title": " Isbana i parken ",
        "body": "Spola",
        "category": "leisure",
        "location": {"name": "Parken", "lat": 66.6, "lon": 19.8},
    }
    once = load(api.ProposalCreateSchema, payload)
    assert load(api.ProposalCreateSchema, once) == once
    project = load(api.ProjectCreateSchema, {"title": "Isbanan", "lead_group_id": CLUB})
    assert load(api.ProjectCreateSchema, project) == project


def test_the_actor_is_checked():
    with pytest.raises(Unauthenticated):
        load_actor(None)
    assert load_actor(None, required=False) is None
    with pytest.raises(ValidationError) as caught:
        load_actor({"is_staff": True})
    assert "actor" in caught.value.fields


# --- joint projects ----------------------------------------------------------------------


def register(db, actor, **payload):
    data = load(
        api.ProjectCreateSchema,
        {"title": "Isbanan i Stadsparken", "lead_group_id": CLUB, **payload},
    )
    return run(db, domain.register_project, actor, **data)


def test_projects_belong_to_the_admins_of_their_lead_group(db):
    origin = submit(db)
    with pytest.raises(Forbidden):
        register(db, CIA)  # a member, not an admin
    with pytest.raises(ValidationError) as caught:
        register(db, BO, partner_group_ids=["0c6b1b2e-5d8a-4d55-9a57-3f2a3a3c0999"])
    assert "partner_group_ids" in caught.value.fields
    with pytest.raises(ValidationError) as caught:
        register(db, BO, origin_proposal_id="0c6b1b2e-5d8a-4d55-9a57-3f2a3a3c0999")
    assert "origin_proposal_id" in caught.value.fields
    with pytest.raises(ValidationError) as caught:
        register(db, BO, lead_group_id="0c6b1b2e-5d8a-4d55-9a57-3f2a3a3c0999")
    assert "lead_group_id" in caught.value.fields
    with pytest.raises(ValidationError):
        register(db, BO, partner_group_ids=[CLUB])

    project = register(db, BO, origin_proposal_id=origin["id"], partner_group_ids=[WORKING])
    assert project["status"] == "planned" and project["partner_group_ids"] == [WORKING]
    assert project["lead_group_name"] == "Skidklubben" and project["created_by"] == "a-bo"
    assert run(db, domain.get_proposal, None, origin["id"])["project_ids"] == [project["id"]]

    with pytest.raises(Forbidden):
        run(db, domain.add_partner, CIA, project["id"], HEMBYGD)
    added = run(db, domain.add_partner, STAFF, project["id"], HEMBYGD)
    assert added["partner_group_ids"] == [WORKING, HEMBYGD]
    with pytest.raises(Conflict):
        run(db, domain.add_partner, BO, project["id"], HEMBYGD)
    with pytest.raises(Conflict):
        run(db, domain.add_partner, BO, project["id"], CLUB)

    with pytest.raises(Conflict):
        run(db, domain.transition_project, BO, project["id"], "completed")
    run(db, domain.transition_project, BO, project["id"], "active")
    done = run(db, domain.transition_project, BO, project["id"], "completed")
    assert [(h["from_status"], h["to_status"]) for h in done["history"]] == [
        (None, "planned"),
        ("planned", "active"),
        ("active", "completed"),
    ]
    with pytest.raises(Conflict):
        run(db, domain.add_partner, BO, project["id"], "0c6b1b2e-5d8a-4d55-9a57-3f2a3a3c0001")

    assert run(db, domain.list_projects, None, group_id=HEMBYGD)["total"] == 1
    assert run(db, domain.list_projects, None, group_id=CLUB, status="planned")["total"] == 0
    assert [kind for kind, _, _ in events(db)[1:]] == [
        "project_registered",
        "project_partner_added",
        "project_status_changed",
        "project_status_changed",
    ]


def test_a_former_admin_runs_nothing(db):
    with db.unit_of_work() as uow:
        group_facts.member_left(uow.session, CLUB, BO["account_id"], T0 + timedelta(seconds=1))
        # A stale join arriving late (another queue) does not bring the admin back.
        group_facts.member_joined(uow.session, CLUB, BO["account_id"], "admin", T0)
    with pytest.raises(Forbidden):
        register(db, BO)
    with db.unit_of_work() as uow:
        group_facts.member_joined(
            uow.session, CLUB, BO["account_id"], "admin", T0 + timedelta(seconds=2)
        )
    assert register(db, BO)["lead_group_id"] == CLUB


# --- personal data -----------------------------------------------------------------------


def test_erasure_unlinks_every_trace_and_later_events_carry_no_author(db):
    """Answers, history steps and projects of an erased account keep no id of it; the
    events about its proposal name no author."""
    origin = submit(db, BO)
    project = register(db, BO, origin_proposal_id=origin["id"])
    run(db, domain.transition_project, BO, project["id"], "active")
    move(db, origin["id"], "under_review", actor=DAN | {"is_staff": True})
    for gone in (BO, DAN):
        with db.unit_of_work() as uow:
            domain.erase_account(uow.session, gone["account_id"])
    seen = run(db, domain.get_project, None, project["id"])
    assert seen["created_by"] is None
    assert [step["actor_id"] for step in seen["history"]] == [None, None]
    answered = move(db, origin["id"], "accepted", answer="Ja, i vår.")
    assert answered["author_id"] is None and answered["author_name"] == "former resident"
    assert [step["actor_id"] for step in answered["history"]] == [None, None, "a-staff"]
    assert events(db)[-1][:2] == (
        "proposal_answered",
        {
            "proposal_id": origin["id"],
            "title": origin["title"],
            "author_id": None,
            "from_status": "under_review",
            "to_status": "accepted",
            "answer": "Ja, i vår.",
            "answered_by": "a-staff",
            "assigned_group_id": None,
        },
    )
    with pytest.raises(Forbidden):  # nobody is its author any more
        run(db, domain.withdraw, BO, origin["id"])


def test_export_and_erasure(db):
    mine = submit(db, BO, title="Skyltar från stängda butiker")
    filed = submit(
        db, STAFF, title="Hundbajs på gatorna", channel="town_hall", contact="Gunnel, 070-123 45 67"
    )
    run(db, domain.support, BO, filed["id"])
    run(db, domain.support, CIA, filed["id"])
    run(db, domain.add_comment, BO, filed["id"], "Håller med")
    run(db, domain.report, BO, mine["id"], "Test")
    exported = run(db, domain.export_account, BO["account_id"])
    assert [p["id"] for p in exported["proposals"]] == [mine["id"]]
    assert [s["proposal_id"] for s in exported["supports"]] == [filed["id"]]
    assert [c["body"] for c in exported["comments"]] == ["Håller med"]
    assert [r["reason"] for r in exported["reports"]] == ["Test"]
    assert (
        run(db, domain.export_account, STAFF["account_id"])["proposals"][0]["contact"]
        == "Gunnel, 070-123 45 67"
    )

    with db.unit_of_work() as uow:
        domain.erase_account(uow.session, BO["account_id"])
        domain.erase_account(uow.session, STAFF["account_id"])
    seen = run(db, domain.get_proposal, STAFF, filed["id"])
    assert seen["support_count"] == 2 and seen["contact"] is None
    assert seen["comments"][0]["author_name"] == domain.FORMER_RESIDENT
    assert seen["comments"][0]["author_id"] is None
    assert seen["author_id"] is None and seen["author_name"] == "former resident"
    assert [step["actor_id"] for step in seen["history"]] == [None]
    own = run(db, domain.get_proposal, None, mine["id"])
    assert (own["author_id"], own["author_name"]) == (None, "former resident")
    # Nothing here points at the erased account any more, so nothing ties its proposal,
    # comment, support and report together: its export is empty.
    assert run(db, domain.export_account, BO["account_id"]) == {
        "proposals": [],
        "supports": [],
        "comments": [],
        "reports": [],
        "comment_reports": [],
        "projects_registered": [],
    }
    with db.sessions() as session:
        assert (
            session.execute(
                select(func.count()).select_from(Support).where(Support.account_id.is_(None))
            ).scalar_one()
            == 1
        )
        assert session.execute(select(Report.reporter_id)).scalars().all() == [None]
        assert session.get(Proposal, filed["id"]).contact is None
        assert (
            session.execute(
                select(KnownMembership).where(KnownMembership.account_id == BO["account_id"])
            ).first()
            is None
        )
    with db.unit_of_work() as uow:  # a late, retried join of the erased account
        group_facts.member_joined(
            uow.session, CLUB, BO["account_id"], "admin", T0 + timedelta(days=1)
        )
    with pytest.raises(Forbidden):
        register(db, BO)
    # A support from an erased account no longer blocks anyone, nor counts twice.
    assert run(db, domain.support, DAN, filed["id"])["support_count"] == 3
