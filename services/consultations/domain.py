"""The rules of consultations, as plain functions.

Each function takes a unit of work that is already entered (`uow.session`, and
`uow.publish` to write an event to the outbox in the same transaction), the caller (the
actor dict the gateway sent, None for an anonymous reader) and values validated by
api.py, and returns data that service.py dumps with api.py's schemas. A broken rule
raises a civic error; the caller's `with` block then rolls everything back. `now` can
be given (tests); it defaults to the current time.

Lifecycle: `draft → (publish) scheduled → open` at `opens_at` (or `open` at once when
that moment has come), `open → closed` at `closes_at` (or early by staff), `closed →
results_published` (staff, after moderating the free texts). Every transition is a
conditional update (`… WHERE status = …`): of racing instances, timers or requests,
exactly one changes the row and publishes its event. Until the timer records a
transition the moment decides what everyone is shown (`current_status`).

One answer per account: an online answer writes a participation row whose primary key
is (consultation, account), in the same transaction as the response — a concurrent
twin fails on that key and is a 409. Anonymity: see models.py; nothing here logs who
answered, and the answer's event names no one.
"""

from __future__ import annotations

from sqlalchemy import delete, or_, select, true, update

from civic.clock import iso, utcnow
from civic.db import flush_unique, new_id, paginate
from civic.errors import Conflict, Forbidden, NotFound, ValidationError
from services.consultations import api, results
from services.consultations.models import (
    Answer,
    Consultation,
    Participation,
    Question,
    Response,
)

# How many consultations one tick of the timer opens or closes (the next tick: the rest).
TIMER_BATCH = 200


def _is_staff(actor: dict | None) -> bool:
    return bool(actor and actor.get("is_staff"))


def _account(actor: dict | None) -> str | None:
    return actor["account_id"] if actor else None


def _require_staff(actor: dict | None, what: str) -> None:
    if not _is_staff(actor):
        raise Forbidden(f"only staff {what}")


# --- state -------------------------------------------------------------------------------


def current_status(consultation: Consultation, now) -> str:
    """The status to show: the moment decides, even before the timer records it."""
    status = consultation.status
    if status in ("scheduled", "open") and now >= consultation.closes_at:
        return "closed"
    if status == "scheduled" and now >= consultation.opens_at:
        return "open"
    return status


def _shown_as(status: str, now):
    """The rows `current_status` shows as `status`, as a condition."""
    waiting = Consultation.status.in_(("scheduled", "open"))
    if status == "scheduled":
        return (Consultation.status == "scheduled") & (Consultation.opens_at > now)
    if status == "open":
        return waiting & (Consultation.opens_at <= now) & (Consultation.closes_at > now)
    if status == "closed":
        return (Consultation.status == "closed") | (waiting & (Consultation.closes_at <= now))
    return Consultation.status == status


def _consultation(session, consultation_id: str, actor: dict | None, now) -> Consultation:
    """The consultation, if the caller may see it: drafts and scheduled ones are staff's."""
    found = session.get(Consultation, consultation_id)
    if found is None or (
        current_status(found, now) in ("draft", "scheduled") and not _is_staff(actor)
    ):
        raise NotFound("no such consultation")
    return found


def _questions(session, consultation_ids: list[str]) -> dict[str, list[Question]]:
    found: dict[str, list[Question]] = {cid: [] for cid in consultation_ids}
    if consultation_ids:
        for question in session.execute(
            select(Question)
            .where(Question.consultation_id.in_(consultation_ids))
            .order_by(Question.consultation_id, Question.position)
        ).scalars():
            found[question.consultation_id].append(question)
    return found


def _question_view(question: Question) -> dict:
    return {
        "id": question.id,
        "position": question.position,
        "kind": question.kind,
        "prompt": question.prompt,
        "options": list(question.options or []),
        "required": question.required,
    }


def _views(session, consultations: list[Consultation], actor: dict | None, now) -> list[dict]:
    ids = [c.id for c in consultations]
    questions = _questions(session, ids)
    mine: set[str] = set()
    account_id = _account(actor)
    if account_id and ids:
        mine = set(
            session.execute(
                select(Participation.consultation_id).where(
                    Participation.account_id == account_id,
                    Participation.consultation_id.in_(ids),
                )
            ).scalars()
        )
    return [
        {
            "id": c.id,
            "title": c.title,
            "intro": c.intro,
            "status": current_status(c, now),
            "anonymous": c.anonymous,
            "categories": list(c.categories or []),
            "opens_at": c.opens_at,
            "closes_at": c.closes_at,
            "answer_count": c.answer_count,
            "answered_by_me": c.id in mine,
            "questions": [_question_view(q) for q in questions[c.id]],
            "created_at": c.created_at,
            "opened_at": c.opened_at,
            "closed_at": c.closed_at,
            "results_published_at": c.results_published_at,
        }
        for c in consultations
    ]


def _view(session, consultation: Consultation, actor, now) -> dict:
    return _views(session, [consultation], actor, now)[0]


# --- reading -----------------------------------------------------------------------------


def list_consultations(
    uow, actor, status: str | None = None, page: int = 1, per_page: int = 20, now=None
) -> dict:
    """Consultations, the latest to open first: open, closed and with results for
    everyone; drafts and scheduled ones for staff too."""
    session, now = uow.session, now or utcnow()
    query = select(Consultation)
    if status is not None:
        if status not in api.PUBLIC_STATUSES:
            _require_staff(actor, f"list {status} consultations")
        query = query.where(_shown_as(status, now))
    elif not _is_staff(actor):
        query = query.where(or_(*(_shown_as(s, now) for s in api.PUBLIC_STATUSES)))
    query = query.order_by(Consultation.opens_at.desc(), Consultation.id.desc())
    found, total = paginate(session, query, page, per_page)
    return {
        "items": _views(session, found, actor, now),
        "total": total,
        "page": page,
        "per_page": per_page,
    }


def get_consultation(uow, actor, consultation_id: str, now=None) -> dict:
    session, now = uow.session, now or utcnow()
    return _view(session, _consultation(session, consultation_id, actor, now), actor, now)


# --- drafting ----------------------------------------------------------------------------


def _add_questions(session, consultation_id: str, questions: list[dict]) -> None:
    for position, question in enumerate(questions, start=1):
        session.add(
            Question(
                id=new_id(),
                consultation_id=consultation_id,
                position=position,
                kind=question["kind"],
                prompt=question["prompt"],
                options=list(question.get("options") or []),
                required=bool(question.get("required")),
            )
        )


def create_consultation(uow, actor, data: dict, now=None) -> dict:
    """Staff draft a consultation (nobody else sees it until it is published)."""
    _require_staff(actor, "create consultations")
    session, now = uow.session, now or utcnow()
    consultation = Consultation(
        id=new_id(),
        title=data["title"],
        intro=data.get("intro") or "",
        status="draft",
        anonymous=bool(data.get("anonymous")),
        categories=list(data.get("categories") or []),
        opens_at=data["opens_at"],
        closes_at=data["closes_at"],
        answer_count=0,
        created_by=_account(actor),
        created_at=now,
        updated_at=now,
    )
    session.add(consultation)
    session.flush()
    _add_questions(session, consultation.id, data["questions"])
    session.flush()
    return _view(session, consultation, actor, now)


def update_consultation(uow, actor, consultation_id: str, data: dict, now=None) -> dict:
    """Staff replace a draft wholly (its questions too); published ones do not change."""
    _require_staff(actor, "edit consultations")
    session, now = uow.session, now or utcnow()
    consultation = _consultation(session, consultation_id, actor, now)
    changed = session.execute(
        update(Consultation)
        .where(Consultation.id == consultation.id, Consultation.status == "draft")
        .values(
            title=data["title"],
            intro=data.get("intro") or "",
            anonymous=bool(data.get("anonymous")),
            categories=list(data.get("categories") or []),
            opens_at=data["opens_at"],
            closes_at=data["closes_at"],
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        raise Conflict("only a draft can be edited")
    session.execute(delete(Question).where(Question.consultation_id == consultation.id))
    _add_questions(session, consultation.id, data["questions"])
    session.flush()
    session.refresh(consultation)
    return _view(session, consultation, actor, now)


# --- transitions -------------------------------------------------------------------------


def _ref(consultation: Consultation) -> dict:
    return {"consultation_id": consultation.id, "title": consultation.title}


def _announce_opened(uow, consultation: Consultation, now) -> None:
    uow.publish(
        "consultation_opened",
        {
            **_ref(consultation),
            "categories": list(consultation.categories or []),
            "closes_at": iso(consultation.closes_at),
        },
        occurred_at=now,
    )


def publish_consultation(uow, actor, consultation_id: str, now=None) -> dict:
    """Staff publish a draft: open at once when its opening moment has come, else
    scheduled (the timer opens it). Its closing moment must lie ahead."""
    _require_staff(actor, "publish consultations")
    session, now = uow.session, now or utcnow()
    consultation = _consultation(session, consultation_id, actor, now)
    if consultation.status != "draft":
        raise Conflict(f"the consultation is {current_status(consultation, now)}, not a draft")
    if consultation.closes_at <= now:
        raise ValidationError(
            "the closing time has passed", fields={"closes_at": ["The closing time has passed."]}
        )
    opens_now = consultation.opens_at <= now
    changed = session.execute(
        update(Consultation)
        .where(Consultation.id == consultation.id, Consultation.status == "draft")
        .values(
            status="open" if opens_now else "scheduled",
            opened_at=now if opens_now else None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        raise Conflict("the consultation was published a moment ago")
    session.refresh(consultation)
    if opens_now:
        _announce_opened(uow, consultation, now)
    return _view(session, consultation, actor, now)


def due_to_open(uow, now=None, limit: int = TIMER_BATCH) -> list[str]:
    now = now or utcnow()
    return list(
        uow.session.execute(
            select(Consultation.id)
            .where(
                Consultation.status == "scheduled",
                Consultation.opens_at <= now,
                Consultation.closes_at > now,
            )
            .order_by(Consultation.opens_at, Consultation.id)
            .limit(limit)
        ).scalars()
    )


def open_if_due(uow, consultation_id: str, now=None) -> bool:
    """Open a scheduled consultation whose moment has come. Of several instances (or a
    timer and an answer) trying at once, exactly one changes the row and publishes
    consultation_opened, in the same transaction."""
    session, now = uow.session, now or utcnow()
    opened = session.execute(
        update(Consultation)
        .where(
            Consultation.id == consultation_id,
            Consultation.status == "scheduled",
            Consultation.opens_at <= now,
            Consultation.closes_at > now,
        )
        .values(status="open", opened_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if opened.rowcount != 1:
        return False
    _announce_opened(uow, session.get(Consultation, consultation_id, populate_existing=True), now)
    return True


def due_to_close(uow, now=None, limit: int = TIMER_BATCH) -> list[str]:
    now = now or utcnow()
    return list(
        uow.session.execute(
            select(Consultation.id)
            .where(Consultation.status.in_(("scheduled", "open")), Consultation.closes_at <= now)
            .order_by(Consultation.closes_at, Consultation.id)
            .limit(limit)
        ).scalars()
    )


def _close(uow, consultation_id: str, condition, now, actor_id=None) -> bool:
    session = uow.session
    closed = session.execute(
        update(Consultation)
        .where(
            Consultation.id == consultation_id,
            Consultation.status.in_(("scheduled", "open")),
            condition,
        )
        .values(status="closed", closed_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if closed.rowcount != 1:
        return False
    consultation = session.get(Consultation, consultation_id, populate_existing=True)
    uow.publish(
        "consultation_closed",
        {**_ref(consultation), "answer_count": consultation.answer_count},
        actor_id=actor_id,
        occurred_at=now,
    )
    return True


def close_if_due(uow, consultation_id: str, now=None) -> bool:
    """Close a consultation whose closing moment has come; exactly once (see
    open_if_due)."""
    now = now or utcnow()
    return _close(uow, consultation_id, Consultation.closes_at <= now, now)


def close_consultation(uow, actor, consultation_id: str, now=None) -> dict:
    """Staff close a consultation early (or one the timer has not closed yet)."""
    _require_staff(actor, "close consultations")
    session, now = uow.session, now or utcnow()
    consultation = _consultation(session, consultation_id, actor, now)
    if not _close(uow, consultation.id, true(), now, actor_id=_account(actor)):
        raise Conflict(f"the consultation is {current_status(consultation, now)}, not open")
    session.refresh(consultation)
    return _view(session, consultation, actor, now)


def publish_results(uow, actor, consultation_id: str, now=None) -> dict:
    """Staff publish the results of a closed consultation."""
    _require_staff(actor, "publish results")
    session, now = uow.session, now or utcnow()
    consultation = _consultation(session, consultation_id, actor, now)
    close_if_due(uow, consultation.id, now)
    changed = session.execute(
        update(Consultation)
        .where(Consultation.id == consultation.id, Consultation.status == "closed")
        .values(status="results_published", results_published_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(consultation)
    if changed.rowcount != 1:
        raise Conflict(f"the consultation is {current_status(consultation, now)}, not closed")
    uow.publish(
        "consultation_results_published",
        {**_ref(consultation), "categories": list(consultation.categories or [])},
        actor_id=_account(actor),
        occurred_at=now,
    )
    return _view(session, consultation, actor, now)


# --- answers -----------------------------------------------------------------------------


def _invalid(problems: dict) -> ValidationError:
    return ValidationError("the answers are not valid", fields={"answers": problems})


def _checked_value(question: Question, value):
    """The value in its stored shape; None for "not answered"; ValueError if malformed."""
    kind, options = question.kind, list(question.options or [])
    if value is None or value == "" or value == []:
        return None
    if kind == "single":
        if not isinstance(value, str) or value not in options:
            raise ValueError("Choose one of the options.")
        return value
    if kind == "multiple":
        if (
            not isinstance(value, list)
            or not all(isinstance(v, str) and v in options for v in value)
            or len(set(value)) != len(value)
        ):
            raise ValueError("Choose among the options, each at most once.")
        return [o for o in options if o in value]  # in the question's order
    if kind == "scale":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"A whole number from {api.SCALE_MIN} to {api.SCALE_MAX}.")
        if not api.SCALE_MIN <= value <= api.SCALE_MAX:
            raise ValueError(f"A whole number from {api.SCALE_MIN} to {api.SCALE_MAX}.")
        return value
    if kind == "ranking":
        if not isinstance(value, list) or sorted(map(str, value)) != sorted(options):
            raise ValueError("Rank every option once.")
        return value
    if not isinstance(value, str):  # text
        raise ValueError("A text.")
    value = value.strip()
    if len(value) > api.TEXT_ANSWER_MAX:
        raise ValueError(f"At most {api.TEXT_ANSWER_MAX} characters.")
    return value or None


def check_answers(questions: list[Question], answers: list[dict]) -> dict[str, object]:
    """{question_id: value} of the answers given, checked against the questions; a
    ValidationError naming each problem (by the answer's index, or the question's id for
    a required one left out)."""
    by_id = {q.id: q for q in questions}
    problems: dict = {}
    values: dict[str, object] = {}
    for index, item in enumerate(answers):
        question = by_id.get(item["question_id"])
        if question is None:
            problems[str(index)] = ["No such question in this consultation."]
            continue
        if question.id in values:
            problems[str(index)] = ["This question is answered twice."]
            continue
        try:
            values[question.id] = _checked_value(question, item.get("value"))
        except ValueError as exc:
            problems[str(index)] = [str(exc)]
    for question in questions:
        if question.required and values.get(question.id) is None:
            problems.setdefault(question.id, ["This question must be answered."])
    if problems:
        raise _invalid(problems)
    return {qid: value for qid, value in values.items() if value is not None}


def submit_answer(
    uow, actor, consultation_id: str, channel: str, answers: list[dict], now=None
) -> dict:
    """A resident's own answer (online: once per account), or staff entering one from
    an interview or a town-hall meeting (no account at all)."""
    session, now = uow.session, now or utcnow()
    if channel != "online":
        _require_staff(actor, "enter answers from interviews and town-hall meetings")
    consultation = _consultation(session, consultation_id, actor, now)
    open_if_due(uow, consultation.id, now)
    session.refresh(consultation)
    status = current_status(consultation, now)
    if status != "open":
        raise Conflict(f"the consultation is {status}: it takes no answers")
    questions = _questions(session, [consultation.id])[consultation.id]
    values = check_answers(questions, answers)
    if not values:
        raise _invalid({"_schema": ["Answer at least one question."]})
    account_id = _account(actor)
    if channel == "online":
        if session.get(Participation, (consultation.id, account_id)) is not None:
            raise Conflict("you answered this consultation already")
        session.add(Participation(consultation_id=consultation.id, account_id=account_id))
        flush_unique(session, "you answered this consultation already")
    counted = session.execute(
        update(Consultation)
        .where(
            Consultation.id == consultation.id,
            Consultation.status == "open",
            Consultation.closes_at > now,
        )
        .values(answer_count=Consultation.answer_count + 1)
        .execution_options(synchronize_session=False)
    )
    if counted.rowcount != 1:
        raise Conflict("the consultation closed a moment ago: it takes no answers")
    keeps_account = channel == "online" and not consultation.anonymous
    response = Response(
        id=new_id(),
        consultation_id=consultation.id,
        channel=channel,
        account_id=account_id if keeps_account else None,
        submitted_at=now if keeps_account else None,
    )
    session.add(response)
    session.flush()
    kinds = {q.id: q.kind for q in questions}
    for question_id, value in values.items():
        is_text = kinds[question_id] == "text"
        session.add(
            Answer(
                id=new_id(),
                response_id=response.id,
                question_id=question_id,
                value=None if is_text else value,
                text=value if is_text else None,
                text_status="pending" if is_text else None,
            )
        )
    session.flush()
    answer_count = session.execute(
        select(Consultation.answer_count).where(Consultation.id == consultation.id)
    ).scalar_one()
    uow.publish(
        "consultation_answered",
        {"consultation_id": consultation.id, "channel": channel, "answer_count": answer_count},
        actor_id=None if consultation.anonymous else account_id,
        anonymous=consultation.anonymous,
        occurred_at=now,
    )
    return {"consultation_id": consultation.id, "channel": channel, "answer_count": answer_count}


# --- results -----------------------------------------------------------------------------


def _plain_questions(questions: list[Question]) -> list[dict]:
    return [
        {"id": q.id, "kind": q.kind, "prompt": q.prompt, "options": list(q.options or [])}
        for q in questions
    ]


def _responses(session, consultation_id: str) -> list[dict]:
    """Every response with its answers (free texts only approved ones), in a stable
    order: by when they came where that is kept, else by their (random) ids."""
    rows = session.execute(
        select(Response.id, Response.channel)
        .where(Response.consultation_id == consultation_id)
        .order_by(Response.submitted_at, Response.id)
    ).all()
    found = {row.id: {"channel": row.channel, "answers": {}} for row in rows}
    if found:
        for response_id, question_id, value, text, text_status in session.execute(
            select(
                Answer.response_id,
                Answer.question_id,
                Answer.value,
                Answer.text,
                Answer.text_status,
            )
            .join(Response, Response.id == Answer.response_id)
            .where(Response.consultation_id == consultation_id)
        ):
            if text_status is None:
                found[response_id]["answers"][question_id] = value
            elif text_status == "approved":
                found[response_id]["answers"][question_id] = text
    return list(found.values())


def get_results(uow, actor, consultation_id: str, now=None) -> dict:
    """The results, after closing (staff: any time)."""
    session, now = uow.session, now or utcnow()
    consultation = _consultation(session, consultation_id, actor, now)
    status = current_status(consultation, now)
    if status not in ("closed", "results_published") and not _is_staff(actor):
        raise Conflict(f"the consultation is {status}: results come after it closes")
    questions = _questions(session, [consultation.id])[consultation.id]
    tallied = results.tally(_plain_questions(questions), _responses(session, consultation.id))
    return {
        "consultation_id": consultation.id,
        "title": consultation.title,
        "status": status,
        **tallied,
    }


def answers_csv(uow, actor, consultation_id: str, now=None) -> dict:
    """Every response as a CSV row, after the results are published (staff: any time)."""
    session, now = uow.session, now or utcnow()
    consultation = _consultation(session, consultation_id, actor, now)
    status = current_status(consultation, now)
    if status != "results_published" and not _is_staff(actor):
        raise Conflict(f"the consultation is {status}: its answers come with its results")
    questions = _questions(session, [consultation.id])[consultation.id]
    return {
        "filename": f"consultation-{consultation.id}.csv",
        "csv": results.csv_text(_plain_questions(questions), _responses(session, consultation.id)),
    }


# --- moderation of free texts ------------------------------------------------------------


def _text_view(answer: Answer, prompt: str) -> dict:
    return {
        "id": answer.id,
        "question_id": answer.question_id,
        "prompt": prompt,
        "text": answer.text,
        "status": answer.text_status,
    }


def list_texts(
    uow, actor, consultation_id: str, status: str | None = None, page=1, per_page=20, now=None
) -> dict:
    _require_staff(actor, "moderate free texts")
    session, now = uow.session, now or utcnow()
    consultation = _consultation(session, consultation_id, actor, now)
    query = (
        select(Answer)
        .join(Question, Question.id == Answer.question_id)
        .where(Question.consultation_id == consultation.id, Answer.text_status.is_not(None))
        .order_by(Question.position, Answer.id)
    )
    if status is not None:
        query = query.where(Answer.text_status == status)
    found, total = paginate(session, query, page, per_page)
    prompts = {q.id: q.prompt for q in _questions(session, [consultation.id])[consultation.id]}
    return {
        "items": [_text_view(a, prompts[a.question_id]) for a in found],
        "total": total,
        "page": page,
        "per_page": per_page,
    }


def moderate_text(uow, actor, consultation_id: str, answer_id: str, decision: str, now=None):
    """Staff approve a free text (it shows in the results) or hide it."""
    _require_staff(actor, "moderate free texts")
    session, now = uow.session, now or utcnow()
    consultation = _consultation(session, consultation_id, actor, now)
    found = session.execute(
        select(Answer, Question.prompt)
        .join(Question, Question.id == Answer.question_id)
        .where(
            Answer.id == answer_id,
            Question.consultation_id == consultation.id,
            Answer.text_status.is_not(None),
        )
    ).first()
    if found is None:
        raise NotFound("no such free text in this consultation")
    answer, prompt = found
    answer.text_status = "approved" if decision == "approve" else "hidden"
    session.flush()
    return _text_view(answer, prompt)


# --- personal data -----------------------------------------------------------------------


def export_account(uow, account_id: str) -> dict:
    """What this service holds about an account: the consultations it took part in,
    its answers to non-anonymous ones (anonymous answers are nobody's: they cannot be
    found), and the consultations it created as staff."""
    session = uow.session
    took_part = session.execute(
        select(Consultation.id, Consultation.title)
        .join(Participation, Participation.consultation_id == Consultation.id)
        .where(Participation.account_id == account_id)
        .order_by(Consultation.opens_at, Consultation.id)
    ).all()
    responses = (
        session.execute(
            select(Response).where(Response.account_id == account_id).order_by(Response.id)
        )
        .scalars()
        .all()
    )
    answers = []
    for response in responses:
        consultation = session.get(Consultation, response.consultation_id)
        prompts = {q.id: q.prompt for q in _questions(session, [consultation.id])[consultation.id]}
        given = session.execute(select(Answer).where(Answer.response_id == response.id)).scalars()
        answers.append(
            {
                "consultation_id": consultation.id,
                "title": consultation.title,
                "channel": response.channel,
                "submitted_at": iso(response.submitted_at),
                "answers": [
                    {
                        "question_id": a.question_id,
                        "prompt": prompts.get(a.question_id),
                        "value": a.text if a.text_status is not None else a.value,
                    }
                    for a in given
                ],
            }
        )
    created = session.execute(
        select(Consultation.id, Consultation.title, Consultation.created_at)
        .where(Consultation.created_by == account_id)
        .order_by(Consultation.created_at, Consultation.id)
    ).all()
    return {
        "took_part_in": [{"consultation_id": cid, "title": title} for cid, title in took_part],
        "answers": answers,
        "consultations_created": [
            {"id": cid, "title": title, "created_at": iso(at)} for cid, title, at in created
        ],
    }


def erase_account(session, account_id: str) -> None:
    """An erased account leaves nothing here: its non-anonymous responses stay in the
    counts, without its id and without its free texts; its participation rows go; the
    consultations it created stay, unlinked."""
    own = select(Response.id).where(Response.account_id == account_id).scalar_subquery()
    session.execute(
        delete(Answer)
        .where(Answer.response_id.in_(own), Answer.text_status.is_not(None))
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Response)
        .where(Response.account_id == account_id)
        .values(account_id=None, submitted_at=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(Participation).where(Participation.account_id == account_id))
    session.execute(
        update(Consultation)
        .where(Consultation.created_by == account_id)
        .values(created_by=None)
        .execution_options(synchronize_session=False)
    )
