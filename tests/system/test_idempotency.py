"""Finding 3 of the faults issue over HTTP: every POST takes an `Idempotency-Key`
(API.md): the same key and body give the first answer (status and body) without doing
it again, the same key with another body is a 422, and keys are each caller's own. A
website form's key does the same across gateway processes.

The gateway runs in-process with groups and proposals (`platform`); the proposals are
counted through the API's search.
"""

from __future__ import annotations

import re
import uuid

import pytest

from services.gateway.service import GatewayService
from services.groups.service import GroupsService
from services.proposals.service import ProposalsService
from tests.system.conftest import error_of


def proposal_body(title: str) -> dict:
    return {"title": title, "body": f"{title}, please.", "category": "leisure"}


def titled(client, title: str) -> list[dict]:
    response = client.get("/proposals", params={"q": title, "per_page": 100})
    assert response.status_code == 200, response.text
    return [item for item in response.json()["items"] if item["title"] == title]


def keyed(key: str) -> dict:
    return {"Idempotency-Key": key}


def test_same_idempotency_key_twice_makes_one_proposal_and_the_same_answer(platform):
    _, token = platform.resident("Ann Again")
    title = f"A bench by the lake {uuid.uuid4().hex[:8]}"
    key = str(uuid.uuid4())
    first = platform.post("/proposals", token=token, json=proposal_body(title), headers=keyed(key))
    second = platform.post("/proposals", token=token, json=proposal_body(title), headers=keyed(key))
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert second.json() == first.json()
    assert len(titled(platform, title)) == 1


def test_same_idempotency_key_with_another_body_is_422(platform):
    _, token = platform.resident("Ann Other")
    key = str(uuid.uuid4())
    title = f"Swings in the park {uuid.uuid4().hex[:8]}"
    created = platform.post(
        "/proposals", token=token, json=proposal_body(title), headers=keyed(key)
    )
    assert created.status_code == 201, created.text
    other = platform.post(
        "/proposals", token=token, json=proposal_body(title + " and a slide"), headers=keyed(key)
    )
    error = error_of(other, 422, "idempotency_key_reused")
    assert "Idempotency-Key" in error["message"]
    assert titled(platform, title + " and a slide") == []


def test_idempotency_keys_are_each_callers_own(platform):
    _, ann = platform.resident("Ann Own")
    _, bo = platform.resident("Bo Own")
    key = "my-first-proposal"
    title = f"A library bus {uuid.uuid4().hex[:8]}"
    by_ann = platform.post("/proposals", token=ann, json=proposal_body(title), headers=keyed(key))
    by_bo = platform.post("/proposals", token=bo, json=proposal_body(title), headers=keyed(key))
    assert by_ann.status_code == by_bo.status_code == 201
    assert by_ann.json()["id"] != by_bo.json()["id"]
    assert len(titled(platform, title)) == 2


def test_same_idempotency_key_replays_a_post_without_body(platform):
    """Supporting twice is a 409; the same support sent again is the first 201."""
    _, ann = platform.resident("Ann Author")
    _, bo = platform.resident("Bo Supporter")
    title = f"Ice rink {uuid.uuid4().hex[:8]}"
    filed = platform.post("/proposals", token=ann, json=proposal_body(title)).json()
    key = str(uuid.uuid4())
    path = f"/proposals/{filed['id']}/supports"
    first = platform.post(path, token=bo, headers=keyed(key))
    again = platform.post(path, token=bo, headers=keyed(key))
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    error_of(platform.post(path, token=bo), 409, "conflict")  # a new request


def test_without_a_key_each_post_is_a_new_request(platform):
    _, token = platform.resident("Ann Twice")
    title = f"Two benches {uuid.uuid4().hex[:8]}"
    for _ in range(2):
        created = platform.post("/proposals", token=token, json=proposal_body(title))
        assert created.status_code == 201, created.text
    assert len(titled(platform, title)) == 2


@pytest.mark.parametrize("key", ["", "x" * 101, "bad\x01key"])
def test_an_unusable_idempotency_key_is_400(platform, key):
    _, token = platform.resident("Ann Key")
    response = platform.post(
        "/proposals", token=token, json=proposal_body("Never filed"), headers=keyed(key)
    )
    error = error_of(response, 400, "validation_error")
    assert "Idempotency-Key" in error["fields"]


def test_a_refused_request_frees_its_key_for_a_corrected_one(platform):
    _, token = platform.resident("Ann Fixes")
    key = str(uuid.uuid4())
    title = f"Corrected {uuid.uuid4().hex[:8]}"
    # A staff-only channel: the proposals service refuses it (403), nothing is done.
    refused = platform.post(
        "/proposals",
        token=token,
        json={**proposal_body(title), "channel": "town_hall"},
        headers=keyed(key),
    )
    assert refused.status_code == 403, refused.text
    corrected = platform.post(
        "/proposals", token=token, json=proposal_body(title), headers=keyed(key)
    )
    assert corrected.status_code == 201, corrected.text
    assert len(titled(platform, title)) == 1


def test_the_openapi_document_names_the_header(platform):
    document = platform.get("/openapi.json").json()
    operation = document["paths"]["/api/v1/proposals"]["post"]
    names = [parameter.get("name") for parameter in operation["parameters"]]
    assert "Idempotency-Key" in names
    assert "422" in operation["responses"]
    reads = document["paths"]["/api/v1/proposals"]["get"]
    assert "Idempotency-Key" not in [parameter.get("name") for parameter in reads["parameters"]]


# --- the website: a form sent again to another gateway process --------------------------


def test_a_form_sent_to_two_gateway_processes_acts_once(start_services):
    first_gateway = start_services(GatewayService, GroupsService, ProposalsService)
    second_gateway = start_services(GatewayService)
    _, token = first_gateway.resident("Ann Formfill")
    cookies = {"civic_session": token}
    form_page = first_gateway.http.get(
        first_gateway.base_url + "/proposals/new", cookies=cookies, timeout=15
    )
    assert form_page.status_code == 200, form_page.text[:500]
    cookies["civic_csrf"] = form_page.cookies["civic_csrf"]
    fields = {
        name: re.search(rf'name="{name}" value="([^"]+)"', form_page.text).group(1)
        for name in ("csrf_token", "form_key")
    }
    title = f"A playground in Vaikijaur {uuid.uuid4().hex[:8]}"
    fields.update({"title": title, "body": "For the children.", "category": "leisure", "place": ""})
    answers = [
        gateway.http.post(
            gateway.base_url + "/proposals/new",
            data=fields,
            cookies=cookies,
            allow_redirects=False,
            timeout=15,
        )
        for gateway in (first_gateway, second_gateway)
    ]
    assert [answer.status_code for answer in answers] == [303, 303]
    assert answers[0].headers["Location"] == answers[1].headers["Location"]
    assert len(titled(first_gateway, title)) == 1
