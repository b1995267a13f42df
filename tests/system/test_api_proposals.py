"""Every Proposals route of API.md (and the gateway's extensions) over HTTP, through the
gateway to the proposals service, with the status codes each can answer."""

import uuid

import pytest

from tests.conftest import wait_for
from tests.system.conftest import error_of, new_group, new_proposal, once_known

PROPOSAL_FIELDS = {
    "id",
    "title",
    "body",
    "category",
    "status",
    "author_id",
    "author_name",
    "channel",
    "support_count",
    "supported_by_me",
    "comments",
    "answer",
    "assigned_group_id",
    "history",
    "project_ids",
    "created_at",
}


@pytest.fixture
def staff_token(platform, make_staff):
    return platform.sign_in(make_staff("Town Clerk"))


def ids_of(page):
    return [item["id"] for item in page["items"]]


# --- submitting and reading ---------------------------------------------------------------


def test_submit_and_read_a_proposal(platform):
    author, token = platform.resident("Ann Author")
    body = {
        "title": "A skate park by the school",
        "body": "Where the old car park is.",
        "category": "leisure",
        "location": {"name": "Skolgatan", "lat": 66.6, "lon": 19.8},
    }
    error_of(platform.post("/proposals", json=body), 401, "unauthenticated")
    error_of(
        platform.post("/proposals", json=body, token="not-a-real-token"), 401, "unauthenticated"
    )

    created = platform.post("/proposals", token=token, json=body)
    assert created.status_code == 201, created.text
    proposal = created.json()
    assert PROPOSAL_FIELDS <= set(proposal)
    uuid.UUID(proposal["id"])
    assert proposal["created_at"].endswith("+00:00")
    assert proposal["status"] == "submitted" and proposal["channel"] == "online"
    assert proposal["author_id"] == author["id"] and proposal["author_name"] == "Ann Author"
    assert proposal["title"] == body["title"] and proposal["category"] == "leisure"
    assert proposal["location"]["name"] == "Skolgatan"
    assert proposal["support_count"] == 0 and proposal["supported_by_me"] is False
    assert proposal["comments"] == [] and proposal["answer"] is None
    assert proposal["assigned_group_id"] is None and proposal["project_ids"] == []

    anonymous = platform.get(f"/proposals/{proposal['id']}")
    assert anonymous.status_code == 200, anonymous.text
    assert anonymous.json()["id"] == proposal["id"]
    assert anonymous.json()["supported_by_me"] is False
    error_of(platform.get(f"/proposals/{uuid.uuid4()}"), 404, "not_found")
    error_of(platform.get("/proposals/not-a-uuid"), 404, "not_found")
    error_of(
        platform.get(f"/proposals/{proposal['id']}", token="not-a-real-token"),
        401,
        "unauthenticated",
    )


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "title"),
        ({"title": "Fix the bridge", "body": "It creaks.", "category": "bridges"}, "category"),
        ({"title": "", "body": "It creaks.", "category": "infrastructure"}, "title"),
        (
            {
                "title": "Fix the bridge",
                "body": "It creaks.",
                "category": "infrastructure",
                "status": "accepted",
            },
            "status",
        ),
        (
            {
                "title": "Fix the bridge",
                "body": "It creaks.",
                "category": "infrastructure",
                "channel": "carrier_pigeon",
            },
            "channel",
        ),
        (
            {
                "title": "Fix the bridge",
                "body": "It creaks.",
                "category": "infrastructure",
                "location": "somewhere",
            },
            "location",
        ),
    ],
)
def test_invalid_proposals_are_400(platform, body, field):
    _, token = platform.resident("Careless")
    error = error_of(platform.post("/proposals", token=token, json=body), 400, "validation_error")
    assert field in error["fields"], error
    assert platform.get("/proposals").json()["total"] == 0


def test_drop_in_proposals_are_filed_by_staff(platform, staff_token):
    _, token = platform.resident("Keen Resident")
    visitor = {
        "title": "Longer library hours",
        "body": "Open on Saturdays too.",
        "category": "culture",
        "channel": "drop_in",
        "contact": "Visitor, phone 070-000 00 00",
    }
    error_of(platform.post("/proposals", token=token, json=visitor), 403, "forbidden")
    error_of(
        platform.post("/proposals", token=token, json={**visitor, "channel": "town_hall"}),
        403,
        "forbidden",
    )

    filed = platform.post("/proposals", token=staff_token, json=visitor)
    assert filed.status_code == 201, filed.text
    assert filed.json()["channel"] == "drop_in" and filed.json()["status"] == "submitted"
    proposal_id = filed.json()["id"]
    # The visitor's contact is for staff only.
    assert (
        platform.get(f"/proposals/{proposal_id}", token=staff_token).json()["contact"]
        == visitor["contact"]
    )
    for seen_by in (
        platform.get(f"/proposals/{proposal_id}"),
        platform.get(f"/proposals/{proposal_id}", token=token),
    ):
        assert seen_by.status_code == 200
        assert not seen_by.json().get("contact")


def test_listing_filters_searches_sorts_and_pages(platform, staff_token):
    _, ann = platform.resident("Ann")
    _, bo = platform.resident("Bo")
    benches = new_proposal(
        platform,
        ann,
        "More benches by the river",
        body="Somewhere to rest on the walk to the falls.",
    )
    lights = new_proposal(platform, ann, "Street lights on Storgatan", category="infrastructure")
    market = new_proposal(platform, bo, "A Saturday market", category="business")
    for token in (ann, bo):
        assert platform.post(f"/proposals/{market['id']}/supports", token=token).status_code == 201
    assert platform.post(f"/proposals/{lights['id']}/supports", token=bo).status_code == 201
    assert (
        platform.post(
            f"/proposals/{lights['id']}/transitions",
            token=staff_token,
            json={"status": "under_review"},
        ).status_code
        == 200
    )

    listed = platform.get("/proposals")
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert set(page) == {"items", "total", "page", "per_page"}
    assert page["total"] == 3 and page["page"] == 1 and page["per_page"] == 20
    assert ids_of(page) == [market["id"], lights["id"], benches["id"]]  # newest first

    by_support = platform.get("/proposals", params={"sort": "supports"}).json()
    assert ids_of(by_support) == [market["id"], lights["id"], benches["id"]]
    assert [item["support_count"] for item in by_support["items"]] == [2, 1, 0]

    def only(params):
        response = platform.get("/proposals", params=params)
        assert response.status_code == 200, response.text
        return ids_of(response.json())

    assert only({"category": "infrastructure"}) == [lights["id"]]
    assert only({"status": "under_review"}) == [lights["id"]]
    assert only({"status": "submitted", "category": "leisure"}) == [benches["id"]]
    assert only({"q": "STORGATAN"}) == [lights["id"]]  # title, any case
    assert only({"q": "walk to the FALLS"}) == [benches["id"]]  # body
    assert only({"q": "nothing like this"}) == []

    first = platform.get("/proposals", params={"per_page": 2, "page": 1}).json()
    second = platform.get("/proposals", params={"per_page": 2, "page": 2}).json()
    assert first["total"] == second["total"] == 3 and first["per_page"] == 2
    assert ids_of(first) + ids_of(second) == [market["id"], lights["id"], benches["id"]]

    mine = platform.get("/proposals", token=bo).json()["items"]
    assert {item["id"]: item["supported_by_me"] for item in mine} == {
        market["id"]: True,
        lights["id"]: True,
        benches["id"]: False,
    }

    for params, field in (
        ({"per_page": 101}, "per_page"),
        ({"page": 0}, "page"),
        ({"sort": "oldest"}, "sort"),
        ({"status": "lost"}, "status"),
        ({"category": "bridges"}, "category"),
        ({"colour": "red"}, "colour"),
    ):
        error = error_of(platform.get("/proposals", params=params), 400, "validation_error")
        assert field in error["fields"], (params, error)


def test_categories_are_the_fixed_list(platform):
    response = platform.get("/proposals/categories")
    assert response.status_code == 200, response.text
    assert response.json()["items"] == [
        "environment",
        "leisure",
        "culture",
        "business",
        "infrastructure",
        "housing",
        "other",
    ]


# --- supports and comments ----------------------------------------------------------------


def test_supporting_and_withdrawing_support(platform):
    _, author = platform.resident("Author")
    _, fan = platform.resident("Fan")
    proposal = new_proposal(platform, author)
    supports = f"/proposals/{proposal['id']}/supports"

    error_of(platform.post(supports), 401, "unauthenticated")
    error_of(platform.post(supports, token=fan, json={"count": 5}), 400, "validation_error")
    supported = platform.post(supports, token=fan)
    assert supported.status_code == 201, supported.text
    assert supported.json() == {"proposal_id": proposal["id"], "support_count": 1}
    error_of(platform.post(supports, token=fan), 409, "conflict")
    error_of(platform.post(f"/proposals/{uuid.uuid4()}/supports", token=fan), 404, "not_found")

    assert platform.get(f"/proposals/{proposal['id']}", token=fan).json()["supported_by_me"] is True
    seen = platform.get(f"/proposals/{proposal['id']}").json()
    assert seen["support_count"] == 1 and seen["supported_by_me"] is False

    mine = f"{supports}/mine"
    error_of(platform.delete(mine), 401, "unauthenticated")
    withdrawn = platform.delete(mine, token=fan)
    assert withdrawn.status_code == 204 and withdrawn.content == b""
    error_of(platform.delete(mine, token=fan), 404, "not_found")
    error_of(
        platform.delete(f"/proposals/{uuid.uuid4()}/supports/mine", token=fan), 404, "not_found"
    )
    assert platform.get(f"/proposals/{proposal['id']}").json()["support_count"] == 0


def test_commenting(platform):
    _, author = platform.resident("Author")
    commenter, token = platform.resident("Cecilia Commenter")
    proposal = new_proposal(platform, author)
    comments = f"/proposals/{proposal['id']}/comments"

    error_of(platform.post(comments, json={"body": "Yes!"}), 401, "unauthenticated")
    for body in (
        {},
        {"body": ""},
        {"body": "   "},
        {"body": 42},
        {"body": "ok", "author_id": "me"},
    ):
        error = error_of(platform.post(comments, token=token, json=body), 400, "validation_error")
        assert error["fields"], body
    error_of(
        platform.post(f"/proposals/{uuid.uuid4()}/comments", token=token, json={"body": "Yes!"}),
        404,
        "not_found",
    )

    created = platform.post(comments, token=token, json={"body": "Yes, by the bridge!"})
    assert created.status_code == 201, created.text
    comment = created.json()
    assert comment["body"] == "Yes, by the bridge!"
    assert comment["author_id"] == commenter["id"]
    assert comment["author_name"] == "Cecilia Commenter"
    assert comment["created_at"].endswith("+00:00")
    shown = platform.get(f"/proposals/{proposal['id']}").json()["comments"]
    assert [c["id"] for c in shown] == [comment["id"]]


# --- erasure --------------------------------------------------------------------------------


@pytest.fixture
def audited(start_services):
    """The gateway, groups, proposals, and notifications (the staff activity feed)."""
    from services.gateway.service import GatewayService
    from services.groups.service import GroupsService
    from services.notifications.service import NotificationsService
    from services.proposals.service import ProposalsService

    return start_services(GatewayService, GroupsService, ProposalsService, NotificationsService)


def whole_feed(client, token):
    items, page = [], 1
    while True:
        found = client.get(
            "/staff/activity", token=token, params={"page": page, "per_page": 100}
        ).json()
        items += found["items"]
        if page * found["per_page"] >= found["total"]:
            return items
        page += 1


def test_erasure_leaves_nothing_that_links_back(audited, make_staff):
    """An erased author's proposal, comments and support stay, by a "former resident",
    with no id in common: nothing ties what the person did together, nor does the staff
    activity feed."""
    client = audited
    staff = client.sign_in(make_staff())
    leaving, token = client.resident("Lena Leaving")
    _, other = client.resident("Olle Other")
    own = new_proposal(client, token, "A sauna by the lake")
    theirs = new_proposal(client, other, "Lights on the ski track")
    for proposal, body in ((own, "And a jetty."), (theirs, "Yes, please!")):
        response = client.post(
            f"/proposals/{proposal['id']}/comments", token=token, json={"body": body}
        )
        assert response.status_code == 201, response.text
    assert client.post(f"/proposals/{theirs['id']}/supports", token=token).status_code == 201

    def recorded(count):
        return lambda: (
            sum(entry["actor_id"] == leaving["id"] for entry in whole_feed(client, staff)) >= count
        )

    # account_registered, 2 × proposal_submitted… by the time the feed has them all:
    wait_for(recorded(5), message="the account's events in the activity feed")
    assert client.delete("/me", token=token).status_code == 202

    def unlinked():
        seen = client.get(f"/proposals/{own['id']}").json()
        return seen if seen["author_id"] is None else None

    seen = wait_for(unlinked, message="the proposal unlinked from its erased author")
    assert seen["author_name"] == "former resident"
    assert [(c["author_id"], c["author_name"]) for c in seen["comments"]] == [
        (None, "former resident")
    ]
    assert [step["actor_id"] for step in seen["history"]] == [None]
    other_seen = client.get(f"/proposals/{theirs['id']}").json()
    assert other_seen["author_name"] == "Olle Other"
    assert [(c["author_id"], c["author_name"]) for c in other_seen["comments"]] == [
        (None, "former resident")
    ]
    assert other_seen["support_count"] == 1  # the support stays counted, nameless
    listed = client.get("/proposals", params={"per_page": 100}).json()["items"]
    assert {p["author_id"] for p in listed if p["id"] in (own["id"], theirs["id"])} == {
        None,
        theirs["author_id"],
    }

    def feed_forgot():
        feed = whole_feed(client, staff)
        if "account_erased" not in {entry["type"] for entry in feed}:
            return None
        return (
            all(leaving["id"] not in (entry["actor_id"], entry["subject_id"]) for entry in feed)
            and feed
        )

    feed = wait_for(feed_forgot, message="the activity feed without the erased id")
    types = {entry["type"] for entry in feed if entry["actor_id"] is None}
    assert {
        "proposal_submitted",
        "comment_added",
        "proposal_supported",
        "account_erased",
    } <= types  # the entries stay, with no actor
    exported = client.get("/me/export", token=other).json()
    assert leaving["id"] not in str(exported)


# --- the lifecycle --------------------------------------------------------------------------


def test_staff_move_a_proposal_through_its_lifecycle(platform, staff_token):
    _, author = platform.resident("Author")
    proposal = new_proposal(platform, author)
    transitions = f"/proposals/{proposal['id']}/transitions"

    def step(body, token=staff_token):
        return platform.post(transitions, token=token, json=body)

    error_of(platform.post(transitions, json={"status": "under_review"}), 401, "unauthenticated")
    error_of(step({"status": "under_review"}, token=author), 403, "forbidden")
    error_of(
        platform.post(
            f"/proposals/{uuid.uuid4()}/transitions",
            token=staff_token,
            json={"status": "under_review"},
        ),
        404,
        "not_found",
    )
    for body, field in (
        ({}, "status"),
        ({"status": "approved"}, "status"),
        ({"status": "under_review", "by": "me"}, "by"),
    ):
        assert field in error_of(step(body), 400, "validation_error")["fields"], body
    error_of(step({"status": "done"}), 409, "conflict")  # not from submitted

    reviewed = step({"status": "under_review"})
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["status"] == "under_review"
    missing_answer = error_of(step({"status": "accepted"}), 400, "validation_error")
    assert "answer" in missing_answer["fields"]

    accepted = step({"status": "accepted", "answer": "Yes: the council funds it."})
    assert accepted.status_code == 200, accepted.text
    answer = accepted.json()["answer"]
    assert answer["body"] == "Yes: the council funds it." and answer["answered_at"]
    error_of(step({"status": "rejected", "answer": "Changed our mind."}), 409, "conflict")
    assert step({"status": "in_progress"}).json()["status"] == "in_progress"
    done = step({"status": "done"})
    assert done.status_code == 200 and done.json()["status"] == "done"
    error_of(step({"status": "under_review"}), 409, "conflict")

    history = platform.get(f"/proposals/{proposal['id']}").json()["history"]
    assert [(h["from_status"], h["to_status"]) for h in history][-4:] == [
        ("submitted", "under_review"),
        ("under_review", "accepted"),
        ("accepted", "in_progress"),
        ("in_progress", "done"),
    ]
    # A proposal that is done takes no more support.
    _, late = platform.resident("Late Supporter")
    error_of(platform.post(f"/proposals/{proposal['id']}/supports", token=late), 409, "conflict")


def test_rejection_needs_an_answer(platform, staff_token):
    _, author = platform.resident("Author")
    proposal = new_proposal(platform, author)
    transitions = f"/proposals/{proposal['id']}/transitions"
    assert (
        platform.post(transitions, token=staff_token, json={"status": "under_review"}).status_code
        == 200
    )
    error = error_of(
        platform.post(transitions, token=staff_token, json={"status": "rejected", "answer": "   "}),
        400,
        "validation_error",
    )
    assert "answer" in error["fields"]
    rejected = platform.post(
        transitions,
        token=staff_token,
        json={"status": "rejected", "answer": "No budget this year."},
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["answer"]["body"] == "No budget this year."


def test_the_author_withdraws(platform, staff_token):
    _, author = platform.resident("Author")
    _, other = platform.resident("Other")
    proposal = new_proposal(platform, author)
    withdraw = f"/proposals/{proposal['id']}/withdraw"

    error_of(platform.post(withdraw), 401, "unauthenticated")
    error_of(platform.post(withdraw, token=other), 403, "forbidden")
    error_of(
        platform.post(withdraw, token=author, json={"reason": "why not"}), 400, "validation_error"
    )
    error_of(platform.post(f"/proposals/{uuid.uuid4()}/withdraw", token=author), 404, "not_found")
    withdrawn = platform.post(withdraw, token=author)
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn"
    error_of(platform.post(withdraw, token=author), 409, "conflict")
    error_of(platform.post(f"/proposals/{proposal['id']}/supports", token=other), 409, "conflict")

    decided = new_proposal(platform, author, "A new ice rink")
    for body in ({"status": "under_review"}, {"status": "accepted", "answer": "Yes."}):
        assert (
            platform.post(
                f"/proposals/{decided['id']}/transitions", token=staff_token, json=body
            ).status_code
            == 200
        )
    error_of(platform.post(f"/proposals/{decided['id']}/withdraw", token=author), 409, "conflict")


# --- assignment ----------------------------------------------------------------------------


def test_staff_assign_a_working_group(platform, staff_token):
    _, author = platform.resident("Author")
    _, organiser = platform.resident("Organiser")
    working_group = new_group(platform, organiser, "Paths Working Group")
    association = new_group(platform, organiser, "Rowing Club", kind="association")
    proposal = new_proposal(platform, author)
    assignment = f"/proposals/{proposal['id']}/assignment"

    def assign(group_id, token=staff_token):
        return platform.post(assignment, token=token, json={"group_id": group_id})

    error_of(
        platform.post(assignment, json={"group_id": working_group["id"]}), 401, "unauthenticated"
    )
    error_of(assign(working_group["id"], token=author), 403, "forbidden")
    for body in ({}, {"group_id": "not-a-uuid"}, {"group_id": working_group["id"], "x": 1}):
        error = error_of(
            platform.post(assignment, token=staff_token, json=body), 400, "validation_error"
        )
        assert error["fields"], body
    error_of(
        platform.post(
            f"/proposals/{uuid.uuid4()}/assignment",
            token=staff_token,
            json={"group_id": working_group["id"]},
        ),
        404,
        "not_found",
    )

    assigned = once_known(
        lambda: assign(working_group["id"]), "the proposals service knows the working group"
    )
    assert assigned.status_code == 200
    assert assigned.json()["assigned_group_id"] == working_group["id"]
    assert assigned.json()["assigned_group_name"] == working_group["name"]
    # Once the association is known too, it still cannot take a proposal on.
    once_known(
        lambda: platform.post(
            "/projects",
            token=staff_token,
            json={
                "title": "Rowing club readiness",
                "description": "",
                "lead_group_id": association["id"],
                "partner_group_ids": [],
            },
        ),
        "the proposals service knows the association",
    )
    error = error_of(assign(association["id"]), 400, "validation_error")
    assert "group_id" in error["fields"]
    error = error_of(assign(str(uuid.uuid4())), 400, "validation_error")
    assert "group_id" in error["fields"]
    assert (
        platform.get(f"/proposals/{proposal['id']}").json()["assigned_group_id"]
        == working_group["id"]
    )
    error_of(assign(working_group["id"]), 409, "conflict")  # assigned to it already


# --- reports, moderation and merging -------------------------------------------------------


def test_three_reports_hide_a_proposal_until_staff_review_it(platform, staff_token):
    _, author = platform.resident("Author")
    reporters = [platform.resident(f"Reporter {n}")[1] for n in range(3)]
    proposal = new_proposal(platform, author, "Buy my car")
    path = f"/proposals/{proposal['id']}"

    error_of(platform.post(f"{path}/reports", json={"reason": "spam"}), 401, "unauthenticated")
    for body in ({}, {"reason": ""}, {"reason": "x" * 1001}, {"reason": "spam", "n": 2}):
        error_of(
            platform.post(f"{path}/reports", token=reporters[0], json=body), 400, "validation_error"
        )
    error_of(
        platform.post(
            f"/proposals/{uuid.uuid4()}/reports", token=reporters[0], json={"reason": "spam"}
        ),
        404,
        "not_found",
    )

    for n, token in enumerate(reporters[:2], start=1):
        reported = platform.post(f"{path}/reports", token=token, json={"reason": "spam"})
        assert reported.status_code == 201, reported.text
        assert reported.json() == {
            "proposal_id": proposal["id"],
            "report_count": n,
            "hidden": False,
        }
    error_of(
        platform.post(f"{path}/reports", token=reporters[0], json={"reason": "spam"}),
        409,
        "conflict",
    )
    assert platform.get(path).status_code == 200
    third = platform.post(f"{path}/reports", token=reporters[2], json={"reason": "an ad"})
    assert third.status_code == 201, third.text
    assert third.json()["hidden"] is True

    error_of(platform.get(path), 404, "not_found")
    error_of(platform.get(path, token=author), 404, "not_found")
    assert proposal["id"] not in ids_of(platform.get("/proposals").json())
    for_staff = platform.get(path, token=staff_token)
    assert for_staff.status_code == 200, for_staff.text
    assert for_staff.json()["hidden"] is True and for_staff.json()["report_count"] == 3

    moderation = f"{path}/moderation"
    error_of(platform.post(moderation, json={"action": "restore"}), 401, "unauthenticated")
    error_of(platform.post(moderation, token=author, json={"action": "restore"}), 403, "forbidden")
    for body in ({}, {"action": "delete"}, {"action": "restore", "why": "ok"}):
        error_of(platform.post(moderation, token=staff_token, json=body), 400, "validation_error")
    error_of(
        platform.post(
            f"/proposals/{uuid.uuid4()}/moderation", token=staff_token, json={"action": "restore"}
        ),
        404,
        "not_found",
    )
    restored = platform.post(moderation, token=staff_token, json={"action": "restore"})
    assert restored.status_code == 200, restored.text
    assert restored.json()["hidden"] is False
    assert platform.get(path).status_code == 200
    assert proposal["id"] in ids_of(platform.get("/proposals").json())

    error_of(
        platform.post(moderation, token=staff_token, json={"action": "restore"}), 409, "conflict"
    )  # not hidden

    removed = platform.post(moderation, token=staff_token, json={"action": "remove"})
    assert removed.status_code == 200, removed.text
    assert removed.json()["hidden"] is True
    error_of(platform.get(path), 404, "not_found")
    assert proposal["id"] not in ids_of(platform.get("/proposals").json())
    error_of(
        platform.post(moderation, token=staff_token, json={"action": "restore"}), 409, "conflict"
    )  # removed for good


def test_staff_merge_a_duplicate(platform, staff_token):
    _, author = platform.resident("Author")
    supporters = [platform.resident(f"Supporter {n}")[1] for n in range(3)]
    duplicate = new_proposal(platform, author, "Benches at the river")
    original = new_proposal(platform, author, "More benches by the river")
    for token in supporters[:2]:
        assert (
            platform.post(f"/proposals/{duplicate['id']}/supports", token=token).status_code == 201
        )
    for token in supporters[1:]:
        assert (
            platform.post(f"/proposals/{original['id']}/supports", token=token).status_code == 201
        )
    merge = f"/proposals/{duplicate['id']}/merge"

    error_of(platform.post(merge, json={"into_id": original["id"]}), 401, "unauthenticated")
    error_of(
        platform.post(merge, token=supporters[0], json={"into_id": original["id"]}),
        403,
        "forbidden",
    )
    for body in (
        {},
        {"into_id": "nope"},
        {"into_id": original["id"], "keep": True},
        {"into_id": duplicate["id"]},
        {"into_id": str(uuid.uuid4())},
    ):
        error = error_of(
            platform.post(merge, token=staff_token, json=body), 400, "validation_error"
        )
        assert error["fields"], body
    error_of(
        platform.post(
            f"/proposals/{uuid.uuid4()}/merge", token=staff_token, json={"into_id": original["id"]}
        ),
        404,
        "not_found",
    )

    merged = platform.post(merge, token=staff_token, json={"into_id": original["id"]})
    assert merged.status_code == 200, merged.text
    assert merged.json()["id"] == original["id"]
    assert merged.json()["support_count"] == 3  # the one who supported both counts once
    gone = platform.get(f"/proposals/{duplicate['id']}")
    assert gone.status_code == 200 and gone.json()["merged_into_id"] == original["id"]
    listed = ids_of(platform.get("/proposals").json())
    assert original["id"] in listed and duplicate["id"] not in listed
    # A merged duplicate takes no more changes.
    error_of(
        platform.post(merge, token=staff_token, json={"into_id": original["id"]}), 409, "conflict"
    )
    error_of(
        platform.post(
            f"/proposals/{duplicate['id']}/comments",
            token=supporters[0],
            json={"body": "Still here?"},
        ),
        409,
        "conflict",
    )


# --- without the proposals service -------------------------------------------------------


def test_proposals_routes_answer_503_while_the_service_is_down(api):
    _, token = api.resident("Patient Resident")
    for method, path, kwargs in (
        ("GET", "/proposals", {}),
        ("GET", f"/proposals/{uuid.uuid4()}", {}),
        (
            "POST",
            "/proposals",
            {
                "token": token,
                "json": {
                    "title": "Fix the bridge",
                    "body": "It creaks.",
                    "category": "infrastructure",
                },
            },
        ),
        ("POST", f"/proposals/{uuid.uuid4()}/supports", {"token": token}),
        ("GET", "/projects", {}),
    ):
        response = api.request(method, path, **kwargs)
        error_of(response, 503, "unavailable")
        assert response.headers["Retry-After"]
    # Input is still checked first, and the categories need no service.
    error_of(api.post("/proposals", token=token, json={}), 400, "validation_error")
    assert api.get("/proposals/categories").status_code == 200


# --- the OpenAPI document -------------------------------------------------------------------

OPENAPI_STATUSES = {
    ("/proposals", "get"): {"200", "400", "401", "503"},
    ("/proposals", "post"): {"201", "400", "401", "403", "413", "503"},
    ("/proposals/categories", "get"): {"200"},
    ("/proposals/{proposal_id}", "get"): {"200", "401", "404", "503"},
    ("/proposals/{proposal_id}/supports", "post"): {"201", "401", "404", "409"},
    ("/proposals/{proposal_id}/supports/mine", "delete"): {"204", "401", "404"},
    ("/proposals/{proposal_id}/comments", "post"): {"201", "400", "401", "404"},
    ("/proposals/{proposal_id}/transitions", "post"): {"200", "400", "401", "403", "404", "409"},
    ("/proposals/{proposal_id}/assignment", "post"): {"200", "400", "401", "403", "404"},
    ("/proposals/{proposal_id}/withdraw", "post"): {"200", "401", "403", "404", "409"},
    ("/proposals/{proposal_id}/reports", "post"): {"201", "400", "401", "404", "409"},
    ("/proposals/{proposal_id}/moderation", "post"): {"200", "400", "401", "403", "404"},
    ("/proposals/{proposal_id}/merge", "post"): {"200", "400", "401", "403", "404", "409"},
    ("/projects", "get"): {"200", "400", "503"},
    ("/projects", "post"): {"201", "400", "401", "403"},
    ("/projects/{project_id}", "get"): {"200", "404"},
    ("/projects/{project_id}/partners", "post"): {"201", "400", "401", "403", "404", "409"},
    ("/projects/{project_id}/transitions", "post"): {"200", "400", "401", "403", "404", "409"},
}
REQUEST_FIELDS = {
    ("/proposals", "post"): {
        "title",
        "body",
        "category",
        "location",
        "channel",
        "contact",
        "visitor_name",
    },
    ("/proposals/{proposal_id}/comments", "post"): {"body"},
    ("/proposals/{proposal_id}/transitions", "post"): {"status", "answer"},
    ("/proposals/{proposal_id}/assignment", "post"): {"group_id"},
    ("/proposals/{proposal_id}/reports", "post"): {"reason"},
    ("/proposals/{proposal_id}/moderation", "post"): {"action", "reason"},
    ("/proposals/{proposal_id}/merge", "post"): {"into_id"},
    ("/projects", "post"): {
        "title",
        "description",
        "lead_group_id",
        "partner_group_ids",
        "origin_proposal_id",
    },
    ("/projects/{project_id}/partners", "post"): {"group_id"},
    ("/projects/{project_id}/transitions", "post"): {"status"},
}


def test_openapi_documents_every_proposals_and_projects_route():
    """Built from the service class: no broker needed."""
    from openapi_spec_validator import validate

    from services.gateway import openapi
    from services.gateway.service import GatewayService

    document = openapi.build(GatewayService)
    validate(document)
    paths, schemas = document["paths"], document["components"]["schemas"]

    def resolve(schema):
        return schemas[schema["$ref"].split("/")[-1]]

    for (path, method), statuses in OPENAPI_STATUSES.items():
        operation = paths["/api/v1" + path][method]
        assert statuses <= set(operation["responses"]), (path, method)
        assert operation["tags"] and operation["summary"]
    for (path, method), names in REQUEST_FIELDS.items():
        body = paths["/api/v1" + path][method]["requestBody"]
        assert set(resolve(body["content"]["application/json"]["schema"])["properties"]) == names, (
            path,
            method,
        )
    listing = paths["/api/v1/proposals"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {
        "status",
        "category",
        "q",
        "sort",
        "page",
        "per_page",
    }
    assert listing["security"] == [{}, {"bearerAuth": []}]  # a token is optional
    page = resolve(listing["responses"]["200"]["content"]["application/json"]["schema"])
    assert set(page["properties"]) == {"items", "total", "page", "per_page"}
    proposal = resolve(
        paths["/api/v1/proposals/{proposal_id}"]["get"]["responses"]["200"]["content"][
            "application/json"
        ]["schema"]
    )
    assert PROPOSAL_FIELDS <= set(proposal["properties"])
    assert "503" not in paths["/api/v1/proposals/categories"]["get"]["responses"]
    assert "60 s" in document["info"]["description"]  # the token cache is documented


def test_reported_comments_are_hidden_for_review_and_their_author_is_told(
    whole_platform, make_staff
):
    platform = whole_platform
    staff_token = platform.sign_in(make_staff("Comment Moderator"))
    _, author = platform.resident("Proposal Author")
    commenter, commenter_token = platform.resident("Rude Commenter")
    reporters = [platform.resident(f"Comment Reporter {n}")[1] for n in range(3)]
    proposal = new_proposal(platform, author, "Benches by the river")
    path = f"/proposals/{proposal['id']}"
    comment = platform.post(
        f"{path}/comments", token=commenter_token, json={"body": "What a stupid idea"}
    ).json()
    reports = f"{path}/comments/{comment['id']}/reports"

    error_of(platform.post(reports, json={"reason": "rude"}), 401, "unauthenticated")
    for body in ({}, {"reason": ""}, {"reason": "x" * 1001}, {"reason": "rude", "n": 2}):
        error_of(platform.post(reports, token=reporters[0], json=body), 400, "validation_error")
    error_of(
        platform.post(
            f"{path}/comments/{uuid.uuid4()}/reports", token=reporters[0], json={"reason": "x"}
        ),
        404,
        "not_found",
    )
    for n, token in enumerate(reporters[:2], start=1):
        reported = platform.post(reports, token=token, json={"reason": "rude"})
        assert reported.status_code == 201, reported.text
        assert reported.json() == {
            "proposal_id": proposal["id"],
            "comment_id": comment["id"],
            "report_count": n,
            "hidden": False,
        }
    error_of(platform.post(reports, token=reporters[0], json={"reason": "rude"}), 409, "conflict")
    third = platform.post(reports, token=reporters[2], json={"reason": "an insult"})
    assert third.status_code == 201, third.text
    assert third.json()["hidden"] is True

    # Hidden from residents, shown to staff with its moderation fields.
    assert platform.get(path).json()["comments"] == []
    assert platform.get(path, token=commenter_token).json()["comments"] == []
    (seen,) = platform.get(path, token=staff_token).json()["comments"]
    assert seen["hidden"] is True and seen["report_count"] == 3

    queue_path = "/proposals/moderation/comments"
    error_of(platform.get(queue_path), 401, "unauthenticated")
    error_of(platform.get(queue_path, token=author), 403, "forbidden")
    queue = platform.get(queue_path, token=staff_token, params={"per_page": 100})
    assert queue.status_code == 200, queue.text
    (item,) = [c for c in queue.json()["items"] if c["id"] == comment["id"]]
    assert [r["reason"] for r in item["reports"]] == ["rude", "rude", "an insult"]
    assert item["proposal"]["title"] == "Benches by the river"

    moderation = f"{path}/comments/{comment['id']}/moderation"
    error_of(platform.post(moderation, json={"action": "restore"}), 401, "unauthenticated")
    error_of(
        platform.post(moderation, token=reporters[0], json={"action": "restore"}), 403, "forbidden"
    )
    for body in ({}, {"action": "remove"}, {"action": "restore", "why": "ok"}):
        error_of(platform.post(moderation, token=staff_token, json=body), 400, "validation_error")
    error_of(platform.post(moderation, token=staff_token, json={"action": "hide"}), 409, "conflict")
    restored = platform.post(
        moderation, token=staff_token, json={"action": "restore", "reason": "Harsh, not abuse"}
    )
    assert restored.status_code == 200, restored.text
    assert restored.json()["hidden"] is False and restored.json()["report_count"] == 0
    assert [c["id"] for c in platform.get(path).json()["comments"]] == [comment["id"]]

    # The comment's author is told twice: hidden after reports, then shown again.
    def told():
        items = platform.get("/notifications", token=commenter_token).json()["items"]
        moderated = [n for n in items if n["kind"] == "comment_moderated"]
        return len(moderated) >= 2 and moderated

    notes = wait_for(told, message="the commenter's two moderation notifications")
    assert {n["link"] for n in notes} == {path}
    titles = sorted(n["title"] for n in notes)
    assert all("Benches by the river" in title for title in titles)
