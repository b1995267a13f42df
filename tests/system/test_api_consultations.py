"""Consultations through the gateway, on a running platform (gateway, groups,
consultations), over real HTTP: every route of issue 16's consultations with its
status codes, the idempotency of an answer, export, and an anonymous answer that leaves
no trace next to its account in the logs.

Times are relative to the moment the test runs.
"""

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.integration.conftest import read_log_lines
from tests.system.conftest import error_of

MISSING_ID = "6f9619ff-8b86-d011-b42d-00c04fc964ff"


@pytest.fixture
def town(start_services):
    from services.consultations.service import ConsultationsService
    from services.gateway.service import GatewayService
    from services.groups.service import GroupsService

    return start_services(GatewayService, GroupsService, ConsultationsService)


def at(**delta) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def consultation_body(**overrides):
    body = {
        "title": "Lokalt Omvärldsprogram: jobben i Jokkmokk",
        "intro": "Hjälp oss förstå vad som får unga att stanna.",
        "opens_at": at(hours=-1),
        "closes_at": at(days=14),
        "anonymous": False,
        "categories": ["business", "housing"],
        "questions": [
            {
                "kind": "single",
                "prompt": "Vilken bransch vill du se växa i Jokkmokk?",
                "options": ["Turism", "Gruvor och energi", "IT och distansarbete"],
                "required": True,
            },
            {
                "kind": "multiple",
                "prompt": "Vad hindrar dig från att flytta hem?",
                "options": ["Bostad", "Jobb för mig", "Barnomsorg"],
            },
            {"kind": "scale", "prompt": "Hur ser du på framtiden för jobben i Jokkmokk?"},
            {
                "kind": "ranking",
                "prompt": "Vad är viktigast för att unga ska stanna?",
                "options": ["Jobb", "Bostäder", "Fritid"],
            },
            {"kind": "text", "prompt": "Berätta fritt"},
        ],
    }
    body.update(overrides)
    return body


def answers(consultation, choice="Turism", text=None, scale=4):
    single, multiple, scale_q, ranking, free = consultation["questions"]
    given = [
        {"question_id": single["id"], "value": choice},
        {"question_id": multiple["id"], "value": ["Bostad", "Barnomsorg"]},
        {"question_id": scale_q["id"], "value": scale},
        {"question_id": ranking["id"], "value": ["Bostäder", "Jobb", "Fritid"]},
    ]
    if text is not None:
        given.append({"question_id": free["id"], "value": text})
    return {"answers": given}


def published(client, staff_token, **overrides) -> dict:
    created = client.post("/consultations", token=staff_token, json=consultation_body(**overrides))
    assert created.status_code == 201, created.text
    response = client.post(f"/consultations/{created.json()['id']}/publish", token=staff_token)
    assert response.status_code == 200, response.text
    return response.json()


def test_staff_draft_edit_publish_and_close_consultations(town, make_staff):
    client = town
    staff_token = client.sign_in(make_staff())
    _, resident_token = client.resident("Lars Nilsson")

    # Drafting: staff only, validated.
    error_of(client.post("/consultations", json=consultation_body()), 401, "unauthenticated")
    error_of(
        client.post("/consultations", token=resident_token, json=consultation_body()),
        403,
        "forbidden",
    )
    bad = client.post(
        "/consultations",
        token=staff_token,
        json=consultation_body(opens_at=at(days=2), closes_at=at(days=1)),
    )
    assert "closes_at" in error_of(bad, 400, "validation_error")["fields"]
    no_options = consultation_body(
        questions=[{"kind": "single", "prompt": "Vad?", "options": ["A"]}]
    )
    error_of(
        client.post("/consultations", token=staff_token, json=no_options), 400, "validation_error"
    )
    error_of(
        client.post("/consultations", token=staff_token, json={**consultation_body(), "extra": 1}),
        400,
        "validation_error",
    )
    created = client.post("/consultations", token=staff_token, json=consultation_body())
    assert created.status_code == 201, created.text
    draft = created.json()
    assert draft["status"] == "draft" and draft["answer_count"] == 0
    assert [q["kind"] for q in draft["questions"]] == [
        "single",
        "multiple",
        "scale",
        "ranking",
        "text",
    ]
    cid = draft["id"]

    # A draft is staff's alone.
    error_of(client.get(f"/consultations/{cid}"), 404, "not_found")
    error_of(client.get(f"/consultations/{cid}", token=resident_token), 404, "not_found")
    assert client.get(f"/consultations/{cid}", token=staff_token).status_code == 200
    error_of(client.get(f"/consultations/{MISSING_ID}"), 404, "not_found")
    error_of(client.get("/consultations?status=draft", token=resident_token), 403, "forbidden")
    error_of(client.get("/consultations?status=secret"), 400, "validation_error")
    drafts = client.get("/consultations?status=draft", token=staff_token).json()
    assert [c["id"] for c in drafts["items"]] == [cid]
    assert client.get("/consultations").json()["total"] == 0

    # Editing: staff, drafts only.
    edited_body = consultation_body(title="Jobben i Jokkmokk 2027", anonymous=True)
    error_of(
        client.request("PUT", f"/consultations/{cid}", token=resident_token, json=edited_body),
        403,
        "forbidden",
    )
    error_of(
        client.request("PUT", f"/consultations/{MISSING_ID}", token=staff_token, json=edited_body),
        404,
        "not_found",
    )
    error_of(
        client.request("PUT", f"/consultations/{cid}", token=staff_token, json={"title": "x"}),
        400,
        "validation_error",
    )
    edited = client.request("PUT", f"/consultations/{cid}", token=staff_token, json=edited_body)
    assert edited.status_code == 200, edited.text
    assert edited.json()["title"] == "Jobben i Jokkmokk 2027" and edited.json()["anonymous"]

    # Publishing: opens at once (its moment has come).
    error_of(client.post(f"/consultations/{cid}/publish", token=resident_token), 403, "forbidden")
    error_of(
        client.post(f"/consultations/{MISSING_ID}/publish", token=staff_token), 404, "not_found"
    )
    opened = client.post(f"/consultations/{cid}/publish", token=staff_token)
    assert opened.status_code == 200 and opened.json()["status"] == "open"
    error_of(client.post(f"/consultations/{cid}/publish", token=staff_token), 409, "conflict")
    error_of(
        client.request("PUT", f"/consultations/{cid}", token=staff_token, json=edited_body),
        409,
        "conflict",
    )
    listed = client.get("/consultations").json()
    assert [c["id"] for c in listed["items"]] == [cid] and listed["items"][0]["status"] == "open"
    assert client.get("/consultations?status=open").json()["total"] == 1

    # One opening tomorrow is scheduled, and seen by staff only.
    later = published(client, staff_token, opens_at=at(days=1), closes_at=at(days=8))
    assert later["status"] == "scheduled"
    error_of(client.get(f"/consultations/{later['id']}"), 404, "not_found")
    assert client.get("/consultations?status=scheduled", token=staff_token).json()["total"] == 1

    # One whose closing time passed before it was published: 400.
    stale = client.post(
        "/consultations",
        token=staff_token,
        json=consultation_body(opens_at=at(days=-3), closes_at=at(days=-1)),
    ).json()
    error_of(
        client.post(f"/consultations/{stale['id']}/publish", token=staff_token),
        400,
        "validation_error",
    )

    # Closing early: staff, open or scheduled ones.
    error_of(client.post(f"/consultations/{cid}/close", token=resident_token), 403, "forbidden")
    error_of(client.post(f"/consultations/{MISSING_ID}/close", token=staff_token), 404, "not_found")
    error_of(client.post(f"/consultations/{stale['id']}/close", token=staff_token), 409, "conflict")
    closed = client.post(f"/consultations/{cid}/close", token=staff_token)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    error_of(client.post(f"/consultations/{cid}/close", token=staff_token), 409, "conflict")
    assert client.get("/consultations?status=closed").json()["total"] == 1


def test_residents_answer_once_staff_enter_interviews_and_results_follow_the_state(
    town, make_staff, system_settings
):
    client = town
    staff_token = client.sign_in(make_staff())
    karin, karin_token = client.resident("Karin Labba")
    _, per_token = client.resident("Per-Erik Blind")
    consultation = published(client, staff_token)
    cid = consultation["id"]
    path = f"/consultations/{cid}/answers"

    # Answering: residents once, online; input checked against the questions.
    error_of(client.post(path, json=answers(consultation)), 401, "unauthenticated")
    error_of(
        client.post(
            f"/consultations/{MISSING_ID}/answers", token=karin_token, json=answers(consultation)
        ),
        404,
        "not_found",
    )
    error_of(
        client.post(path, token=karin_token, json=answers(consultation, choice="Rennäring")),
        400,
        "validation_error",
    )
    error_of(
        client.post(path, token=karin_token, json=answers(consultation, scale=6)),
        400,
        "validation_error",
    )
    missing_required = {"answers": answers(consultation)["answers"][1:]}
    error_of(client.post(path, token=karin_token, json=missing_required), 400, "validation_error")
    error_of(
        client.post(
            path, token=karin_token, json={"answers": [{"question_id": MISSING_ID, "value": 1}]}
        ),
        400,
        "validation_error",
    )
    error_of(
        client.post(
            path, token=karin_token, json={"channel": "interview", **answers(consultation)}
        ),
        403,
        "forbidden",
    )

    key = {"Idempotency-Key": f"answer-{uuid.uuid4()}"}
    body = answers(consultation, text="Fler hyresrätter, tack!")
    first = client.post(path, token=karin_token, json=body, headers=key)
    assert first.status_code == 201, first.text
    assert first.json() == {"consultation_id": cid, "channel": "online", "answer_count": 1}
    again = client.post(path, token=karin_token, json=body, headers=key)
    assert (again.status_code, again.json()) == (201, first.json())
    error_of(client.post(path, token=karin_token, json=body), 409, "conflict")
    shown = client.get(f"/consultations/{cid}", token=karin_token).json()
    assert shown["answered_by_me"] and shown["answer_count"] == 1
    assert not client.get(f"/consultations/{cid}", token=per_token).json()["answered_by_me"]

    assert (
        client.post(
            path,
            token=per_token,
            json=answers(consultation, choice="IT och distansarbete", scale=2),
        ).status_code
        == 201
    )
    interview = client.post(
        path,
        token=staff_token,
        json={"channel": "interview", **answers(consultation, text="=Mer buss till Luleå")},
    )
    assert interview.status_code == 201 and interview.json()["channel"] == "interview"
    town_hall = client.post(
        path, token=staff_token, json={"channel": "town_hall", **answers(consultation)}
    )
    assert town_hall.status_code == 201 and town_hall.json()["answer_count"] == 4

    # While open: results for staff only, the CSV too.
    error_of(client.get(f"/consultations/{cid}/results"), 409, "conflict")
    error_of(client.get(f"/consultations/{cid}/results", token=karin_token), 409, "conflict")
    error_of(client.get(f"/consultations/{MISSING_ID}/results"), 404, "not_found")
    assert client.get(f"/consultations/{cid}/results", token=staff_token).json()["total"] == 4
    error_of(client.get(f"/consultations/{cid}/answers.csv"), 409, "conflict")
    error_of(
        client.get(f"/consultations/{MISSING_ID}/answers.csv", token=staff_token), 404, "not_found"
    )
    assert client.get(f"/consultations/{cid}/answers.csv", token=staff_token).status_code == 200

    # Moderation of free texts: staff.
    texts_path = f"/consultations/{cid}/texts"
    error_of(client.get(texts_path, token=karin_token), 403, "forbidden")
    error_of(client.get(texts_path + "?status=maybe", token=staff_token), 400, "validation_error")
    error_of(client.get(f"/consultations/{MISSING_ID}/texts", token=staff_token), 404, "not_found")
    pending = client.get(texts_path + "?status=pending", token=staff_token).json()
    assert pending["total"] == 2
    by_text = {item["text"]: item for item in pending["items"]}
    approve = by_text["Fler hyresrätter, tack!"]["id"]
    hide = by_text["=Mer buss till Luleå"]["id"]
    error_of(
        client.post(f"{texts_path}/{approve}", token=karin_token, json={"decision": "approve"}),
        403,
        "forbidden",
    )
    error_of(
        client.post(f"{texts_path}/{approve}", token=staff_token, json={"decision": "maybe"}),
        400,
        "validation_error",
    )
    error_of(
        client.post(f"{texts_path}/{MISSING_ID}", token=staff_token, json={"decision": "approve"}),
        404,
        "not_found",
    )
    approved = client.post(
        f"{texts_path}/{approve}", token=staff_token, json={"decision": "approve"}
    )
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert (
        client.post(f"{texts_path}/{hide}", token=staff_token, json={"decision": "hide"}).json()[
            "status"
        ]
        == "hidden"
    )
    assert client.get(texts_path + "?status=pending", token=staff_token).json()["total"] == 0

    # Results are published after closing.
    error_of(client.post(f"/consultations/{cid}/results", token=staff_token), 409, "conflict")
    assert client.post(f"/consultations/{cid}/close", token=staff_token).status_code == 200
    error_of(client.post(path, token=per_token, json=answers(consultation)), 409, "conflict")
    results = client.get(f"/consultations/{cid}/results")
    assert results.status_code == 200, results.text
    found = results.json()
    assert found["total"] == 4
    assert found["by_channel"] == {"online": 2, "interview": 1, "town_hall": 1}
    single, _multiple, scale, ranking, text = found["questions"]
    assert {o["option"]: o["count"] for o in single["options"]} == {
        "Turism": 3,
        "Gruvor och energi": 0,
        "IT och distansarbete": 1,
    }
    assert scale["mean"] == 3.5
    assert ranking["options"][1] == {"option": "Bostäder", "mean_rank": 1.0, "borda": 8}
    assert text["texts"] == ["Fler hyresrätter, tack!"]
    assert single["by_channel"]["interview"]["answered"] == 1
    error_of(client.get(f"/consultations/{cid}/answers.csv", token=karin_token), 409, "conflict")
    error_of(client.post(f"/consultations/{cid}/results", token=karin_token), 403, "forbidden")
    error_of(
        client.post(f"/consultations/{MISSING_ID}/results", token=staff_token), 404, "not_found"
    )
    done = client.post(f"/consultations/{cid}/results", token=staff_token)
    assert done.status_code == 200 and done.json()["status"] == "results_published"
    error_of(client.post(f"/consultations/{cid}/results", token=staff_token), 409, "conflict")

    exported = client.get(f"/consultations/{cid}/answers.csv")
    assert exported.status_code == 200
    assert exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert len(rows) == 5 and rows[0][:2] == ["response", "channel"]
    assert sorted(row[1] for row in rows[1:]) == ["interview", "online", "online", "town_hall"]
    assert all(karin["id"] not in cell for row in rows for cell in row)
    flat = exported.text
    assert "Fler hyresrätter, tack!" in flat and "Mer buss" not in flat
    assert "Bostad; Barnomsorg" in flat and "Bostäder > Jobb > Fritid" in flat

    # The resident's export holds the answer of this non-anonymous consultation.
    mine = client.get("/me/export", token=karin_token).json()["consultations"]
    assert [a["consultation_id"] for a in mine["answers"]] == [cid]


def test_an_anonymous_answer_leaves_no_log_line_next_to_its_account(
    town, make_staff, system_settings
):
    client = town
    staff_token = client.sign_in(make_staff())
    emma, emma_token = client.resident("Emma Andersson")
    consultation = published(client, staff_token, anonymous=True)
    secret = f"Ingen får veta {uuid.uuid4().hex}"
    response = client.post(
        f"/consultations/{consultation['id']}/answers",
        token=emma_token,
        json=answers(consultation, text=secret),
        headers={"Idempotency-Key": "anonymous-answer"},
    )
    assert response.status_code == 201, response.text
    assert client.get(f"/consultations/{consultation['id']}", token=emma_token).json()[
        "answered_by_me"
    ]
    exported = client.get("/me/export", token=emma_token).json()["consultations"]
    assert exported["answers"] == []
    assert [c["consultation_id"] for c in exported["took_part_in"]] == [consultation["id"]]

    log_dir = Path(system_settings["CIVIC_LOG_DIR"])

    def lines():
        found = read_log_lines(sorted(log_dir.glob("*.log")))
        return (
            found
            if any(
                line.get("event") == "http_request" and line.get("actor_id") == emma["id"]
                for line in found
            )
            else None
        )

    found = wait_for(lines, message="the answer's access line")
    for line in found:
        text = json.dumps(line, ensure_ascii=False)
        assert secret not in text, line
        assert "Ingen får veta" not in text, line
