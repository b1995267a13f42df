"""Every Joint projects route of API.md over HTTP, through the gateway to the proposals
service, with the status codes each can answer.

The proposals service knows groups and their admins from the groups service's events;
each test first waits (by retrying a refused call, which changes nothing) until it does.
"""

import uuid

import pytest

from tests.conftest import wait_for
from tests.system.conftest import error_of, new_group, new_proposal, once_known

PROJECT_FIELDS = {
    "id",
    "title",
    "description",
    "status",
    "lead_group_id",
    "partner_group_ids",
    "origin_proposal_id",
    "created_at",
}


@pytest.fixture
def town(platform, make_staff):
    """A lead group with its admin, three partner groups, an outsider, staff; all known
    to the proposals service."""
    admin, admin_token = platform.resident("Lead Admin")
    _, partner_token = platform.resident("Partner Admin")
    _, outsider_token = platform.resident("Outsider")
    lead = new_group(platform, admin_token, "Clean-up Working Group")
    partners = [
        new_group(platform, partner_token, name, kind=kind)
        for name, kind in (
            ("Scouts", "association"),
            ("Bakery", "business"),
            ("Ski Club", "association"),
        )
    ]
    staff_token = platform.sign_in(make_staff("Project Officer"))
    # Once this succeeds, every group and the lead group's admin are known to the
    # proposals service.
    first = once_known(
        lambda: platform.post(
            "/projects",
            token=admin_token,
            json={
                "title": "Spring clean-up",
                "description": "Every street, one Saturday.",
                "lead_group_id": lead["id"],
                "partner_group_ids": [group["id"] for group in partners],
            },
        ),
        "the proposals service knows every group and the lead's admin",
    )
    return {
        "admin": admin,
        "admin_token": admin_token,
        "partner_token": partner_token,
        "outsider_token": outsider_token,
        "staff_token": staff_token,
        "lead": lead,
        "partners": partners,
        "first_project": first.json(),
    }


def register(platform, town, token=None, **fields):
    body = {
        "title": "Riverside benches",
        "description": "Build and place ten benches.",
        "lead_group_id": town["lead"]["id"],
        "partner_group_ids": [town["partners"][0]["id"]],
        **fields,
    }
    return platform.post("/projects", token=token or town["admin_token"], json=body)


def test_registering_a_project(platform, town):
    lead, partners = town["lead"], town["partners"]
    first = town["first_project"]
    assert first["lead_group_id"] == lead["id"] and first["status"] == "planned"
    assert sorted(first["partner_group_ids"]) == sorted(g["id"] for g in partners)

    error_of(platform.post("/projects", json={"title": "Nobody's project"}), 401, "unauthenticated")
    error_of(register(platform, town, token=town["outsider_token"]), 403, "forbidden")
    error_of(register(platform, town, token=town["partner_token"]), 403, "forbidden")
    for fields, field in (
        ({"title": "Hi"}, "title"),
        ({"description": 42}, "description"),
        ({"partner_group_ids": "all of them"}, "partner_group_ids"),
        ({"lead_group_id": "not-a-uuid"}, "lead_group_id"),
        ({"budget": 100}, "budget"),
    ):
        error = error_of(register(platform, town, **fields), 400, "validation_error")
        assert field in error["fields"], (fields, error)
    # Refusals the service makes from what it knows.
    for fields in (
        {"partner_group_ids": [lead["id"]]},
        {"partner_group_ids": [partners[0]["id"], partners[0]["id"]]},
        {"partner_group_ids": [str(uuid.uuid4())]},
        {"origin_proposal_id": str(uuid.uuid4())},
    ):
        error_of(register(platform, town, **fields), 400, "validation_error")

    created = register(platform, town)
    assert created.status_code == 201, created.text
    project = created.json()
    assert PROJECT_FIELDS <= set(project)
    uuid.UUID(project["id"])
    assert project["created_at"].endswith("+00:00")
    assert project["status"] == "planned" and project["lead_group_id"] == lead["id"]
    assert project["partner_group_ids"] == [partners[0]["id"]]
    assert project["origin_proposal_id"] is None

    # Staff may register a project for a group they are no admin of.
    by_staff = register(platform, town, token=town["staff_token"], title="Ski tracks")
    assert by_staff.status_code == 201, by_staff.text
    assert by_staff.json()["lead_group_id"] == lead["id"]


def test_a_project_from_a_proposal(platform, town):
    _, author = platform.resident("Author")
    proposal = new_proposal(platform, author, "Clean the riverbank")
    created = register(
        platform, town, origin_proposal_id=proposal["id"], title="Riverbank clean-up"
    )
    assert created.status_code == 201, created.text
    project = created.json()
    assert project["origin_proposal_id"] == proposal["id"]
    wait_for(
        lambda: project["id"] in platform.get(f"/proposals/{proposal['id']}").json()["project_ids"],
        message="the proposal lists the project that came of it",
    )


def test_listing_and_reading_projects(platform, town):
    mine = register(platform, town).json()
    other_lead = town["partners"][2]

    listed = platform.get("/projects")
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert set(page) == {"items", "total", "page", "per_page"}
    assert page["total"] == 2 and page["page"] == 1
    assert {item["id"] for item in page["items"]} == {mine["id"], town["first_project"]["id"]}
    assert platform.get("/projects", token=town["outsider_token"]).json()["total"] == 2

    assert platform.get("/projects", params={"status": "planned"}).json()["total"] == 2
    assert platform.get("/projects", params={"status": "active"}).json()["total"] == 0
    by_partner = platform.get("/projects", params={"group_id": town["partners"][1]["id"]}).json()
    assert [item["id"] for item in by_partner["items"]] == [town["first_project"]["id"]]
    assert platform.get("/projects", params={"group_id": str(uuid.uuid4())}).json()["total"] == 0
    one = platform.get("/projects", params={"per_page": 1, "page": 2}).json()
    assert one["total"] == 2 and len(one["items"]) == 1 and one["per_page"] == 1
    for params, field in (
        ({"per_page": 101}, "per_page"),
        ({"page": 0}, "page"),
        ({"status": "paused"}, "status"),
        ({"group_id": "nope"}, "group_id"),
        ({"lead": "x"}, "lead"),
    ):
        error = error_of(platform.get("/projects", params=params), 400, "validation_error")
        assert field in error["fields"], (params, error)

    fetched = platform.get(f"/projects/{mine['id']}")
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["id"] == mine["id"] and fetched.json()["title"] == mine["title"]
    error_of(platform.get(f"/projects/{uuid.uuid4()}"), 404, "not_found")
    error_of(platform.get("/projects/not-a-uuid"), 404, "not_found")
    assert other_lead["id"] not in fetched.json()["partner_group_ids"]


def test_adding_partners(platform, town):
    project = register(platform, town).json()
    partners = f"/projects/{project['id']}/partners"
    newcomer = town["partners"][1]["id"]

    error_of(platform.post(partners, json={"group_id": newcomer}), 401, "unauthenticated")
    error_of(
        platform.post(partners, token=town["outsider_token"], json={"group_id": newcomer}),
        403,
        "forbidden",
    )
    for body in ({}, {"group_id": "nope"}, {"group_id": newcomer, "role": "sponsor"}):
        error_of(
            platform.post(partners, token=town["admin_token"], json=body), 400, "validation_error"
        )
    error_of(
        platform.post(partners, token=town["admin_token"], json={"group_id": str(uuid.uuid4())}),
        400,
        "validation_error",
    )
    error_of(
        platform.post(
            f"/projects/{uuid.uuid4()}/partners",
            token=town["admin_token"],
            json={"group_id": newcomer},
        ),
        404,
        "not_found",
    )

    added = platform.post(partners, token=town["admin_token"], json={"group_id": newcomer})
    assert added.status_code == 201, added.text
    assert set(added.json()["partner_group_ids"]) == {town["partners"][0]["id"], newcomer}
    error_of(
        platform.post(partners, token=town["admin_token"], json={"group_id": newcomer}),
        409,
        "conflict",
    )
    by_staff = platform.post(
        partners, token=town["staff_token"], json={"group_id": town["partners"][2]["id"]}
    )
    assert by_staff.status_code == 201, by_staff.text
    assert len(by_staff.json()["partner_group_ids"]) == 3


def test_project_lifecycle(platform, town):
    project = register(platform, town).json()
    transitions = f"/projects/{project['id']}/transitions"

    def step(status, token=town["admin_token"]):
        return platform.post(transitions, token=token, json={"status": status})

    error_of(platform.post(transitions, json={"status": "active"}), 401, "unauthenticated")
    error_of(step("active", token=town["outsider_token"]), 403, "forbidden")
    error_of(step("active", token=town["partner_token"]), 403, "forbidden")
    for body in ({}, {"status": "paused"}, {"status": "active", "note": "go"}):
        error_of(
            platform.post(transitions, token=town["admin_token"], json=body),
            400,
            "validation_error",
        )
    error_of(
        platform.post(
            f"/projects/{uuid.uuid4()}/transitions",
            token=town["admin_token"],
            json={"status": "active"},
        ),
        404,
        "not_found",
    )
    error_of(step("completed"), 409, "conflict")  # not straight from planned

    active = step("active")
    assert active.status_code == 200, active.text
    assert active.json()["status"] == "active"
    completed = step("completed", token=town["staff_token"])
    assert completed.status_code == 200, completed.text
    assert completed.json()["status"] == "completed"
    error_of(step("cancelled"), 409, "conflict")
    assert platform.get(f"/projects/{project['id']}").json()["status"] == "completed"

    cancelled = platform.post(
        f"/projects/{town['first_project']['id']}/transitions",
        token=town["admin_token"],
        json={"status": "cancelled"},
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert platform.get("/projects", params={"status": "cancelled"}).json()["total"] == 1
