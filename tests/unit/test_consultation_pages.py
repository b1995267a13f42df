"""The consultation pages' own rules (services/gateway/web/consultation_pages.py,
staff_consultation_pages.py and the consultations' open data), from made-up data: the
answer form read into the service's answers, refusals tied to their questions, results
as tables and charts by channel, the create form's questions, the open-data rows — and
every template rendered in both languages. No services needed."""

from __future__ import annotations

import csv
import io
import json
from types import SimpleNamespace

import pytest
from werkzeug.datastructures import MultiDict

from civic.errors import ValidationError
from services.consultations import results as tallying
from services.gateway.web import consultation_pages as pages
from services.gateway.web import open_data_pages
from services.gateway.web import staff_consultation_pages as staff
from services.gateway.web.forms import FormState
from services.gateway.web.render import render_template

CID = "7b0c2d8e-1111-4a2b-9c3d-000000000001"
QUESTIONS = [
    {
        "id": "q1",
        "position": 1,
        "kind": "single",
        "prompt": "Vilken bransch?",
        "options": ["Turism", "Gruvor"],
        "required": True,
    },
    {
        "id": "q2",
        "position": 2,
        "kind": "multiple",
        "prompt": "Vad hindrar?",
        "options": ["Bostad", "Jobb", "Skola"],
        "required": False,
    },
    {"id": "q3", "position": 3, "kind": "scale", "prompt": "Framtiden?", "options": []},
    {
        "id": "q4",
        "position": 4,
        "kind": "ranking",
        "prompt": "Rangordna",
        "options": ["Jobb", "Bostäder", "Fritid"],
        "required": False,
    },
    {"id": "q5", "position": 5, "kind": "text", "prompt": "Berätta fritt", "options": []},
]
for _question in QUESTIONS:
    _question.setdefault("required", False)


def consultation(status="open", **extra) -> dict:
    return {
        "id": CID,
        "title": "Jobben i Jokkmokk",
        "intro": "Vad får unga att stanna?",
        "status": status,
        "anonymous": True,
        "categories": ["business"],
        "opens_at": "2026-11-01T08:00:00+00:00",
        "closes_at": "2026-12-01T08:00:00+00:00",
        "answer_count": 3,
        "answered_by_me": False,
        "questions": QUESTIONS,
        "created_at": "2026-10-30T08:00:00+00:00",
        "opened_at": "2026-11-01T08:00:00+00:00",
        "closed_at": None,
        "results_published_at": None,
        **extra,
    }


def results() -> dict:
    responses = [
        {
            "channel": "online",
            "answers": {
                "q1": "Turism",
                "q2": ["Bostad", "Jobb"],
                "q3": 4,
                "q4": ["Jobb", "Bostäder", "Fritid"],
                "q5": "Fler hyresrätter.",
            },
        },
        {"channel": "online", "answers": {"q1": "Gruvor", "q3": 2}},
        {
            "channel": "interview",
            "answers": {"q1": "Turism", "q2": ["Jobb"], "q4": ["Fritid", "Jobb", "Bostäder"]},
        },
    ]
    plain = [{k: q[k] for k in ("id", "kind", "prompt", "options")} for q in QUESTIONS]
    return {
        "consultation_id": CID,
        "title": "Jobben i Jokkmokk",
        "status": "results_published",
        **tallying.tally(plain, responses),
    }


class FakePage:
    """What the templates need of a page."""

    def __init__(self, lang="sv", staff=False, signed_in=True, form=None):
        self.lang = lang
        self.request = SimpleNamespace(path="/consultations", full_path="/consultations?")
        self.signed_in = signed_in
        self.is_staff = staff
        self.principal = {"account_id": "a"} if signed_in else None
        self.unread_count = None
        self.notice = None
        self.csrf_token = "token"
        self.form = form

    def gettext(self, message, **values):
        return message % values if values else message

    def new_form_key(self):
        return "key"


# --- the answer form ----------------------------------------------------------------------


def test_a_filled_in_form_gives_one_answer_per_question_in_the_services_shape():
    form = MultiDict(
        [
            ("q-q1", "Turism"),
            ("q-q2", "Bostad"),
            ("q-q2", "Skola"),
            ("q-q3", "4"),
            ("q-q4-0", "2"),
            ("q-q4-1", "3"),
            ("q-q4-2", "1"),
            ("q-q5", "  Fler hyresrätter.  "),
        ]
    )
    answers, problems = pages.read_answers(form, QUESTIONS)
    assert problems == {}
    assert answers == [
        {"question_id": "q1", "value": "Turism"},
        {"question_id": "q2", "value": ["Bostad", "Skola"]},
        {"question_id": "q3", "value": 4},
        {"question_id": "q4", "value": ["Fritid", "Jobb", "Bostäder"]},
        {"question_id": "q5", "value": "Fler hyresrätter."},
    ]


def test_blank_answers_are_not_answered_and_a_required_one_is_a_problem():
    answers, problems = pages.read_answers(MultiDict([("q-q4-0", ""), ("q-q5", " ")]), QUESTIONS)
    assert [a["value"] for a in answers] == [None, None, None, None, None]
    assert problems == {"q-q1": [pages.REQUIRED_MESSAGE]}


@pytest.mark.parametrize(
    "ranks", [("1", "1", "2"), ("1", "", "3"), ("1", "2", "9"), ("a", "2", "3")]
)
def test_a_ranking_must_give_each_option_its_own_rank(ranks):
    form = MultiDict([("q-q1", "Turism")] + [(f"q-q4-{i}", r) for i, r in enumerate(ranks)])
    answers, problems = pages.read_answers(form, QUESTIONS)
    assert problems == {"q-q4": [pages.RANKING_MESSAGE]}
    assert "q4" not in [a["question_id"] for a in answers]


def test_the_services_refusal_is_tied_to_each_question():
    answers = [{"question_id": q["id"], "value": None} for q in QUESTIONS]
    error = ValidationError(
        "the answers are not valid",
        fields={
            "answers": {
                "2": ["A whole number from 1 to 5."],
                "q1": ["This question must be answered."],
                "_schema": ["Answer at least one question."],
            }
        },
    )
    errors = pages.answer_errors(FakePage(), error, answers, QUESTIONS)
    assert errors == {
        "q-q3": ["Choose a number from 1 to 5."],
        "q-q1": ["Answer this question."],
        "_form": ["Answer at least one question."],
    }


# --- results ------------------------------------------------------------------------------


def test_results_become_tables_by_channel_and_charts():
    tables = pages.question_tables(results())
    single, multiple, scale, ranking, text = tables
    assert single["columns"][0] == ("all", "All answers")
    assert single["rows"] == [("Turism", [2, 1, 1, 0]), ("Gruvor", [1, 1, 0, 0])]
    assert multiple["rows"][1] == ("Jobb", [2, 1, 1, 0])
    assert scale["rows"][3] == ("4", [1, 1, 0, 0]) and scale["mean"] == 3.0
    # Ranking: mean rank, points in all, then points per channel (n − rank per answer).
    assert ranking["rows"][0] == ("Jobb", [1.5, 3, 2, 1, 0])
    assert ranking["chart_series"][0] == ("online", [2, 1, 0])
    # The service gives approved texts only; each is shown with its channel.
    assert text["texts"] == [("online", "Fler hyresrätter.")] and not text["chart"]
    svg = pages.chart_svg(single, lambda m: m)
    assert svg.startswith("<svg") and "<script" not in svg and "Interview" in svg


def test_approved_texts_are_shown_with_their_channel():
    found = results()
    found["questions"][4]["by_channel"]["interview"]["texts"] = ["Tåget behöver gå oftare."]
    text = pages.question_tables(found)[4]
    assert text["texts"] == [
        ("online", "Fler hyresrätter."),
        ("interview", "Tåget behöver gå oftare."),
    ]


# --- the staff's create form --------------------------------------------------------------


def test_the_create_form_gives_the_questions_with_a_prompt_and_names_their_fields():
    form = MultiDict(
        {
            "title": "Jobben",
            "intro": "",
            "opens_at": "2026-12-03T08:00",
            "closes_at": "2026-12-20T08:00",
            "anonymous": "yes",
            "categories": "business",
            "q1_kind": "single",
            "q1_prompt": "Vilken bransch?",
            "q1_options": "Turism\r\n\r\n Gruvor \n",
            "q1_required": "yes",
            "q2_kind": "text",
            "q2_prompt": "",
            "q3_kind": "scale",
            "q3_prompt": "Framtiden?",
        }
    )
    payload, names = staff.consultation_payload(form)
    assert payload["anonymous"] is True and payload["categories"] == ["business"]
    assert payload["questions"] == [
        {
            "kind": "single",
            "prompt": "Vilken bransch?",
            "options": ["Turism", "Gruvor"],
            "required": True,
        },
        {"kind": "scale", "prompt": "Framtiden?", "options": [], "required": False},
    ]
    assert names["questions.1.options"] == "q3_options"
    assert staff.local_moment("2026-12-03T07:00:00+00:00") == "2026-12-03T08:00"


def test_the_form_has_the_slots_it_was_sent_with_and_reads_a_consultation_back():
    draft = consultation("draft")
    values = staff.consultation_form_values(draft)
    values.update({"q9_kind": "text", "q9_prompt": "Nionde?", "q8_kind": "single"})
    form = MultiDict([(k, v) for k, v in values.items() if k != "categories"])
    form.setlist("categories", values["categories"])
    assert staff.slot_count(form) == 9
    assert staff.slot_count(MultiDict({"q2_kind": "single"})) == staff.QUESTION_SLOTS
    assert staff.slot_count(MultiDict({"q99_kind": "single"})) == 30  # the service's maximum
    payload, names = staff.consultation_payload(form)
    assert [q["prompt"] for q in payload["questions"]] == [
        *(q["prompt"] for q in QUESTIONS),
        "Nionde?",
    ]
    assert payload["questions"][0] == {
        "kind": "single",
        "prompt": "Vilken bransch?",
        "options": ["Turism", "Gruvor"],
        "required": True,
    }
    assert payload["anonymous"] is True and payload["categories"] == ["business"]
    assert payload["opens_at"] == "2026-11-01T09:00"  # the town's time
    assert names["questions.5.prompt"] == "q9_prompt"


def test_following_is_unknown_without_the_follows():
    follows = {"items": [{"target_type": "programme", "target_id": "p"}]}
    assert pages.following(follows, "programme", "p") is True
    assert pages.following(follows, "consultation", "p") is False
    assert pages.following(None, "programme", "p") is None
    assert pages.follows_known(follows) and not pages.follows_known(None)


# --- open data ----------------------------------------------------------------------------


def test_the_open_data_rows_hold_the_results_per_channel_and_no_texts():
    published = [consultation("results_published", results_published_at="2026-12-02T10:00:00")]
    dataset = open_data_pages.consultations_dataset(published, {CID: results()})
    rows = dataset["rows"]
    assert set(rows[0]) == set(open_data_pages.CONSULTATION_FIELDS)
    turism = next(r for r in rows if r["question_number"] == 1 and r["answer"] == "Turism")
    assert (turism["all"], turism["online"], turism["interview"]) == (2, 1, 1)
    assert {r["measure"] for r in rows if r["kind"] == "ranking"} == {"borda", "mean_rank"}
    assert not [r for r in rows if r["kind"] == "text"]
    document = open_data_pages.json_document(dataset, "https://civic.example/x.json")
    assert document["items"] == rows and document["modified"] == "2026-12-02T10:00:00"
    assert "Fler hyresrätter." not in json.dumps(document)  # texts: in the answers file
    text = open_data_pages.csv_text(dataset)
    assert next(csv.reader(io.StringIO(text)))[:2] == ["consultation_id", "consultation_title"]
    document = open_data_pages.catalogue_document([], "https://civic.example", published)
    [entry] = document["dcat:dataset"]
    urls = [d["dcat:downloadURL"]["@id"] for d in entry["dcat:distribution"]]
    assert f"https://civic.example/open-data/consultations/{CID}/answers.csv" in urls
    assert entry["dct:modified"]["@value"] == "2026-12-02T10:00:00"
    json.dumps(document)


# --- the templates render -----------------------------------------------------------------


@pytest.mark.parametrize("lang", ["sv", "en"])
@pytest.mark.parametrize("status", ["open", "closed", "results_published"])
def test_the_public_pages_render(lang, status):
    found = results()
    html = render_template(
        lang,
        "consultations/detail.html",
        page=FakePage(lang),
        consultation=consultation(status),
        form=FormState(errors={"q-q4": ["Rank!"]}, values={"q-q4-0": "2", "q-q2": ["Jobb"]}),
        results=found,
        tables=pages.question_tables(found),
        sign_in_here="/signin",
        follows_known=True,
        following=status == "closed",
        follow_box=True,
        scale=pages.SCALE,
        text_max=2000,
    )
    if status == "open":
        assert 'name="q-q4-0"' in html and 'aria-invalid="true"' in html
        assert 'id="error-summary"' in html
    if status == "results_published":
        assert "/charts/1.svg" in html and "answers.csv" in html
    listing = {"items": [consultation(status)], "total": 1, "page": 1, "per_page": 20}
    for signed_in, known, following in (
        (False, False, None),
        (True, True, True),
        (True, False, None),
    ):
        html = render_template(
            lang,
            "consultations/list.html",
            page=FakePage(lang, signed_in=signed_in),
            open=listing,
            closed={"items": [], "total": 0, "page": 1, "per_page": 20},
            published=None,
            follows_known=known,
            following=following,
            sign_in_here="/signin?next=/consultations",
        )
        assert "Jobben i Jokkmokk" in html
        assert ("/consultations/programme/unfollow" in html) is bool(following)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_the_staff_screens_render(lang):
    found = results()
    page = FakePage(lang, staff=True)
    entry = {"id": "t1", "question_id": "q5", "prompt": "Berätta", "text": "Hej"}
    texts = {"items": [{**entry, "status": "pending"}], "total": 1, "page": 1, "per_page": 100}
    for status in ("draft", "open", "closed", "results_published"):
        html = render_template(
            lang,
            "staff/consultation.html",
            page=page,
            consultation=consultation(status),
            results=found,
            tables=pages.question_tables(found),
            texts=texts,
            text_status=None,
            unavailable=False,
        )
        assert "Jobben i Jokkmokk" in html
    render_template(
        lang,
        "staff/consultations.html",
        page=page,
        consultations={"items": [consultation("draft")], "total": 1, "page": 1, "per_page": 50},
    )
    for template, slots in (
        ("staff/consultation_new.html", 6),
        ("staff/consultation_edit.html", 30),
    ):
        html = render_template(
            lang,
            template,
            page=page,
            form=FormState(errors={"q1_options": ["Two!"]}),
            consultation=consultation("draft"),
            action="/staff/consultations/new",
            slots=staff.question_slots(slots),
            can_add=slots < 30,
            add_question=staff.ADD_QUESTION,
            questions_max=30,
            kinds=("single", "multiple", "scale", "text", "ranking"),
            categories=(),
            scale_max=5,
        )
        assert f'name="q{slots}_prompt"' in html
        assert ('name="add_question"' in html) is (slots < 30)
    html = render_template(
        lang,
        "staff/consultation_answers.html",
        page=page,
        consultation=consultation("open"),
        form=FormState(values={"channel": "interview"}),
        channels=staff.STAFF_CHANNELS,
        scale=pages.SCALE,
        text_max=2000,
    )
    assert 'value="interview" checked' in html
