"""Consultations (issue 16, "Lokalt Omvärldsprogram"), through the website in a real
browser.

The stories: a new resident answers a consultation on the website — an incomplete
answer is refused with its errors beside the questions, the complete one is counted,
"you have answered" shows, and a second answer (from a form opened before the first was
sent) is refused; staff draft a consultation in the console, publish it and enter an
interview's answers with that channel; staff moderate the free texts, close the
consultation and publish its results, and the public results page shows a chart and a
table per question broken down by channel (online, interview, town-hall meeting), the
approved texts only, and the CSV of every answer downloads, anonymised, as it does from
the open data. Staff edit a draft (a closing moment before the opening one is refused
beside its field and changes nothing; the saved change shows; once published the edit
page refuses) and give a new consultation a seventh question with "Add a question". A
resident follows the development programme on /consultations and hears (inbox) of a
consultation that opens; a resident follows a consultation and stops following it.
axe-core checks every page on the way, in Swedish and English.

The consultations are made over the API where the story is not about making them; their
moments are set from the current time (now − a minute: open at once when published).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.harness import STAFF_SHOTS, wait_until
from tests.browser.words import new_account, sv, sv_label, unique

SHOTS = STAFF_SHOTS
STAFF_PATH = re.compile(r"/staff/consultations/([0-9a-f-]{36})$")
INDUSTRIES = ["Turism", "Gruvor och energi", "IT och distansarbete"]
OBSTACLES = ["Bostad", "Jobb för min partner", "Kommunikationer"]
PRIORITIES = ["Jobb", "Bostäder", "Fritid"]
# How long a fact may take to travel from one service to another (and into the inbox).
EFFECT_TIMEOUT = 30.0


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"consultations-{name}.png"), full_page=True)


def moments(days: int = 14) -> tuple[str, str]:
    now = datetime.now(UTC).replace(microsecond=0)
    return (now - timedelta(minutes=1)).isoformat(), (now + timedelta(days=days)).isoformat()


def draft_consultation(site, token: str, title: str, anonymous: bool = True) -> dict:
    """A draft, to open now once published, with a question of every kind."""
    opens, closes = moments()
    return site.api.post(
        "/consultations",
        {
            "title": title,
            "intro": "Kommunen vill veta vad som får unga att stanna.",
            "opens_at": opens,
            "closes_at": closes,
            "anonymous": anonymous,
            "categories": ["business"],
            "questions": [
                {
                    "kind": "single",
                    "prompt": "Vilken bransch vill du se växa?",
                    "options": INDUSTRIES,
                    "required": True,
                },
                {"kind": "multiple", "prompt": "Vad hindrar dig?", "options": OBSTACLES},
                {"kind": "scale", "prompt": "Hur ser du på framtiden?"},
                {"kind": "ranking", "prompt": "Vad är viktigast?", "options": PRIORITIES},
                {"kind": "text", "prompt": "Berätta fritt"},
            ],
        },
        token=token,
        expect=201,
    )


def open_consultation(site, token: str, title: str, anonymous: bool = True) -> dict:
    """A published consultation, open now, with a question of every kind."""
    created = draft_consultation(site, token, title, anonymous)
    return site.api.post(f"/consultations/{created['id']}/publish", token=token, expect=200)


def field(question: dict) -> str:
    return f"q-{question['id']}"


def rank(page, question: dict, order: list[str]) -> None:
    """Give each option its rank in `order` (best first)."""
    for index, option in enumerate(question["options"]):
        page.locator(f"select[name='{field(question)}-{index}']").select_option(
            str(order.index(option) + 1)
        )


def count_of(site, consultation_id: str) -> int:
    return site.api.get(f"/consultations/{consultation_id}")["answer_count"]


# --- 1. a resident answers on the website -----------------------------------------------


def test_a_resident_answers_once_on_the_website(site, new_context, sign_in, check_accessibility):
    staff_token = site.api.sign_in("staff")
    title = unique("Jobben i Jokkmokk")
    consultation = open_consultation(site, staff_token, title)
    single, multiple, scale, ranking, text = consultation["questions"]
    resident = new_account(site, "Svarande")

    page = new_context("sv").new_page()
    sign_in(page, resident["email"])
    page.goto(site.url("/consultations"))
    expect(page.locator("h1")).to_have_text(sv("Consultations"))
    check_accessibility(page, "consultations (sv)")
    page.locator("#open-heading ~ ul").get_by_role("link", name=title).click()
    expect(page.locator("h1")).to_have_text(title)
    expect(page.locator("#answer-count")).to_have_text("0")
    check_accessibility(page, "consultation with its answer form (sv)")
    shot(page, "answer-form-sv")
    # A second tab holds the form from before the answer is sent.
    stale = page.context.new_page()
    stale.goto(page.url)

    # Incomplete: the required question left out, and a ranking with a rank twice.
    page.locator(f"input[name='{field(multiple)}'][value='Bostad']").check()
    page.locator(f"input[name='{field(scale)}'][value='4']").check()
    for index in range(len(PRIORITIES)):
        page.locator(f"select[name='{field(ranking)}-{index}']").select_option("1")
    page.locator(f"textarea[name='{field(text)}']").fill("Fler hyresrätter nära centrum.")
    page.get_by_role("button", name=sv("Send my answer")).click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary.get_by_role("link", name=sv("Answer this question."))).to_have_attribute(
        "href", f"#field-{field(single)}"
    )
    expect(page.locator(f"#error-{field(ranking)}")).to_be_visible()
    expect(page.locator(f"input[name='{field(single)}']").first).to_have_attribute(
        "aria-invalid", "true"
    )
    # What was given is kept.
    expect(page.locator(f"input[name='{field(multiple)}'][value='Bostad']")).to_be_checked()
    expect(page.locator(f"textarea[name='{field(text)}']")).to_have_value(
        "Fler hyresrätter nära centrum."
    )
    check_accessibility(page, "consultation, answer refused (sv)")
    shot(page, "answer-refused-sv")
    assert count_of(site, consultation["id"]) == 0

    # Complete: counted, and the page says so.
    page.locator(f"input[name='{field(single)}'][value='Turism']").check()
    rank(page, ranking, ["Bostäder", "Jobb", "Fritid"])
    page.get_by_role("button", name=sv("Send my answer")).click()
    expect(page.locator(".notice").first).to_contain_text(sv("Thank you! Your answer is counted."))
    expect(page.locator("#answer .answered")).to_contain_text(
        sv("You have answered this consultation.")
    )
    expect(page.locator("#answer form")).to_have_count(0)
    expect(page.locator("#answer-count")).to_have_text("1")
    check_accessibility(page, "consultation, answered (sv)")
    shot(page, "answered-sv")

    # A second answer, from the form opened before: refused, not counted.
    stale.locator(f"input[name='{field(single)}'][value='Gruvor och energi']").check()
    stale.get_by_role("button", name=sv("Send my answer")).click()
    expect(stale.locator(".notice").first).to_contain_text(
        sv("You have answered this consultation already, or it no longer takes answers.")
    )
    assert count_of(site, consultation["id"]) == 1
    # Over the API too (the same account).
    site.api.post(
        f"/consultations/{consultation['id']}/answers",
        {"answers": [{"question_id": single["id"], "value": "Turism"}]},
        token=resident["token"],
        expect=409,
    )

    # The list says it was answered; the page in English.
    english = new_context("en").new_page()
    sign_in(english, resident["email"])
    english.goto(site.url(f"/consultations/{consultation['id']}"))
    expect(english.locator("#answer .answered")).to_contain_text(
        "You have answered this consultation."
    )
    check_accessibility(english, "consultation, answered (en)")
    english.goto(site.url("/consultations"))
    card = english.locator(".card", has_text=title)
    expect(card).to_contain_text("You have answered.")


# --- 2. staff enter an interview's answers ------------------------------------------------


def test_staff_draft_publish_and_enter_an_interviews_answers(
    site, new_context, check_accessibility
):
    title = unique("Fritid för unga")
    page = new_context("sv", role="staff").new_page()
    page.goto(site.url("/staff/consultations"))
    expect(page.locator("h1")).to_have_text(sv("Consultations"))
    check_accessibility(page, "staff consultations (sv)")
    page.get_by_role("link", name=sv("New consultation")).click()
    expect(page.locator("h1")).to_have_text(sv("New consultation"))
    check_accessibility(page, "staff new consultation (sv)")

    # A single-choice question with one option only: refused beside the question.
    page.locator("input[name=title]").fill(title)
    page.locator("textarea[name=intro]").fill("Vad saknar unga på fritiden?")
    page.locator("select[name=q1_kind]").select_option("single")
    page.locator("input[name=q1_prompt]").fill("Vad saknas mest?")
    page.locator("textarea[name=q1_options]").fill("Ishall")
    page.locator("input[name=q1_required]").check()
    page.locator("select[name=q2_kind]").select_option("scale")
    page.locator("input[name=q2_prompt]").fill("Hur nöjd är du med fritiden?")
    page.locator("select[name=q3_kind]").select_option("text")
    page.locator("input[name=q3_prompt]").fill("Vad vill du göra?")
    page.get_by_role("button", name=sv("Save the draft")).click()
    expect(page.locator("#error-summary")).to_contain_text(
        sv("Give at least two options, one per line.")
    )
    expect(page.locator("#field-q1_options")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("input[name=q2_prompt]")).to_have_value("Hur nöjd är du med fritiden?")
    check_accessibility(page, "staff new consultation, refused (sv)")
    page.locator("textarea[name=q1_options]").fill("Ishall\nUngdomsgård\nKonsertlokal")
    page.get_by_role("button", name=sv("Save the draft")).click()
    expect(page).to_have_url(STAFF_PATH)
    consultation_id = STAFF_PATH.search(page.url).group(1)
    expect(page.locator("#consultation-status")).to_have_text(
        sv_label("consultation_status", "draft")
    )
    check_accessibility(page, "staff consultation, draft (sv)")
    # A draft is not public.
    assert site.api.request("GET", f"/consultations/{consultation_id}").status_code == 404

    page.get_by_role("button", name=sv("Publish the consultation")).click()
    expect(page.locator("#consultation-status")).to_have_text(
        sv_label("consultation_status", "open")
    )
    page.get_by_role(
        "link", name=sv("Enter answers from an interview or a town-hall meeting")
    ).click()
    expect(page).to_have_url(re.compile(rf"/staff/consultations/{consultation_id}/answers$"))
    check_accessibility(page, "staff enter answers (sv)")
    questions = site.api.get(f"/consultations/{consultation_id}")["questions"]
    choice, scale, text = questions

    # The interview's answers: the channel recorded.
    page.get_by_label(sv_label("consultation_channel", "interview"), exact=True).check()
    page.locator(f"input[name='{field(choice)}'][value='Ungdomsgård']").check()
    page.locator(f"input[name='{field(scale)}'][value='2']").check()
    page.locator(f"textarea[name='{field(text)}']").fill("En plats att träffas på kvällen.")
    page.get_by_role("button", name=sv("Save the answers")).click()
    expect(page.locator(".notice").first).to_contain_text(
        sv_label("consultation_channel", "interview")
    )
    # The form is empty again, for the next person.
    expect(page.locator(f"input[name='{field(choice)}']:checked")).to_have_count(0)
    shot(page, "staff-answers-entered-sv")

    # A town-hall answer without the required question: refused.
    page.get_by_label(sv_label("consultation_channel", "town_hall"), exact=True).check()
    page.locator(f"input[name='{field(scale)}'][value='5']").check()
    page.get_by_role("button", name=sv("Save the answers")).click()
    expect(page.locator("#error-summary")).to_contain_text(sv("Answer this question."))
    expect(
        page.get_by_label(sv_label("consultation_channel", "town_hall"), exact=True)
    ).to_be_checked()
    check_accessibility(page, "staff enter answers, refused (sv)")

    staff_token = site.api.sign_in("staff")
    results = site.api.get(f"/consultations/{consultation_id}/results", token=staff_token)
    assert results["total"] == 1
    assert results["by_channel"] == {"online": 0, "interview": 1, "town_hall": 0}

    english = new_context("en", role="staff").new_page()
    english.goto(site.url(f"/staff/consultations/{consultation_id}/answers"))
    expect(english.locator("h1")).to_contain_text("Enter answers")
    check_accessibility(english, "staff enter answers (en)")


# --- 3. close, publish, and the results --------------------------------------------------


def test_staff_moderate_close_and_publish_and_the_results_show_by_channel(
    site, new_context, check_accessibility
):
    staff_token = site.api.sign_in("staff")
    title = unique("Framtidens Jokkmokk")
    consultation = open_consultation(site, staff_token, title)
    cid = consultation["id"]
    single, multiple, scale, ranking, text = consultation["questions"]
    approved, hidden = unique("Bygg fler hyresrätter"), unique("Ring mig på 070-1234567")

    def answer(token, channel, industry, level, order, words):
        values = {
            single["id"]: industry,
            multiple["id"]: ["Bostad"],
            scale["id"]: level,
            ranking["id"]: order,
            text["id"]: words,
        }
        site.api.post(
            f"/consultations/{cid}/answers",
            {
                "channel": channel,
                "answers": [{"question_id": k, "value": v} for k, v in values.items()],
            },
            token=token,
            expect=201,
        )

    online = [new_account(site, "Webbsvar") for _ in range(2)]
    answer(online[0]["token"], "online", "Turism", 4, ["Jobb", "Bostäder", "Fritid"], approved)
    answer(online[1]["token"], "online", "Turism", 5, ["Bostäder", "Jobb", "Fritid"], None)
    answer(staff_token, "interview", "Gruvor och energi", 2, ["Jobb", "Fritid", "Bostäder"], hidden)
    answer(staff_token, "town_hall", "Turism", 3, ["Fritid", "Jobb", "Bostäder"], None)

    # While open: the count, and no results for the public.
    visitor = new_context("sv").new_page()
    visitor.goto(site.url(f"/consultations/{cid}"))
    expect(visitor.locator("#answer-count")).to_have_text("4")
    expect(visitor.locator("#results")).to_have_count(0)

    # Staff moderate the two free texts, close it and publish the results.
    page = new_context("sv", role="staff").new_page()
    page.goto(site.url(f"/staff/consultations/{cid}"))
    check_accessibility(page, "staff consultation, open (sv)")
    page.locator(".text-entry", has_text=approved).get_by_role("button", name=sv("Approve")).click()
    expect(page.locator(".text-entry", has_text=approved)).to_have_attribute(
        "data-status", "approved"
    )
    page.locator(".text-entry", has_text=hidden).get_by_role("button", name=sv("Hide")).click()
    expect(page.locator(".text-entry", has_text=hidden)).to_have_attribute("data-status", "hidden")
    page.get_by_role("button", name=sv("Close the consultation")).click()
    expect(page.locator("#consultation-status")).to_have_text(
        sv_label("consultation_status", "closed")
    )
    # Closed, not yet published: the public sees that results are coming.
    visitor.reload()
    expect(visitor.locator("#results")).to_have_count(0)
    assert visitor.request.get(site.url(f"/consultations/{cid}/answers.csv")).status == 409
    page.get_by_role("button", name=sv("Publish the results")).click()
    expect(page.locator("#consultation-status")).to_have_text(
        sv_label("consultation_status", "results_published")
    )
    check_accessibility(page, "staff consultation, results published (sv)")
    shot(page, "staff-results-published-sv")

    # The results page: per question a chart and a table by channel.
    visitor.reload()
    results = visitor.locator("#results")
    expect(results).to_be_visible()
    channels = visitor.locator("#results-channels tbody tr")
    expect(channels).to_have_count(3)
    expect(channels.nth(0)).to_contain_text("2")
    table = visitor.locator("#results-question-1")
    headings = table.locator("thead th").all_inner_texts()
    assert headings[2:] == [
        sv_label("consultation_channel", c) for c in ("online", "interview", "town_hall")
    ]
    turism = table.locator("tbody tr", has_text="Turism")
    assert turism.locator("td").all_inner_texts() == ["3", "2", "0", "1"]
    gruvor = table.locator("tbody tr", has_text="Gruvor och energi")
    assert gruvor.locator("td").all_inner_texts() == ["1", "0", "1", "0"]
    ranking_row = visitor.locator("#results-question-4 tbody tr", has_text="Jobb").first
    # Jobb: ranked 1, 2, 1, 2 of 3 → mean rank 1.5, points 2+1+2+1 = 6 (online 3).
    assert ranking_row.locator("td").all_inner_texts()[1:3] == ["6", "3"]
    for number in (1, 2, 3, 4):
        image = visitor.locator(f"#question-{number} img")
        expect(image).to_have_attribute("alt", re.compile(".+"))
        chart = visitor.request.get(site.url(image.get_attribute("src")))
        assert chart.status == 200 and chart.headers["content-type"].startswith("image/svg")
        assert "<script" not in chart.text()
    texts = visitor.locator("#question-5 .result-texts")
    expect(texts).to_contain_text(approved)
    expect(visitor.locator("main")).not_to_contain_text(hidden)
    check_accessibility(visitor, "consultation results (sv)")
    shot(visitor, "results-sv")

    # The CSV of every answer downloads: anonymised, the approved text only.
    with visitor.expect_download() as download:
        visitor.get_by_role("link", name=sv("Download every answer as CSV (anonymised)")).click()
    body = Path(download.value.path()).read_bytes().decode("utf-8")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:2] == ["response", "channel"] and len(rows) == 5
    assert sorted(row[1] for row in rows[1:]) == ["interview", "online", "online", "town_hall"]
    assert approved in body and hidden not in body
    for account in online:
        assert account["id"] not in body and account["name"] not in body

    english = new_context("en").new_page()
    english.goto(site.url(f"/consultations/{cid}"))
    expect(english.locator("#results-question-1 thead")).to_contain_text("Interview")
    check_accessibility(english, "consultation results (en)")
    shot(english, "results-en")

    # The results are in the open data, with the same anonymised answers.
    english.goto(site.url("/open-data"))
    section = english.locator("section[aria-labelledby=consultations]")
    expect(section.get_by_role("link", name=title, exact=True)).to_be_visible()
    check_accessibility(english, "open data with consultations (en)")
    answers = english.request.get(site.url(f"/open-data/consultations/{cid}/answers.csv"))
    assert answers.status == 200 and answers.text() == body
    combined = english.request.get(site.url("/open-data/consultations.csv"))
    assert combined.status == 200
    mine = [
        row for row in csv.DictReader(io.StringIO(combined.text())) if row["consultation_id"] == cid
    ]
    turism_row = next(r for r in mine if r["question_number"] == "1" and r["answer"] == "Turism")
    assert (turism_row["all"], turism_row["online"], turism_row["town_hall"]) == ("3", "2", "1")
    catalogue = english.request.get(site.url("/open-data/catalog.jsonld")).text()
    assert f"/open-data/consultations/{cid}/answers.csv" in catalogue


# --- 4. staff edit a draft -----------------------------------------------------------------


def test_staff_edit_a_draft_until_it_is_published(site, new_context, check_accessibility):
    staff_token = site.api.sign_in("staff")
    title, better = unique("Skolskjutsar"), unique("Skolskjutsar i hela kommunen")
    draft = draft_consultation(site, staff_token, title)
    cid = draft["id"]
    page = new_context("sv", role="staff").new_page()
    page.goto(site.url(f"/staff/consultations/{cid}"))
    page.get_by_role("link", name=sv("Edit the draft")).click()
    expect(page).to_have_url(re.compile(rf"/staff/consultations/{cid}/edit$"))
    expect(page.locator("h1")).to_have_text(sv("Edit the draft"))
    # The draft's values fill the form, its five questions and one empty slot more.
    expect(page.locator("input[name=title]")).to_have_value(title)
    expect(page.locator("input[name=q4_prompt]")).to_have_value("Vad är viktigast?")
    expect(page.locator("textarea[name=q4_options]")).to_have_value("\n".join(PRIORITIES))
    expect(page.locator("input[name=q1_required]")).to_be_checked()
    expect(page.locator("input[name=anonymous]")).to_be_checked()
    expect(page.locator("input[name=q6_prompt]")).to_have_value("")
    check_accessibility(page, "staff edit a draft (sv)")

    # A closing moment before the opening one: refused beside the field, nothing changed.
    opens = page.locator("input[name=opens_at]").input_value()
    page.locator("input[name=title]").fill(better)
    page.locator("input[name=q5_prompt]").fill("Berätta fritt om din skolväg")
    page.locator("input[name=closes_at]").fill("2020-01-01T08:00")
    page.get_by_role("button", name=sv("Save the draft")).click()
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text(sv("The closing moment must be after the opening moment."))
    expect(summary.get_by_role("link").first).to_have_attribute("href", "#field-closes_at")
    expect(page.locator("#field-closes_at")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("input[name=title]")).to_have_value(better)  # what was typed is kept
    expect(page.locator("input[name=opens_at]")).to_have_value(opens)
    check_accessibility(page, "staff edit a draft, refused (sv)")
    shot(page, "staff-edit-refused-sv")
    kept = site.api.get(f"/consultations/{cid}", token=staff_token)
    assert kept["title"] == title and kept["closes_at"] == draft["closes_at"]

    # Put right: saved, and the consultation's screen shows the change.
    page.locator("input[name=closes_at]").fill("2099-06-01T18:00")
    page.get_by_role("button", name=sv("Save the draft")).click()
    expect(page).to_have_url(re.compile(rf"/staff/consultations/{cid}$"))
    expect(page.locator(".notice").first).to_contain_text(
        sv("The draft is saved. Publish it when it is ready.")
    )
    expect(page.locator("h1")).to_have_text(better)
    expect(page.locator(".question-list li").nth(4)).to_contain_text("Berätta fritt om din skolväg")
    saved = site.api.get(f"/consultations/{cid}", token=staff_token)
    assert saved["title"] == better and saved["status"] == "draft"
    assert saved["closes_at"].startswith("2099-06-01T16:00")  # 18:00 in the town's summer time
    assert [q["kind"] for q in saved["questions"]] == [q["kind"] for q in draft["questions"]]

    english = new_context("en", role="staff").new_page()
    english.goto(site.url(f"/staff/consultations/{cid}/edit"))
    expect(english.locator("h1")).to_have_text("Edit the draft")
    check_accessibility(english, "staff edit a draft (en)")

    # Published (open at once: its opening moment has come): no edit link, and the edit
    # page refuses with a notice.
    page.get_by_role("button", name=sv("Publish the consultation")).click()
    expect(page.locator("#consultation-status")).to_have_text(
        sv_label("consultation_status", "open")
    )
    expect(page.get_by_role("link", name=sv("Edit the draft"))).to_have_count(0)
    page.goto(site.url(f"/staff/consultations/{cid}/edit"))
    expect(page).to_have_url(re.compile(rf"/staff/consultations/{cid}$"))
    expect(page.locator(".notice").first).to_contain_text(
        sv(
            "Only a draft can be edited, and this consultation is published already: its "
            "questions and moments stay as they are."
        )
    )


# --- 5. more than six questions ---------------------------------------------------------------


def test_staff_add_a_seventh_question_and_publish_it(site, new_context, check_accessibility):
    title = unique("Sju frågor om vintern")
    page = new_context("sv", role="staff").new_page()
    page.goto(site.url("/staff/consultations/new"))
    expect(page.locator("#questions-max")).to_contain_text("30")
    expect(page.locator("fieldset.question-slot")).to_have_count(6)
    page.locator("input[name=title]").fill(title)
    page.locator("input[name=anonymous]").check()
    for slot in range(1, 7):
        page.locator(f"select[name=q{slot}_kind]").select_option("scale")
        page.locator(f"input[name=q{slot}_prompt]").fill(f"Fråga {slot}: hur nöjd är du?")
    page.get_by_role("button", name=sv("Add a question")).click()
    # The form again, as filled in, with a seventh empty slot (and nothing saved).
    expect(page.locator("fieldset.question-slot")).to_have_count(7)
    expect(page.locator("#error-summary")).to_have_count(0)
    expect(page.locator("input[name=title]")).to_have_value(title)
    expect(page.locator("input[name=anonymous]")).to_be_checked()
    expect(page.locator("select[name=q6_kind]")).to_have_value("scale")
    expect(page.locator("input[name=q6_prompt]")).to_have_value("Fråga 6: hur nöjd är du?")
    expect(page.locator("input[name=q7_prompt]")).to_have_value("")
    check_accessibility(page, "staff new consultation, seven slots (sv)")
    shot(page, "staff-new-seven-slots-sv")
    page.locator("select[name=q7_kind]").select_option("multiple")
    page.locator("input[name=q7_prompt]").fill("Vilka vinteraktiviteter saknas?")
    page.locator("textarea[name=q7_options]").fill("Skidspår\nIsbana\nSkoterleder")
    page.get_by_role("button", name=sv("Save the draft")).click()
    expect(page).to_have_url(STAFF_PATH)
    cid = STAFF_PATH.search(page.url).group(1)
    expect(page.locator(".question-list li")).to_have_count(7)
    page.get_by_role("button", name=sv("Publish the consultation")).click()
    expect(page.locator("#consultation-status")).to_have_text(
        sv_label("consultation_status", "open")
    )
    published = site.api.get(f"/consultations/{cid}")
    assert published["status"] == "open" and len(published["questions"]) == 7
    assert published["questions"][6]["prompt"] == "Vilka vinteraktiviteter saknas?"
    assert published["questions"][6]["options"] == ["Skidspår", "Isbana", "Skoterleder"]
    # The residents' form has all seven.
    visitor = new_context("en").new_page()
    visitor.goto(site.url(f"/consultations/{cid}"))
    expect(visitor.locator("dl.facts dd").nth(2)).to_have_text("7")


# --- 6. following the programme and a consultation ----------------------------------------


def test_a_resident_follows_the_programme_and_hears_of_a_consultation_that_opens(
    site, new_context, sign_in, check_accessibility
):
    resident = new_account(site, "Följare")
    page = new_context("sv").new_page()
    sign_in(page, resident["email"])
    page.goto(site.url("/consultations"))
    box = page.locator("#follow")
    expect(box.get_by_role("button", name=sv("Follow the programme"))).to_be_visible()
    check_accessibility(page, "consultations, follow the programme (sv)")
    box.get_by_role("button", name=sv("Follow the programme")).click()
    expect(page.locator(".notice").first).to_contain_text(
        sv(
            "You follow the development programme: you will be told when a consultation "
            "opens and when its results are published."
        )
    )
    expect(box.get_by_role("button", name=sv("Stop following"))).to_be_visible()
    check_accessibility(page, "consultations, following the programme (sv)")
    shot(page, "following-the-programme-sv")

    # /follows lists it, linked to the consultations.
    page.goto(site.url("/follows"))
    card = page.locator(".follow-list .card", has_text=sv("The development programme"))
    expect(card.get_by_role("link")).to_have_attribute("href", "/consultations")
    expect(card.get_by_role("link")).to_have_text("Jokkmokks utvecklingsprogram")
    # In English, the programme's name too (it is the site's, not a resident's words).
    english = new_context("en", role=resident["email"]).new_page()
    english.goto(site.url("/follows"))
    card = english.locator(".follow-list .card", has_text="The development programme")
    expect(card.get_by_role("link")).to_have_text("Jokkmokk's development programme")

    # A consultation opens: the resident is told, in the inbox.
    title = unique("Badplatser i sommar")
    open_consultation(site, site.api.sign_in("staff"), title)
    told = f"Säg din mening: ”{title}”"

    def in_the_inbox():
        page.goto(site.url("/notifications"))
        return page.get_by_text(told).count() > 0

    wait_until(in_the_inbox, EFFECT_TIMEOUT, "the opened consultation in the inbox", 0.5)
    link = page.get_by_role("link", name=told)
    expect(link).to_have_attribute("href", re.compile(r"/consultations/[0-9a-f-]{36}$"))

    # Stop following, from /consultations.
    page.goto(site.url("/consultations"))
    box.get_by_role("button", name=sv("Stop following")).click()
    expect(page.locator(".notice").first).to_contain_text(
        sv("You no longer follow the development programme.")
    )
    expect(box.get_by_role("button", name=sv("Follow the programme"))).to_be_visible()
    assert not [
        f
        for f in site.api.items("/follows", token=resident["token"])
        if f["target_type"] == "programme"
    ]


def test_a_resident_follows_a_consultation_and_stops_following_it(
    site, new_context, sign_in, check_accessibility
):
    title = unique("Cykelvägar")
    consultation = open_consultation(site, site.api.sign_in("staff"), title)
    cid = consultation["id"]
    resident = new_account(site, "Cyklist")
    page = new_context("sv").new_page()
    sign_in(page, resident["email"])
    here = site.url(f"/consultations/{cid}")
    box = page.locator("#follow")
    not_yet = sv("This consultation cannot be followed yet. Try again in a minute.")

    def followed():
        # The notifications service hears of the consultation a moment after it opens.
        page.goto(here)
        box.get_by_role("button", name=sv("Follow this consultation")).click()
        notice = page.locator(".notice").first
        expect(notice).to_be_visible()
        if not_yet in notice.inner_text():
            return False
        return True

    wait_until(followed, EFFECT_TIMEOUT, "the consultation to be followable", 0.5)
    expect(page.locator(".notice").first).to_contain_text(
        sv("You follow this consultation: you will be told when its results are published.")
    )
    expect(box.get_by_role("button", name=sv("Stop following"))).to_be_visible()
    check_accessibility(page, "consultation, followed (sv)")
    shot(page, "consultation-followed-sv")

    page.goto(site.url("/follows"))
    card = page.locator(".follow-list .card", has_text=title)
    expect(card.get_by_role("link", name=title)).to_have_attribute("href", f"/consultations/{cid}")
    expect(card).to_contain_text(sv("Consultation"))

    english = new_context("en").new_page()
    sign_in(english, resident["email"])
    english.goto(here)
    expect(english.locator("#follow")).to_contain_text(
        "You follow this consultation and are told when its results are published."
    )
    check_accessibility(english, "consultation, followed (en)")

    page.goto(here)
    box.get_by_role("button", name=sv("Stop following")).click()
    expect(page.locator(".notice").first).to_contain_text(
        sv("You no longer follow this consultation.")
    )
    expect(box.get_by_role("button", name=sv("Follow this consultation"))).to_be_visible()
    assert not [
        f for f in site.api.items("/follows", token=resident["token"]) if f["target_id"] == cid
    ]
