"""The consultations service over real RPC, with its migrated database and real
RabbitMQ: the timer's moments exactly once with three instances, one answer per account
under concurrency, anonymity searched for in every table and log line, export and
erasure.

Times are relative to the moment the test runs (`utcnow()`), handed to the domain as its
`now` where a consultation must have been published in the past.
"""

import json
import uuid
from datetime import timedelta
from pathlib import Path

import eventlet
import pytest
from nameko import config as nameko_config
from nameko.standalone.rpc import ClusterRpcClient
from sqlalchemy import func, select
from sqlalchemy import text as sql_text

from civic import commands
from civic.db import ServiceDatabase, utcnow
from civic.errors import Conflict
from civic.validation import load
from services.consultations import api, domain
from services.consultations.models import (
    Answer,
    Consultation,
    Participation,
    Response,
    metadata,
)
from services.consultations.service import ConsultationsService
from tests.conftest import wait_for
from tests.integration.conftest import read_log_lines
from tests.support import envelope, outbox_envelopes, publish

CORRELATION_ID = "corr-consultations-test"
STAFF = {"account_id": str(uuid.uuid4()), "is_staff": True, "display_name": "Staff"}


def resident(name="Resident"):
    return {"account_id": str(uuid.uuid4()), "is_staff": False, "display_name": name}


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def consultations_db(migrated):
    database = ServiceDatabase("consultations", metadata)
    yield database
    database.dispose()


@pytest.fixture
def client(migrated, published):
    with ClusterRpcClient(context_data={"correlation_id": CORRELATION_ID}, timeout=30) as cluster:
        yield cluster


@pytest.fixture
def consultations(migrated, published, container_factory, client):
    container_factory(ConsultationsService).start()
    return client.consultations


def payload(now, *, anonymous=False, opens_in=timedelta(hours=-1), lasts=timedelta(days=7)):
    opens_at = now + opens_in
    return {
        "title": "Lokalt Omvärldsprogram: jobben i Jokkmokk",
        "intro": "Vad tycker du om jobben i Jokkmokk?",
        "opens_at": opens_at.isoformat(),
        "closes_at": (opens_at + lasts).isoformat(),
        "anonymous": anonymous,
        "categories": ["business"],
        "questions": [
            {
                "kind": "single",
                "prompt": "Vilken bransch vill du se växa?",
                "options": ["Turism", "IT och distansarbete"],
                "required": True,
            },
            {"kind": "scale", "prompt": "Hur ser du på framtiden?"},
            {"kind": "text", "prompt": "Berätta fritt"},
        ],
    }


def open_consultation(consultations, **options) -> dict:
    """A consultation published and open now, through the service."""
    created = consultations.create_consultation(STAFF, payload(utcnow(), **options))
    return consultations.publish_consultation(STAFF, created["id"])


def answers_for(consultation, text=None, choice="Turism"):
    single, scale, free = consultation["questions"]
    found = [
        {"question_id": single["id"], "value": choice},
        {"question_id": scale["id"], "value": 4},
    ]
    if text is not None:
        found.append({"question_id": free["id"], "value": text})
    return {"answers": found}


# --- the moments ---------------------------------------------------------------------------


def test_the_timer_opens_and_closes_each_consultation_once_with_three_instances(
    migrated, published, consultations_db, container_factory
):
    now = utcnow()
    then = now - timedelta(days=10)
    with consultations_db.unit_of_work({"correlation_id": "corr-timer"}) as uow:
        # Published ten days ago, to open a minute ago: scheduled until the timer comes.
        to_open = []
        for n in range(4):
            data = load(
                api.ConsultationSaveSchema,
                {**payload(now, opens_in=timedelta(minutes=-1)), "title": f"Öppnas {n}"},
            )
            created = domain.create_consultation(uow, STAFF, data, now=then)
            assert domain.publish_consultation(uow, STAFF, created["id"], now=then)["status"] == (
                "scheduled"
            )
            to_open.append(created["id"])
        # Open since ten days ago, to close a minute ago.
        to_close = []
        for n in range(4):
            data = load(
                api.ConsultationSaveSchema,
                {
                    **payload(then, opens_in=timedelta(hours=-1), lasts=timedelta(days=10)),
                    "title": f"Stängs {n}",
                },
            )
            created = domain.create_consultation(uow, STAFF, data, now=then)
            assert domain.publish_consultation(uow, STAFF, created["id"], now=then)["status"] == (
                "open"
            )
            to_close.append(created["id"])
        # Published, opening tomorrow: the timer leaves it alone.
        later = domain.create_consultation(
            uow,
            STAFF,
            load(api.ConsultationSaveSchema, payload(now, opens_in=timedelta(days=1))),
            now=now,
        )["id"]
        domain.publish_consultation(uow, STAFF, later, now=now)

    with nameko_config.patch({"CIVIC_EXPIRY_INTERVAL": 0.1}, clear=False):
        for container in [container_factory(ConsultationsService) for _ in range(3)]:
            container.start()

    def statuses():
        with consultations_db.sessions() as session:
            return dict(session.execute(select(Consultation.id, Consultation.status)).all())

    wait_for(
        lambda: (
            all(statuses()[c] == "open" for c in to_open)
            and all(statuses()[c] == "closed" for c in to_close)
        ),
        timeout=30,
        message="the due consultations opened and closed",
    )
    wait_for(lambda: consultations_db.relay.unsent_count() == 0, message="outbox relayed")
    opened = [
        e["data"]["consultation_id"]
        for e in outbox_envelopes(consultations_db, "consultation_opened")
    ]
    closed = [
        e["data"]["consultation_id"]
        for e in outbox_envelopes(consultations_db, "consultation_closed")
    ]
    # Once each: the four published open ten days ago, and the four the timer opened.
    assert sorted(opened) == sorted(to_close + to_open)
    assert sorted(closed) == sorted(to_close)
    assert statuses()[later] == "scheduled"

    def delivered():
        found = published("consultations", "consultation_closed", distinct=True)
        return found if len(found) >= len(to_close) else None

    bodies = wait_for(delivered, message="consultation_closed events")
    assert sorted(b["data"]["consultation_id"] for b in bodies) == sorted(to_close)
    assert all(b["data"]["answer_count"] == 0 for b in bodies)


# --- one answer per account --------------------------------------------------------------


@pytest.mark.parametrize("anonymous", [False, True])
def test_the_same_account_answering_twice_at_once_gives_one_answer(
    migrated, consultations, container_factory, consultations_db, anonymous
):
    # A second instance: the twins may well be handled by two processes.
    container_factory(ConsultationsService).start()
    consultation = open_consultation(consultations, anonymous=anonymous)
    people = [resident(f"Resident {n}") for n in range(5)]

    def answer(person):
        with ClusterRpcClient(context_data={"correlation_id": "corr-twins"}, timeout=30) as rpc:
            try:
                return rpc.consultations.submit_answer(
                    person, consultation["id"], answers_for(consultation)
                )
            except Conflict as exc:
                return exc

    pool = eventlet.GreenPool()
    outcomes = list(pool.imap(answer, [person for person in people for _ in range(2)]))
    for n in range(len(people)):
        pair = outcomes[2 * n : 2 * n + 2]
        assert sum(isinstance(o, dict) for o in pair) == 1, pair
        assert sum(isinstance(o, Conflict) for o in pair) == 1, pair
    with consultations_db.sessions() as session:
        assert session.execute(select(func.count()).select_from(Response)).scalar_one() == 5
        assert session.execute(select(func.count()).select_from(Participation)).scalar_one() == 5
        stored = session.get(Consultation, consultation["id"])
        assert stored.answer_count == 5
    assert consultations.get_consultation(people[0], consultation["id"])["answered_by_me"]


# --- anonymity -----------------------------------------------------------------------------


def _rows(database) -> dict[str, list[str]]:
    """Every row of every table of the service's database, each as one text."""
    found = {}
    with database.sessions() as session:
        for table in database.metadata.sorted_tables:
            found[table.name] = [
                json.dumps([str(value) for value in row], ensure_ascii=False)
                for row in session.execute(select(table)).all()
            ]
    return found


def test_an_anonymous_answer_is_nowhere_next_to_its_account(
    migrated, consultations, consultations_db, civic_settings
):
    consultation = open_consultation(consultations, anonymous=True)
    person = resident("Anonym")
    account_id = person["account_id"]
    secret_text = f"Mitt hemliga svar {uuid.uuid4().hex}"
    body = answers_for(consultation, text=secret_text, choice="IT och distansarbete")
    # As the gateway asks: the actor in the context too, and a request id (its command
    # record is kept).
    with ClusterRpcClient(
        context_data={
            "correlation_id": "corr-anonymous",
            "actor_id": account_id,
            "request_id": "anonymous-request-1",
        },
        timeout=30,
    ) as rpc:
        receipt = rpc.consultations.submit_answer(person, consultation["id"], body)
        # Sent again (a retry): the stored answer, nothing done again.
        assert rpc.consultations.submit_answer(person, consultation["id"], body) == receipt
    assert receipt == {
        "consultation_id": consultation["id"],
        "channel": "online",
        "answer_count": 1,
    }
    wait_for(lambda: consultations_db.relay.unsent_count() == 0, message="outbox relayed")

    with consultations_db.sessions() as session:
        [response] = session.execute(select(Response)).scalars().all()
        answer_ids = list(session.execute(select(Answer.id)).scalars())
    assert response.account_id is None and response.submitted_at is None
    near = [secret_text, response.id, *answer_ids]

    rows = _rows(consultations_db)
    assert set(rows) >= {"consultation_responses", "consultation_answers", "commands", "outbox"}
    holding_account = {name for name, found in rows.items() if any(account_id in r for r in found)}
    # The account is in its participation row only, which holds nothing else but the
    # consultation (no time, no response).
    assert holding_account == {"consultation_participations"}
    assert rows["consultation_participations"] == [json.dumps([consultation["id"], account_id])]
    for name, found in rows.items():
        for row in found:
            assert not (account_id in row and any(value in row for value in near)), name
    # The command record: its fingerprint covers the consultation only (a hash over the
    # account and the answers could be matched against every stored response).
    with consultations_db.sessions() as session:
        record = session.execute(select(consultations_db.metadata.tables["commands"])).one()
    assert record.fingerprint == commands.fingerprint(
        "submit_answer", {"consultation_id": consultation["id"]}
    )
    assert record.fingerprint != commands.fingerprint(
        "submit_answer",
        {"actor": person, "consultation_id": consultation["id"], "payload": body},
    )
    assert not any(value in (record.response or "") for value in near)
    # Nothing numbers the rows in the order they came (SQLite's rowid would pair the
    # n-th answerer, whom the logs and events can tell, with the n-th response).
    if consultations_db.url.startswith("sqlite"):
        with consultations_db.sessions() as session:
            for table in (
                "consultation_participations",
                "consultation_responses",
                "consultation_answers",
            ):
                sql = session.execute(
                    sql_text("SELECT sql FROM sqlite_master WHERE name = :name"), {"name": table}
                ).scalar_one()
                assert sql.rstrip().endswith("WITHOUT ROWID"), table
    # The event: no account, no actor.
    [answered] = outbox_envelopes(consultations_db, "consultation_answered")
    assert answered["actor_id"] is None and account_id not in json.dumps(answered)

    # No log line holds the account next to the answer, or the answer at all.
    lines = read_log_lines(sorted(Path(civic_settings["CIVIC_LOG_DIR"]).glob("*.log")))
    assert lines, "nothing was logged"
    assert any(line.get("actor_id") == account_id for line in lines)  # the request was
    for line in lines:
        text = json.dumps(line, ensure_ascii=False)
        assert not any(value in text for value in near), line


# --- personal data ---------------------------------------------------------------------------


def test_export_and_erasure_cover_non_anonymous_answers_only(
    migrated, consultations, consultations_db
):
    named = open_consultation(consultations)
    anonymous = open_consultation(consultations, anonymous=True)
    person = resident("Cia")
    consultations.submit_answer(person, named["id"], answers_for(named, text="Mer turism"))
    consultations.submit_answer(person, anonymous["id"], answers_for(anonymous, text="Hemligt"))
    # Staff enter an interview: no account at all.
    consultations.submit_answer(
        STAFF, named["id"], {"channel": "interview", **answers_for(named, text="Intervju")}
    )

    exported = consultations.export_account(person["account_id"])
    assert {c["consultation_id"] for c in exported["took_part_in"]} == {
        named["id"],
        anonymous["id"],
    }
    [own] = exported["answers"]
    assert own["consultation_id"] == named["id"] and own["channel"] == "online"
    assert "Mer turism" in [a["value"] for a in own["answers"]]
    assert "Hemligt" not in json.dumps(exported, ensure_ascii=False)
    assert consultations.export_account(STAFF["account_id"])["answers"] == []

    publish(migrated["AMQP_URI"], envelope("account_erased", {"account_id": person["account_id"]}))
    wait_for(
        lambda: (
            consultations.export_account(person["account_id"])
            == {"took_part_in": [], "answers": [], "consultations_created": []}
        ),
        message="consultations erased Cia's data",
    )
    with consultations_db.sessions() as session:
        assert (
            session.execute(
                select(func.count()).select_from(Response).where(Response.account_id.is_not(None))
            ).scalar_one()
            == 0
        )
        texts = set(session.execute(select(Answer.text).where(Answer.text.is_not(None))).scalars())
        assert texts == {"Hemligt", "Intervju"}  # hers in the named one is gone
        assert session.get(Consultation, named["id"]).answer_count == 2


# --- the demo ------------------------------------------------------------------------------


def test_the_demo_consultation_loads_once(migrated, consultations, client, container_factory):
    import demo
    from demo.consultations import TITLE, ConsultationsDemo
    from services.groups.service import GroupsService

    container_factory(GroupsService).start()
    said = []
    loader = demo.DemoLoader(client.groups, "correct horse battery", say=said.append)
    loader.load_groups(demo.all_groups(client.groups), [])
    part = ConsultationsDemo(client.consultations, loader, demo.STAFF.key)
    assert part.is_loaded() is False
    part.load()
    assert part.is_loaded() is True
    part.load()  # nothing more
    [found] = consultations.list_consultations(None, status="open")["items"]
    assert found["title"] == TITLE and found["anonymous"] and found["answer_count"] == 4
    assert len(found["questions"]) == 5
