"""Finding 3 of the faults issue: a command runs once, however often it arrives, and a
request whose caller gave up never runs later (and finding 2's part in `civic.rpc`: the
request's publish is inside the caller's timeout).

The proposals service runs over real RPC. A request id travels in the `request_id`
context header (the gateway makes one per HTTP request; here the test sets it); the
service records it with the command's effect, so a second delivery of the request —
its service killed after the commit and before the reply, or the same id sent again —
gets the first answer and does nothing again.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter

import eventlet
import pytest
from eventlet.event import Event
from nameko.standalone.rpc import ClusterRpcClient
from sqlalchemy import func, select

from civic.db import ServiceDatabase
from civic.errors import Conflict, Unavailable
from civic.rpc import RequestLine, ServiceCall, Services
from civic.service import rpc
from services.proposals.models import Proposal, Support, metadata
from services.proposals.service import ProposalsService
from tests.conftest import wait_for

ANNA = {
    "account_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, "anna.example.org")),
    "is_staff": False,
    "display_name": "Anna",
}
BO = {
    "account_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, "bo.example.org")),
    "is_staff": False,
    "display_name": "Bo",
}


def proposal(title: str) -> dict:
    return {"title": title, "body": "Spola en isbana i parken.", "category": "leisure"}


@pytest.fixture
def proposals_db(migrated):
    database = ServiceDatabase("proposals", metadata)
    yield database
    database.dispose()


@pytest.fixture
def proposals(migrated, container_factory):
    container = container_factory(ProposalsService)
    container.start()
    return container


def client_with(request_id: str | None, timeout: float = 30) -> ClusterRpcClient:
    context = {"correlation_id": "corr-commands-test"}
    if request_id is not None:
        context["request_id"] = request_id
    return ClusterRpcClient(context_data=context, timeout=timeout)


def titled(database, title: str) -> int:
    with database.sessions() as session:
        return session.execute(
            select(func.count()).select_from(Proposal).where(Proposal.title == title)
        ).scalar_one()


def supports_of(database, proposal_id: str) -> int:
    with database.sessions() as session:
        return session.execute(
            select(func.count()).select_from(Support).where(Support.proposal_id == proposal_id)
        ).scalar_one()


def stays(predicate, seconds: float, interval: float = 0.1) -> bool:
    """True if `predicate()` holds at every look for `seconds` (an absence, watched)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not predicate():
            return False
        time.sleep(interval)
    return predicate()


# --- the same request twice --------------------------------------------------------------


def test_same_request_id_twice_acts_once_and_answers_alike(proposals, proposals_db):
    request_id = uuid.uuid4().hex
    title = f"Isbana {request_id[:8]}"
    with client_with(request_id) as cluster:
        first = cluster.proposals.submit_proposal(ANNA, proposal(title))
        second = cluster.proposals.submit_proposal(ANNA, proposal(title))
    assert second == first
    assert titled(proposals_db, title) == 1


def test_same_request_id_replays_the_answer_not_a_conflict(proposals, proposals_db):
    with client_with(None) as cluster:
        filed = cluster.proposals.submit_proposal(ANNA, proposal("Fler bänkar"))
    request_id = uuid.uuid4().hex
    with client_with(request_id) as cluster:
        first = cluster.proposals.support(BO, filed["id"])
        # Without a record, the second delivery would be a 409 "supports it already".
        second = cluster.proposals.support(BO, filed["id"])
    assert second == first
    assert supports_of(proposals_db, filed["id"]) == 1
    # Another request (another id) is a new command: the domain's answer stands.
    with client_with(uuid.uuid4().hex) as cluster, pytest.raises(Conflict):
        cluster.proposals.support(BO, filed["id"])


def test_an_error_answer_is_replayed_too(proposals, proposals_db):
    with client_with(None) as cluster:
        filed = cluster.proposals.submit_proposal(ANNA, proposal("Belysning"))
        cluster.proposals.support(BO, filed["id"])
    request_id = uuid.uuid4().hex
    with client_with(request_id) as cluster:
        with pytest.raises(Conflict) as first:
            cluster.proposals.support(BO, filed["id"])
        cluster_other = cluster.proposals
        # BO withdraws in another request: the same request id still answers as first.
        with client_with(None) as plain:
            plain.proposals.withdraw_support(BO, filed["id"])
        with pytest.raises(Conflict) as second:
            cluster_other.support(BO, filed["id"])
    assert str(second.value) == str(first.value)
    assert supports_of(proposals_db, filed["id"]) == 0


def test_same_request_id_with_other_arguments_is_refused(proposals, proposals_db):
    from civic.commands import IdempotencyKeyReused

    request_id = uuid.uuid4().hex
    with client_with(request_id) as cluster:
        cluster.proposals.submit_proposal(ANNA, proposal("Första titeln"))
        with pytest.raises(IdempotencyKeyReused) as refused:
            cluster.proposals.submit_proposal(ANNA, proposal("En annan titel"))
    assert refused.value.code == "idempotency_key_reused"
    assert refused.value.status == 422
    assert titled(proposals_db, "En annan titel") == 0


def test_concurrent_twins_act_once(proposals, proposals_db):
    request_id = uuid.uuid4().hex
    title = f"Tvillingar {request_id[:8]}"
    with client_with(request_id) as cluster:
        calls = [
            cluster.proposals.submit_proposal.call_async(ANNA, proposal(title)) for _ in range(4)
        ]
        answers = [call.result() for call in calls]
    assert all(answer == answers[0] for answer in answers)
    assert titled(proposals_db, title) == 1


def test_request_without_an_id_is_not_recorded(proposals, proposals_db):
    with client_with(None) as cluster:
        cluster.proposals.submit_proposal(ANNA, proposal("Utan id"))
        cluster.proposals.submit_proposal(ANNA, proposal("Utan id"))
    assert titled(proposals_db, "Utan id") == 2
    commands = proposals_db.metadata.tables["commands"]
    with proposals_db.sessions() as session:
        assert session.execute(select(func.count()).select_from(commands)).scalar_one() == 0


# --- the service killed after its commit, before its reply ---------------------------------


def test_redelivered_request_after_commit_acts_once(
    migrated, container_factory, proposals_db, monkeypatch
):
    """nameko acks an RPC request after its reply: a service killed between its commit
    and its reply gets the request again. The redelivery answers from the record."""
    reached_reply = Event()
    real_answer = RequestLine.answer

    def reply_never(self, request, result, exc_info):
        if not reached_reply.ready():
            reached_reply.send(True)
        eventlet.sleep(3600)  # the process "dies" here: see container.kill() below
        return real_answer(self, request, result, exc_info)

    monkeypatch.setattr(RequestLine, "answer", reply_never)
    first = container_factory(ProposalsService)
    first.start()
    request_id = uuid.uuid4().hex
    title = f"Omleverans {request_id[:8]}"
    with client_with(request_id, timeout=60) as cluster:
        pending = cluster.proposals.submit_proposal.call_async(ANNA, proposal(title))
        wait_for(reached_reply.ready, timeout=30, message="the command committed")
        assert titled(proposals_db, title) == 1
        first.kill()  # unacked: RabbitMQ gives the request to the next consumer
        monkeypatch.setattr(RequestLine, "answer", real_answer)
        second = container_factory(ProposalsService)
        second.start()
        answer = pending.result()  # the redelivery's reply, for the same call
    assert answer["title"] == title
    assert titled(proposals_db, title) == 1


# --- a request whose caller gave up --------------------------------------------------------


class Caller:
    """A service that asks proposals with a short timeout, as the gateway does."""

    name = "commandcaller"
    services = Services()

    @rpc
    def submit_with_timeout(self, actor, payload, seconds):
        try:
            return self.services.proposals.submit_proposal(actor, payload, timeout=seconds)
        except Unavailable as error:
            return {"unavailable": str(error)}


def test_timed_out_request_is_not_executed_later(migrated, container_factory, proposals_db):
    proposals = container_factory(ProposalsService)
    proposals.start()  # its queue exists (durable) ...
    proposals.stop()  # ... and nobody consumes it now
    caller = container_factory(Caller)
    caller.start()
    title = f"Sent {uuid.uuid4().hex[:8]}"
    with client_with(None) as cluster:
        started = time.monotonic()
        answer = cluster.commandcaller.submit_with_timeout(ANNA, proposal(title), 1)
        assert "unavailable" in answer
        assert time.monotonic() - started < 5
    again = container_factory(ProposalsService)
    again.start()
    # The request's expiry is its caller's timeout: it was dropped, never run.
    assert stays(lambda: titled(proposals_db, title) == 0, seconds=3)
    with client_with(None) as cluster:  # the service is up and answers new requests
        cluster.proposals.submit_proposal(ANNA, proposal(title + " ny"))
    assert titled(proposals_db, title + " ny") == 1
    assert titled(proposals_db, title) == 0


def test_a_request_taken_after_its_deadline_is_not_run(proposals, proposals_db):
    """One a service took from its queue before it expired, but started too late (all
    its workers were busy): the caller has given up, so it does nothing."""
    title = f"Sen {uuid.uuid4().hex[:8]}"
    context = {
        "correlation_id": "corr-commands-test",
        "request_id": uuid.uuid4().hex,
        "request_deadline_ms": int((time.time() - 1) * 1000),
    }
    with ClusterRpcClient(context_data=context, timeout=30) as cluster:
        with pytest.raises(Unavailable):
            cluster.proposals.submit_proposal(ANNA, proposal(title))
    assert titled(proposals_db, title) == 0


# --- finding 2, the caller's side: the publish itself is inside the timeout ----------------


class FrozenLine:
    """The process's request line on a broker that stopped answering: sending a request
    never returns."""

    def request(self, *args, **kwargs):
        eventlet.sleep(3600)

    def forget(self, reply):
        pass


def test_request_publish_is_inside_the_timeout():
    call = ServiceCall(FrozenLine(), {}, "proposals", 0.5, Counter())
    started = time.monotonic()
    with pytest.raises(Unavailable):
        call.submit_proposal(ANNA, proposal("Fryst"))
    assert time.monotonic() - started < 3


# --- which RPCs are commands -------------------------------------------------------------


def test_every_state_changing_rpc_is_a_command():
    from services.consultations.service import ConsultationsService
    from services.events.service import EventsService
    from services.groups.service import GroupsService
    from services.notifications.service import NotificationsService
    from services.openings.service import OpeningsService

    commands = {
        GroupsService: {
            "register_account",
            "request_confirmation_email",
            "erase_account",
            "create_group",
            "join_group",
            "approve_member",
            "remove_member",
            "appoint_admin",
            "verify_group",
            "refuse_group_verification",
            "join_network",
            "add_volunteer_skill",
            "retire_volunteer_skill",
            "save_volunteer_profile",
            "delete_volunteer_profile",
            "invite_volunteer",
            "answer_volunteer_invitation",
        },
        ProposalsService: {
            "submit_proposal",
            "support",
            "withdraw_support",
            "add_comment",
            "withdraw",
            "report",
            "report_comment",
            "moderate_comment",
            "transition",
            "assign",
            "moderate",
            "merge",
            "register_project",
            "add_partner",
            "transition_project",
        },
        EventsService: {
            "create_event",
            "change_event",
            "cancel_event",
            "publish_agenda",
            "publish_minutes",
            "check_in",
            "register",
            "cancel_registration",
            "set_roles",
            "offer_help",
            "withdraw_offer",
        },
        OpeningsService: {
            "post_opening",
            "close_opening",
            "register_interest",
            "save_profile",
            "delete_profile",
        },
        NotificationsService: {
            "mark_read",
            "mark_all_read",
            "set_preferences",
            "follow",
            "unfollow",
        },
        ConsultationsService: {
            "create_consultation",
            "update_consultation",
            "publish_consultation",
            "close_consultation",
            "publish_results",
            "submit_answer",
            "moderate_text",
        },
    }
    for service, expected in commands.items():
        marked = {
            name for name in dir(service) if getattr(getattr(service, name), "civic_command", False)
        }
        assert marked == expected, service.name
