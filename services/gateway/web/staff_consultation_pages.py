"""The staff console's consultations (issue 16): `/staff/consultations`. Staff only. A
mixin of `GatewayService`.

- `/staff/consultations`: every consultation, drafts and scheduled ones too, and
  `/staff/consultations/new`: a new one in one form — title, introduction, opening and
  closing moments (the town's time), anonymity, the categories whose interested
  residents are told, and its questions (kind, prompt, options one per line, required);
  a slot left without a prompt is no question. The form starts with QUESTION_SLOTS
  slots; its "Add a question" button (no JavaScript) shows the form again as it was
  filled in with one more empty slot, up to the service's QUESTIONS_MAX. It is saved as
  a draft.
- `/staff/consultations/<id>/edit`: the same form, filled in with a draft's values; saving
  replaces the draft wholly (`update_consultation`). Only a draft can be edited: for a
  published one the page (and its saving) answers with a notice on the consultation's
  screen instead.
- `/staff/consultations/<id>`: its state and the next step (publish a draft — open at
  once when its opening moment has come —, close it early, publish the results once it
  is closed); the free-text answers to moderate (approve: shown with the results and in
  the CSV; hide); the results so far with the CSV of every answer.
- `/staff/consultations/<id>/answers`: enter one person's answers from an interview or
  a town-hall meeting, with that channel (no account is linked to them).

The consultations service decides what may be done (409 for a step the state does not
allow); the screens only offer the steps that make sense and show a refusal as a notice.
"""

from __future__ import annotations

import re
from datetime import timedelta

from civic import clock
from civic.contracts import CONSULTATION_CATEGORIES
from civic.errors import Conflict, NotFound, ValidationError
from services.consultations.api import QUESTION_KINDS, QUESTIONS_MAX, SCALE_MAX, TEXT_ANSWER_MAX
from services.gateway.web import labels
from services.gateway.web.consultation_pages import (
    SCALE,
    question_tables,
    submit_answers,
)
from services.gateway.web.forms import empty_form, error_message, submitted_form
from services.gateway.web.handler import Missing, Page, web

STAFF_CONSULTATIONS = "/staff/consultations"
STAFF_CONSULTATION = STAFF_CONSULTATIONS + "/<uuid:consultation_id>"
LIST_PAGE_SIZE = 50
TEXTS_PAGE_SIZE = 100
# The question slots of an empty form; "Add a question" adds one, up to QUESTIONS_MAX.
QUESTION_SLOTS = 6
QUESTION_FIELDS = ("kind", "prompt", "options", "required")
# The name of the form's "Add a question" button (the other button saves).
ADD_QUESTION = "add_question"
_SLOT_KIND = re.compile(r"q(\d+)_kind")
STAFF_CHANNELS = ("interview", "town_hall")
DEFAULT_OPEN_DAYS = 14
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"


def _(message: str) -> str:
    return message


# The consultations service's sentences about a consultation → the console's words.
SERVICE_MESSAGES = {
    "At least 2 options.": _("Give at least two options, one per line."),
    "Each option once.": _("Give each option once."),
    "Only single, multiple and ranking questions have options.": _(
        "Only single choice, multiple choice and ranking questions have options: "
        "leave the options empty."
    ),
    "Must be after `opens_at`.": _("The closing moment must be after the opening moment."),
    "Not a valid ISO 8601 date and time.": _("Enter a date and a time."),
    "The closing time has passed.": _("The closing moment has passed."),
}
NO_QUESTION = _("Write at least one question.")
NOT_A_DRAFT = _(
    "Only a draft can be edited, and this consultation is published already: its "
    "questions and moments stay as they are."
)


def question_slot_names(slot: int) -> dict[str, str]:
    return {name: f"q{slot}_{name}" for name in QUESTION_FIELDS}


def question_slots(count: int) -> list[tuple[int, dict[str, str]]]:
    """The form's question slots: (number, field names), at most QUESTIONS_MAX."""
    return [(slot, question_slot_names(slot)) for slot in range(1, min(count, QUESTIONS_MAX) + 1)]


def slot_count(form) -> int:
    """How many question slots the submitted form had (each slot sends its kind):
    at least QUESTION_SLOTS, at most QUESTIONS_MAX."""
    numbers = [int(m.group(1)) for key in form.keys() if (m := _SLOT_KIND.fullmatch(key))]
    return min(max([QUESTION_SLOTS, *numbers]), QUESTIONS_MAX)


def consultation_payload(form) -> tuple[dict, dict[str, str]]:
    """The create form as ConsultationSaveSchema takes it, and the service's field names
    → the form's (a question's index among those given → its slot)."""
    payload = {
        "title": form.get("title", ""),
        "intro": form.get("intro", ""),
        "anonymous": form.get("anonymous") == "yes",
        "categories": [c for c in form.getlist("categories") if c],
        "questions": [],
    }
    for name in ("opens_at", "closes_at"):
        if form.get(name, "").strip():
            payload[name] = form.get(name).strip()
    names = {"questions": "q1_prompt"}
    for slot in range(1, slot_count(form) + 1):
        fields = question_slot_names(slot)
        prompt = form.get(fields["prompt"], "").strip()
        if not prompt:
            continue
        index = len(payload["questions"])
        options = [
            line.strip() for line in form.get(fields["options"], "").splitlines() if line.strip()
        ]
        payload["questions"].append(
            {
                "kind": form.get(fields["kind"], ""),
                "prompt": prompt,
                "options": options,
                "required": form.get(fields["required"]) == "yes",
            }
        )
        names[f"questions.{index}"] = fields["prompt"]
        for field in QUESTION_FIELDS:
            names[f"questions.{index}.{field}"] = fields[field]
    return payload, names


def consultation_form_values(consultation: dict) -> dict:
    """A consultation as the form's values (what `consultation_payload` reads back)."""
    values = {
        "title": consultation["title"],
        "intro": consultation.get("intro") or "",
        "opens_at": local_moment(consultation["opens_at"]),
        "closes_at": local_moment(consultation["closes_at"]),
        "anonymous": "yes" if consultation.get("anonymous") else "",
        "categories": list(consultation.get("categories") or []),
    }
    for slot, question in enumerate(consultation.get("questions") or [], start=1):
        names = question_slot_names(slot)
        values[names["kind"]] = question["kind"]
        values[names["prompt"]] = question["prompt"]
        values[names["options"]] = "\n".join(question.get("options") or [])
        values[names["required"]] = "yes" if question.get("required") else ""
    return values


def _in_console_words(page: Page, error: ValidationError, names: dict) -> dict:
    """A refused consultation's errors by the form's field names, in words."""
    fields = dict(error.fields or {})
    errors: dict[str, list[str]] = {}
    if isinstance(fields.get("questions"), list | tuple):
        # The list of questions itself was refused: none was given.
        fields.pop("questions")
        errors["q1_prompt"] = [page.gettext(NO_QUESTION)]
    state = submitted_form(page, ValidationError(error.message, fields=fields), names=names)
    for name, messages in state.errors.items():
        errors.setdefault(name, []).extend(
            page.gettext(SERVICE_MESSAGES[text]) if text in SERVICE_MESSAGES else text
            for text in messages
        )
    return errors


def local_moment(value) -> str:
    """An ISO moment as the form's datetime-local value, in the town's time."""
    moment = clock.from_iso(value) if isinstance(value, str) else value
    return clock.to_town(moment).strftime(LOCAL_MINUTE) if moment else ""


class StaffConsultationPages:
    """Entrypoints of the staff console's consultations."""

    # --- the list and a new one -----------------------------------------------------

    @web("GET", STAFF_CONSULTATIONS, auth="staff")
    def web_staff_consultations(self, page: Page):
        actor = page.actor
        parts = page.gather(
            consultations=lambda: self.services.consultations.list_consultations(
                actor, per_page=LIST_PAGE_SIZE
            )
        )
        return page.render("staff/consultations.html", consultations=parts["consultations"])

    @web("GET", STAFF_CONSULTATIONS + "/new", auth="staff")
    def web_staff_consultation_new(self, page: Page):
        now = clock.utcnow().replace(second=0, microsecond=0)
        form = empty_form(
            page,
            opens_at=local_moment(now),
            closes_at=local_moment(now + timedelta(days=DEFAULT_OPEN_DAYS)),
        )
        return self._consultation_form(page, form, QUESTION_SLOTS)

    @web("POST", STAFF_CONSULTATIONS + "/new", auth="staff")
    def web_staff_consultation_create(self, page: Page):
        saved, again = self._save_consultation_form(
            page,
            lambda payload: self.services.consultations.create_consultation(page.actor, payload),
        )
        if again is not None:
            return again  # the form again: another slot, or what was refused
        return page.redirect(
            f"{STAFF_CONSULTATIONS}/{saved['id']}",
            notice=page.gettext(
                "The consultation is saved as a draft. Publish it when it is ready: "
                "nobody else sees it before."
            ),
        )

    # --- editing a draft ------------------------------------------------------------

    @web("GET", STAFF_CONSULTATION + "/edit", auth="staff")
    def web_staff_consultation_edit(self, page: Page, consultation_id):
        consultation = self.services.consultations.get_consultation(page.actor, consultation_id)
        if consultation["status"] != "draft":
            return self._not_a_draft(page, consultation_id)
        form = empty_form(page, **consultation_form_values(consultation))
        slots = max(QUESTION_SLOTS, len(consultation["questions"]) + 1)
        return self._consultation_form(page, form, slots, consultation)

    @web("POST", STAFF_CONSULTATION + "/edit", auth="staff")
    def web_staff_consultation_update(self, page: Page, consultation_id):
        consultation = self.services.consultations.get_consultation(page.actor, consultation_id)
        if consultation["status"] != "draft":
            return self._not_a_draft(page, consultation_id)
        try:
            _saved, again = self._save_consultation_form(
                page,
                lambda payload: self.services.consultations.update_consultation(
                    page.actor, consultation_id, payload
                ),
                consultation,
            )
        except Conflict:
            # Published between the page's look and the saving.
            return self._not_a_draft(page, consultation_id)
        if again is not None:
            return again
        return page.redirect(
            f"{STAFF_CONSULTATIONS}/{consultation_id}",
            notice=page.gettext("The draft is saved. Publish it when it is ready."),
        )

    def _not_a_draft(self, page: Page, consultation_id):
        return page.redirect(
            f"{STAFF_CONSULTATIONS}/{consultation_id}",
            notice=page.gettext(NOT_A_DRAFT),
        )

    # --- the form of both -----------------------------------------------------------

    def _consultation_form(
        self, page: Page, form, slots: int, consultation: dict | None = None, status: int = 200
    ):
        """The new consultation's form, or a draft's (`consultation`) to edit."""
        slots = min(slots, QUESTIONS_MAX)
        action = (
            f"{STAFF_CONSULTATIONS}/{consultation['id']}/edit"
            if consultation
            else f"{STAFF_CONSULTATIONS}/new"
        )
        return page.render(
            "staff/consultation_edit.html" if consultation else "staff/consultation_new.html",
            status=status,
            form=form,
            consultation=consultation,
            action=action,
            slots=question_slots(slots),
            can_add=slots < QUESTIONS_MAX,
            add_question=ADD_QUESTION,
            questions_max=QUESTIONS_MAX,
            kinds=QUESTION_KINDS,
            categories=CONSULTATION_CATEGORIES,
            scale_max=SCALE_MAX,
        )

    def _save_consultation_form(self, page: Page, save, consultation: dict | None = None):
        """A submitted consultation form → (the saved consultation, None), or (None, the
        form again): as it was filled in with one more slot after "Add a question", or
        with the service's refusal in words."""
        slots = slot_count(page.form)

        def again(errors=None, more: int = 0, status: int = 200):
            state = submitted_form(page)
            state.values["categories"] = page.form.getlist("categories")
            state.values.pop(ADD_QUESTION, None)
            state.errors = errors or {}
            return None, self._consultation_form(page, state, slots + more, consultation, status)

        if ADD_QUESTION in page.form:
            return again(more=1)
        payload, names = consultation_payload(page.form)
        try:
            return save(payload), None
        except ValidationError as error:
            return again(_in_console_words(page, error, names), status=400)

    # --- one consultation -----------------------------------------------------------

    @web("GET", STAFF_CONSULTATION, auth="staff")
    def web_staff_consultation(self, page: Page, consultation_id):
        actor = page.actor
        text_status = page.args.get("texts") or None
        if text_status not in (None, "pending", "approved", "hidden"):
            text_status = None
        consultation = self.services.consultations.get_consultation(actor, consultation_id)
        calls = {}
        if consultation["status"] not in ("draft", "scheduled"):
            calls["results"] = lambda: self.services.consultations.get_results(
                actor, consultation_id
            )
            calls["texts"] = lambda: self.services.consultations.list_texts(
                actor, consultation_id, status=text_status, per_page=TEXTS_PAGE_SIZE
            )
        parts = page.gather(**calls)
        results = parts.get("results")
        return page.render(
            "staff/consultation.html",
            consultation=consultation,
            results=results,
            tables=question_tables(results) if results else [],
            texts=parts.get("texts"),
            text_status=text_status,
            unavailable=isinstance(results, Missing),
        )

    def _step(self, page: Page, consultation_id, call, done: str):
        here = f"{STAFF_CONSULTATIONS}/{consultation_id}"
        try:
            call(page.actor, consultation_id)
        except (Conflict, ValidationError) as error:
            words = error_message(page, error)
            if isinstance(error, ValidationError) and error.fields:
                words = " ".join(
                    page.gettext(SERVICE_MESSAGES[t]) if t in SERVICE_MESSAGES else t
                    for messages in error.fields.values()
                    for t in messages
                )
            return page.redirect(here, notice=page.gettext("Not done: %(why)s", why=words))
        return page.redirect(here, notice=page.gettext(done))

    @web("POST", STAFF_CONSULTATION + "/publish", auth="staff")
    def web_staff_consultation_publish(self, page: Page, consultation_id):
        return self._step(
            page,
            consultation_id,
            self.services.consultations.publish_consultation,
            _(
                "The consultation is published. It opens for answers at its opening moment "
                "(at once if that has come)."
            ),
        )

    @web("POST", STAFF_CONSULTATION + "/close", auth="staff")
    def web_staff_consultation_close(self, page: Page, consultation_id):
        return self._step(
            page,
            consultation_id,
            self.services.consultations.close_consultation,
            _("The consultation is closed. It takes no more answers."),
        )

    @web("POST", STAFF_CONSULTATION + "/results", auth="staff")
    def web_staff_consultation_results(self, page: Page, consultation_id):
        return self._step(
            page,
            consultation_id,
            self.services.consultations.publish_results,
            _("The results are published on the consultation's page and in the open data."),
        )

    @web("POST", STAFF_CONSULTATION + "/texts/<uuid:answer_id>", auth="staff")
    def web_staff_consultation_text(self, page: Page, consultation_id, answer_id):
        here = f"{STAFF_CONSULTATIONS}/{consultation_id}#texts"
        decision = page.form.get("decision", "")
        try:
            self.services.consultations.moderate_text(
                page.actor, consultation_id, answer_id, {"decision": decision}
            )
        except (ValidationError, NotFound) as error:
            return page.redirect(
                here, notice=page.gettext("Not done: %(why)s", why=error_message(page, error))
            )
        if decision == "approve":
            return page.redirect(
                here, notice=page.gettext("The text is approved: it is shown with the results.")
            )
        return page.redirect(here, notice=page.gettext("The text is hidden."))

    # --- answers from an interview or a town-hall meeting ---------------------------

    @web("GET", STAFF_CONSULTATION + "/answers", auth="staff")
    def web_staff_consultation_answers(self, page: Page, consultation_id):
        consultation = self.services.consultations.get_consultation(page.actor, consultation_id)
        return self._answers_page(page, consultation, empty_form(page, channel="interview"))

    def _answers_page(self, page: Page, consultation: dict, form, status: int = 200):
        return page.render(
            "staff/consultation_answers.html",
            status=status,
            consultation=consultation,
            form=form,
            channels=STAFF_CHANNELS,
            scale=SCALE,
            text_max=TEXT_ANSWER_MAX,
        )

    @web("POST", STAFF_CONSULTATION + "/answers", auth="staff")
    def web_staff_consultation_answers_enter(self, page: Page, consultation_id):
        here = f"{STAFF_CONSULTATIONS}/{consultation_id}/answers"
        consultation = self.services.consultations.get_consultation(page.actor, consultation_id)
        channel = page.form.get("channel", "")
        if channel not in STAFF_CHANNELS:
            state = submitted_form(page)
            state.errors = {"channel": [page.gettext("Choose one of the options.")]}
            return self._answers_page(page, consultation, state, status=400)
        try:
            receipt, refused = submit_answers(self.services, page, consultation, channel)
        except Conflict as error:
            return page.redirect(
                here, notice=page.gettext("Not done: %(why)s", why=error_message(page, error))
            )
        if refused is not None:
            refused.values["channel"] = channel
            return self._answers_page(page, consultation, refused, status=400)
        return page.redirect(
            here,
            notice=page.gettext(
                "The answers are saved (%(channel)s). Answers in all: %(count)s. "
                "The form is empty for the next person.",
                channel=labels.label(page.gettext, "consultation_channel", channel),
                count=receipt["answer_count"],
            ),
        )
