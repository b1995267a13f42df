"""The lifecycle tables of proposals and joint projects: every pair of statuses, allowed
or refused, for every kind of actor. No database, no broker."""

import itertools

import pytest

from civic.contracts import PROJECT_STATUSES, PROPOSAL_STATUSES
from civic.errors import Conflict, Forbidden, ValidationError
from services.proposals import lifecycle
from services.proposals.lifecycle import (
    ACCEPTED,
    ACTIVE,
    AUTHOR,
    CANCELLED,
    COMPLETED,
    DONE,
    IN_PROGRESS,
    PLANNED,
    REJECTED,
    STAFF,
    SUBMITTED,
    UNDER_REVIEW,
    WITHDRAWN,
)

# API.md's lifecycle, written out independently of the table under test.
PROPOSAL_ALLOWED = {
    (SUBMITTED, UNDER_REVIEW): STAFF,
    (UNDER_REVIEW, ACCEPTED): STAFF,
    (UNDER_REVIEW, REJECTED): STAFF,
    (ACCEPTED, IN_PROGRESS): STAFF,
    (IN_PROGRESS, DONE): STAFF,
    (SUBMITTED, WITHDRAWN): AUTHOR,
    (UNDER_REVIEW, WITHDRAWN): AUTHOR,
}
NEEDS_ANSWER = {ACCEPTED, REJECTED}
PROJECT_ALLOWED = {
    (PLANNED, ACTIVE),
    (ACTIVE, COMPLETED),
    (PLANNED, CANCELLED),
    (ACTIVE, CANCELLED),
}

ALL_PROPOSAL_PAIRS = list(itertools.product(PROPOSAL_STATUSES, repeat=2))
ALL_PROJECT_PAIRS = list(itertools.product(PROJECT_STATUSES, repeat=2))


def answer_for(target):
    return "Tack! Kommunen ordnar det." if target in NEEDS_ANSWER else None


def test_the_named_statuses_are_exactly_the_contracts_statuses():
    # The lifecycle names the statuses civic.contracts defines once, and no others.
    assert (
        SUBMITTED,
        UNDER_REVIEW,
        ACCEPTED,
        REJECTED,
        IN_PROGRESS,
        DONE,
        WITHDRAWN,
    ) == PROPOSAL_STATUSES
    assert (PLANNED, ACTIVE, COMPLETED, CANCELLED) == PROJECT_STATUSES
    assert lifecycle.PROPOSAL_STATUSES is PROPOSAL_STATUSES
    assert lifecycle.PROJECT_STATUSES is PROJECT_STATUSES


def test_the_table_is_exactly_the_documented_lifecycle():
    assert {pair: step.by for pair, step in lifecycle.PROPOSAL_STEPS.items()} == PROPOSAL_ALLOWED
    assert {pair for pair, step in lifecycle.PROPOSAL_STEPS.items() if step.needs_answer} == {
        (UNDER_REVIEW, ACCEPTED),
        (UNDER_REVIEW, REJECTED),
    }
    assert set(lifecycle.PROJECT_STEPS) == PROJECT_ALLOWED
    assert len(ALL_PROPOSAL_PAIRS) == 49 and len(ALL_PROJECT_PAIRS) == 16


@pytest.mark.parametrize("source, target", ALL_PROPOSAL_PAIRS)
@pytest.mark.parametrize("by", [STAFF, AUTHOR])
def test_every_proposal_pair_for_every_actor(source, target, by):
    allowed_for = PROPOSAL_ALLOWED.get((source, target))
    if allowed_for is None:
        with pytest.raises(Conflict) as caught:
            lifecycle.check_proposal_step(source, target, by, answer_for(target))
        assert f"{source} cannot become {target}" in caught.value.message
    elif allowed_for != by:
        with pytest.raises(Forbidden):
            lifecycle.check_proposal_step(source, target, by, answer_for(target))
    else:
        step = lifecycle.check_proposal_step(source, target, by, answer_for(target))
        assert (step.source, step.target, step.by) == (source, target, by)
        assert step.needs_answer == (target in NEEDS_ANSWER)


@pytest.mark.parametrize("target", [ACCEPTED, REJECTED])
@pytest.mark.parametrize("answer", [None, "", "   "])
def test_accepting_or_rejecting_needs_an_answer(target, answer):
    with pytest.raises(ValidationError) as caught:
        lifecycle.check_proposal_step(UNDER_REVIEW, target, STAFF, answer)
    assert "answer" in caught.value.fields


@pytest.mark.parametrize(
    "source, target", [(SUBMITTED, UNDER_REVIEW), (ACCEPTED, IN_PROGRESS), (IN_PROGRESS, DONE)]
)
def test_steps_without_a_decision_take_no_answer(source, target):
    with pytest.raises(ValidationError) as caught:
        lifecycle.check_proposal_step(source, target, STAFF, "an answer out of place")
    assert "answer" in caught.value.fields


def test_the_lifecycle_is_judged_before_the_answer():
    # A forbidden step is a conflict, whatever answer comes with it.
    with pytest.raises(Conflict):
        lifecycle.check_proposal_step(SUBMITTED, ACCEPTED, STAFF, None)
    with pytest.raises(Conflict):
        lifecycle.check_proposal_step(DONE, REJECTED, STAFF, "Nej.")


def test_an_unknown_status_is_invalid_input_not_a_conflict():
    with pytest.raises(ValidationError) as caught:
        lifecycle.check_proposal_step(SUBMITTED, "archived", STAFF)
    assert "status" in caught.value.fields
    with pytest.raises(ValidationError):
        lifecycle.check_project_step(PLANNED, "paused")


def test_final_statuses_lead_nowhere():
    for final in (REJECTED, DONE, WITHDRAWN):
        assert lifecycle.proposal_targets(final) == []
    assert lifecycle.proposal_targets(UNDER_REVIEW, by=STAFF) == [ACCEPTED, REJECTED]
    assert lifecycle.proposal_targets(UNDER_REVIEW, by=AUTHOR) == [WITHDRAWN]
    assert lifecycle.project_targets(COMPLETED) == lifecycle.project_targets(CANCELLED) == []


@pytest.mark.parametrize("source, target", ALL_PROJECT_PAIRS)
def test_every_project_pair(source, target):
    if (source, target) in PROJECT_ALLOWED:
        assert lifecycle.check_project_step(source, target) is None
    else:
        with pytest.raises(Conflict) as caught:
            lifecycle.check_project_step(source, target)
        assert f"{source} cannot become {target}" in caught.value.message


def test_support_and_assignment_only_while_something_can_come_of_it():
    assert lifecycle.SUPPORTABLE == {SUBMITTED, UNDER_REVIEW, ACCEPTED, IN_PROGRESS}
    assert lifecycle.ASSIGNABLE == {SUBMITTED, UNDER_REVIEW, ACCEPTED, IN_PROGRESS}
    assert lifecycle.PROJECT_OPEN == {PLANNED, ACTIVE}
