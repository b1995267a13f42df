"""The website's pages: consultations (issue 16, "Lokalt Omvärldsprogram").

- `/consultations`: the open consultations and the closed ones;
- `/consultations/<id>`: its introduction and, while it is open, how many answered and
  the answer form (every question kind: single and multiple choice, a 1–5 scale, a free
  text, a ranking of options) — or "you have answered" once done; after staff publish
  the results, the results per question as a chart (server-rendered SVG, pygal, no
  JavaScript: `/consultations/<id>/charts/<n>.svg`) beside a table, broken down by
  channel (online, interview, town-hall meeting), the approved free texts, and every
  answer as CSV (`/consultations/<id>/answers.csv`, anonymised by the service).

Following (the notifications service, as the proposal page's follow box does): on
`/consultations` a signed-in resident follows the development programme (target
`programme`, the one id `PROGRAMME_ID`: told when a consultation opens and when its
results are published); on a consultation's page, that consultation (`consultation`:
told when its results are published — followable once the notifications service has
heard it opened, "not yet" before). When the notifications service does not answer,
the box says so and the rest of the page shows.

A mixin of `GatewayService`; the staff screens are in staff_consultation_pages.py and
use the answer form and the results of this module. Every call asks the consultations
service exactly as the API's routes do (consultations_routes.py); it decides who may
answer (once per account, while open), and what is shown when.

A ranking is a select of a rank (1 to n) per option without JavaScript: the page checks
that the ranks are 1 to n once each (or all blank: not answered) before the service
sees the order they give; it also says which required questions were left out, so one
submission shows every problem it can.
"""

from __future__ import annotations

from urllib.parse import quote

from werkzeug.wrappers import Response

from civic.contracts import CONSULTATION_CHANNELS
from civic.errors import Conflict, NotFound, ValidationError
from civic.validation import PER_PAGE_MAX
from services.consultations.api import SCALE_MAX, SCALE_MIN, TEXT_ANSWER_MAX
from services.gateway.web.forms import FormState, empty_form, submitted_form
from services.gateway.web.handler import Missing, Page, web
from services.gateway.web.notification_pages import following, follows_known
from services.notifications.api import PROGRAMME_ID

CONSULTATION = "/consultations/<uuid:consultation_id>"
PROGRAMME = "/consultations/programme"
LIST_PAGE_SIZE = 20
# One page of the account's follows (the service's largest) tells whether it follows
# something, as on the proposal page; following again is answered kindly anyway.
FOLLOWS_LOOKED_AT = PER_PAGE_MAX
# The statuses in which following a consultation still tells something (its results).
FOLLOWABLE = ("open", "closed")
SCALE = tuple(range(SCALE_MIN, SCALE_MAX + 1))
SVG_TYPE = "image/svg+xml"


def _(message: str) -> str:
    """Marks a message id for extraction; translated where it is shown."""
    return message


# The consultations service's sentences about an answer → the site's words.
SERVICE_MESSAGES = {
    "This question must be answered.": _("Answer this question."),
    "Choose one of the options.": _("Choose one of the options."),
    "Choose among the options, each at most once.": _("Choose among the options."),
    f"A whole number from {SCALE_MIN} to {SCALE_MAX}.": _("Choose a number from 1 to 5."),
    "Rank every option once.": _("Give every option a rank, each rank once."),
    f"At most {TEXT_ANSWER_MAX} characters.": _("Write at most 2000 characters."),
    "A text.": _("Write a text."),
    "Answer at least one question.": _("Answer at least one question."),
    "No such question in this consultation.": _(
        "The questions have changed. Reload the page and answer again."
    ),
    "This question is answered twice.": _(
        "The questions have changed. Reload the page and answer again."
    ),
}
RANKING_MESSAGE = _("Give each option its own rank from 1 to %(count)s, or leave them all blank.")
REQUIRED_MESSAGE = _("Answer this question.")


# --- the answer form --------------------------------------------------------------------


def field_name(question: dict) -> str:
    """The form's name (and, with `field-`, the id) of a question's answer."""
    return f"q-{question['id']}"


def read_answers(form, questions: list[dict]) -> tuple[list[dict], dict[str, list[str]]]:
    """The answers of a submitted answer form, as the service takes them (one per
    question; None: not answered), and the problems the page finds itself: a ranking
    that is not 1..n once each, a required question left out ({field: [message id]})."""
    answers: list[dict] = []
    problems: dict[str, list[str]] = {}
    for question in questions:
        name, kind = field_name(question), question["kind"]
        options = question.get("options") or []
        value = None
        if kind == "single":
            value = form.get(name) or None
        elif kind == "multiple":
            value = [v for v in form.getlist(name) if v] or None
        elif kind == "scale":
            raw = (form.get(name) or "").strip()
            value = int(raw) if raw.isdigit() else (raw or None)
        elif kind == "text":
            value = (form.get(name) or "").strip() or None
        elif kind == "ranking":
            ranks = [(form.get(f"{name}-{index}") or "").strip() for index in range(len(options))]
            if any(ranks):
                numbers = [int(rank) if rank.isdigit() else 0 for rank in ranks]
                if sorted(numbers) != list(range(1, len(options) + 1)):
                    problems[name] = [RANKING_MESSAGE]
                    continue
                value = [option for _rank, option in sorted(zip(numbers, options, strict=True))]
        if value is None and question.get("required"):
            problems[name] = [REQUIRED_MESSAGE]
        answers.append({"question_id": question["id"], "value": value})
    return answers, problems


def answer_errors(page: Page, error: ValidationError, answers: list[dict], questions) -> dict:
    """The service's refusal of an answer as the form's errors, by field."""
    names = {question["id"]: field_name(question) for question in questions}
    problems = (error.fields or {}).get("answers")
    errors: dict[str, list[str]] = {}
    if not isinstance(problems, dict):
        return {"_form": [page.gettext("The answer could not be saved. Check it and try again.")]}
    for key, messages in problems.items():
        texts = [_in_site_words(page, str(text)) for text in _as_list(messages)]
        if key.isdigit() and int(key) < len(answers):
            name = names.get(answers[int(key)]["question_id"], "_form")
        else:
            name = names.get(key, "_form")
        errors.setdefault(name, []).extend(texts)
    return errors


def _as_list(messages) -> list:
    return list(messages) if isinstance(messages, list | tuple) else [messages]


def _in_site_words(page: Page, text: str) -> str:
    return page.gettext(SERVICE_MESSAGES[text]) if text in SERVICE_MESSAGES else text


def refused_form(page: Page, errors: dict[str, list[str]]) -> FormState:
    """The submitted form again (its values kept) with `errors` (already in words)."""
    state = submitted_form(page)
    state.errors = errors
    return state


def local_errors(page: Page, problems: dict[str, list[str]], questions) -> dict:
    """The page's own problems in words (a ranking's message names its option count)."""
    counts = {field_name(q): len(q.get("options") or []) for q in questions}
    return {
        name: [page.gettext(text, count=counts.get(name, 0)) for text in messages]
        for name, messages in problems.items()
    }


def submit_answers(services, page: Page, consultation: dict, channel: str):
    """Send the page's answer form to the service. Returns (receipt, None) or (None,
    refused FormState); a Conflict (answered already, closed) is raised."""
    questions = consultation["questions"]
    answers, problems = read_answers(page.form, questions)
    if problems:
        return None, refused_form(page, local_errors(page, problems, questions))
    try:
        receipt = services.consultations.submit_answer(
            page.actor, consultation["id"], {"channel": channel, "answers": answers}
        )
    except ValidationError as error:
        return None, refused_form(page, answer_errors(page, error, answers, questions))
    return receipt, None


# --- results as tables and charts -------------------------------------------------------

_CHANNEL_WORDS = {
    "online": _("Online"),
    "interview": _("Interview"),
    "town_hall": _("Town-hall meeting"),
}


def _cell(tally: dict | None, kind: str, key, measure: str):
    if not tally:
        return None
    if kind == "scale":
        entry = next((s for s in tally.get("scale") or [] if s["value"] == key), None)
    else:
        entry = next((o for o in tally.get("options") or [] if o["option"] == key), None)
    return None if entry is None else entry.get(measure)


def question_tables(results: dict) -> list[dict]:
    """Each question's results as a table: `columns` (message ids, or channels), `rows`
    ((label, [cells])), `chart_series` (for the chart: per channel, a value per row),
    the mean (scale), and the approved texts with their channel (text)."""
    shown = []
    for number, question in enumerate(results.get("questions") or [], start=1):
        kind = question["kind"]
        by_channel = question.get("by_channel") or {}
        view = {
            "number": number,
            "prompt": question["prompt"],
            "kind": kind,
            "answered": question.get("answered", 0),
            "answered_by_channel": [
                (c, (by_channel.get(c) or {}).get("answered", 0)) for c in CONSULTATION_CHANNELS
            ],
            "rows": [],
            "columns": [],
            "chart": kind != "text",
            "mean": question.get("mean"),
            "means": [(c, (by_channel.get(c) or {}).get("mean")) for c in CONSULTATION_CHANNELS],
            "texts": [],
        }
        if kind in ("single", "multiple", "scale"):
            keys = list(SCALE) if kind == "scale" else [o["option"] for o in question["options"]]
            view["columns"] = [("all", _("All answers"))] + [
                (c, _CHANNEL_WORDS[c]) for c in CONSULTATION_CHANNELS
            ]
            for key in keys:
                cells = [_cell(question, kind, key, "count")] + [
                    _cell(by_channel.get(c), kind, key, "count") for c in CONSULTATION_CHANNELS
                ]
                view["rows"].append((str(key), [0 if c is None else c for c in cells]))
            view["chart_measure"] = "count"
        elif kind == "ranking":
            view["columns"] = [
                ("mean_rank", _("Mean rank (1 is best)")),
                ("borda", _("Points, all answers")),
            ] + [(c, _CHANNEL_WORDS[c]) for c in CONSULTATION_CHANNELS]
            for entry in question.get("options") or []:
                option = entry["option"]
                cells = [entry.get("mean_rank"), entry.get("borda", 0)] + [
                    _cell(by_channel.get(c), kind, option, "borda") or 0
                    for c in CONSULTATION_CHANNELS
                ]
                view["rows"].append((option, cells))
            view["chart_measure"] = "borda"
        else:
            for channel in CONSULTATION_CHANNELS:
                for text in (by_channel.get(channel) or {}).get("texts") or []:
                    view["texts"].append((channel, text))
        if view["chart"]:
            offset = 2 if kind == "ranking" else 1
            view["chart_series"] = [
                (c, [row[1][offset + i] for row in view["rows"]])
                for i, c in enumerate(CONSULTATION_CHANNELS)
            ]
        shown.append(view)
    return shown


def chart_svg(table: dict, gettext) -> str:
    """A question's results as a stacked bar chart, one colour per channel (an SVG
    document without JavaScript; the same numbers are in the table beside it)."""
    import pygal

    from services.gateway.web.staff_report_pages import render_chart

    labels = [label for label, _cells in table["rows"]]
    totals = [sum(values) for values in zip(*(v for _c, v in table["chart_series"]), strict=True)]
    return render_chart(
        pygal.StackedBar,
        labels,
        [(gettext(_CHANNEL_WORDS[channel]), values) for channel, values in table["chart_series"]],
        whole_numbers_up_to=max(totals, default=0),
        height=400,
        legend_at_bottom_columns=3,
        x_label_rotation=-30 if max((len(label) for label in labels), default=0) > 12 else 0,
    )


def results_visible(consultation: dict, is_staff: bool) -> bool:
    return consultation["status"] == "results_published" or (
        is_staff and consultation["status"] in ("open", "closed")
    )


# --- following ----------------------------------------------------------------------------


# What a follow button says afterwards, per target.
FOLLOW_WORDS = {
    "programme": {
        "followed": _(
            "You follow the development programme: you will be told when a consultation "
            "opens and when its results are published."
        ),
        "already": _("You follow the development programme already."),
        "not_yet": _("The development programme cannot be followed right now. Try again later."),
        "unfollowed": _("You no longer follow the development programme."),
        "not_followed": _("You do not follow the development programme."),
    },
    "consultation": {
        "followed": _(
            "You follow this consultation: you will be told when its results are published."
        ),
        "already": _("You follow this consultation already."),
        "not_yet": _("This consultation cannot be followed yet. Try again in a minute."),
        "unfollowed": _("You no longer follow this consultation."),
        "not_followed": _("You do not follow this consultation."),
    },
}


# --- the pages ----------------------------------------------------------------------------


class ConsultationPages:
    """Pages of this area; mixed into GatewayService."""

    @web("GET", "/consultations")
    def web_consultation_list(self, page: Page):
        actor = page.actor
        calls = {
            "open": lambda: self.services.consultations.list_consultations(
                actor, status="open", per_page=LIST_PAGE_SIZE
            ),
            "closed": lambda: self.services.consultations.list_consultations(
                actor, status="closed", per_page=LIST_PAGE_SIZE
            ),
            "published": lambda: self.services.consultations.list_consultations(
                actor, status="results_published", per_page=LIST_PAGE_SIZE
            ),
        }
        if page.signed_in:
            calls["follows"] = self._follows_call(page)
        parts = page.gather(**calls)
        follows = parts.get("follows")
        return page.render(
            "consultations/list.html",
            open=parts["open"],
            closed=parts["closed"],
            published=parts["published"],
            follows_known=follows_known(follows),
            following=following(follows, "programme", PROGRAMME_ID),
            sign_in_here="/signin?next=" + quote("/consultations", safe="/"),
        )

    def _follows_call(self, page: Page):
        actor = page.actor
        return lambda: self.services.notifications.list_follows(
            actor, page=1, per_page=FOLLOWS_LOOKED_AT
        )

    @web("POST", PROGRAMME + "/follow", auth="resident")
    def web_programme_follow(self, page: Page):
        return self._follow(page, "programme", PROGRAMME_ID, "/consultations")

    @web("POST", PROGRAMME + "/unfollow", auth="resident")
    def web_programme_unfollow(self, page: Page):
        return self._unfollow(page, "programme", PROGRAMME_ID, "/consultations")

    @web("POST", CONSULTATION + "/follow", auth="resident")
    def web_consultation_follow(self, page: Page, consultation_id):
        here = f"/consultations/{consultation_id}"
        return self._follow(page, "consultation", str(consultation_id), here)

    @web("POST", CONSULTATION + "/unfollow", auth="resident")
    def web_consultation_unfollow(self, page: Page, consultation_id):
        here = f"/consultations/{consultation_id}"
        return self._unfollow(page, "consultation", str(consultation_id), here)

    def _follow(self, page: Page, target_type: str, target_id: str, here: str):
        words = FOLLOW_WORDS[target_type]
        payload = {"target_type": target_type, "target_id": target_id}
        try:
            self.services.notifications.follow(page.actor, payload)
        except Conflict:
            return page.redirect(here, notice=page.gettext(words["already"]))
        except NotFound:
            # The notifications service learns of a consultation a moment after it opens.
            return page.redirect(here, notice=page.gettext(words["not_yet"]))
        return page.redirect(here, notice=page.gettext(words["followed"]))

    def _unfollow(self, page: Page, target_type: str, target_id: str, here: str):
        words = FOLLOW_WORDS[target_type]
        try:
            self.services.notifications.unfollow(page.actor, target_type, target_id)
        except NotFound:
            return page.redirect(here, notice=page.gettext(words["not_followed"]))
        return page.redirect(here, notice=page.gettext(words["unfollowed"]))

    @web("GET", CONSULTATION)
    def web_consultation(self, page: Page, consultation_id):
        return self._consultation_page(page, consultation_id)

    def _consultation_page(self, page: Page, consultation_id, status: int = 200, form=None):
        actor = page.actor
        calls = {
            "consultation": lambda: self.services.consultations.get_consultation(
                actor, consultation_id
            )
        }
        if page.signed_in:
            calls["follows"] = self._follows_call(page)
        parts = page.gather(**calls)
        consultation = parts["consultation"]
        if isinstance(consultation, Missing):
            raise consultation.error
        follows = parts.get("follows")
        results = None
        if consultation["status"] == "results_published":
            parts = page.gather(
                results=lambda: self.services.consultations.get_results(actor, consultation_id)
            )
            results = parts["results"]
        is_following = following(follows, "consultation", consultation["id"])
        return page.render(
            "consultations/detail.html",
            status=status,
            consultation=consultation,
            form=form or empty_form(page),
            results=results,
            tables=question_tables(results) if results else [],
            sign_in_here="/signin?next=" + quote(f"/consultations/{consultation['id']}", safe="/"),
            follows_known=follows_known(follows),
            following=is_following,
            # The box shows while following tells something (and to stop following).
            follow_box=page.signed_in
            and (consultation["status"] in FOLLOWABLE or bool(is_following)),
            scale=SCALE,
            text_max=TEXT_ANSWER_MAX,
        )

    @web("POST", CONSULTATION + "/answers", auth="resident")
    def web_consultation_answer(self, page: Page, consultation_id):
        here = f"/consultations/{consultation_id}"
        consultation = self.services.consultations.get_consultation(page.actor, consultation_id)
        try:
            receipt, refused = submit_answers(self.services, page, consultation, "online")
        except Conflict:
            return page.redirect(
                here + "#answer",
                notice=page.gettext(
                    "You have answered this consultation already, or it no longer takes answers."
                ),
            )
        if refused is not None:
            return self._consultation_page(page, consultation_id, status=400, form=refused)
        return page.redirect(
            here + "#answer",
            notice=page.gettext("Thank you! Your answer is counted."),
        )

    @web("GET", CONSULTATION + "/charts/<int:number>.svg")
    def web_consultation_chart(self, page: Page, consultation_id, number: int):
        actor = page.actor
        results = self.services.consultations.get_results(actor, consultation_id)
        if results["status"] != "results_published" and not page.is_staff:
            raise NotFound("the results are not published")
        tables = [t for t in question_tables(results) if t["number"] == number and t["chart"]]
        if not tables:
            raise NotFound("no chart for that question")
        response = Response(chart_svg(tables[0], page.gettext), content_type=SVG_TYPE)
        response.headers["Cache-Control"] = "private, no-store"
        return response

    @web("GET", CONSULTATION + "/answers.csv")
    def web_consultation_answers_csv(self, page: Page, consultation_id):
        found = self.services.consultations.answers_csv(page.actor, consultation_id)
        return csv_response(found)


def csv_response(found: dict) -> Response:
    response = Response(found["csv"], content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{found["filename"]}"'
    response.headers["Cache-Control"] = "no-store"
    return response
