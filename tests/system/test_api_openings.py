"""Openings for returnees through the gateway, on a running platform (gateway, groups,
openings), over real HTTP: every route of API.md's Openings table with its status codes,
and the extensions (a business's page, the interest list, the returnee profile).

The openings service learns of businesses, their verification and their admins from
the groups service's events, a moment after they happen: calls that depend on that
are retried until openings has heard (see `once_openings_knows`).
"""

from datetime import date, timedelta

import pytest

from tests.conftest import wait_for
from tests.system.conftest import error_of, new_group

MISSING_ID = "6f9619ff-8b86-d011-b42d-00c04fc964ff"


@pytest.fixture
def town(start_services):
    from services.gateway.service import GatewayService
    from services.groups.service import GroupsService
    from services.openings.service import OpeningsService

    return start_services(GatewayService, GroupsService, OpeningsService)


def in_days(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def opening_body(group_id, **overrides):
    body = {
        "business_group_id": group_id,
        "title": "Naturguide vid viltparken",
        "description": "Guida besöksgrupper bland fjällräv, järv och lodjur.",
        "sector": "tourism",
        "employment_type": "summer_job",
        "location": "Jokkmokk",
        "apply_by": in_days(30),
        "contact": "jobb@viltpark.example",
    }
    body.update(overrides)
    return body


def once_openings_knows(attempt, done, message):
    """Retry `attempt()` (an HTTP call) until `done(response)`; returns the response."""
    last = []

    def succeeded():
        response = attempt()
        last[:] = [response.status_code, response.text]
        # In a list: a response is falsy when its status is an error.
        return [response] if done(response) else None

    try:
        return wait_for(succeeded, timeout=20, interval=0.1, message=message)[0]
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last answer: {last}") from None


def verified_business(client, admin_token, staff_token, name="Jokkmokks viltpark"):
    group = new_group(client, admin_token, name, kind="business")
    response = client.post(f"/groups/{group['id']}/verify", token=staff_token)
    assert response.status_code == 200, response.text
    return group


def test_businesses_post_close_and_hear_from_interested_residents(town, make_staff):
    client = town
    staff_token = client.sign_in(make_staff())
    ingrid, ingrid_token = client.resident("Ingrid Pavval")
    johan, johan_token = client.resident("Johan Spik")
    emma, emma_token = client.resident("Emma Andersson")
    park = verified_business(client, ingrid_token, staff_token)
    assert client.post(f"/groups/{park['id']}/members", token=johan_token).status_code == 201
    unverified = new_group(client, johan_token, "Lapplands turism AB", kind="business")

    # POST /openings: 201 for an admin of a verified business.
    posted = once_openings_knows(
        lambda: client.post(
            "/openings",
            token=ingrid_token,
            json=opening_body(
                park["id"], start_date=in_days(120), salary_min=24000, salary_max=27000
            ),
        ),
        lambda response: response.status_code == 201,
        "openings knows the verified park",
    )
    opening = posted.json()
    assert opening["status"] == "open" and opening["business_name"] == park["name"]
    assert opening["is_admin"] is True and opening["interest_count"] == 0
    assert posted.headers["X-Correlation-ID"]

    # 403 for an unverified business (once openings knows it: 400 until then) …
    refused = once_openings_knows(
        lambda: client.post("/openings", token=johan_token, json=opening_body(unverified["id"])),
        lambda response: response.status_code != 400,
        "openings knows the unverified one",
    )
    assert "verified" in error_of(refused, 403, "forbidden")["message"]
    # … and for a member who is not an admin.
    error_of(
        client.post("/openings", token=johan_token, json=opening_body(park["id"])), 403, "forbidden"
    )
    # 400 with the fields for bad input, an apply-by date in the past among them.
    bad = error_of(
        client.post(
            "/openings",
            token=ingrid_token,
            json=opening_body(park["id"], sector="mining", colour="red"),
        ),
        400,
        "validation_error",
    )
    assert set(bad["fields"]) == {"sector", "colour"}
    nowhere = error_of(
        client.post("/openings", token=ingrid_token, json=opening_body(park["id"], location=None)),
        400,
        "validation_error",
    )
    assert list(nowhere["fields"]) == ["location"]
    past = error_of(
        client.post(
            "/openings", token=ingrid_token, json=opening_body(park["id"], apply_by=in_days(-1))
        ),
        400,
        "validation_error",
    )
    assert list(past["fields"]) == ["apply_by"]
    error_of(client.post("/openings", json=opening_body(park["id"])), 401, "unauthenticated")

    seasonal = client.post(
        "/openings",
        token=ingrid_token,
        json=opening_body(park["id"], title="Djurskötare, säsong", employment_type="seasonal"),
    ).json()

    # GET /openings: open ones, newest first, filtered, paginated.
    listed = client.get("/openings").json()
    assert [o["id"] for o in listed["items"]] == [seasonal["id"], opening["id"]]
    assert (listed["total"], listed["page"], listed["per_page"]) == (2, 1, 20)
    assert "interest_count" not in listed["items"][0]
    summer = client.get(
        "/openings", params={"sector": "tourism", "employment_type": "summer_job"}
    ).json()
    assert [o["id"] for o in summer["items"]] == [opening["id"]]
    assert client.get("/openings", params={"sector": "energy"}).json()["total"] == 0
    paged = client.get("/openings", params={"per_page": 1, "page": 2}).json()
    assert [o["id"] for o in paged["items"]] == [opening["id"]]
    error_of(client.get("/openings", params={"employment_type": "gig"}), 400, "validation_error")
    sectors = client.get("/openings/sectors").json()["items"]
    assert "tourism" in sectors and "health_care" in sectors
    assert client.get("/openings/employment-types").json()["total"] == 5

    # POST /openings/{id}/interest: 201 once, 409 twice; the business's admins read it.
    interest = client.post(
        f"/openings/{opening['id']}/interest",
        token=emma_token,
        json={"message": "I guided at Abisko for two summers."},
    )
    assert interest.status_code == 201, interest.text
    assert interest.json()["account_id"] == emma["id"]
    error_of(client.post(f"/openings/{opening['id']}/interest", token=emma_token), 409, "conflict")
    assert (
        client.post(f"/openings/{opening['id']}/interest", token=johan_token, json={}).status_code
        == 201
    )
    error_of(
        client.post(
            f"/openings/{opening['id']}/interest", token=emma_token, json={"message": "x" * 2001}
        ),
        400,
        "validation_error",
    )
    error_of(client.post(f"/openings/{MISSING_ID}/interest", token=emma_token), 404, "not_found")
    error_of(client.post(f"/openings/{opening['id']}/interest"), 401, "unauthenticated")

    interested = once_openings_knows(
        lambda: client.get(f"/openings/{opening['id']}/interest", token=ingrid_token),
        lambda response: (
            response.status_code == 200
            and all(item["display_name"] for item in response.json()["items"])
        ),
        "the interested residents' names",
    )
    assert [(i["display_name"], i["message"]) for i in interested.json()["items"]] == [
        ("Johan Spik", None),
        ("Emma Andersson", "I guided at Abisko for two summers."),
    ]
    for outsider in (johan_token, emma_token, staff_token):  # a member, a resident, staff
        error_of(
            client.get(f"/openings/{opening['id']}/interest", token=outsider), 403, "forbidden"
        )
    error_of(client.get(f"/openings/{opening['id']}/interest"), 401, "unauthenticated")
    mine = client.get(f"/openings/{opening['id']}", token=emma_token).json()
    assert mine["interested_by_me"] is True and mine["is_admin"] is False
    assert (
        client.get(f"/openings/{opening['id']}", token=ingrid_token).json()["interest_count"] == 2
    )

    # POST /openings/{id}/close: 403 for others, 200 for its admin, then 409.
    error_of(client.post(f"/openings/{opening['id']}/close", token=johan_token), 403, "forbidden")
    closed = client.post(f"/openings/{opening['id']}/close", token=ingrid_token)
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed" and closed.json()["ended_at"]
    error_of(client.post(f"/openings/{opening['id']}/close", token=ingrid_token), 409, "conflict")
    error_of(
        client.post(
            f"/openings/{seasonal['id']}/interest", token=emma_token, json={"colour": "red"}
        ),
        400,
        "validation_error",
    )
    error_of(
        client.post(f"/openings/{opening['id']}/interest", token=staff_token), 409, "conflict"
    )  # closed: no more interest
    assert [o["id"] for o in client.get("/openings").json()["items"]] == [seasonal["id"]]
    assert client.get(f"/openings/{opening['id']}").json()["status"] == "closed"

    # The business's page: every opening for its admins, the open ones for others.
    page = f"/groups/{park['id']}/openings"
    assert [o["status"] for o in client.get(page, token=ingrid_token).json()["items"]] == [
        "open",
        "closed",
    ]
    for token in (None, johan_token):
        assert [o["id"] for o in client.get(page, token=token).json()["items"]] == [seasonal["id"]]


def test_a_returnee_keeps_a_profile_exports_it_and_erasure_removes_it(town, make_staff):
    client = town
    staff_token = client.sign_in(make_staff())
    lars, lars_token = client.resident("Lars Nilsson")
    emma, emma_token = client.resident("Emma Andersson")
    porjus = verified_business(client, lars_token, staff_token, "Vattenfall Porjus")

    error_of(client.get("/me/returnee-profile", token=emma_token), 404, "not_found")
    error_of(
        client.request("PUT", "/me/returnee-profile", json={"sectors": ["energy"]}),
        401,
        "unauthenticated",
    )
    bad = error_of(
        client.request(
            "PUT",
            "/me/returnee-profile",
            token=emma_token,
            json={
                "sectors": ["energy", "mining"],
                "employment_types": [],
                "available_from": "next spring",
            },
        ),
        400,
        "validation_error",
    )
    assert set(bad["fields"]) == {"sectors", "employment_types", "available_from"}

    # PUT /me/returnee-profile: 200, creates, then replaces.
    body = {
        "sectors": ["energy", "it"],
        "employment_types": ["full_time"],
        "available_from": in_days(10),
        "message": "Civilingenjör, hemma igen.",
    }
    saved = client.request("PUT", "/me/returnee-profile", token=emma_token, json=body)
    assert saved.status_code == 200, saved.text
    assert saved.json()["sectors"] == ["energy", "it"]
    replaced = client.request(
        "PUT", "/me/returnee-profile", token=emma_token, json={**body, "sectors": ["energy"]}
    )
    assert replaced.status_code == 200
    assert client.get("/me/returnee-profile", token=emma_token).json() == replaced.json()

    opening = once_openings_knows(
        lambda: client.post(
            "/openings",
            token=lars_token,
            json=opening_body(
                porjus["id"],
                title="Drifttekniker vattenkraft",
                sector="energy",
                employment_type="full_time",
                location="Porjus",
            ),
        ),
        lambda response: response.status_code == 201,
        "openings knows Porjus",
    ).json()
    assert (
        client.post(
            f"/openings/{opening['id']}/interest", token=emma_token, json={"message": "Gärna!"}
        ).status_code
        == 201
    )

    exported = client.get("/me/export", token=emma_token).json()["openings"]
    assert exported["returnee_profile"]["message"] == "Civilingenjör, hemma igen."
    assert [i["opening_id"] for i in exported["interests"]] == [opening["id"]]
    assert [m["opening_id"] for m in exported["matched_openings"]] == [opening["id"]]
    lars_export = client.get("/me/export", token=lars_token).json()["openings"]
    assert [o["id"] for o in lars_export["openings_posted"]] == [opening["id"]]

    # DELETE /me/returnee-profile: 204, then 404.
    assert client.delete("/me/returnee-profile", token=emma_token).status_code == 204
    error_of(client.delete("/me/returnee-profile", token=emma_token), 404, "not_found")
    client.request("PUT", "/me/returnee-profile", token=emma_token, json=body)

    # Erasure reaches openings: the profile and the expression of interest go.
    assert client.delete("/me", token=emma_token).status_code == 202
    wait_for(
        lambda: (
            client.get(f"/openings/{opening['id']}/interest", token=lars_token).json()["total"] == 0
        ),
        message="Emma's interest erased",
    )
    lars_view = client.get(f"/openings/{opening['id']}", token=lars_token).json()
    assert lars_view["interest_count"] == 0
