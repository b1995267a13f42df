"""Volunteers ("Ställer du upp?", issue 16), through the website in a real browser.

Five stories: a resident offers help from the home page's "Ställer du upp?" — refused
without a time and a season, then saved, shown again and removed; an organiser schedules
a clean-up day, asks for 2 drivers and 5 pickers, residents offer on the event's page
until the drivers are full, and the organiser sees who comes and the counts (a role with
offers cannot be removed); an organiser searches the volunteers who may be contacted,
invites one to the working group and to an event's role (refused first without a
choice), and the volunteer accepts both from their page — the accepted role is theirs a
moment later, and the role is named on their page. An organiser invites a volunteer to a
joint project their group leads (another group's project is refused in words), and the
volunteer sees it named and linked, and accepts. Staff keep the skill list: a bad and a
taken key are refused and change nothing, a new skill is a choice on the volunteer's
page, and one is taken off after a confirmation. A resident who administers nothing gets
the 403 page of the search, and of the skill list.
axe-core checks every page of the area on the way, in the states the demo has not.

Residents who act are new (registered over the API, signed in through the site); the
organiser is the demo's (`organiser`, admin of the working group Trafik och gator).
Every event made here starts weeks ahead: no test depends on today's date.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from demo import PROJECTS as DEMO_PROJECTS
from demo.volunteers import ROLES as DEMO_ROLES
from demo.volunteers import TITLE as DEMO_CLEAN_UP_DAY
from tests.browser.harness import LANGUAGES, TIMEZONE, wait_until
from tests.browser.words import new_account, sv, sv_label, sv_plural, unique

TOWN = ZoneInfo(TIMEZONE)
# Events made here start this far ahead, after every demo event.
AHEAD = timedelta(days=50)
# How long a fact may take to travel from one service to another.
EFFECT_TIMEOUT = 30.0
EVENT_URL = re.compile(r"/events/[0-9a-f-]{36}(#.*)?$")
GROUP = "Trafik och gator"
# The Swedish names of the skills the groups service is seeded with.
SKILLS_SV = {
    "driving": "Bilkörning",
    "translation_sami": "Översättning samiska",
    "first_aid": "Första hjälpen",
}
PROFILE = {
    "skills": ["translation_sami", "driving"],
    "other_skills": "Nordsamiska och lulesamiska",
    "availability": ["weekends"],
    "seasons": ["winter", "spring"],
    "interests": ["culture"],
    "contact_ok": True,
}


def signed_in_page(new_context, sign_in, who: str, lang: str = "sv"):
    page = new_context(lang).new_page()
    sign_in(page, who)
    return page


def group_named(site, token: str, name: str = GROUP) -> str:
    me = site.api.get("/me", token=token)
    return next(m["group_id"] for m in me["memberships"] if m["group_name"] == name)


def town_noon_ahead(delta: timedelta) -> datetime:
    day = (datetime.now(UTC) + delta).astimezone(TOWN).date()
    return datetime.combine(day, time(10), TOWN)


def local_input(moment: datetime) -> str:
    return moment.astimezone(TOWN).strftime("%Y-%m-%dT%H:%M")


def role_row(page, name: str):
    """The row of the event page's volunteer table for the role `name`."""
    return page.locator("#roles tbody tr").filter(
        has=page.get_by_role("rowheader", name=name, exact=True)
    )


def count_text(filled: int, needed: int) -> str:
    return sv("%(filled)s of %(needed)s", filled=filled, needed=needed)


# --- offering help ----------------------------------------------------------------------


def test_a_resident_offers_help_from_the_home_page(site, new_context, sign_in, check_accessibility):
    person = new_account(site, "Hjälpsam")
    page = signed_in_page(new_context, sign_in, person["email"])
    page.goto(site.url("/"))
    call = page.locator("section.volunteer-call")
    expect(call.locator("h2")).to_have_text(sv("Will you help?"))
    call.get_by_role("link", name=sv("Offer your help")).click()
    expect(page).to_have_url(re.compile(r"/volunteer$"))
    expect(page.locator("h1")).to_have_text(sv("Will you help?"))
    expect(page.locator("main")).to_contain_text(sv("You have not offered help yet."))
    check_accessibility(page, "offer help, no profile (sv)")

    # A skill and a few words, but no time and no season: refused, field by field.
    form = page.locator('form[action="/volunteer"]')
    form.get_by_label(SKILLS_SV["driving"], exact=True).check()
    form.get_by_label(SKILLS_SV["first_aid"], exact=True).check()
    form.locator("#field-other_skills").fill("Har egen släpvagn")
    form.get_by_role("button", name=sv("Offer my help")).click()
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text(sv("Choose at least one time when you can help."))
    expect(summary).to_contain_text(sv("Choose at least one season."))
    expect(page.locator("#field-availability .field-error")).to_be_visible()
    expect(page.locator("#field-seasons .field-error")).to_be_visible()
    expect(page.locator("#field-skills .field-error")).to_have_count(0)
    # What was given is kept.
    expect(form.get_by_label(SKILLS_SV["driving"], exact=True)).to_be_checked()
    expect(form.locator("#field-other_skills")).to_have_value("Har egen släpvagn")
    check_accessibility(page, "offer help, refused (sv)")
    missing = site.api.request("GET", "/me/volunteer-profile", token=person["token"])
    assert missing.status_code == 404

    # Completed, it is saved.
    form.get_by_label(sv_label("volunteer_availability", "weekends"), exact=True).check()
    form.get_by_label(sv_label("volunteer_availability", "evenings"), exact=True).check()
    form.get_by_label(sv_label("season", "summer"), exact=True).check()
    form.get_by_label(sv_label("category", "environment"), exact=True).check()
    form.get_by_label(
        sv("Yes, they may find me in the search and invite me through Civic"), exact=True
    ).check()
    form.get_by_role("button", name=sv("Offer my help")).click()
    expect(page).to_have_url(re.compile(r"/volunteer$"))
    expect(page.locator(".notice")).to_contain_text(
        sv(
            "Thank you for offering to help! Working groups and organisers may now invite "
            "you through Civic; you answer each invitation here."
        )
    )
    saved = site.api.get("/me/volunteer-profile", token=person["token"])
    assert saved["skills"] == ["driving", "first_aid"]
    assert saved["availability"] == ["evenings", "weekends"]
    assert saved["seasons"] == ["summer"] and saved["interests"] == ["environment"]
    assert saved["contact_ok"] is True and saved["other_skills"] == "Har egen släpvagn"

    # Shown again as saved, to be changed.
    expect(page.locator("main")).to_contain_text(
        sv("Working groups may contact you through Civic.")
    )
    expect(form.get_by_label(SKILLS_SV["first_aid"], exact=True)).to_be_checked()
    expect(form.get_by_label(sv_label("season", "winter"), exact=True)).not_to_be_checked()
    form.get_by_label(sv("No, not for now"), exact=True).check()
    form.get_by_role("button", name=sv("Save the changes")).click()
    expect(page.locator(".notice")).to_contain_text(
        sv(
            "Thank you for offering to help! Nobody can find you in the search until you "
            "allow working groups to contact you."
        )
    )
    assert site.api.get("/me/volunteer-profile", token=person["token"])["contact_ok"] is False
    check_accessibility(page, "offer help, saved (sv)")

    # Removed.
    page.get_by_role("button", name=sv("Remove my offer to help")).click()
    expect(page.locator(".notice")).to_contain_text(
        sv("Your offer to help is removed. Nobody can find you in the search any longer.")
    )
    expect(page.locator("main")).to_contain_text(sv("You have not offered help yet."))
    gone = site.api.request("GET", "/me/volunteer-profile", token=person["token"])
    assert gone.status_code == 404


# --- a clean-up day's roles, filled from offers -----------------------------------------


def test_an_organiser_fills_a_clean_up_days_roles_from_offers(
    site, new_context, sign_in, check_accessibility
):
    site.resolve("/events/{event}")  # pinned to the demo's soonest event first
    group_id = group_named(site, site.api.sign_in("organiser"))
    title = unique("Städdag vid Lilla Luleälven")
    starts_at = town_noon_ahead(AHEAD)

    # The organiser schedules the clean-up day through the site.
    organiser = signed_in_page(new_context, sign_in, "organiser")
    organiser.goto(site.url(f"/events/new?group={group_id}"))
    organiser.locator("#field-title").fill(title)
    organiser.locator("#field-kind").select_option("clean_up_day")
    organiser.locator("#field-description").fill("Vi plockar skräp längs älven. Fika finns.")
    organiser.locator("#field-starts_at").fill(local_input(starts_at))
    organiser.locator("#field-ends_at").fill(local_input(starts_at + timedelta(hours=3)))
    organiser.locator("#field-location").fill("Badplatsen vid Lilla Luleälven")
    organiser.get_by_role("button", name=sv("Schedule the event")).click()
    expect(organiser).to_have_url(EVENT_URL)
    event_url = organiser.url.split("#")[0]
    expect(organiser.locator("#roles")).to_contain_text(sv("The event asks for no volunteers yet."))

    # It asks for 2 drivers and 5 pickers; "0 pickers" is refused first.
    organiser.locator(".organiser").get_by_role("link", name=sv("Volunteer roles")).click()
    expect(organiser.locator("h1")).to_have_text(sv("Volunteer roles"))
    organiser.locator("#field-name-0").fill("Förare")
    organiser.locator("#field-needed-0").fill("2")
    organiser.locator("#field-name-1").fill("Plockare")
    organiser.locator("#field-needed-1").fill("0")
    organiser.get_by_role("button", name=sv("Save the roles")).click()
    expect(organiser.locator(".error-summary")).to_contain_text(
        sv("Enter a number from %(min)s.", min="1")
    )
    expect(organiser.locator("#field-needed-1")).to_have_attribute("aria-invalid", "true")
    expect(organiser.locator("#field-name-1")).to_have_value("Plockare")
    check_accessibility(organiser, "volunteer roles, refused (sv)")
    organiser.locator("#field-needed-1").fill("5")
    organiser.get_by_role("button", name=sv("Save the roles")).click()
    expect(organiser).to_have_url(EVENT_URL)
    expect(organiser.locator(".notice")).to_contain_text(
        sv("The volunteer roles are saved. Residents can offer to help now.")
    )
    expect(role_row(organiser, "Förare").locator(".role-count")).to_have_text(count_text(0, 2))
    expect(role_row(organiser, "Plockare").locator(".role-count")).to_have_text(count_text(0, 5))
    expect(organiser.locator("#helpers")).to_contain_text(sv("Nobody has offered to help yet."))

    # Residents offer on the event's page until the drivers are full.
    first, second, third = (new_account(site, "Hjälpare") for _ in range(3))
    for person in (first, second):
        page = signed_in_page(new_context, sign_in, person["email"])
        page.goto(event_url)
        role_row(page, "Förare").get_by_role("button", name=re.compile(sv("Offer to help"))).click()
        expect(page.locator(".notice")).to_contain_text(
            sv("Thank you! You help as %(role)s. The organisers see that you come.", role="Förare")
        )
        expect(role_row(page, "Förare")).to_contain_text(sv("You help in this role"))
        expect(page.locator("#helpers")).to_have_count(0)  # the organisers' part only
    check_accessibility(page, "event with roles, offered (sv)")

    page = signed_in_page(new_context, sign_in, third["email"])
    page.goto(event_url)
    drivers = role_row(page, "Förare")
    expect(drivers.locator(".role-count")).to_contain_text(count_text(2, 2))
    expect(drivers.locator(".role-count")).to_contain_text(sv("Full"))
    expect(drivers.get_by_role("button")).to_have_count(0)
    role_row(page, "Plockare").get_by_role("button", name=re.compile(sv("Offer to help"))).click()
    expect(role_row(page, "Plockare").locator(".role-count")).to_have_text(count_text(1, 5))
    # Changed their mind, and back again.
    role_row(page, "Plockare").get_by_role("button", name=re.compile(sv("Withdraw"))).click()
    expect(page.locator(".notice")).to_contain_text(sv("Your offer to help is withdrawn."))
    expect(role_row(page, "Plockare").locator(".role-count")).to_have_text(count_text(0, 5))
    role_row(page, "Plockare").get_by_role("button", name=re.compile(sv("Offer to help"))).click()
    expect(role_row(page, "Plockare")).to_contain_text(sv("You help in this role"))

    # The organiser sees who comes, and the counts.
    organiser.goto(event_url)
    expect(role_row(organiser, "Förare").locator(".role-count")).to_contain_text(count_text(2, 2))
    expect(role_row(organiser, "Plockare").locator(".role-count")).to_have_text(count_text(1, 5))
    helpers = organiser.locator("#helpers dl")
    drivers_dd = helpers.locator("dt:has-text('Förare') + dd")
    expect(drivers_dd).to_contain_text(first["name"])
    expect(drivers_dd).to_contain_text(second["name"])
    expect(helpers.locator("dt:has-text('Plockare') + dd")).to_have_text(third["name"])
    check_accessibility(organiser, "event with roles and helpers, organiser (sv)")
    answer = site.api.get(
        f"/events/{event_url.rsplit('/', 1)[1]}/helpers", token=site.api.sign_in("organiser")
    )
    assert answer["total"] == 3

    # A role with offers cannot be removed: the editor says why.
    organiser.locator("#helpers").get_by_role("link", name=sv("Change the volunteer roles")).click()
    expect(organiser.locator("main")).to_contain_text(
        sv_plural("%(num)s person has offered to help", "%(num)s people have offered to help", 2)
    )
    organiser.locator("#field-remove-0").check()
    organiser.get_by_role("button", name=sv("Save the roles")).click()
    expect(organiser.locator(".error-summary")).to_contain_text(
        sv(
            "The role %(role)s has offers: it cannot be removed. Ask the helpers first.",
            role="Förare",
        )
    )
    check_accessibility(organiser, "volunteer roles, a role with offers (sv)")


# --- search, invite, accept -------------------------------------------------------------


def test_an_organiser_finds_and_invites_a_volunteer_who_accepts(
    site, new_context, sign_in, check_accessibility
):
    token = site.api.sign_in("organiser")
    group_id = group_named(site, token)
    volunteer = new_account(site, "Volontär")
    site.api.put("/me/volunteer-profile", PROFILE, token=volunteer["token"])
    hidden = new_account(site, "Dold")
    site.api.put("/me/volunteer-profile", {**PROFILE, "contact_ok": False}, token=hidden["token"])
    event = site.api.post(
        "/events",
        {
            "organiser_group_id": group_id,
            "title": unique("Skoterträff"),
            "kind": "meeting",
            "starts_at": town_noon_ahead(AHEAD).isoformat(),
            "ends_at": (town_noon_ahead(AHEAD) + timedelta(hours=2)).isoformat(),
            "location": "Folkets hus, Jokkmokk",
        },
        token=token,
        expect=201,
    )
    (role,) = site.api.put(
        f"/events/{event['id']}/roles", {"roles": [{"name": "Tolk", "needed": 1}]}, token=token
    )["roles"]

    # A resident who administers no group may not search: a clear 403 page.
    outsider = signed_in_page(new_context, sign_in, hidden["email"])
    refused = outsider.goto(site.url("/volunteers"))
    assert refused is not None and refused.status == 403
    expect(outsider.locator("h1")).to_have_text(sv("Not allowed"))
    expect(outsider.locator("main")).to_contain_text(sv("Will you help?"))
    check_accessibility(outsider, "volunteers search, not allowed (sv)")

    # The organiser searches by skill and season: only those who may be contacted.
    organiser = signed_in_page(new_context, sign_in, "organiser")
    organiser.goto(site.url("/volunteers"))
    organiser.locator("#filter-skill").select_option("translation_sami")
    organiser.locator("#filter-season").select_option("winter")
    organiser.get_by_role("button", name=sv("Search"), exact=True).click()
    expect(organiser).to_have_url(re.compile(r"skill=translation_sami"))
    card = organiser.locator(f"#volunteer-{volunteer['id']}")
    expect(card.locator("h3")).to_have_text(volunteer["name"])
    expect(card).to_contain_text(SKILLS_SV["translation_sami"])
    expect(card).to_contain_text("Nordsamiska och lulesamiska")
    expect(organiser.locator(f"#volunteer-{hidden['id']}")).to_have_count(0)
    assert "@" not in organiser.locator("main").inner_text()
    check_accessibility(organiser, "volunteers search, filtered (sv)")

    # Sent without a choice: refused beside the field, the search kept.
    card.get_by_role("button", name=re.compile(sv("Send the invitation"))).click()
    card = organiser.locator(f"#volunteer-{volunteer['id']}")
    expect(card.locator(".error-summary")).to_contain_text(
        sv("Choose what you invite the volunteer to.")
    )
    expect(card.locator("select[name=target]")).to_have_attribute("aria-invalid", "true")
    expect(organiser.locator("#filter-skill")).to_have_value("translation_sami")
    check_accessibility(organiser, "volunteers search, invitation refused (sv)")

    # To the working group, with a word.
    card.locator("select[name=target]").select_option(f"group:{group_id}")
    card.locator("textarea[name=message]").fill("Vi behöver någon som kan samiska!")
    card.get_by_role("button", name=re.compile(sv("Send the invitation"))).click()
    expect(organiser.locator(".notice")).to_contain_text(
        sv(
            "The invitation to %(title)s is sent to %(name)s. You are told of the answer.",
            title=GROUP,
            name=volunteer["name"],
        )
    )
    expect(organiser).to_have_url(re.compile(r"/volunteers\?.*skill=translation_sami"))
    # And to the event, as its interpreter.
    card = organiser.locator(f"#volunteer-{volunteer['id']}")
    card.locator("select[name=target]").select_option(
        f"event:{group_id}:{event['id']}:{role['id']}"
    )
    card.get_by_role("button", name=re.compile(sv("Send the invitation"))).click()
    expect(organiser.locator(".notice")).to_contain_text(event["title"])
    # And to the event as a whole (it will be declined).
    card = organiser.locator(f"#volunteer-{volunteer['id']}")
    card.locator("select[name=target]").select_option(f"event:{group_id}:{event['id']}")
    card.get_by_role("button", name=re.compile(sv("Send the invitation"))).click()
    expect(organiser.locator(".notice")).to_contain_text(event["title"])

    # The volunteer answers on their page.
    page = signed_in_page(new_context, sign_in, volunteer["email"])
    page.goto(site.url("/volunteer"))
    invitations = page.locator("#invitations .card")
    expect(invitations).to_have_count(3)
    check_accessibility(page, "offer help, with invitations (sv)")
    # The invitation to the event's role names the role; the one to the whole event not.
    to_role = invitations.filter(has_text=sv("role: %(role)s", role="Tolk"))
    expect(to_role).to_have_count(1)
    expect(to_role.locator("h3 a")).to_have_text(event["title"])
    to_group = invitations.filter(has=page.locator("h3", has_text=GROUP))
    expect(to_group).to_contain_text("Vi behöver någon som kan samiska!")
    expect(to_group).not_to_contain_text("@")
    to_group.get_by_role("button", name=re.compile(sv("Accept"))).click()
    expect(page.locator(".notice")).to_contain_text(
        sv("You accepted the invitation: you are a member of %(group)s now.", group=GROUP)
    )
    me = site.api.get("/me", token=volunteer["token"])
    assert any(m["group_id"] == group_id and m["status"] == "active" for m in me["memberships"])
    # The event's invitations: the newest (to the event as a whole) comes first among
    # them, and is declined; the other (with the role) is accepted.
    to_event = invitations.filter(has=page.locator("h3", has_text=event["title"]))
    expect(to_event).to_have_count(2)
    to_event.first.get_by_role("button", name=re.compile(sv("Decline"))).click()
    expect(page.locator(".notice")).to_contain_text(
        sv("You declined the invitation. The group is told.")
    )
    to_event = invitations.filter(has=page.locator("h3", has_text=event["title"])).filter(
        has=page.get_by_role("button", name=re.compile(sv("Accept")))
    )
    expect(to_event).to_have_count(1)
    to_event.get_by_role("button", name=re.compile(sv("Accept"))).click()
    expect(page.locator(".notice")).to_contain_text(
        sv(
            "You accepted the invitation to %(title)s as %(role)s. The group is told.",
            title=event["title"],
            role="Tolk",
        )
    )
    answers = page.locator("#invitations .card .status")
    expect(answers.filter(has_text=sv_label("invitation_status", "accepted"))).to_have_count(2)
    expect(answers.filter(has_text=sv_label("invitation_status", "declined"))).to_have_count(1)
    expect(page.get_by_role("button", name=re.compile(sv("Accept")))).to_have_count(0)

    # The accepted role is the volunteer's a moment later (the events service hears it).
    def given():
        roles = site.api.get(f"/events/{event['id']}", token=volunteer["token"])["roles"]
        return roles[0]["offered_by_me"]

    wait_until(given, EFFECT_TIMEOUT, "the role to be given to the volunteer", 0.5)
    organiser.goto(site.url(f"/events/{event['id']}"))
    expect(role_row(organiser, "Tolk").locator(".role-count")).to_contain_text(count_text(1, 1))
    expect(organiser.locator("#helpers")).to_contain_text(volunteer["name"])
    expect(organiser.locator("#helpers")).to_contain_text(sv("invited"))


# --- a joint project ---------------------------------------------------------------------


def test_an_organiser_invites_a_volunteer_to_a_joint_project_their_group_leads(
    site, new_context, sign_in, check_accessibility
):
    token = site.api.sign_in("organiser")
    group_id = group_named(site, token)
    project = site.api.post(
        "/projects",
        {
            "title": unique("Cykelställ vid stationen"),
            "description": "Trafik och gator sätter upp cykelställ med tak vid stationen.",
            "lead_group_id": group_id,
        },
        token=token,
        expect=201,
    )
    # A project the group does not lead: the demo's rink, led by the ski club.
    others = next(
        item
        for item in site.api.items("/projects", per_page=100)
        if item["title"] == DEMO_PROJECTS[0].title
    )
    assert others["lead_group_id"] != group_id
    volunteer = new_account(site, "Projekthjälp")
    site.api.put("/me/volunteer-profile", PROFILE, token=volunteer["token"])

    organiser = signed_in_page(new_context, sign_in, "organiser")
    organiser.goto(site.url("/volunteers?skill=translation_sami&season=winter"))
    card = organiser.locator(f"#volunteer-{volunteer['id']}")
    choice = card.locator(f'option[value="project:{group_id}:{project["id"]}"]')
    expect(choice).to_have_text(sv("Joint project: %(project)s", project=project["title"]))
    expect(card.locator(f'option[value$=":{others["id"]}"]')).to_have_count(0)

    # A project of another group, sent anyway (a stale or edited form): refused in words.
    card.locator("select[name=target]").evaluate(
        "(select, value) => select.add(new Option('?', value))",
        f"project:{group_id}:{others['id']}",
    )
    card.locator("select[name=target]").select_option(f"project:{group_id}:{others['id']}")
    card.get_by_role("button", name=re.compile(sv("Send the invitation"))).click()
    card = organiser.locator(f"#volunteer-{volunteer['id']}")
    expect(card.locator(".error-summary")).to_contain_text(
        sv("Choose a joint project that your group leads.")
    )
    check_accessibility(organiser, "volunteers search, project refused (sv)")
    mine = site.api.get("/me/volunteer-invitations", token=volunteer["token"])
    assert mine["total"] == 0

    # The group's own project.
    card.locator("select[name=target]").select_option(f"project:{group_id}:{project['id']}")
    card.locator("textarea[name=message]").fill("Hjälper du oss att skylta på samiska?")
    card.get_by_role("button", name=re.compile(sv("Send the invitation"))).click()
    expect(organiser.locator(".notice")).to_contain_text(
        sv(
            "The invitation to %(title)s is sent to %(name)s. You are told of the answer.",
            title=project["title"],
            name=volunteer["name"],
        )
    )

    # The volunteer sees it named and linked, and accepts.
    page = signed_in_page(new_context, sign_in, volunteer["email"])
    page.goto(site.url("/volunteer"))
    invitation = page.locator("#invitations .card")
    expect(invitation).to_have_count(1)
    link = invitation.locator("h3 a")
    expect(link).to_have_text(project["title"])
    expect(link).to_have_attribute("href", f"/projects/{project['id']}")
    expect(invitation.locator(".tag")).to_have_text(sv_label("invitation_target", "project"))
    expect(invitation).to_contain_text("Hjälper du oss att skylta på samiska?")
    check_accessibility(page, "offer help, invitation to a joint project (sv)")
    invitation.get_by_role("button", name=re.compile(sv("Accept"))).click()
    expect(page.locator(".notice")).to_contain_text(
        sv(
            "You accepted the invitation to %(title)s. The group is told.",
            title=project["title"],
        )
    )
    (answered,) = site.api.get("/me/volunteer-invitations", token=volunteer["token"])["items"]
    assert answered["target_type"] == "project" and answered["status"] == "accepted"
    link.click()
    expect(page).to_have_url(re.compile(rf"/projects/{project['id']}$"))
    expect(page.locator("h1")).to_have_text(project["title"])


# --- the skill list staff keep ----------------------------------------------------------


def test_staff_keep_the_skill_list(site, new_context, sign_in, check_accessibility):
    key = "snow_clearing_" + uuid.uuid4().hex[:8]
    name_sv, name_en = unique("Snöröjning"), unique("Snow clearing")
    keys_before = {skill["key"] for skill in site.api.get("/volunteer-skills")["items"]}

    staff = signed_in_page(new_context, sign_in, "staff")
    staff.goto(site.url("/staff/"))
    staff.locator(".staff-nav").get_by_role("link", name=sv("Skill list")).click()
    expect(staff).to_have_url(re.compile(r"/staff/volunteer-skills$"))
    expect(staff.locator("h1")).to_have_text(sv("Skill list"))
    expect(staff.locator("#skill-driving h3")).to_have_text(SKILLS_SV["driving"])
    form = staff.locator('form[action="/staff/volunteer-skills"]')

    # A key with capitals and a space, and no English name: refused field by field.
    form.locator("#field-name_sv").fill(name_sv)
    form.locator("#field-key").fill("Snö röjning")
    form.get_by_role("button", name=sv("Add the skill")).click()
    summary = staff.locator(".error-summary")
    expect(summary).to_contain_text(
        sv(
            "Use only lower-case letters a–z, digits and _, beginning with a letter, "
            "for example snow_clearing."
        )
    )
    expect(summary).to_contain_text(sv("Fill in this field."))
    expect(form.locator("#field-key")).to_have_attribute("aria-invalid", "true")
    expect(form.locator("#field-name_en")).to_have_attribute("aria-invalid", "true")
    expect(form.locator("#field-name_sv")).to_have_value(name_sv)
    check_accessibility(staff, "skill list, refused (sv)")

    # A key on the list already: refused, and the seeded skill keeps its names.
    form.locator("#field-name_en").fill(name_en)
    form.locator("#field-key").fill("driving")
    form.get_by_role("button", name=sv("Add the skill")).click()
    expect(staff.locator(".error-summary")).to_contain_text(
        sv(
            "A skill with the key %(key)s is on the list already. Choose another key.",
            key="driving",
        )
    )
    expect(form.locator("#field-key")).to_have_attribute("aria-invalid", "true")
    skills = {s["key"]: s for s in site.api.get("/volunteer-skills")["items"]}
    assert set(skills) == keys_before
    assert skills["driving"]["name_sv"] == SKILLS_SV["driving"]

    # Added.
    form.locator("#field-key").fill(key)
    form.get_by_role("button", name=sv("Add the skill")).click()
    expect(staff).to_have_url(re.compile(r"/staff/volunteer-skills$"))
    expect(staff.locator(".notice")).to_contain_text(
        sv(
            "%(name)s is on the list now: volunteers can choose it when they offer their help.",
            name=name_sv,
        )
    )
    row = staff.locator(f"#skill-{key}")
    expect(row).to_contain_text(name_sv)
    expect(row).to_contain_text(name_en)
    check_accessibility(staff, "skill list, added (sv)")

    # Residents can choose it, in their language; one offers it. (The name sorts first in
    # the search, which lists volunteers by name, 20 a page.)
    resident = new_account(site, "Aaa Kompetent")
    page = signed_in_page(new_context, sign_in, resident["email"])
    page.goto(site.url("/volunteer"))
    expect(page.locator("#field-skills").get_by_label(name_sv, exact=True)).to_be_visible()
    site.api.put("/me/volunteer-profile", {**PROFILE, "skills": [key]}, token=resident["token"])
    english = new_context("en", role=resident["email"]).new_page()
    english.goto(site.url("/volunteer"))
    expect(english.locator("#field-skills").get_by_label(name_en, exact=True)).to_be_visible()

    # Taken off the list, after a confirmation that says what it does.
    row.get_by_role("link", name=re.compile(sv("Remove"))).click()
    expect(staff.locator("h1")).to_have_text(sv("Take %(name)s off the skill list?", name=name_sv))
    expect(staff.locator("main")).to_contain_text(
        sv(
            "Volunteers who chose it keep it on their offer until they save their offer "
            "again: then it falls away. Adding the same key again brings it back."
        )
    )
    check_accessibility(staff, "skill list, confirm removal (sv)")
    assert key in {s["key"] for s in site.api.get("/volunteer-skills")["items"]}
    staff.get_by_role("button", name=sv("Take it off the list")).click()
    expect(staff).to_have_url(re.compile(r"/staff/volunteer-skills$"))
    expect(staff.locator(".notice")).to_contain_text(
        sv(
            "%(name)s is taken off the list. Adding the key %(key)s again brings it back.",
            name=name_sv,
            key=key,
        )
    )
    expect(staff.locator(f"#skill-{key}")).to_have_count(0)
    assert key not in {s["key"] for s in site.api.get("/volunteer-skills")["items"]}
    page.goto(site.url("/volunteer"))
    expect(page.locator("#field-skills").get_by_label(name_sv, exact=True)).to_have_count(0)
    # The volunteer who offered it keeps it until they save again; the search no longer
    # offers it as a filter, and their card names it (not its key).
    staff.goto(site.url("/volunteers"))
    expect(staff.locator(f"#filter-skill option[value={key}]")).to_have_count(0)
    card = staff.locator(f"#volunteer-{resident['id']}")
    expect(card).to_contain_text(name_sv)
    expect(card).not_to_contain_text(key)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_resident_may_not_keep_the_skill_list(site, lang, new_context, check_accessibility):
    page = new_context(lang, role="resident").new_page()
    answer = page.goto(site.url("/staff/volunteer-skills"))
    assert answer is not None and answer.status == 403
    check_accessibility(page, f"skill list, not allowed ({lang})")
    removal = page.goto(site.url("/staff/volunteer-skills/driving/remove"))
    assert removal is not None and removal.status == 403
    assert "driving" in {s["key"] for s in site.api.get("/volunteer-skills")["items"]}


# --- axe-core on the area's pages -------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_volunteer_pages_are_accessible(site, lang, new_context, check_accessibility):
    """The demo's clean-up day with its roles, offers and helpers (demo/volunteers.py),
    as its organiser, a resident and a visitor, and the search's 403 page — in the
    states the sweep of pages_volunteers.py does not reach."""
    clean_up = next(
        item
        for item in site.api.items("/events", per_page=100)
        if item["title"] == DEMO_CLEAN_UP_DAY
    )
    assert [(r["name"], r["needed"]) for r in clean_up["roles"]] == list(DEMO_ROLES)
    path = f"/events/{clean_up['id']}"
    pages = [
        (new_context(lang, role="organiser").new_page(), path, "clean-up day, organiser", 200),
        (new_context(lang, role="resident").new_page(), path, "clean-up day, resident", 200),
        (new_context(lang).new_page(), path, "clean-up day, signed out", 200),
        (new_context(lang, role="resident").new_page(), "/volunteers", "search, not allowed", 403),
    ]
    for page, where, label, status in pages:
        answer = page.goto(site.url(where))
        assert answer is not None and answer.status == status, f"{where}: {answer.status}"
        assert page.locator("html").get_attribute("lang") == lang
        check_accessibility(page, f"{label} ({lang})")
    organiser = pages[0][0]
    expect(organiser.locator("#helpers")).to_be_visible()
    expect(pages[2][0].locator("#roles").get_by_role("button")).to_have_count(0)
