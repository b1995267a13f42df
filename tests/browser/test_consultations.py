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
the open data. axe-core checks every page on the way, in Swedish and English.

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

from tests.browser.harness import STAFF_SHOTS
from tests.browser.words import new_account, sv, sv_label, unique

SHOTS = STAFF_SHOTS
STAFF_PATH = re.compile(r"/staff/consultations/([0-9a-f-]{36})$")
INDUSTRIES = ["Turism", "Gruvor och energi", "IT och distansarbete"]
OBSTACLES = ["Bostad", "Jobb för min partner", "Kommunikationer"]
PRIORITIES = ["Jobb", "Bostäder", "Fritid"]


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"consultations-{name}.png"), full_page=True)


def moments(days: int = 14) -> tuple[str, str]:
    now = datetime.now(UTC).replace(microsecond=0)
    return (now - timedelta(minutes=1)).isoformat(), (now + timedelta(days=days)).isoformat()


def open_consultation(site, token: str, title: str, anonymous: bool = True) -> dict:
    """A published consultation, open now, with a question of every kind."""
    opens, closes = moments()
    created = site.api.post(
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
