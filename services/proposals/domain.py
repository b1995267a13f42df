"""The rules of proposals and joint projects, as plain functions.

Each function takes a unit of work that is already entered (`uow.session` is a
SQLAlchemy session, `uow.publish` writes an event to the outbox in the same
transaction), the caller's actor (`{account_id, is_staff, display_name}` checked by
civic.validation.load_actor, or None for an anonymous reader) and values validated by
api.py, and returns data (times as datetimes), which service.py dumps with api.py's
schemas. A broken rule raises a civic error; the caller's `with` block then rolls
everything back, so a refused request changes nothing and publishes nothing. Every
change publishes exactly one event. Names and group admins come from the read models
of groups' facts (models.group_facts, civic.readmodels).

Where counts must stay right under concurrent requests (supports, reports), the
proposal's row is locked first (`SELECT … FOR UPDATE` on PostgreSQL; SQLite serialises
writers anyway) and the counters move by atomic `count = count ± 1` updates.
"""

from __future__ import annotations

import secrets

from sqlalchemy import delete, exists, func, or_, select, update

from civic import prebuilt
from civic.clock import iso
from civic.db import flush_unique, new_id, paginate, utcnow
from civic.errors import Conflict, Forbidden, NotFound, ValidationError
from services.proposals import lifecycle
from services.proposals.api import (
    REFERENCE_ALPHABET,
    REFERENCE_LENGTH,
    REFERENCE_PREFIX,
    normal_reference,
)
from services.proposals.lifecycle import AUTHOR, STAFF
from services.proposals.models import (
    Comment,
    CommentReport,
    Project,
    ProjectPartner,
    ProjectStep,
    Proposal,
    ProposalStep,
    Report,
    Support,
    group_facts,
)

# Reports from this many different accounts hide a proposal until staff review it.
HIDE_AFTER_REPORTS = 3
WORKING_GROUP = "working_group"
MAX_SEARCH_WORDS = 10
# The name shown beside what an erased account wrote.
FORMER_RESIDENT = "former resident"


# --- the actor ---------------------------------------------------------------------------


def _is_staff(actor: dict | None) -> bool:
    return bool(actor and actor.get("is_staff"))


def _me(actor: dict | None) -> str | None:
    return actor["account_id"] if actor else None


def _require_staff(actor: dict, doing: str) -> None:
    if not _is_staff(actor):
        raise Forbidden(f"only staff {doing}")


def search_text(title: str, body: str) -> str:
    return f"{title}\n{body}".casefold()


def search_words(q: str | None) -> list[str]:
    """The words all of which a listed proposal must contain (case folded)."""
    if not q:
        return []
    return q.casefold().split()[:MAX_SEARCH_WORDS]


def new_reference() -> str:
    """A fresh short reference, e.g. JKM-7F3K2 (31^5: about 28 million)."""
    return REFERENCE_PREFIX + "".join(
        secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH)
    )


REFERENCE_TRIES = 20


def _unused_reference(session) -> str:
    """A reference no proposal has yet; the unique index refuses the rare one two
    requests drew at the same moment (a Conflict, and the request can be sent again)."""
    for _ in range(REFERENCE_TRIES):
        reference = new_reference()
        # Every filing asks: a statement built once (issue 14).
        taken = session.execute(
            prebuilt.row_with(Proposal.__table__, "reference"), {"reference": reference}
        ).first()
        if not taken:
            return reference
    raise Conflict("no free reference was found; try again")


# --- lookups -----------------------------------------------------------------------------


def _proposal(session, proposal_id: str, actor: dict | None, *, lock: bool = False) -> Proposal:
    """The proposal as this actor may see it: a hidden one exists for staff only."""
    query = select(Proposal).where(Proposal.id == proposal_id)
    if lock:
        query = query.with_for_update()
    proposal = session.execute(query).scalar_one_or_none()
    if proposal is None or (proposal.hidden and not _is_staff(actor)):
        raise NotFound("no such proposal")
    return proposal


def _changeable(proposal: Proposal) -> None:
    """A merged duplicate or a removed proposal takes no more changes."""
    if proposal.merged_into_id is not None:
        raise Conflict(f"this proposal was merged into {proposal.merged_into_id}")
    if proposal.removed:
        raise Conflict("this proposal was removed")


def _project(session, project_id: str, *, lock: bool = False) -> Project:
    query = select(Project).where(Project.id == project_id)
    if lock:
        query = query.with_for_update()
    project = session.execute(query).scalar_one_or_none()
    if project is None:
        raise NotFound("no such project")
    return project


def _known_group(session, group_id: str, field: str):
    group = group_facts.group(session, group_id)
    if group is None:
        raise ValidationError("the input is not valid", fields={field: ["No such group."]})
    return group


def _author_names(session, account_ids) -> dict[str | None, str | None]:
    """The names to show beside what these accounts wrote: the display name, "former
    resident" once erased (and for None: erasure took the author's id off what they
    wrote); an account not known here yet is left out (None)."""
    return {
        None: FORMER_RESIDENT,
        **group_facts.display_names(session, account_ids, erased_as=FORMER_RESIDENT),
    }


# --- views -------------------------------------------------------------------------------


def _proposal_views(
    session,
    proposals: list[Proposal],
    actor: dict | None,
    *,
    full: bool,
    filed_with: list[ProposalStep] | None = None,
) -> list[dict]:
    """Proposals as this actor sees them, in a handful of queries for the whole list.

    `full` adds comments and history (and, for staff, the reports): for one proposal,
    not for lists. `filed_with`: proposals filed in this transaction, with the steps of
    their history so far — nobody can have supported, commented, reported or made a
    project of them yet, and their history is those steps: the queries are left out (a
    third of filing one's time, issue 14).
    """
    if not proposals:
        return []
    new = filed_with is not None
    ids = [proposal.id for proposal in proposals]
    staff, me = _is_staff(actor), _me(actor)
    supported: set[str] = set()
    if me and not new:
        supported = set(
            session.execute(
                select(Support.proposal_id).where(
                    Support.proposal_id.in_(ids), Support.account_id == me
                )
            ).scalars()
        )
    project_ids: dict[str, list[str]] = {pid: [] for pid in ids}
    if not new:
        for origin_id, project_id in session.execute(
            select(Project.origin_proposal_id, Project.id)
            .where(Project.origin_proposal_id.in_(ids))
            .order_by(Project.created_at, Project.id)
        ):
            project_ids[origin_id].append(project_id)
    comments: dict[str, list[Comment]] = {pid: [] for pid in ids}
    history: dict[str, list[ProposalStep]] = {pid: [] for pid in ids}
    reports: dict[str, list[Report]] = {pid: [] for pid in ids}
    if full and not new:
        query = select(Comment).where(Comment.proposal_id.in_(ids))
        if not staff:
            # A hidden comment is shown to staff only (until they show it again).
            query = query.where(Comment.hidden.is_(False))
        for comment in session.execute(query.order_by(Comment.created_at, Comment.id)).scalars():
            comments[comment.proposal_id].append(comment)
    if full:
        steps = filed_with
        if steps is None:
            steps = session.execute(
                select(ProposalStep)
                .where(ProposalStep.proposal_id.in_(ids))
                .order_by(ProposalStep.at, ProposalStep.id)
            ).scalars()
        for step in steps:
            history[step.proposal_id].append(step)
        if staff and not new:
            for report in session.execute(
                select(Report)
                .where(Report.proposal_id.in_(ids))
                .order_by(Report.created_at, Report.id)
            ).scalars():
                reports[report.proposal_id].append(report)
    names = _author_names(
        session,
        [p.author_id for p in proposals]
        + [c.author_id for found in comments.values() for c in found],
    )
    group_names = group_facts.group_names(session, [p.assigned_group_id for p in proposals])

    views = []
    for proposal in proposals:
        view = {
            "id": proposal.id,
            "reference": proposal.reference,
            "title": proposal.title,
            "body": proposal.body,
            "category": proposal.category,
            "status": proposal.status,
            "author_id": proposal.author_id,
            "author_name": names.get(proposal.author_id),
            "channel": proposal.channel,
            "location": None
            if proposal.location_name is None
            else {
                "name": proposal.location_name,
                "lat": proposal.location_lat,
                "lon": proposal.location_lon,
            },
            "support_count": proposal.support_count,
            "supported_by_me": proposal.id in supported,
            "answer": None
            if proposal.answer_body is None
            else {
                "body": proposal.answer_body,
                "answered_by": proposal.answered_by,
                "answered_at": proposal.answered_at,
            },
            "assigned_group_id": proposal.assigned_group_id,
            "assigned_group_name": group_names.get(proposal.assigned_group_id),
            "project_ids": project_ids[proposal.id],
            "merged_into_id": proposal.merged_into_id,
            "hidden": proposal.hidden,
            "created_at": proposal.created_at,
            "updated_at": proposal.updated_at,
        }
        if full:
            view["comments"] = [_comment_view(c, names, staff=staff) for c in comments[proposal.id]]
            view["history"] = [_step_view(step) for step in history[proposal.id]]
        if staff:
            view["report_count"] = proposal.report_count
            view["removed"] = proposal.removed
            view["contact"] = proposal.contact
            view["visitor_name"] = proposal.visitor_name
            view["moderation_reason"] = proposal.moderation_reason
            view["moderated_at"] = proposal.moderated_at
            if full:
                view["reports"] = [
                    {"reason": r.reason, "created_at": r.created_at} for r in reports[proposal.id]
                ]
        views.append(view)
    return views


def _proposal_view(
    session, proposal: Proposal, actor: dict | None, *, filed_with: list | None = None
) -> dict:
    return _proposal_views(session, [proposal], actor, full=True, filed_with=filed_with)[0]


def _comment_view(comment: Comment, names: dict, *, staff: bool = False, reports=None) -> dict:
    view = {
        "id": comment.id,
        "author_id": comment.author_id,
        "author_name": names.get(comment.author_id),
        "body": comment.body,
        "created_at": comment.created_at,
    }
    if staff:
        view["hidden"] = comment.hidden
        view["report_count"] = comment.report_count
        view["moderation_reason"] = comment.moderation_reason
        view["moderated_at"] = comment.moderated_at
    if reports is not None:
        view["reports"] = [{"reason": r.reason, "created_at": r.created_at} for r in reports]
    return view


def _step_view(step: ProposalStep) -> dict:
    view = {
        "from_status": step.from_status,
        "to_status": step.to_status,
        "actor_id": step.actor_id,
        "at": step.at,
    }
    if step.answer is not None:
        view["answer"] = step.answer
    return view


def _project_views(session, projects: list[Project]) -> list[dict]:
    if not projects:
        return []
    ids = [project.id for project in projects]
    partners: dict[str, list[str]] = {pid: [] for pid in ids}
    for project_id, group_id in session.execute(
        select(ProjectPartner.project_id, ProjectPartner.group_id)
        .where(ProjectPartner.project_id.in_(ids))
        .order_by(ProjectPartner.added_at, ProjectPartner.group_id)
    ):
        partners[project_id].append(group_id)
    history: dict[str, list[ProjectStep]] = {pid: [] for pid in ids}
    for step in session.execute(
        select(ProjectStep)
        .where(ProjectStep.project_id.in_(ids))
        .order_by(ProjectStep.at, ProjectStep.id)
    ).scalars():
        history[step.project_id].append(step)
    names = group_facts.group_names(session, [project.lead_group_id for project in projects])
    return [
        {
            "id": project.id,
            "title": project.title,
            "description": project.description,
            "status": project.status,
            "lead_group_id": project.lead_group_id,
            "lead_group_name": names.get(project.lead_group_id),
            "partner_group_ids": partners[project.id],
            "origin_proposal_id": project.origin_proposal_id,
            "history": [
                {
                    "from_status": s.from_status,
                    "to_status": s.to_status,
                    "actor_id": s.actor_id,
                    "at": s.at,
                }
                for s in history[project.id]
            ],
            "created_by": project.created_by,
            "created_at": project.created_at,
            "updated_at": project.updated_at,
        }
        for project in projects
    ]


def _ref(proposal: Proposal) -> dict:
    """What every proposal event carries."""
    return {"proposal_id": proposal.id, "title": proposal.title, "author_id": proposal.author_id}


# --- proposals: reading ------------------------------------------------------------------


def list_proposals(
    uow, actor, status=None, category=None, q=None, sort="newest", page=1, per_page=20
) -> dict:
    """Listed proposals: never hidden ones, nor duplicates merged into another."""
    session = uow.session
    query = select(Proposal).where(Proposal.hidden.is_(False), Proposal.merged_into_id.is_(None))
    if status is not None:
        query = query.where(Proposal.status == status)
    if category is not None:
        query = query.where(Proposal.category == category)
    for word in search_words(q):
        query = query.where(Proposal.search_text.contains(word, autoescape=True))
    if sort == "supports":
        order = (Proposal.support_count.desc(), Proposal.created_at.desc(), Proposal.id.desc())
    elif sort == "waiting":
        order = (Proposal.created_at.asc(), Proposal.id.asc())
    else:
        order = (Proposal.created_at.desc(), Proposal.id.desc())
    items, total = paginate(session, query.order_by(*order), page, per_page)
    return {
        "items": _proposal_views(session, items, actor, full=False),
        "total": total,
        "page": page,
        "per_page": per_page,
    }


def get_proposal(uow, actor, proposal_id: str) -> dict:
    session = uow.session
    return _proposal_view(session, _proposal(session, proposal_id, actor), actor)


def find_proposal(uow, actor, reference: str) -> dict:
    """The proposal with this short reference (as typed: any case, with or without its
    prefix); a hidden one exists for staff only."""
    session = uow.session
    found = session.execute(
        select(Proposal.id).where(Proposal.reference == normal_reference(reference))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("no proposal has this reference")
    return _proposal_view(session, _proposal(session, found, actor), actor)


def moderation_queue(uow, actor, page=1, per_page=20) -> dict:
    """What staff review: proposals that are reported or hidden (not those removed for
    good, nor merged duplicates), hidden ones first, then the most reported, then the
    longest waiting; each with its reports."""
    session = uow.session
    _require_staff(actor, "review reported proposals")
    query = (
        select(Proposal)
        .where(
            or_(Proposal.report_count > 0, Proposal.hidden.is_(True)),
            Proposal.removed.is_(False),
            Proposal.merged_into_id.is_(None),
        )
        .order_by(
            Proposal.hidden.desc(),
            Proposal.report_count.desc(),
            Proposal.updated_at.asc(),
            Proposal.id.asc(),
        )
    )
    items, total = paginate(session, query, page, per_page)
    return {
        "items": _proposal_views(session, items, actor, full=True),
        "total": total,
        "page": page,
        "per_page": per_page,
    }


def comment_moderation_queue(uow, actor, page=1, per_page=20) -> dict:
    """The comments staff review: reported or hidden ones (not on a proposal removed
    for good), hidden ones first, then the most reported, then the oldest; each with its
    reports and the proposal it is on."""
    session = uow.session
    _require_staff(actor, "review reported comments")
    query = (
        select(Comment)
        .join(Proposal, Proposal.id == Comment.proposal_id)
        .where(
            or_(Comment.report_count > 0, Comment.hidden.is_(True)),
            Proposal.removed.is_(False),
        )
        .order_by(
            Comment.hidden.desc(),
            Comment.report_count.desc(),
            Comment.created_at.asc(),
            Comment.id.asc(),
        )
    )
    items, total = paginate(session, query, page, per_page)
    ids = [comment.id for comment in items]
    reports: dict[str, list[CommentReport]] = {comment_id: [] for comment_id in ids}
    if ids:
        for found in session.execute(
            select(CommentReport)
            .where(CommentReport.comment_id.in_(ids))
            .order_by(CommentReport.created_at, CommentReport.id)
        ).scalars():
            reports[found.comment_id].append(found)
    proposals = {
        p.id: p
        for p in session.execute(
            select(Proposal).where(Proposal.id.in_({c.proposal_id for c in items}))
        ).scalars()
    }
    names = _author_names(session, [c.author_id for c in items])
    views = []
    for comment in items:
        view = _comment_view(comment, names, staff=True, reports=reports[comment.id])
        proposal = proposals[comment.proposal_id]
        view["proposal"] = {
            "id": proposal.id,
            "title": proposal.title,
            "reference": proposal.reference,
            "hidden": proposal.hidden,
        }
        views.append(view)
    return {"items": views, "total": total, "page": page, "per_page": per_page}


# --- proposals: residents ----------------------------------------------------------------


def submit_proposal(
    uow,
    actor,
    title: str,
    body: str,
    category: str,
    location=None,
    channel: str = "online",
    contact: str | None = None,
    visitor_name: str | None = None,
) -> dict:
    session = uow.session
    if channel != "online":
        _require_staff(actor, "file drop-in and town-hall proposals")
    now = utcnow()
    proposal = Proposal(
        id=new_id(),
        reference=_unused_reference(session),
        title=title,
        body=body,
        search_text=search_text(title, body),
        category=category,
        status=lifecycle.SUBMITTED,
        author_id=_me(actor),
        channel=channel,
        contact=contact,
        visitor_name=visitor_name,
        location_name=location["name"] if location else None,
        location_lat=location.get("lat") if location else None,
        location_lon=location.get("lon") if location else None,
        support_count=0,
        report_count=0,
        hidden=False,
        removed=False,
        created_at=now,
        updated_at=now,
    )
    first_step = ProposalStep(
        id=new_id(),
        proposal_id=proposal.id,
        from_status=None,
        to_status=lifecycle.SUBMITTED,
        actor_id=_me(actor),
        at=now,
    )
    session.add_all([proposal, first_step])
    flush_unique(session, "that reference was just taken; send the proposal again")
    uow.publish(
        "proposal_submitted",
        {**_ref(proposal), "category": category, "channel": channel, "status": proposal.status},
        actor_id=_me(actor),
    )
    return _proposal_view(session, proposal, actor, filed_with=[first_step])


def support(uow, actor, proposal_id: str) -> dict:
    session = uow.session
    me = _me(actor)
    proposal = _proposal(session, proposal_id, actor, lock=True)
    _changeable(proposal)
    if proposal.status not in lifecycle.SUPPORTABLE:
        raise Conflict(f"a proposal that is {proposal.status} takes no more support")
    already = session.execute(
        select(Support.id).where(Support.proposal_id == proposal.id, Support.account_id == me)
    ).first()
    if already:
        raise Conflict("you support this proposal already")
    session.add(Support(id=new_id(), proposal_id=proposal.id, account_id=me, created_at=utcnow()))
    flush_unique(session, "you support this proposal already")
    proposal.support_count = Proposal.support_count + 1
    session.flush()
    count = proposal.support_count  # read back: the value the UPDATE left
    uow.publish(
        "proposal_supported",
        {**_ref(proposal), "account_id": me, "support_count": count},
        actor_id=me,
    )
    return {"proposal_id": proposal.id, "support_count": count}


def withdraw_support(uow, actor, proposal_id: str) -> None:
    session = uow.session
    me = _me(actor)
    proposal = _proposal(session, proposal_id, actor, lock=True)
    removed = session.execute(
        delete(Support).where(Support.proposal_id == proposal.id, Support.account_id == me)
    ).rowcount
    if not removed:
        raise NotFound("you do not support this proposal")
    proposal.support_count = Proposal.support_count - 1
    session.flush()
    uow.publish(
        "proposal_support_withdrawn",
        {**_ref(proposal), "account_id": me, "support_count": proposal.support_count},
        actor_id=me,
    )
    return None


def add_comment(uow, actor, proposal_id: str, body: str) -> dict:
    session = uow.session
    me = _me(actor)
    proposal = _proposal(session, proposal_id, actor)
    _changeable(proposal)
    comment = Comment(
        id=new_id(), proposal_id=proposal.id, author_id=me, body=body, created_at=utcnow()
    )
    session.add(comment)
    session.flush()
    uow.publish(
        "comment_added",
        {
            **_ref(proposal),
            "comment_id": comment.id,
            "comment_author_id": me,
            "assigned_group_id": proposal.assigned_group_id,
        },
        actor_id=me,
    )
    return _comment_view(comment, _author_names(session, [me]))


def withdraw(uow, actor, proposal_id: str) -> dict:
    session = uow.session
    proposal = _proposal(session, proposal_id, actor, lock=True)
    if proposal.author_id != _me(actor):
        raise Forbidden("only its author withdraws a proposal")
    _changeable(proposal)
    step = lifecycle.check_proposal_step(proposal.status, lifecycle.WITHDRAWN, AUTHOR)
    _take_step(uow, proposal, step, _me(actor))
    return _proposal_view(session, proposal, actor)


def report(uow, actor, proposal_id: str, reason: str) -> dict:
    session = uow.session
    me = _me(actor)
    proposal = _proposal(session, proposal_id, actor, lock=True)
    _changeable(proposal)
    already = session.execute(
        select(Report.id).where(Report.proposal_id == proposal.id, Report.reporter_id == me)
    ).first()
    if already:
        raise Conflict("you reported this proposal already")
    session.add(
        Report(
            id=new_id(), proposal_id=proposal.id, reporter_id=me, reason=reason, created_at=utcnow()
        )
    )
    flush_unique(session, "you reported this proposal already")
    proposal.report_count = Proposal.report_count + 1
    session.flush()
    count = proposal.report_count
    # One report per account (the unique pair), so the count is of different accounts.
    if not proposal.hidden and count >= HIDE_AFTER_REPORTS:
        proposal.hidden = True
        uow.publish(
            "proposal_hidden",
            {**_ref(proposal), "report_count": count, "hidden_by": "reports"},
            actor_id=me,
        )
    else:
        uow.publish("proposal_reported", {**_ref(proposal), "report_count": count}, actor_id=me)
    return {"proposal_id": proposal.id, "report_count": count, "hidden": proposal.hidden}


def _comment(session, proposal: Proposal, comment_id: str, actor: dict | None) -> Comment:
    """The proposal's comment as this actor may see it: a hidden one exists for staff
    only. Its proposal's row is locked already (the caller's), so counts stay right."""
    comment = session.execute(
        select(Comment).where(Comment.id == comment_id, Comment.proposal_id == proposal.id)
    ).scalar_one_or_none()
    if comment is None or (comment.hidden and not _is_staff(actor)):
        raise NotFound("no such comment")
    return comment


def _comment_ref(proposal: Proposal, comment: Comment) -> dict:
    """What every comment moderation event carries."""
    return {**_ref(proposal), "comment_id": comment.id, "comment_author_id": comment.author_id}


def report_comment(uow, actor, proposal_id: str, comment_id: str, reason: str) -> dict:
    """Report a comment for review, as a proposal is reported: once per account, and the
    report that makes HIDE_AFTER_REPORTS hides it until staff review it."""
    session = uow.session
    me = _me(actor)
    proposal = _proposal(session, proposal_id, actor, lock=True)
    if proposal.removed:
        raise Conflict("this proposal was removed")
    comment = _comment(session, proposal, comment_id, actor)
    already = session.execute(
        select(CommentReport.id).where(
            CommentReport.comment_id == comment.id, CommentReport.reporter_id == me
        )
    ).first()
    if already:
        raise Conflict("you reported this comment already")
    session.add(
        CommentReport(
            id=new_id(), comment_id=comment.id, reporter_id=me, reason=reason, created_at=utcnow()
        )
    )
    flush_unique(session, "you reported this comment already")
    comment.report_count = Comment.report_count + 1
    session.flush()
    count = comment.report_count
    data = {**_comment_ref(proposal, comment), "report_count": count}
    if not comment.hidden and count >= HIDE_AFTER_REPORTS:
        comment.hidden = True
        uow.publish("comment_hidden", {**data, "hidden_by": "reports"}, actor_id=me)
    else:
        uow.publish("comment_reported", data, actor_id=me)
    return {
        "proposal_id": proposal.id,
        "comment_id": comment.id,
        "report_count": count,
        "hidden": comment.hidden,
    }


def moderate_comment(
    uow, actor, proposal_id: str, comment_id: str, action: str, reason: str | None = None
) -> dict:
    """`hide` hides a comment until staff decide; `restore` shows a hidden comment again
    and clears its reports. The reason is kept with the comment for staff (events carry
    no texts); the comment's author is told (the notifications service's rules)."""
    session = uow.session
    _require_staff(actor, "review reported comments")
    proposal = _proposal(session, proposal_id, actor, lock=True)
    comment = _comment(session, proposal, comment_id, actor)
    data = _comment_ref(proposal, comment)
    if action == "hide":
        if comment.hidden:
            raise Conflict("this comment is hidden already")
        comment.hidden = True
        event = "comment_hidden"
        data = {**data, "report_count": comment.report_count, "hidden_by": "staff"}
    else:
        if not comment.hidden:
            raise Conflict("this comment is not hidden")
        session.execute(delete(CommentReport).where(CommentReport.comment_id == comment.id))
        comment.hidden, comment.report_count = False, 0
        event = "comment_restored"
    now = utcnow()
    if reason is not None:
        comment.moderation_reason, comment.moderated_at = reason, now
    uow.publish(event, data, actor_id=_me(actor))
    session.flush()
    return _comment_view(comment, _author_names(session, [comment.author_id]), staff=True)


# --- proposals: staff --------------------------------------------------------------------


def _take_step(
    uow, proposal: Proposal, step: lifecycle.Step, actor_id: str, answer: str | None = None
) -> None:
    """Move the proposal, write its history, and publish the one event of the step."""
    now = utcnow()
    source = proposal.status
    proposal.status = step.target
    proposal.updated_at = now
    if step.needs_answer:
        proposal.answer_body = answer
        proposal.answered_by, proposal.answered_at = actor_id, now
    uow.session.add(
        ProposalStep(
            id=new_id(),
            proposal_id=proposal.id,
            from_status=source,
            to_status=step.target,
            actor_id=actor_id,
            answer=answer if step.needs_answer else None,
            at=now,
        )
    )
    data = {
        **_ref(proposal),
        "from_status": source,
        "to_status": step.target,
        "assigned_group_id": proposal.assigned_group_id,
    }
    if step.needs_answer:
        uow.publish(
            "proposal_answered",
            {**data, "answer": answer, "answered_by": actor_id},
            actor_id=actor_id,
        )
    else:
        uow.publish("proposal_status_changed", data, actor_id=actor_id)


def transition(uow, actor, proposal_id: str, status: str, answer: str | None = None) -> dict:
    session = uow.session
    _require_staff(actor, "move a proposal on")
    proposal = _proposal(session, proposal_id, actor, lock=True)
    _changeable(proposal)
    step = lifecycle.check_proposal_step(proposal.status, status, STAFF, answer)
    _take_step(uow, proposal, step, _me(actor), answer)
    return _proposal_view(session, proposal, actor)


def assign(uow, actor, proposal_id: str, group_id: str) -> dict:
    session = uow.session
    _require_staff(actor, "assign proposals to working groups")
    proposal = _proposal(session, proposal_id, actor, lock=True)
    _changeable(proposal)
    group = group_facts.group(session, group_id)
    if group is None or group.kind != WORKING_GROUP:
        raise ValidationError(
            "the input is not valid", fields={"group_id": ["Not a known working group."]}
        )
    if proposal.status not in lifecycle.ASSIGNABLE:
        raise Conflict(f"a proposal that is {proposal.status} is not taken on any more")
    if proposal.assigned_group_id == group.group_id:
        raise Conflict("the proposal is assigned to this group already")
    previous = proposal.assigned_group_id
    proposal.assigned_group_id = group.group_id
    proposal.updated_at = utcnow()
    uow.publish(
        "proposal_assigned",
        {
            **_ref(proposal),
            "group_id": group.group_id,
            "group_name": group.name,
            "previous_group_id": previous,
        },
        actor_id=_me(actor),
    )
    return _proposal_view(session, proposal, actor)


def moderate(uow, actor, proposal_id: str, action: str, reason: str | None = None) -> dict:
    """`hide` hides a proposal until staff decide; `restore` shows a hidden proposal
    again and clears its reports; `remove` hides it for good (its status stays as it
    was). The reason is kept with the proposal for staff (events carry no texts)."""
    session = uow.session
    _require_staff(actor, "review reported proposals")
    proposal = _proposal(session, proposal_id, actor, lock=True)
    if proposal.removed:
        raise Conflict("this proposal was removed for good")
    data = _ref(proposal)
    if action == "hide":
        if proposal.hidden:
            raise Conflict("this proposal is hidden already")
        proposal.hidden = True
        event = "proposal_hidden"
        data = {**data, "report_count": proposal.report_count, "hidden_by": "staff"}
    elif action == "restore":
        if not proposal.hidden:
            raise Conflict("this proposal is not hidden")
        session.execute(delete(Report).where(Report.proposal_id == proposal.id))
        proposal.hidden, proposal.report_count = False, 0
        event = "proposal_restored"
    else:
        proposal.hidden, proposal.removed = True, True
        event = "proposal_removed"
    now = utcnow()
    proposal.updated_at = now
    if reason is not None:
        proposal.moderation_reason, proposal.moderated_at = reason, now
    uow.publish(event, data, actor_id=_me(actor))
    return _proposal_view(session, proposal, actor)


def merge(uow, actor, proposal_id: str, into_id: str) -> dict:
    """Merge a duplicate into the surviving proposal; answers the survivor.

    An account that supported both keeps one support on the survivor; the others move
    over (erased accounts' supports included), so the survivor's count is recounted.
    """
    session = uow.session
    _require_staff(actor, "merge proposals")
    if into_id == proposal_id:
        raise ValidationError(
            "the input is not valid", fields={"into_id": ["A proposal is not merged into itself."]}
        )
    # Both rows locked, always in the same order, so two merges cannot deadlock.
    locked = {
        p.id: p
        for p in session.execute(
            select(Proposal)
            .where(Proposal.id.in_([proposal_id, into_id]))
            .order_by(Proposal.id)
            .with_for_update()
        ).scalars()
    }
    duplicate, survivor = locked.get(proposal_id), locked.get(into_id)
    if duplicate is None:
        raise NotFound("no such proposal")
    if survivor is None:
        raise ValidationError("the input is not valid", fields={"into_id": ["No such proposal."]})
    _changeable(duplicate)
    if survivor.merged_into_id is not None:
        raise Conflict("the proposal to merge into was itself merged into another")
    if survivor.removed:
        raise Conflict("the proposal to merge into was removed")
    twins = select(Support.account_id).where(
        Support.proposal_id == survivor.id, Support.account_id.is_not(None)
    )
    session.execute(
        delete(Support).where(Support.proposal_id == duplicate.id, Support.account_id.in_(twins))
    )
    session.execute(
        update(Support).where(Support.proposal_id == duplicate.id).values(proposal_id=survivor.id)
    )
    now = utcnow()
    survivor.support_count = session.execute(
        select(func.count()).select_from(Support).where(Support.proposal_id == survivor.id)
    ).scalar_one()
    duplicate.support_count = 0
    duplicate.merged_into_id = survivor.id
    duplicate.updated_at = survivor.updated_at = now
    session.flush()
    uow.publish(
        "proposal_merged",
        {
            **_ref(duplicate),
            "into_id": survivor.id,
            "into_title": survivor.title,
            "into_author_id": survivor.author_id,
            "support_count": survivor.support_count,
        },
        actor_id=_me(actor),
    )
    return _proposal_view(session, survivor, actor)


# --- joint projects ----------------------------------------------------------------------


def _may_run(session, project_lead_id: str, actor: dict) -> bool:
    return _is_staff(actor) or group_facts.is_group_admin(session, project_lead_id, _me(actor))


def list_projects(uow, actor, status=None, group_id=None, page=1, per_page=20) -> dict:
    session = uow.session
    query = select(Project)
    if status is not None:
        query = query.where(Project.status == status)
    if group_id is not None:
        partner = exists().where(
            ProjectPartner.project_id == Project.id, ProjectPartner.group_id == group_id
        )
        query = query.where(or_(Project.lead_group_id == group_id, partner))
    items, total = paginate(
        session, query.order_by(Project.created_at.desc(), Project.id.desc()), page, per_page
    )
    return {
        "items": _project_views(session, items),
        "total": total,
        "page": page,
        "per_page": per_page,
    }


def get_project(uow, actor, project_id: str) -> dict:
    session = uow.session
    return _project_views(session, [_project(session, project_id)])[0]


def register_project(
    uow,
    actor,
    title: str,
    lead_group_id: str,
    description: str = "",
    partner_group_ids=(),
    origin_proposal_id: str | None = None,
) -> dict:
    session = uow.session
    lead = _known_group(session, lead_group_id, "lead_group_id")
    if not _may_run(session, lead.group_id, actor):
        raise Forbidden("only an admin of the lead group (or staff) registers its project")
    known = set(group_facts.group_names(session, partner_group_ids))
    unknown = [group_id for group_id in partner_group_ids if group_id not in known]
    if unknown:
        raise ValidationError(
            "the input is not valid",
            fields={"partner_group_ids": [f"No such group: {', '.join(unknown)}."]},
        )
    origin = None
    if origin_proposal_id is not None:
        origin = session.get(Proposal, origin_proposal_id)
        if origin is None or (origin.hidden and not _is_staff(actor)):
            raise ValidationError(
                "the input is not valid", fields={"origin_proposal_id": ["No such proposal."]}
            )
    now = utcnow()
    project = Project(
        id=new_id(),
        title=title,
        description=description,
        status=lifecycle.PLANNED,
        lead_group_id=lead.group_id,
        origin_proposal_id=origin.id if origin else None,
        created_by=_me(actor),
        created_at=now,
        updated_at=now,
    )
    session.add(project)
    session.flush()
    for group_id in partner_group_ids:
        session.add(ProjectPartner(project_id=project.id, group_id=group_id, added_at=now))
    session.add(
        ProjectStep(
            id=new_id(),
            project_id=project.id,
            from_status=None,
            to_status=lifecycle.PLANNED,
            actor_id=_me(actor),
            at=now,
        )
    )
    session.flush()
    uow.publish(
        "project_registered",
        {
            "project_id": project.id,
            "title": title,
            "lead_group_id": lead.group_id,
            "partner_group_ids": list(partner_group_ids),
            "origin_proposal_id": origin.id if origin else None,
            "origin_proposal_author_id": origin.author_id if origin else None,
            "created_by": _me(actor),
        },
        actor_id=_me(actor),
    )
    return _project_views(session, [project])[0]


def add_partner(uow, actor, project_id: str, group_id: str) -> dict:
    session = uow.session
    project = _project(session, project_id, lock=True)
    if not _may_run(session, project.lead_group_id, actor):
        raise Forbidden("only an admin of the lead group (or staff) adds partners")
    group = _known_group(session, group_id, "group_id")
    if group.group_id == project.lead_group_id:
        raise Conflict("this group leads the project already")
    if project.status not in lifecycle.PROJECT_OPEN:
        raise Conflict(f"a project that is {project.status} takes no new partners")
    if session.get(ProjectPartner, (project.id, group.group_id)) is not None:
        raise Conflict("this group is a partner already")
    now = utcnow()
    session.add(ProjectPartner(project_id=project.id, group_id=group.group_id, added_at=now))
    flush_unique(session, "this group is a partner already")
    project.updated_at = now
    uow.publish(
        "project_partner_added",
        {
            "project_id": project.id,
            "title": project.title,
            "group_id": group.group_id,
            "lead_group_id": project.lead_group_id,
        },
        actor_id=_me(actor),
    )
    return _project_views(session, [project])[0]


def transition_project(uow, actor, project_id: str, status: str) -> dict:
    session = uow.session
    project = _project(session, project_id, lock=True)
    if not _may_run(session, project.lead_group_id, actor):
        raise Forbidden("only an admin of the lead group (or staff) moves a project on")
    lifecycle.check_project_step(project.status, status)
    now = utcnow()
    source = project.status
    project.status, project.updated_at = status, now
    session.add(
        ProjectStep(
            id=new_id(),
            project_id=project.id,
            from_status=source,
            to_status=status,
            actor_id=_me(actor),
            at=now,
        )
    )
    session.flush()
    partners = list(
        session.execute(
            select(ProjectPartner.group_id)
            .where(ProjectPartner.project_id == project.id)
            .order_by(ProjectPartner.added_at, ProjectPartner.group_id)
        ).scalars()
    )
    uow.publish(
        "project_status_changed",
        {
            "project_id": project.id,
            "title": project.title,
            "from_status": source,
            "to_status": status,
            "lead_group_id": project.lead_group_id,
            "partner_group_ids": partners,
        },
        actor_id=_me(actor),
    )
    return _project_views(session, [project])[0]


# --- personal data -----------------------------------------------------------------------


def export_account(uow, account_id: str) -> dict:
    """Everything this service holds that an account wrote or did."""
    session = uow.session
    proposals = (
        session.execute(
            select(Proposal)
            .where(Proposal.author_id == account_id)
            .order_by(Proposal.created_at, Proposal.id)
        )
        .scalars()
        .all()
    )
    supports = session.execute(
        select(Support.proposal_id, Proposal.title, Support.created_at)
        .join(Proposal, Proposal.id == Support.proposal_id)
        .where(Support.account_id == account_id)
        .order_by(Support.created_at, Support.id)
    ).all()
    comments = (
        session.execute(
            select(Comment)
            .where(Comment.author_id == account_id)
            .order_by(Comment.created_at, Comment.id)
        )
        .scalars()
        .all()
    )
    reports = (
        session.execute(
            select(Report)
            .where(Report.reporter_id == account_id)
            .order_by(Report.created_at, Report.id)
        )
        .scalars()
        .all()
    )
    comment_reports = session.execute(
        select(
            CommentReport.comment_id,
            Comment.proposal_id,
            CommentReport.reason,
            CommentReport.created_at,
        )
        .join(Comment, Comment.id == CommentReport.comment_id)
        .where(CommentReport.reporter_id == account_id)
        .order_by(CommentReport.created_at, CommentReport.id)
    ).all()
    projects = (
        session.execute(
            select(Project)
            .where(Project.created_by == account_id)
            .order_by(Project.created_at, Project.id)
        )
        .scalars()
        .all()
    )
    return {
        "proposals": [
            {
                "id": p.id,
                "title": p.title,
                "body": p.body,
                "category": p.category,
                "status": p.status,
                "channel": p.channel,
                "contact": p.contact,
                "location": None
                if p.location_name is None
                else {"name": p.location_name, "lat": p.location_lat, "lon": p.location_lon},
                "created_at": iso(p.created_at),
            }
            for p in proposals
        ],
        "supports": [
            {"proposal_id": proposal_id, "title": title, "created_at": iso(created_at)}
            for proposal_id, title, created_at in supports
        ],
        "comments": [
            {
                "id": c.id,
                "proposal_id": c.proposal_id,
                "body": c.body,
                "created_at": iso(c.created_at),
            }
            for c in comments
        ],
        "reports": [
            {"proposal_id": r.proposal_id, "reason": r.reason, "created_at": iso(r.created_at)}
            for r in reports
        ],
        "comment_reports": [
            {
                "comment_id": comment_id,
                "proposal_id": proposal_id,
                "reason": reason,
                "created_at": iso(created_at),
            }
            for comment_id, proposal_id, reason, created_at in comment_reports
        ],
        "projects_registered": [
            {"id": p.id, "title": p.title, "created_at": iso(p.created_at)} for p in projects
        ],
    }


def erase_account(session, account_id: str) -> None:
    """What an erased account leaves here: its proposals and comments stay, by a
    "former resident"; its supports stay counted and its reports stay; the steps it took
    (history, answers) and the projects it registered stay. None of them keeps its id
    (null), so nothing ties them to one another; the contact lines of its proposals
    go. Only the read model's tombstone keeps the id, tied to nothing."""
    group_facts.account_erased(session, account_id)
    for column, values in (
        (Proposal.author_id, {"author_id": None, "contact": None, "visitor_name": None}),
        (Proposal.answered_by, {"answered_by": None}),
        (Comment.author_id, {"author_id": None}),
        (Support.account_id, {"account_id": None}),
        (Report.reporter_id, {"reporter_id": None}),
        (CommentReport.reporter_id, {"reporter_id": None}),
        (ProposalStep.actor_id, {"actor_id": None}),
        (Project.created_by, {"created_by": None}),
        (ProjectStep.actor_id, {"actor_id": None}),
    ):
        session.execute(
            update(column.class_)
            .where(column == account_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
