"""What the staff console's proposal screens need of the proposals service, over real
RPC with its migrated database and real RabbitMQ: short references (unique, found as
typed, a hidden proposal only by staff), a visitor's name and contact line (staff only),
the board's oldest-first order, the moderation queue, and hide / restore / remove with a
reason (kept for staff; the event is the one the notifications rules tell the author
with)."""

from __future__ import annotations

import pytest

from civic.errors import Conflict, Forbidden, NotFound, ValidationError
from services.proposals import domain
from services.proposals.api import REFERENCE_ALPHABET, normal_reference
from services.proposals.models import CommentReport
from tests.conftest import wait_for
from tests.integration import test_proposals_service as base
from tests.integration.test_proposals_service import ANNA, BO, CIA, DAN, STAFF, events_of, submit
from tests.support import count, envelope, publish

# The proposals service's fixtures, shared with its own tests.
proposals_db = base.proposals_db
service = base.service
client = base.client
rpc = base.rpc
town = base.town


def test_references_are_short_unambiguous_and_unique():
    drawn = {domain.new_reference() for _ in range(2000)}
    assert len(drawn) > 1990
    for reference in drawn:
        assert reference.startswith("JKM-") and len(reference) == 9
        assert set(reference[4:]) <= set(REFERENCE_ALPHABET)
        assert not set(reference[4:]) & set("01ILO")
    assert normal_reference(" jkm-7f3k2 ") == "JKM-7F3K2"
    assert normal_reference("7F3K2") == "JKM-7F3K2"
    assert normal_reference("JKM7F3K2") == "JKM-7F3K2"
    assert normal_reference("JKM-7F3K0") is None
    assert normal_reference("JKM-7F3K") is None


def test_a_drop_in_proposal_is_found_by_its_reference_and_its_visitor_stays_private(
    rpc, town, published
):
    filed = submit(
        rpc,
        STAFF,
        title="Fler bänkar vid älven",
        channel="drop_in",
        visitor_name="Elsa Nilsson",
        contact="070-123 45 67",
    )
    reference = filed["reference"]
    assert filed["visitor_name"] == "Elsa Nilsson" and filed["contact"] == "070-123 45 67"

    for typed in (reference, reference.lower(), reference[4:], f"  {reference} "):
        found = rpc.find_proposal(None, typed)
        assert found["id"] == filed["id"]
        assert "contact" not in found and "visitor_name" not in found
    assert rpc.find_proposal(ANNA, reference)["reference"] == reference
    assert "visitor_name" not in rpc.get_proposal(ANNA, filed["id"])

    with pytest.raises(NotFound):
        rpc.find_proposal(None, "JKM-22222" if reference != "JKM-22222" else "JKM-33333")
    with pytest.raises(ValidationError):
        rpc.find_proposal(None, "not a reference")

    # A visitor's name belongs to a visitor's proposal, filed by staff.
    with pytest.raises(ValidationError) as refused:
        submit(rpc, ANNA, visitor_name="Elsa")
    assert "visitor_name" in refused.value.fields
    with pytest.raises(Forbidden):
        submit(rpc, ANNA, channel="town_hall", visitor_name="Elsa")

    # The event carries no visitor data.
    (_, event), *_ = [
        item for item in events_of(published, 1) if item[1]["data"]["proposal_id"] == filed["id"]
    ]
    assert "Elsa" not in str(event) and "070" not in str(event)


def test_the_board_lists_the_oldest_first(rpc, town):
    first = submit(rpc, ANNA, title="Första förslaget om isbanan")
    second = submit(rpc, BO, title="Andra förslaget om isbanan")
    oldest = rpc.list_proposals(None, status="submitted", sort="waiting")["items"]
    ids = [item["id"] for item in oldest]
    assert ids.index(first["id"]) < ids.index(second["id"])


def test_the_moderation_queue_and_a_reasoned_hide_restore_and_remove(rpc, town, published):
    reported = submit(rpc, ANNA, title="Ett förslag som anmäls")
    quiet = submit(rpc, BO, title="Ett förslag ingen anmäler")
    rpc.report(CIA, reported["id"], {"reason": "Stötande ord"})

    with pytest.raises(Forbidden):
        rpc.moderation_queue(ANNA)
    queue = rpc.moderation_queue(STAFF)
    ids = [item["id"] for item in queue["items"]]
    assert reported["id"] in ids and quiet["id"] not in ids
    item = queue["items"][ids.index(reported["id"])]
    assert item["report_count"] == 1 and item["hidden"] is False
    assert [r["reason"] for r in item["reports"]] == ["Stötande ord"]

    # Staff hide it with a reason: it leaves the public list, stays in the queue.
    hidden = rpc.moderate(STAFF, reported["id"], {"action": "hide", "reason": "Granskas"})
    assert hidden["hidden"] is True and hidden["moderation_reason"] == "Granskas"
    with pytest.raises(NotFound):
        rpc.get_proposal(ANNA, reported["id"])
    with pytest.raises(NotFound):
        rpc.find_proposal(None, reported["reference"])
    assert rpc.find_proposal(STAFF, reported["reference"])["id"] == reported["id"]
    with pytest.raises(Conflict):
        rpc.moderate(STAFF, reported["id"], {"action": "hide", "reason": "Igen"})
    assert rpc.moderation_queue(STAFF)["items"][0]["id"] == reported["id"]  # hidden first

    restored = rpc.moderate(STAFF, reported["id"], {"action": "restore", "reason": "Inget fel"})
    assert restored["hidden"] is False and restored["report_count"] == 0
    assert reported["id"] not in [i["id"] for i in rpc.moderation_queue(STAFF)["items"]]

    removed = rpc.moderate(STAFF, quiet["id"], {"action": "remove", "reason": "Reklam"})
    assert removed["removed"] is True and removed["moderation_reason"] == "Reklam"
    assert quiet["id"] not in [i["id"] for i in rpc.moderation_queue(STAFF)["items"]]

    types = [
        event["type"]
        for _, event in events_of(published, 6)
        if event["data"].get("proposal_id") in (reported["id"], quiet["id"])
    ]
    assert types[-3:] == ["proposal_hidden", "proposal_restored", "proposal_removed"]
    assert not any("Granskas" in str(event) for _, event in published.deliveries("proposals"))


def test_dan_is_not_staff(rpc, town):
    filed = submit(rpc, DAN, title="Ett förslag från Dan")
    with pytest.raises(Forbidden):
        rpc.moderate(DAN, filed["id"], {"action": "hide", "reason": "x"})


# --- comments: reported, hidden, restored ----------------------------------------------


def test_comments_are_reported_hidden_and_restored_with_their_authors_named_in_the_events(
    rpc, town, published
):
    proposal = submit(rpc, ANNA, title="Ett förslag med en grov kommentar")
    rude = rpc.add_comment(BO, proposal["id"], {"body": "Ett grovt påhopp"})
    kind = rpc.add_comment(CIA, proposal["id"], {"body": "Bra idé!"})

    # Bad input and the wrong comment change nothing.
    with pytest.raises(ValidationError):
        rpc.report_comment(CIA, proposal["id"], rude["id"], {"reason": "  "})
    with pytest.raises(NotFound):
        rpc.report_comment(CIA, proposal["id"], base.MISSING_ID, {"reason": "Grovt"})
    other = submit(rpc, BO, title="Ett annat förslag om isbanan")
    with pytest.raises(NotFound):  # the comment is not on that proposal
        rpc.report_comment(CIA, other["id"], rude["id"], {"reason": "Grovt"})

    first = rpc.report_comment(CIA, proposal["id"], rude["id"], {"reason": "Grovt påhopp"})
    assert first == {
        "proposal_id": proposal["id"],
        "comment_id": rude["id"],
        "report_count": 1,
        "hidden": False,
    }
    with pytest.raises(Conflict):
        rpc.report_comment(CIA, proposal["id"], rude["id"], {"reason": "Igen"})
    assert (
        rpc.report_comment(DAN, proposal["id"], rude["id"], {"reason": "Elakt"})["hidden"] is False
    )

    # Staff only: the queue, with the reports and the proposal it is on.
    with pytest.raises(Forbidden):
        rpc.comment_moderation_queue(ANNA)
    queue = rpc.comment_moderation_queue(STAFF, per_page=100)["items"]
    (item,) = [c for c in queue if c["id"] == rude["id"]]
    assert item["report_count"] == 2 and item["hidden"] is False
    assert [r["reason"] for r in item["reports"]] == ["Grovt påhopp", "Elakt"]
    assert item["proposal"]["id"] == proposal["id"]
    assert item["proposal"]["reference"] == proposal["reference"]
    assert kind["id"] not in [c["id"] for c in queue]

    # The third account's report hides it: residents no longer see it, staff do.
    third = rpc.report_comment(ANNA, proposal["id"], rude["id"], {"reason": "Kränkande"})
    assert third["hidden"] is True and third["report_count"] == 3
    for reader in (None, ANNA, BO):
        seen = rpc.get_proposal(reader, proposal["id"])["comments"]
        assert [c["id"] for c in seen] == [kind["id"]]
        assert "hidden" not in seen[0] and "report_count" not in seen[0]
    for_staff = rpc.get_proposal(STAFF, proposal["id"])["comments"]
    assert [(c["id"], c["hidden"]) for c in for_staff] == [(rude["id"], True), (kind["id"], False)]
    with pytest.raises(NotFound):  # a hidden comment is not there for residents
        rpc.report_comment(CIA, proposal["id"], rude["id"], {"reason": "x"})
    queue = rpc.comment_moderation_queue(STAFF, per_page=100)["items"]
    assert queue[0]["id"] == rude["id"]  # hidden ones first

    # Staff decide: not a resident; restore with a reason clears the reports.
    with pytest.raises(Forbidden):
        rpc.moderate_comment(DAN, proposal["id"], rude["id"], {"action": "restore"})
    with pytest.raises(ValidationError):
        rpc.moderate_comment(STAFF, proposal["id"], rude["id"], {"action": "remove"})
    with pytest.raises(Conflict):
        rpc.moderate_comment(STAFF, proposal["id"], rude["id"], {"action": "hide"})
    restored = rpc.moderate_comment(
        STAFF, proposal["id"], rude["id"], {"action": "restore", "reason": "Skarpt men tillåtet"}
    )
    assert restored["hidden"] is False and restored["report_count"] == 0
    assert restored["moderation_reason"] == "Skarpt men tillåtet"
    assert rude["id"] in [c["id"] for c in rpc.get_proposal(None, proposal["id"])["comments"]]
    assert rude["id"] not in [
        c["id"] for c in rpc.comment_moderation_queue(STAFF, per_page=100)["items"]
    ]
    with pytest.raises(Conflict):
        rpc.moderate_comment(STAFF, proposal["id"], rude["id"], {"action": "restore"})
    # The reports were dealt with: the same account may report again.
    rpc.report_comment(CIA, proposal["id"], rude["id"], {"reason": "Fortfarande grovt"})

    # Staff hide the kind one themselves (it was never reported).
    hidden = rpc.moderate_comment(
        STAFF, proposal["id"], kind["id"], {"action": "hide", "reason": "Personuppgifter"}
    )
    assert hidden["hidden"] is True and hidden["report_count"] == 0

    def moderation_events():
        found = [
            event
            for _, event in published.deliveries("proposals")
            if event["data"].get("comment_id") in (rude["id"], kind["id"])
            and event["type"] != "comment_added"
        ]
        return len(found) >= 6 and found

    events = wait_for(moderation_events, message="the comments' moderation events")
    assert [(e["type"], e["data"].get("hidden_by")) for e in events] == [
        ("comment_reported", None),
        ("comment_reported", None),
        ("comment_hidden", "reports"),
        ("comment_restored", None),
        ("comment_reported", None),
        ("comment_hidden", "staff"),
    ]
    assert events[2]["data"]["comment_author_id"] == BO["account_id"]
    assert events[2]["data"]["title"] == proposal["title"]
    assert events[-1]["data"]["comment_author_id"] == CIA["account_id"]
    # Events carry no texts: neither the reports' reasons nor the staff's.
    assert not any(
        words in str(event)
        for event in events
        for words in ("Grovt", "Kränkande", "Skarpt", "Personuppgifter")
    )


def test_a_reporters_comment_reports_are_exported_and_unlinked_when_erased(
    migrated, rpc, town, proposals_db
):
    proposal = submit(rpc, ANNA, title="Ett förslag om skoterleder")
    comment = rpc.add_comment(BO, proposal["id"], {"body": "Skotrar överallt!"})
    rpc.report_comment(DAN, proposal["id"], comment["id"], {"reason": "Överdrivet"})
    exported = rpc.export_account(DAN["account_id"])
    assert exported["comment_reports"] == [
        {
            "comment_id": comment["id"],
            "proposal_id": proposal["id"],
            "reason": "Överdrivet",
            "created_at": exported["comment_reports"][0]["created_at"],
        }
    ]
    publish(
        migrated["AMQP_URI"],
        envelope("account_erased", {"account_id": DAN["account_id"]}, actor_id=DAN["account_id"]),
    )
    wait_for(
        lambda: rpc.export_account(DAN["account_id"])["comment_reports"] == [],
        message="the reporter's erasure handled",
    )
    # The report stays, counted, tied to no one.
    assert count(proposals_db, CommentReport, CommentReport.reporter_id.is_(None)) >= 1
    queue = rpc.comment_moderation_queue(STAFF, per_page=100)["items"]
    assert [c["report_count"] for c in queue if c["id"] == comment["id"]] == [1]
