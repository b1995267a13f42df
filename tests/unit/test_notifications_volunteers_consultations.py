"""Issue 16's notifications, without a broker: who is told of volunteer invitations,
answers and roles and of consultations, in which words (Swedish and English), with
which link; the programme and consultations as follow targets; the activity feed's
subjects of the new events."""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

import pytest
from marshmallow import ValidationError

from civic.contracts import CATALOGUE
from services.notifications import activity, api, rules
from tests.support import envelope

TZ = ZoneInfo("Europe/Stockholm")


def uid() -> str:
    return str(uuid.uuid4())


def valid(event_type: str, data: dict) -> dict:
    """The data as its contract loads it (so the field names are the contract's)."""
    return CATALOGUE[event_type].schema().load(data)


def invitation(**changes) -> dict:
    data = {
        "invitation_id": uid(),
        "volunteer_id": uid(),
        "invited_by": uid(),
        "group_id": uid(),
        "target_type": "event",
        "target_id": uid(),
        "target_title": "Städdag vid Talvatis",
        "role_id": uid(),
    }
    return {**data, **changes}


def only_rule(event_type: str, data: dict) -> rules.Rule:
    applying = [rule for rule in rules.rules_for(event_type) if rule.applies(data)]
    assert len(applying) == 1, (event_type, data)
    return applying[0]


def words(event_type: str, data: dict, names: dict | None = None) -> dict:
    return rules.words_for(only_rule(event_type, data), data, names or {}, TZ)


# --- kinds ----------------------------------------------------------------------------


def test_the_new_kinds_can_be_muted():
    new = {
        "volunteer_invited",
        "volunteer_invitation_answered",
        "volunteer_role_filled",
        "consultation_opened",
        "consultation_results_published",
    }
    assert new <= set(api.KINDS)
    assert api.PreferencesSchema().load({"muted_kinds": sorted(new)}) == {
        "muted_kinds": sorted(new)
    }
    for kind in new:
        assert {rule.kind for rule in rules.rules_for(kind)} == {kind}


# --- volunteers -----------------------------------------------------------------------


def test_an_invited_volunteer_is_asked_in_both_languages_with_a_link_to_their_invitations():
    data = valid("volunteer_invited", invitation())
    rule = only_rule("volunteer_invited", data)
    assert rule.tell == (rules.Account("volunteer_id"),)
    told = words("volunteer_invited", data, {data["group_id"]: "Byalaget"})
    assert told["title_sv"] == "Ställer du upp? Byalaget bjuder in dig till ”Städdag vid Talvatis”"
    assert told["title_en"] == "Will you help? Byalaget invites you to “Städdag vid Talvatis”"
    assert "Ställer du upp?" in told["body_sv"] and "Will you help?" in told["body_en"]
    assert told["link"] == "/volunteer"
    assert (told["target_type"], told["target_id"]) == ("invitation", data["invitation_id"])
    # A group not (yet) known here reads as "the group".
    unknown = words("volunteer_invited", data)
    assert unknown["title_sv"].startswith("Ställer du upp? gruppen bjuder in dig")


@pytest.mark.parametrize(
    ("changes", "sv", "en", "link"),
    [
        (
            {"answer": "accepted", "target_type": "group", "role_id": None},
            "tackat ja",
            "now a member",
            "/groups/{group_id}",
        ),
        (
            {"answer": "accepted", "target_type": "event"},
            "får rollen om det finns en plats kvar",
            "gets the role if a place in it is left",
            "/events/{target_id}",
        ),
        (
            {"answer": "accepted", "target_type": "event", "role_id": None},
            "har accepterats.",
            "was accepted.",
            "/events/{target_id}",
        ),
        (
            {"answer": "accepted", "target_type": "project", "role_id": None},
            "har accepterats.",
            "was accepted.",
            "/projects/{target_id}",
        ),
        (
            {"answer": "declined", "target_type": "event"},
            "avböjts",
            "declined",
            "/volunteers",
        ),
    ],
)
def test_the_inviter_and_the_group_admins_hear_the_answer(changes, sv, en, link):
    data = valid("volunteer_invitation_answered", invitation(**changes))
    rule = only_rule("volunteer_invitation_answered", data)
    assert rule.tell == (rules.Account("invited_by"), rules.GroupAdmins("group_id"))
    assert rule.not_told == ("volunteer_id",)  # whoever the envelope names as actor
    told = words("volunteer_invitation_answered", data, {data["group_id"]: "Byalaget"})
    said = "ja" if data["answer"] == "accepted" else "nej"
    assert told["title_sv"] == f"En volontär har tackat {said} till ”Städdag vid Talvatis”"
    said = "yes" if data["answer"] == "accepted" else "no"
    assert told["title_en"] == f"A volunteer said {said} to “Städdag vid Talvatis”"
    assert sv in told["title_sv"] + " " + told["body_sv"]
    assert en in told["body_en"]
    assert "Byalaget" in told["body_sv"] and "Byalaget" in told["body_en"]
    assert told["link"] == link.format(**data)
    assert told["target_type"] == "invitation"


def test_a_filled_role_tells_the_organisers_admins_the_role_and_event_not_a_name():
    data = valid(
        "volunteer_role_filled",
        {
            "event_id": uid(),
            "title": "Städdag vid Talvatis",
            "role_id": uid(),
            "role_name": "Förare",
            "account_id": uid(),
            "organiser_group_id": uid(),
        },
    )
    rule = only_rule("volunteer_role_filled", data)
    assert rule.tell == (rules.GroupAdmins("organiser_group_id"),)
    assert rule.not_told == ("account_id",)
    told = words("volunteer_role_filled", data)
    assert told["title_sv"] == "En volontär ställer upp som Förare på ”Städdag vid Talvatis”"
    assert told["title_en"] == "A volunteer signed up as Förare for “Städdag vid Talvatis”"
    assert told["link"] == f"/events/{data['event_id']}"
    assert data["account_id"] not in " ".join(told.values())
    # The role left again tells nobody.
    assert rules.rules_for("volunteer_role_left") == []


# --- consultations --------------------------------------------------------------------


def consultation(event_type: str, **changes) -> dict:
    data = {"consultation_id": uid(), "title": "Jobben i Jokkmokk", "categories": ["business"]}
    if event_type == "consultation_opened":
        data["closes_at"] = "2027-01-31T22:59:00+00:00"  # 23:59 in Jokkmokk
    return valid(event_type, {**data, **changes})


def test_an_opened_consultation_tells_the_programmes_followers_and_interested_residents():
    data = consultation("consultation_opened")
    rule = only_rule("consultation_opened", data)
    assert rule.tell == (
        rules.ProgrammeFollowers("consultation_id"),
        rules.Interested("categories"),
    )
    assert rule.tell[0].target_type == "programme"
    assert rule.tell[0].target_id == api.PROGRAMME_ID
    told = words("consultation_opened", data)
    assert told["title_sv"] == "Säg din mening: ”Jobben i Jokkmokk”"
    assert told["title_en"] == "Have your say: “Jobben i Jokkmokk”"
    assert told["body_sv"] == "En ny konsultation är öppen för svar till 31 jan. 2027 kl. 23:59."
    assert told["body_en"] == "A new consultation is open for answers until 31 Jan 2027, 23:59."
    assert told["link"] == f"/consultations/{data['consultation_id']}"
    assert (told["target_type"], told["target_id"]) == ("consultation", data["consultation_id"])


def test_published_results_also_tell_the_consultations_followers():
    data = consultation("consultation_results_published", categories=["business", "housing"])
    rule = only_rule("consultation_results_published", data)
    assert rule.tell == (
        rules.ProgrammeFollowers("consultation_id"),
        rules.Interested("categories"),
        rules.Followers("consultation", "consultation_id"),
    )
    told = words("consultation_results_published", data)
    assert told["title_sv"] == "Resultatet av ”Jobben i Jokkmokk” är publicerat"
    assert told["title_en"] == "The results of “Jobben i Jokkmokk” are published"
    assert told["body_sv"] != told["body_en"]
    assert told["link"] == f"/consultations/{data['consultation_id']}"


def test_a_closed_consultation_or_an_answer_tells_nobody():
    # An answer's event names no account: nobody to tell, nothing to leak.
    assert rules.rules_for("consultation_closed") == []
    assert rules.rules_for("consultation_answered") == []


# --- follows --------------------------------------------------------------------------


def test_the_programme_and_consultations_can_be_followed():
    assert str(uuid.UUID(api.PROGRAMME_ID)) == api.PROGRAMME_ID
    assert "PROGRAMME_ID" in api.__doc__
    for target_type, target_id in (("programme", api.PROGRAMME_ID), ("consultation", uid())):
        given = {"target_type": target_type, "target_id": target_id}
        assert api.FollowCreateSchema().load(given) == given
        assert api.FollowTargetSchema().load(given) == given
    with pytest.raises(ValidationError):
        api.FollowCreateSchema().load({"target_type": "volunteer", "target_id": uid()})
    # The follows table's target_type column (12 characters) holds every type.
    assert max(len(target_type) for target_type in api.TARGET_TYPES) <= 12


# --- the activity feed ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "data", "subject"),
    [
        (
            "volunteer_profile_saved",
            {
                "account_id": "a1",
                "contact_ok": True,
                "interests": ["culture"],
                "skills": ["driving"],
                "version": 1,
            },
            ("account", "a1"),
        ),
        ("volunteer_profile_removed", {"account_id": "a1", "version": 2}, ("account", "a1")),
        ("volunteer_invited", invitation(invitation_id="i1"), ("invitation", "i1")),
        (
            "volunteer_invitation_answered",
            invitation(invitation_id="i1", answer="declined"),
            ("invitation", "i1"),
        ),
        (
            "volunteer_role_filled",
            {
                "event_id": "e1",
                "title": "Städdag",
                "role_id": "r1",
                "role_name": "Förare",
                "account_id": "a1",
                "organiser_group_id": "g1",
            },
            ("event", "e1"),
        ),
        (
            "volunteer_role_left",
            {
                "event_id": "e1",
                "title": "Städdag",
                "role_id": "r1",
                "role_name": "Förare",
                "account_id": "a1",
                "organiser_group_id": "g1",
            },
            ("event", "e1"),
        ),
        ("consultation_opened", None, "consultation"),
        ("consultation_closed", None, "consultation"),
        ("consultation_results_published", None, "consultation"),
        ("consultation_answered", None, "consultation"),
    ],
)
def test_the_activity_feed_knows_what_each_new_event_is_about(event_type, data, subject):
    if data is None:
        data = {
            "consultation_id": "c1",
            "title": "Jobben i Jokkmokk",
            "categories": ["business"],
            "closes_at": "2027-01-31T22:59:00+00:00",
            "answer_count": 3,
            "channel": "interview",
        }
        fields = CATALOGUE[event_type].schema().fields
        data = {key: value for key, value in data.items() if key in fields}
        subject = ("consultation", "c1")
    item = envelope(event_type, data)
    assert activity.subject_of(item.data) == subject
    assert subject[0] in api.SUBJECT_TYPES
    summary = activity.summary_of(item, None)
    assert summary.startswith(event_type.replace("_", " ").capitalize())
    if "target_title" in data:  # an invitation reads as what it invites to
        assert summary.endswith(": “Städdag vid Talvatis”")
    if event_type.startswith("volunteer_profile"):
        assert "a1" not in summary and "culture" not in summary
