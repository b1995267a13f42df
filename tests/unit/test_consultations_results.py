"""The arithmetic of a consultation's results and its CSV (services/consultations/
results.py): plain data in, plain data out, no database."""

import csv
import io

from civic.contracts import CONSULTATION_CATEGORIES
from services.consultations import results
from services.proposals.api import CATEGORIES

SINGLE = {"id": "q1", "kind": "single", "prompt": "Bransch?", "options": ["Turism", "IT"]}
MULTIPLE = {
    "id": "q2",
    "kind": "multiple",
    "prompt": "Hinder?",
    "options": ["Bostad", "Jobb", "Barnomsorg"],
}
SCALE = {"id": "q3", "kind": "scale", "prompt": "Framtiden?", "options": []}
RANKING = {
    "id": "q4",
    "kind": "ranking",
    "prompt": "Viktigast?",
    "options": ["Jobb", "Bostäder", "Fritid"],
}
TEXT = {"id": "q5", "kind": "text", "prompt": "Berätta", "options": []}
QUESTIONS = [SINGLE, MULTIPLE, SCALE, RANKING, TEXT]

RESPONSES = [
    {
        "channel": "online",
        "answers": {
            "q1": "Turism",
            "q2": ["Bostad", "Jobb"],
            "q3": 4,
            "q4": ["Jobb", "Bostäder", "Fritid"],
            "q5": "Fler bostäder, tack",
        },
    },
    {
        "channel": "online",
        "answers": {"q1": "IT", "q2": ["Bostad"], "q3": 2, "q4": ["Bostäder", "Jobb", "Fritid"]},
    },
    {
        "channel": "interview",
        "answers": {"q1": "Turism", "q3": 5, "q4": ["Jobb", "Fritid", "Bostäder"]},
    },
    {"channel": "town_hall", "answers": {"q2": ["Barnomsorg", "Jobb"]}},
]


def question(found, question_id):
    return next(q for q in found["questions"] if q["question_id"] == question_id)


def test_totals_per_channel():
    found = results.tally(QUESTIONS, RESPONSES)
    assert found["total"] == 4
    assert found["by_channel"] == {"online": 2, "interview": 1, "town_hall": 1}


def test_single_and_multiple_count_each_option_in_the_questions_order():
    found = results.tally(QUESTIONS, RESPONSES)
    single = question(found, "q1")
    assert single["answered"] == 3
    assert single["options"] == [{"option": "Turism", "count": 2}, {"option": "IT", "count": 1}]
    multiple = question(found, "q2")
    assert multiple["answered"] == 3
    assert multiple["options"] == [
        {"option": "Bostad", "count": 2},
        {"option": "Jobb", "count": 2},
        {"option": "Barnomsorg", "count": 1},
    ]
    assert multiple["by_channel"]["town_hall"]["options"][2] == {"option": "Barnomsorg", "count": 1}
    assert multiple["by_channel"]["interview"]["answered"] == 0


def test_scale_counts_every_step_and_the_mean():
    scale = question(results.tally(QUESTIONS, RESPONSES), "q3")
    assert scale["scale"] == [
        {"value": 1, "count": 0},
        {"value": 2, "count": 1},
        {"value": 3, "count": 0},
        {"value": 4, "count": 1},
        {"value": 5, "count": 1},
    ]
    assert scale["mean"] == 3.67
    assert scale["by_channel"]["online"]["mean"] == 3.0
    assert scale["by_channel"]["town_hall"]["mean"] is None


def test_ranking_gives_mean_rank_and_borda_points():
    ranking = question(results.tally(QUESTIONS, RESPONSES), "q4")
    by_option = {o["option"]: o for o in ranking["options"]}
    # Jobb: ranks 1, 2, 1; Bostäder: 2, 1, 3; Fritid: 3, 3, 2 (of 3 options: 3 − rank points).
    assert by_option["Jobb"] == {"option": "Jobb", "mean_rank": 1.33, "borda": 2 + 1 + 2}
    assert by_option["Bostäder"] == {"option": "Bostäder", "mean_rank": 2.0, "borda": 1 + 2 + 0}
    assert by_option["Fritid"] == {"option": "Fritid", "mean_rank": 2.67, "borda": 0 + 0 + 1}
    assert ranking["by_channel"]["town_hall"]["options"][0]["mean_rank"] is None


def test_texts_are_those_given_and_nothing_unanswered_counts():
    found = results.tally(QUESTIONS, RESPONSES)
    assert question(found, "q5")["texts"] == ["Fler bostäder, tack"]
    assert question(found, "q5")["answered"] == 1
    empty = results.tally(QUESTIONS, [])
    assert empty["total"] == 0
    assert question(empty, "q3")["mean"] is None


def test_csv_has_a_row_per_response_and_no_formula_cells():
    responses = [*RESPONSES, {"channel": "online", "answers": {"q5": "=HYPERLINK(1)"}}]
    rows = list(csv.reader(io.StringIO(results.csv_text(QUESTIONS, responses))))
    assert rows[0] == [
        "response",
        "channel",
        "1. Bransch?",
        "2. Hinder?",
        "3. Framtiden?",
        "4. Viktigast?",
        "5. Berätta",
    ]
    assert rows[1] == [
        "1",
        "online",
        "Turism",
        "Bostad; Jobb",
        "4",
        "Jobb > Bostäder > Fritid",
        "Fler bostäder, tack",
    ]
    assert rows[4] == ["4", "town_hall", "", "Barnomsorg; Jobb", "", "", ""]
    assert rows[5][-1] == "'=HYPERLINK(1)"
    assert len(rows) == 1 + len(responses)


def test_consultation_categories_are_the_proposal_categories():
    assert tuple(CONSULTATION_CATEGORIES) == tuple(CATEGORIES)
