"""The lifecycles of proposals and joint projects, as tables.

Every step a proposal or a project may take is one row of a table below: where from,
where to, who may take it, and whether it needs an official answer. Anything not in a
table is refused. The domain asks `check_proposal_step` / `check_project_step` and never
decides a transition with ifs of its own, so the rules can be read (and tested) here.
The statuses themselves are the event contracts' (civic.contracts); the names below
are for reading the tables, and the tests hold them to the contracts' lists.

Plain Python: no database, no nameko.
"""

from __future__ import annotations

from dataclasses import dataclass

from civic.contracts import PROJECT_STATUSES, PROPOSAL_STATUSES
from civic.errors import Conflict, Forbidden, ValidationError

# --- proposals ---------------------------------------------------------------------------

SUBMITTED = "submitted"
UNDER_REVIEW = "under_review"
ACCEPTED = "accepted"
REJECTED = "rejected"
IN_PROGRESS = "in_progress"
DONE = "done"
WITHDRAWN = "withdrawn"

STAFF = "staff"
AUTHOR = "author"


@dataclass(frozen=True)
class Step:
    source: str
    target: str
    by: str  # STAFF or AUTHOR (for projects: the lead's admins or staff)
    needs_answer: bool = False


PROPOSAL_STEPS: dict[tuple[str, str], Step] = {
    (step.source, step.target): step
    for step in (
        Step(SUBMITTED, UNDER_REVIEW, STAFF),
        Step(UNDER_REVIEW, ACCEPTED, STAFF, needs_answer=True),
        Step(UNDER_REVIEW, REJECTED, STAFF, needs_answer=True),
        Step(ACCEPTED, IN_PROGRESS, STAFF),
        Step(IN_PROGRESS, DONE, STAFF),
        # Only the author takes a proposal back, and only before a decision on it.
        Step(SUBMITTED, WITHDRAWN, AUTHOR),
        Step(UNDER_REVIEW, WITHDRAWN, AUTHOR),
    )
}

# Residents may still show support while something can come of the proposal.
SUPPORTABLE = frozenset({SUBMITTED, UNDER_REVIEW, ACCEPTED, IN_PROGRESS})
# A working group can take on a proposal that is still alive.
ASSIGNABLE = frozenset({SUBMITTED, UNDER_REVIEW, ACCEPTED, IN_PROGRESS})


def proposal_targets(source: str, by: str | None = None) -> list[str]:
    """Where a proposal in `source` may go next (by this kind of actor, if given)."""
    return [
        step.target
        for step in PROPOSAL_STEPS.values()
        if step.source == source and (by is None or step.by == by)
    ]


def check_proposal_step(source: str, target: str, by: str, answer: str | None = None) -> Step:
    """The step from `source` to `target` taken by `by` (STAFF or AUTHOR), or an error.

    Conflict: the lifecycle has no such step. Forbidden: it has, but someone else takes
    it. ValidationError (fields.answer): the step needs an official answer and has none,
    or gets one it cannot carry.
    """
    if target not in PROPOSAL_STATUSES:
        raise ValidationError(
            "the input is not valid",
            fields={"status": [f"Must be one of: {', '.join(PROPOSAL_STATUSES)}."]},
        )
    step = PROPOSAL_STEPS.get((source, target))
    if step is None:
        allowed = proposal_targets(source)
        raise Conflict(
            f"a proposal that is {source} cannot become {target}"
            + (f" (it can become: {', '.join(allowed)})" if allowed else " (it is final)")
        )
    if step.by != by:
        raise Forbidden(
            "only the author withdraws a proposal"
            if step.by == AUTHOR
            else "only staff move a proposal on"
        )
    if step.needs_answer and not (answer and answer.strip()):
        raise ValidationError(
            f"a proposal becomes {target} only with an official answer",
            fields={"answer": [f"An answer is required for {target}."]},
        )
    if not step.needs_answer and answer is not None:
        raise ValidationError(
            "only accepted and rejected carry an answer",
            fields={"answer": ["Only accepted and rejected take an answer."]},
        )
    return step


# --- joint projects ----------------------------------------------------------------------

PLANNED = "planned"
ACTIVE = "active"
COMPLETED = "completed"
CANCELLED = "cancelled"

# Who may move a project is decided before (an admin of the lead group, or staff): every
# step is open to both.
PROJECT_STEPS: frozenset[tuple[str, str]] = frozenset(
    {
        (PLANNED, ACTIVE),
        (ACTIVE, COMPLETED),
        (PLANNED, CANCELLED),
        (ACTIVE, CANCELLED),
    }
)
# A finished or cancelled project takes no new partners.
PROJECT_OPEN = frozenset({PLANNED, ACTIVE})


def project_targets(source: str) -> list[str]:
    return [target for target in PROJECT_STATUSES if (source, target) in PROJECT_STEPS]


def check_project_step(source: str, target: str) -> None:
    if target not in PROJECT_STATUSES:
        raise ValidationError(
            "the input is not valid",
            fields={"status": [f"Must be one of: {', '.join(PROJECT_STATUSES)}."]},
        )
    if (source, target) not in PROJECT_STEPS:
        allowed = project_targets(source)
        raise Conflict(
            f"a project that is {source} cannot become {target}"
            + (f" (it can become: {', '.join(allowed)})" if allowed else " (it is final)")
        )
