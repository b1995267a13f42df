"""The trace screen's story from log records, and civic.instances' plain parts: what
questions and answers are accepted, records kept once, log files read for one id."""

from __future__ import annotations

import json

from civic import instances
from services.gateway.web.staff_trace_pages import events_of, search_kind, story

CID = "0b7c3a9e-1111-4a2b-9c3d-000000000001"
MESSAGE = "9d2f8a61-2222-4b3c-8d4e-000000000002"


def record(ts, event, **fields):
    return {"ts": ts, "event": event, "correlation_id": CID, "level": "info", **fields}


RECORDS = [
    # Each line is written when its work ends: the access line comes last.
    record(
        "2026-12-02T10:00:00.050000Z",
        "worker_done",
        service="proposals",
        entrypoint="proposals.submit_proposal",
        duration_ms=30.0,
        outcome="ok",
    ),
    record(
        "2026-12-02T10:00:00.060000Z",
        "worker_done",
        service="gateway",
        entrypoint="gateway.web_proposal_submit",
        duration_ms=55.0,
        outcome="ok",
    ),
    record(
        "2026-12-02T10:00:00.061000Z",
        "http_request",
        service="gateway",
        method="POST",
        path="/proposals/new",
        status=303,
        duration_ms=57.0,
    ),
    record(
        "2026-12-02T10:00:00.120000Z",
        "worker_done",
        service="notifications",
        entrypoint="notifications.on_event",
        duration_ms=10.0,
        event_type="proposal_submitted",
        event_source="proposals",
        message_id=MESSAGE,
        outcome="ok",
    ),
    record("2026-12-02T10:00:01.000000Z", "email_sent", service="notifications", kind="x"),
]


def test_the_story_is_told_in_the_order_the_work_started():
    steps = story(RECORDS)
    assert [(s["kind"], s["service"]) for s in steps] == [
        ("http", "gateway"),
        ("gateway", "gateway"),
        ("rpc", "proposals"),
        ("event", "proposals"),  # told by its handler's line, at the producer's end
        ("handler", "notifications"),
        ("email", "notifications"),
    ]
    assert steps[0]["offset_ms"] == 0 and steps[2]["duration_ms"] == 30.0
    published = steps[3]
    assert published["derived"] and published["event_type"] == "proposal_submitted"
    assert published["start"] == steps[2]["end"]
    assert json.loads(steps[0]["json"])["path"] == "/proposals/new"


def test_each_event_lists_its_handlers():
    events = events_of(story(RECORDS))
    assert [(e["type"], [h["entrypoint"] for h in e["handlers"]]) for e in events] == [
        ("proposal_submitted", ["notifications.on_event"])
    ]


def test_an_empty_story():
    assert story([]) == []


def test_search_kinds():
    assert search_kind("someone@example.org") == "email"
    assert search_kind("JKM-7F3K2") == "reference"
    assert search_kind(CID) == "correlation_id"
    assert search_kind("no spaces please") is None


def test_records_are_kept_once_in_time_order():
    a, b = RECORDS[2], RECORDS[0]
    assert instances.merge([a, b, dict(a)]) == [b, a]


def test_questions_are_checked():
    assert instances.read_question(json.dumps({"ask": "identity", "id": "q1"}))
    assert instances.read_question(json.dumps({"ask": "trace", "id": "q", "correlation_id": CID}))
    assert (
        instances.read_question(json.dumps({"ask": "find", "id": "q", "mention": "short"})) is None
    )
    assert instances.read_question(b"\x80\x04pickle") is None
    assert instances.read_question(json.dumps(["ask"])) is None


def test_answers_are_checked():
    identity = {
        "instance_id": "abc",
        "service": "groups",
        "host": "h",
        "pid": 12,
        "version": "1",
        "started_at": "2026-12-02T10:00:00+00:00",
        "uptime_s": 3.5,
    }
    good = json.dumps({"id": "q", "instance": identity, "records": [{"a": 1}, "junk"]})
    assert instances.read_answer(good, "q") == (identity, [{"a": 1}])
    assert instances.read_answer(good, "another question") is None
    assert (
        instances.read_answer(json.dumps({"id": "q", "instance": {**identity, "pid": True}}), "q")
        is None
    )


def test_log_files_are_read_for_one_correlation_id(tmp_path):
    path = tmp_path / "proposals.log"
    lines = [json.dumps(r) for r in RECORDS] + ["not json " + CID, json.dumps({"x": CID})]
    lines.append(json.dumps(record("2026-12-02T10:00:02Z", "other", correlation_id="other")))
    path.write_text("\n".join(lines) + "\n")
    paused = []
    found = instances.records_for(
        CID, [path, tmp_path / "gone.log"], pause=lambda: paused.append(1), every=2
    )
    assert found == RECORDS and paused
    mentioned = instances.correlations_mentioning(MESSAGE, [path])
    assert [item["correlation_id"] for item in mentioned] == [CID]


def test_retries_dead_letters_and_failed_emails_are_steps_of_their_own():
    handler = {
        "service": "notifications",
        "entrypoint": "notifications.on_event",
        "event_type": "proposal_submitted",
        "event_source": "proposals",
        "message_id": MESSAGE,
    }
    records = [
        record(
            "2026-12-02T10:00:00.100Z", "worker_failed", level="error", duration_ms=5, **handler
        ),
        record("2026-12-02T10:00:00.101Z", "handler_failed_will_retry", retry_in_s=0.5, **handler),
        record("2026-12-02T10:00:02.000Z", "handler_failed_dead_lettered", **handler),
        record("2026-12-02T10:00:03.000Z", "email_attempt_failed", service="notifications"),
        record("2026-12-02T10:00:04.000Z", "email_failed", service="notifications"),
    ]
    kinds = [step["kind"] for step in story(records)]
    assert kinds == ["event", "handler", "retry", "dead_letter", "email_retry", "email_failed"]
    (event,) = events_of(story(records))
    assert [h["kind"] for h in event["handlers"]] == ["handler", "retry", "dead_letter"]


def test_a_worker_is_placed_at_its_own_start_when_its_line_says_it():
    """`ts` − `duration_ms` is the end minus the time measured, a hair after the worker's
    true start; the line's `started_at` (written since) is exact, so the RPC comes before
    the event its transaction stored."""
    records = [
        record(
            "2026-12-02T10:00:00.005500Z",
            "event_stored",
            service="proposals",
            event_type="proposal_submitted",
            event_source="proposals",
            message_id=MESSAGE,
        ),
        record(
            "2026-12-02T10:00:00.016300Z",
            "worker_done",
            service="proposals",
            entrypoint="proposals.submit_proposal",
            duration_ms=10.6,  # ts − duration: 10:00:00.005700, after the event
            started_at="2026-12-02T10:00:00.005000+00:00",
            outcome="ok",
        ),
    ]
    kinds = [step["kind"] for step in story(records) if not step["derived"]]
    assert kinds[:2] == ["rpc", "event"]
    broken = [dict(records[0]), {**records[1], "started_at": "not a time"}]
    assert [s["kind"] for s in story(broken) if not s["derived"]][:2] == ["event", "rpc"]
