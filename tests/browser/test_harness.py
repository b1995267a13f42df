"""The harness itself: the platform is up with the demo data, the website answers, and
the demo accounts play the roles the browser tests give them."""

from __future__ import annotations

import uuid

import requests

from tests.browser import harness
from tests.browser.harness import DEFAULT_PASSWORD, ROLES


def test_the_platform_is_up_with_the_demo_data_and_the_home_page(site):
    assert requests.get(f"{site.base_url}/healthz", timeout=10).status_code == 200
    titles = {proposal["title"] for proposal in site.api.items("/proposals", per_page=100)}
    assert "Isbana i parken på vintern" in titles
    assert site.api.items("/events") and site.api.items("/openings")
    home = requests.get(site.base_url + "/", timeout=10)
    assert home.status_code == 200
    assert "text/html" in home.headers["Content-Type"]
    # Mail reaches the local mail catcher: a new account's confirmation email.
    email = f"harness-{uuid.uuid4().hex[:8]}@example.org"
    site.api.post(
        "/accounts",
        {"email": email, "password": DEFAULT_PASSWORD, "display_name": "Harness Test"},
        expect=201,
    )
    confirmation = site.mail(to=email)
    assert confirmation.recipients == (email,)
    assert any(link.startswith(site.base_url) for link in confirmation.links)


def test_the_demo_accounts_play_their_roles(site):
    accounts = {role: site.api.get("/me", token=site.api.sign_in(role)) for role in ROLES}

    def administered(role, kind):
        return [
            membership["group_id"]
            for membership in accounts[role]["memberships"]
            if membership["kind"] == kind
            and membership["role"] == "admin"
            and membership["status"] == "active"
        ]

    assert [role for role in ROLES if "staff" in accounts[role]["roles"]] == ["staff"]
    assert administered("association_admin", "association")
    businesses = administered("business_admin", "business")
    assert any(site.api.get(f"/groups/{group}")["verified"] for group in businesses)
    assert administered("organiser", "working_group")
    assert not [m for m in accounts["resident"]["memberships"] if m["role"] == "admin"]
    returnee = site.api.get("/me/returnee-profile", token=site.api.sign_in("returnee"))
    assert "tourism" in returnee["sectors"]
    project = site.api.get(site.resolve("/projects/{project}"))
    assert project["lead_group_id"] in administered("project_lead", "association")


def test_the_harness_knows_the_websites_cookies():
    from services.gateway.web import handler, i18n

    assert harness.SESSION_COOKIE == handler.SESSION_COOKIE
    assert harness.LANGUAGE_COOKIE == i18n.LANGUAGE_COOKIE
