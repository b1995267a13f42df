"""The programme report's figures (issue 13, `/staff/report`), asked of the proposals
and events services over real RPC with their migrated databases: per month in the
town's zone, counted from what was done through the services; staff only; a bad
period refused. (Each test's databases are fresh: the numbers are exact.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from civic.clock import to_town, utcnow
from civic.errors import Forbidden, ValidationError
from tests.integration import test_events_service as events_base
from tests.integration import test_proposals_service as base
from tests.integration.test_proposals_service import ANNA, BO, CIA, CLUB, STAFF, WORKING, submit

proposals_db = base.proposals_db
service = base.service
client = base.client
rpc = base.rpc
town = base.town
events_db = events_base.events_db
organiser = events_base.organiser


def this_month() -> str:
    return to_town(utcnow()).strftime("%Y-%m")


def next_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def test_the_proposals_figures_count_what_was_done_this_month(rpc, town):
    month = this_month()
    rink = submit(rpc, ANNA, title="Isbana i parken")
    submit(rpc, BO, title="Fler bänkar", category="culture")
    rpc.support(BO, rink["id"])
    rpc.support(CIA, rink["id"])
    rpc.add_comment(CIA, rink["id"], {"body": "Bra idé!"})
    rpc.transition(STAFF, rink["id"], {"status": "under_review"})
    rpc.transition(STAFF, rink["id"], {"status": "accepted", "answer": "Kommunen spolar."})
    project = rpc.register_project(
        BO,
        {
            "title": "Isbanan i Stadsparken",
            "description": "Föreningarna spolar och sköter.",
            "lead_group_id": CLUB,
            "partner_group_ids": [],
            "origin_proposal_id": rink["id"],
        },
    )
    rpc.add_partner(BO, project["id"], {"group_id": WORKING})

    figures = rpc.programme_figures(STAFF, month, next_month(month))
    now, later = figures["months"]
    assert now["month"] == month and later["month"] == next_month(month)
    assert now["submitted"] == 2
    assert now["by_status"]["accepted"] == 1 and now["by_status"]["submitted"] == 1
    assert now["by_category"]["leisure"] == 1 and now["by_category"]["culture"] == 1
    assert now["supports"] == 2 and now["comments"] == 1
    assert now["answered"] == 1 and 0 <= now["median_days_to_answer"] < 0.1
    assert now["projects"] == 1 and now["projects_by_status"]["planned"] == 1
    assert now["partners_joined"] == 1  # the lead group is not a partner
    assert set(now["actors"]) == {ANNA["account_id"], BO["account_id"], CIA["account_id"]}
    assert (
        later["submitted"] == 0 and later["actors"] == [] and later["median_days_to_answer"] is None
    )


def test_the_figures_are_for_staff_and_the_period_is_checked(rpc, town):
    month = this_month()
    with pytest.raises(Forbidden):
        rpc.programme_figures(ANNA, month, month)
    for first, last in (("2026-13", "2026-12"), ("2026-05", "2026-04"), ("2020-01", "2026-01")):
        with pytest.raises(ValidationError):
            rpc.programme_figures(STAFF, first, last)
    assert len(rpc.programme_figures(STAFF, "2024-01", "2026-12")["months"]) == 36


def test_the_events_figures_count_events_held_and_check_ins(organiser, client):
    events = client.events
    staff = events_base.actor("Maria", staff=True)
    event = events_base.new_event(events, organiser, 10, starts_in=timedelta(minutes=30))
    cancelled = events_base.new_event(events, organiser, 10, starts_in=timedelta(minutes=40))
    events.cancel_event(organiser, cancelled["id"], {"reason": "Regn"})
    people = [events_base.actor(name) for name in ("Anna", "Bo", "Cia")]
    for person in people:
        events.register(person, event["id"])
    for person in people[:2]:
        events.check_in(organiser, event["id"], {"account_id": person["account_id"]})

    held_in = to_town(utcnow() + timedelta(minutes=30)).strftime("%Y-%m")
    month = this_month()
    figures = {
        row["month"]: row for row in events.programme_figures(staff, month, held_in)["months"]
    }
    assert figures[held_in]["held"] == 1
    assert figures[month]["attendance"] == 2 and figures[month]["registrations"] == 3
    assert set(figures[month]["actors"]) == {p["account_id"] for p in people}
    with pytest.raises(Forbidden):
        events.programme_figures(people[0], month, month)
