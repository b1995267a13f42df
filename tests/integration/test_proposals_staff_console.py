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
from tests.integration import test_proposals_service as base
from tests.integration.test_proposals_service import ANNA, BO, CIA, DAN, STAFF, events_of, submit

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
