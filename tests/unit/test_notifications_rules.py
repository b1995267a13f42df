"""The rules table: every rule names a catalogued event, audiences its data has, and
templates that read in Swedish and English with that data."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from string import Formatter
from zoneinfo import ZoneInfo

import pytest
from marshmallow import fields

from civic.contracts import CATALOGUE
from services.notifications import rules

TZ = ZoneInfo("Europe/Stockholm")


def sample(event_type: str) -> dict:
    """Data for an event of this type, made from its contract: every field filled."""
    data = {}
    for name, field in CATALOGUE[event_type].schema().fields.items():
        if isinstance(field, fields.List):
            data[name] = [str(uuid.uuid4())]
        elif isinstance(field, fields.Integer):
            data[name] = 3
        elif isinstance(field, fields.Boolean):
            data[name] = True
        elif isinstance(field, fields.DateTime):
            data[name] = "2026-12-05T09:00:00+00:00"
        elif isinstance(field, fields.Date):
            data[name] = "2026-12-31"
        elif name.endswith("status"):
            data[name] = "accepted"
        elif name.endswith("_id"):
            data[name] = str(uuid.uuid4())
        else:
            data[name] = f"the {name}"
    return data


@pytest.mark.parametrize("rule", rules.RULES, ids=lambda rule: rule.kind)
def test_each_rule_fits_its_contract(rule):
    assert rule.event_type in CATALOGUE, rule.event_type
    declared = set(CATALOGUE[rule.event_type].schema().fields)
    for audience in rule.tell:
        assert audience.field in declared, (rule.kind, audience)
    assert rule.target[1] in declared
    data = sample(rule.event_type)
    for locale in rules.LOCALES:
        values = rules.context(data, locale, {}, TZ)
        for template in (rule.title.get(locale), rule.body.get(locale), rule.link):
            used = {name for _, name, _, _ in Formatter().parse(template) if name}
            missing = used - set(values) - set(data)
            assert not missing, (rule.kind, locale, missing)
    words = rules.words_for(rule, data, {}, TZ)
    assert words["title_sv"] != words["title_en"]
    assert words["link"].startswith("/") and "{" not in words["link"]
    assert words["target_id"] == data[rule.target[1]]


def test_kinds_are_listed_once_and_event_types_have_their_rules_in_order():
    assert len(rules.KINDS) == len(set(rules.KINDS))
    # The contract lists every kind a rule gives, in the order of the rules table.
    assert tuple(dict.fromkeys(rule.kind for rule in rules.RULES)) == rules.KINDS
    with pytest.raises(ValueError):
        rules.Rule(
            "member_joined",
            "not_a_kind",
            (),
            rules.Words("", ""),
            rules.Words("", ""),
            "/",
            ("group", "group_id"),
        )
    assert [rule.kind for rule in rules.rules_for("proposal_assigned")] == [
        "proposal_assigned",
        "group_proposal_assigned",
    ]
    assert rules.rules_for("proposal_reported") == []


def test_an_online_proposal_gets_its_author_a_receipt_and_a_desk_one_does_not():
    [receipt] = rules.rules_for("proposal_submitted")
    assert receipt.kind == "proposal_received" and receipt.tells_actor
    assert receipt.applies({"channel": "online"})
    assert not receipt.applies({"channel": "drop_in"})
    assert not receipt.applies({"channel": "town_hall"})


def test_the_author_hears_who_hid_their_proposal():
    hidden = rules.rules_for("proposal_hidden")
    by_reports = [rule for rule in hidden if rule.applies({"hidden_by": "reports"})]
    by_staff = [rule for rule in hidden if rule.applies({"hidden_by": "staff"})]
    assert len(by_reports) == len(by_staff) == 1
    assert "reported" in by_reports[0].body.en and "Staff" in by_staff[0].body.en
    # An event from before staff could hide (no hidden_by) was hidden by reports.
    assert [rule for rule in hidden if rule.applies({})] == by_reports


def test_the_types_that_have_rules():
    covered = {rule.event_type for rule in rules.RULES}
    assert {
        "join_requested",
        "member_joined",
        "group_verified",
        "proposal_status_changed",
        "proposal_answered",
        "proposal_assigned",
        "comment_added",
        "event_scheduled",
        "event_changed",
        "event_cancelled",
        "waitlist_promoted",
        "event_reminder_due",
        "interest_registered",
        "opening_matched",
    } <= covered


def test_templates_use_group_names_statuses_and_local_times():
    rule = rules.rules_for("proposal_answered")[0]
    data = {
        "proposal_id": "p1",
        "title": "Fler bänkar",
        "author_id": "a1",
        "from_status": "under_review",
        "to_status": "accepted",
        "answer": "Vi sätter upp dem i vår.",
        "answered_by": "s1",
        "assigned_group_id": None,
    }
    words = rules.words_for(rule, data, {}, TZ)
    assert words["title_sv"] == "Förslaget ”Fler bänkar” har besvarats"
    assert words["body_sv"] == "Status: antaget. Svar: Vi sätter upp dem i vår."
    assert words["body_en"] == "Status: accepted. Answer: Vi sätter upp dem i vår."
    assert (words["link"], words["target_type"]) == ("/proposals/p1", "proposal")

    scheduled = rules.rules_for("event_scheduled")[0]
    data = sample("event_scheduled")
    data["starts_at"] = "2026-07-01T16:30:00+00:00"  # summer time: 18:30 in Jokkmokk
    names = {data["organiser_group_id"]: "Byalaget"}
    words = rules.words_for(scheduled, data, names, TZ)
    assert words["body_sv"].startswith("Byalaget bjuder in 1 juli 2026 kl. 18:30")
    assert words["body_en"].startswith("Byalaget invites you on 1 Jul 2026, 18:30")
    unknown = rules.words_for(scheduled, data, {}, TZ)
    assert unknown["body_sv"].startswith("gruppen bjuder in")


def test_a_missing_field_reads_as_empty_and_long_text_is_shortened():
    assert rules.render("{title} ({nothing})", {"title": "X"}) == "X ()"
    values = rules.context({"answer": "a" * 2000}, "en", {}, TZ)
    assert len(values["answer"]) == rules.TEXT_MAX and values["answer"].endswith("…")


def test_event_changes_tell_only_of_a_new_time_or_place():
    rule = rules.rules_for("event_changed")[0]
    assert rule.applies({"changed": ["location"]})
    assert not rule.applies({"changed": ["description", "capacity"]})


def test_format_time_in_both_languages():
    moment = datetime(2026, 1, 15, 17, 5, tzinfo=UTC)
    assert rules.format_time(moment, "sv", TZ) == "15 jan. 2026 kl. 18:05"
    assert rules.format_time(moment, "en", TZ) == "15 Jan 2026, 18:05"
    assert rules.context({"apply_by": date(2026, 3, 1)}, "sv", {}, TZ)["apply_by"] == "2026-03-01"
