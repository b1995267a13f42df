"""A consultation's results and its answers as CSV: plain functions of plain data (no
database), so that the arithmetic is tested on its own.

`questions` are dicts `{id, kind, prompt, options}` in their order; `responses` are
dicts `{channel, answers: {question_id: value}}` where a value has its kind's shape
(single: the option; multiple: a list of options; scale: 1..5; ranking: every option
once, best first; text: the text) and a free text is there only when staff approved it.

Per question: single and multiple → how many chose each option; scale → how many gave
each of 1..5 and the mean; ranking → each option's mean rank (1 is best, lower is
better) and its Borda points (an option ranked r-th of n gets n − r points); text → the
approved texts. Each also per channel, and the number of responses per channel.
"""

from __future__ import annotations

import csv
import io

from civic.contracts import CONSULTATION_CHANNELS

SCALE = (1, 2, 3, 4, 5)
# A cell a spreadsheet would take for a formula: written with a leading apostrophe.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _tally_one(question: dict, values: list) -> dict:
    kind, options = question["kind"], question["options"]
    found = {"answered": len(values)}
    if kind in ("single", "multiple"):
        counts = dict.fromkeys(options, 0)
        for value in values:
            for option in [value] if kind == "single" else value:
                if option in counts:
                    counts[option] += 1
        found["options"] = [{"option": option, "count": counts[option]} for option in options]
    elif kind == "scale":
        counts = dict.fromkeys(SCALE, 0)
        for value in values:
            counts[value] += 1
        found["scale"] = [{"value": value, "count": counts[value]} for value in SCALE]
        found["mean"] = round(sum(values) / len(values), 2) if values else None
    elif kind == "ranking":
        ranks = {option: [] for option in options}
        for order in values:
            for rank, option in enumerate(order, start=1):
                if option in ranks:
                    ranks[option].append(rank)
        size = len(options)
        found["options"] = [
            {
                "option": option,
                "mean_rank": round(sum(ranks[option]) / len(ranks[option]), 2)
                if ranks[option]
                else None,
                "borda": sum(size - rank for rank in ranks[option]),
            }
            for option in options
        ]
    else:  # text
        found["texts"] = list(values)
    return found


def _values(question: dict, responses: list[dict]) -> list:
    return [
        response["answers"][question["id"]]
        for response in responses
        if response["answers"].get(question["id"]) not in (None, "", [])
    ]


def tally(questions: list[dict], responses: list[dict]) -> dict:
    """The results of a consultation (see the module docstring)."""
    per_channel = {
        channel: [r for r in responses if r["channel"] == channel]
        for channel in CONSULTATION_CHANNELS
    }
    return {
        "total": len(responses),
        "by_channel": {channel: len(found) for channel, found in per_channel.items()},
        "questions": [
            {
                "question_id": question["id"],
                "kind": question["kind"],
                "prompt": question["prompt"],
                **_tally_one(question, _values(question, responses)),
                "by_channel": {
                    channel: _tally_one(question, _values(question, found))
                    for channel, found in per_channel.items()
                },
            }
            for question in questions
        ],
    }


def _cell(question: dict, value) -> str:
    if value is None:
        return ""
    if question["kind"] == "multiple":
        return "; ".join(value)
    if question["kind"] == "ranking":
        return " > ".join(value)
    return str(value)


def _safe(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_text(questions: list[dict], responses: list[dict]) -> str:
    """One row per response, in the order given: its number, its channel, then one
    column per question. No account ids (the responses hold none to give)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        ["response", "channel", *(_safe(f"{n}. {q['prompt']}") for n, q in enumerate(questions, 1))]
    )
    for number, response in enumerate(responses, start=1):
        writer.writerow(
            [
                number,
                response["channel"],
                *(_safe(_cell(q, response["answers"].get(q["id"]))) for q in questions),
            ]
        )
    return out.getvalue()
