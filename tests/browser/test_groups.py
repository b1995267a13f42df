"""Groups and joint projects, through the website in a real browser.

The association story (issue 11): a new resident asks to join a closed association;
its admin approves the request on the group's page, and the resident shows as a member;
the admin then registers a joint project with a partner group, whose page shows both
groups and its status. Then: starting a group, its admin declining a request and
removing a member, a member leaving; a double submission of the new-group form making
one group; and axe-core on every page of the area, in Swedish and English.

Every account that changes something is new (registered over the API); the demo's
association admin is the only demo account that acts, on its own group.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from civic.contracts import GROUP_KINDS
from tests.browser.harness import LANGUAGES
from tests.browser.words import new_account, sv, unique


def signed_in_page(new_context, sign_in, who: str, lang: str = "sv"):
    """A page of a new context, signed in through the site's /signin form."""
    page = new_context(lang).new_page()
    sign_in(page, who)
    return page


def closed_association_of(site, admin_token: str) -> dict:
    """A closed association the admin administers: the demo's own, else a new one (so
    that joining needs approval, whatever the demo data holds)."""
    me = site.api.get("/me", token=admin_token)
    for membership in me["memberships"]:
        if (
            membership["kind"] == "association"
            and membership["role"] == "admin"
            and membership["status"] == "active"
        ):
            group = site.api.get(f"/groups/{membership['group_id']}")
            if not group["open"]:
                return group
    return site.api.post(
        "/groups",
        {"name": unique("Slöjdföreningen"), "kind": "association", "open": False},
        token=admin_token,
        expect=201,
    )


def member_row(page, name: str):
    return page.locator("#members tbody tr").filter(has=page.get_by_role("rowheader", name=name))


def request_row(page, name: str):
    return page.locator("#requests tbody tr").filter(has=page.get_by_role("rowheader", name=name))


# --- the association story ------------------------------------------------------------


def test_an_association_admin_approves_a_join_request_and_registers_a_joint_project(
    site, new_context, sign_in, check_accessibility
):
    admin_token = site.api.sign_in("association_admin")
    association = closed_association_of(site, admin_token)
    group_path = f"/groups/{association['id']}"
    resident = new_account(site, "Nyinflyttad")

    # The new resident asks to join through the site.
    resident_page = signed_in_page(new_context, sign_in, resident["email"])
    resident_page.goto(site.url(group_path))
    expect(resident_page.locator("h1")).to_have_text(association["name"])
    resident_page.get_by_role("button", name=sv("Ask to join")).click()
    expect(resident_page.locator(".notice")).to_contain_text(
        sv(
            "Your request to join was sent to the group's admins. You will hear when they "
            "have approved it."
        )
    )
    expect(resident_page.locator(".membership")).to_contain_text(
        sv("You have asked to join. The group's admins have not answered yet.")
    )

    # The admin sees the request on the group's page and approves it.
    admin_page = signed_in_page(new_context, sign_in, "association_admin")
    admin_page.goto(site.url(group_path))
    expect(request_row(admin_page, resident["name"])).to_have_count(1)
    check_accessibility(admin_page, "group page, admin with a request to join (sv)")
    approve = sv("Approve %(name)s", name=resident["name"])
    request_row(admin_page, resident["name"]).get_by_role("button", name=approve).click()
    expect(admin_page.locator(".notice")).to_contain_text(
        sv("The request was approved: they are now a member.")
    )
    expect(request_row(admin_page, resident["name"])).to_have_count(0)
    row = member_row(admin_page, resident["name"])
    expect(row).to_have_count(1)
    expect(row).to_contain_text(sv("Member"))

    # The resident is a member now.
    resident_page.reload()
    expect(resident_page.locator(".membership")).to_contain_text(
        sv("You are a member of this group.")
    )
    expect(member_row(resident_page, resident["name"])).to_have_count(1)

    # The admin registers a joint project with a partner group.
    partner = next(
        group
        for group in site.api.items("/groups", kind="association", per_page=100)
        if group["id"] != association["id"]
    )
    title = unique("Slöjdkurser för nyinflyttade")
    admin_page.goto(site.url(group_path))
    admin_page.get_by_role("link", name=sv("Register a joint project")).click()
    expect(admin_page.locator("h1")).to_have_text(sv("Register a joint project"))
    admin_page.get_by_label(sv("Title of the project")).fill(title)
    admin_page.get_by_label(sv("What the project is about")).fill(
        "Föreningarna lär nyinflyttade slöjda, en kväll i veckan."
    )
    lead = admin_page.get_by_label(sv("Lead group"))
    expect(lead).to_have_value(association["id"])  # came from the group's page
    admin_page.get_by_role("checkbox", name=re.compile("^" + re.escape(partner["name"]))).check()
    admin_page.get_by_role("button", name=sv("Register the project")).click()

    expect(admin_page).to_have_url(re.compile(r"/projects/[0-9a-f-]{36}$"))
    expect(admin_page.locator(".notice")).to_contain_text(
        sv("The joint project was registered. Its partner groups' members are told.")
    )
    expect(admin_page.locator("h1")).to_have_text(title)
    facts = admin_page.locator("dl.facts")
    expect(facts.get_by_role("link", name=association["name"])).to_be_visible()
    expect(facts.get_by_role("link", name=partner["name"])).to_be_visible()
    expect(facts.locator(".status")).to_have_text(sv("Planned"))
    check_accessibility(admin_page, "new joint project, its lead's admin (sv)")

    # Both groups' pages list it.
    for group in (association, partner):
        resident_page.goto(site.url(f"/groups/{group['id']}"))
        expect(resident_page.locator("#projects")).to_contain_text(title)


# --- starting a group, and its members ------------------------------------------------


def test_starting_a_group_declining_removing_and_leaving(site, new_context, sign_in):
    founder, asker, declined, removed = (new_account(site, "Nyinflyttad") for _ in range(4))
    name = unique("Porjus byaförening")

    # Start a closed association through the site.
    founder_page = signed_in_page(new_context, sign_in, founder["email"])
    founder_page.goto(site.url("/groups"))
    founder_page.get_by_role("link", name=sv("Start a group")).click()
    founder_page.get_by_label(sv("Name of the group")).fill(name)
    founder_page.get_by_role("radio", name=sv("Association")).check()
    founder_page.get_by_label(sv("What the group does")).fill("Byaföreningen i Porjus.")
    founder_page.get_by_role(
        "radio", name=sv("Those the admins approve: people ask to join")
    ).check()
    founder_page.get_by_role("button", name=sv("Start the group")).click()
    expect(founder_page).to_have_url(re.compile(r"/groups/[0-9a-f-]{36}$"))
    expect(founder_page.locator("h1")).to_have_text(name)
    expect(founder_page.locator(".notice")).to_contain_text(
        sv("Your group was created and you are its admin. Civic's staff will verify it.")
    )
    expect(founder_page.locator("main")).to_contain_text(sv("Not verified yet"))
    group_id = founder_page.url.rsplit("/", 1)[1]
    group_path = f"/groups/{group_id}"

    # One asks through the site; two ask over the API, and one of those is approved.
    asker_page = signed_in_page(new_context, sign_in, asker["email"])
    asker_page.goto(site.url(group_path))
    asker_page.get_by_role("button", name=sv("Ask to join")).click()
    expect(asker_page.locator(".membership")).to_contain_text(sv("You have asked to join."))
    for person in (declined, removed):
        site.api.post(f"/groups/{group_id}/members", token=person["token"], expect=202)
    site.api.post(
        f"/groups/{group_id}/members/{removed['id']}/approve", token=founder["token"], expect=200
    )

    # The admin approves one request, declines the other and removes a member.
    founder_page.goto(site.url(group_path))
    request_row(founder_page, asker["name"]).get_by_role(
        "button", name=sv("Approve %(name)s", name=asker["name"])
    ).click()
    expect(member_row(founder_page, asker["name"])).to_have_count(1)
    request_row(founder_page, declined["name"]).get_by_role(
        "button", name=sv("Decline %(name)s", name=declined["name"])
    ).click()
    expect(founder_page.locator(".notice")).to_contain_text(sv("The request to join was declined."))
    expect(founder_page.locator("#requests")).to_contain_text(
        sv("No one is waiting for an answer.")
    )
    expect(member_row(founder_page, declined["name"])).to_have_count(0)
    member_row(founder_page, removed["name"]).get_by_role(
        "button", name=sv("Remove %(name)s", name=removed["name"])
    ).click()
    expect(founder_page.locator(".notice")).to_contain_text(
        sv("The member was removed from the group.")
    )
    expect(member_row(founder_page, removed["name"])).to_have_count(0)
    assert site.api.get(f"/groups/{group_id}")["member_count"] == 2

    # The approved member leaves.
    asker_page.goto(site.url(group_path))
    expect(asker_page.locator(".membership")).to_contain_text(sv("You are a member of this group."))
    asker_page.get_by_role("button", name=sv("Leave the group")).click()
    expect(asker_page.locator(".notice")).to_contain_text(sv("You have left the group."))
    expect(asker_page.get_by_role("button", name=sv("Ask to join"))).to_be_visible()
    assert site.api.get(f"/groups/{group_id}")["member_count"] == 1
    memberships = site.api.get("/me", token=declined["token"])["memberships"]
    assert group_id not in {membership["group_id"] for membership in memberships}


def test_joining_an_open_group_at_once(site, new_context, sign_in):
    founder, joiner = new_account(site, "Nyinflyttad"), new_account(site, "Nyinflyttad")
    group = site.api.post(
        "/groups",
        {"name": unique("Skoterklubben"), "kind": "association", "open": True},
        token=founder["token"],
        expect=201,
    )
    page = signed_in_page(new_context, sign_in, joiner["email"], lang="en")
    page.goto(site.url(f"/groups/{group['id']}"))
    page.get_by_role("button", name="Join the group").click()
    expect(page.locator(".notice")).to_contain_text("Welcome! You are now a member of the group.")
    expect(member_row(page, joiner["name"])).to_have_count(1)


# --- the new-group form ---------------------------------------------------------------


def test_a_double_submission_of_the_new_group_form_makes_one_group(site, new_context, sign_in):
    founder = new_account(site, "Nyinflyttad")
    name = unique("Kvikkjokks fjällförening")
    page = signed_in_page(new_context, sign_in, founder["email"])
    page.goto(site.url("/groups/new"))
    form = page.locator('form[action="/groups/new"]')
    form.get_by_label(sv("Name of the group")).fill(name)
    form.get_by_role("radio", name=sv("Network")).check()
    fields = {
        "csrf_token": form.locator("input[name=csrf_token]").input_value(),
        "form_key": form.locator("input[name=form_key]").input_value(),
        "name": name,
        "kind": "network",
        "description": "",
        "open": "true",
    }

    form.get_by_role("button", name=sv("Start the group")).dblclick()
    expect(page).to_have_url(re.compile(r"/groups/[0-9a-f-]{36}$"))
    expect(page.locator("h1")).to_have_text(name)
    # Back and submit the same rendered form again: the first answer, nothing new.
    again = page.request.post(site.url("/groups/new"), form=fields, max_redirects=0)
    assert again.status == 303
    assert again.headers["location"] == "/groups/" + page.url.rsplit("/", 1)[1]
    named = [g for g in site.api.items("/groups", per_page=100) if g["name"] == name]
    assert len(named) == 1

    # A new form with the same name: refused, the error tied to the field, input kept.
    page.goto(site.url("/groups/new"))
    page.get_by_label(sv("Name of the group")).fill(name)
    page.get_by_role("radio", name=sv("Network")).check()
    page.get_by_role("button", name=sv("Start the group")).click()
    name_field = page.get_by_label(sv("Name of the group"))
    expect(name_field).to_have_value(name)
    expect(name_field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#error-summary")).to_contain_text(
        sv("There is a group with this name already. Choose another name, or join that group.")
    )
    expect(page.get_by_role("radio", name=sv("Network"))).to_be_checked()


# --- accessibility --------------------------------------------------------------------


def _member_group(site) -> str:
    me = site.api.get("/me", token=site.api.sign_in("resident"))
    return next(
        m["group_id"]
        for m in me["memberships"]
        if m["status"] == "active" and m["role"] == "member"
    )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_group_and_project_pages_are_accessible(lang, site, new_context, check_accessibility):
    association = site.resolve("{association}")
    project = site.resolve("{project}")
    looks = [
        ("/groups", None),
        *((f"/groups?kind={kind}", None) for kind in GROUP_KINDS),
        (f"/groups/{association}", None),
        (f"/groups/{_member_group(site)}", "resident"),
        (f"/groups/{association}", "association_admin"),
        ("/groups/new", "resident"),
        ("/projects", None),
        (f"/projects/{project}", None),
        (f"/projects/{project}", "project_lead"),
        ("/projects/new", "association_admin"),
        ("/projects/new", "returnee"),
    ]
    pages = {}
    for path, role in looks:
        if role not in pages:
            pages[role] = new_context(lang, role=role).new_page()
        page = pages[role]
        response = page.goto(site.url(path))
        assert response is not None and response.status == 200, f"{path} as {role}"
        assert page.locator("html").get_attribute("lang") == lang
        expect(page.locator("h1")).to_have_count(1)
        check_accessibility(page, f"{path} as {role or 'visitor'} ({lang})")

    # A refused form, with its errors.
    page = pages["resident"]
    page.goto(site.url("/groups/new"))
    page.locator('form[action="/groups/new"] button[type=submit]').click()
    expect(page.locator("#error-summary")).to_be_visible()
    check_accessibility(page, f"/groups/new with errors ({lang})")
    page = pages["association_admin"]
    page.goto(site.url("/projects/new"))
    page.locator('form[action="/projects/new"] button[type=submit]').click()
    expect(page.locator("#error-summary")).to_be_visible()
    check_accessibility(page, f"/projects/new with errors ({lang})")
