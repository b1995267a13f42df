"""The website's frame over real HTTP (no browser needed): pages in Swedish first, the
language switch, error pages in the site's layout, a page that renders what it can
while a service is down, cookies and cache headers, CSRF and one submission per form.

The gateway runs in-process with some of the domain services (`start_services`); the
browser suite (tests/browser) covers every page with the whole platform."""

from __future__ import annotations

import re

import pytest
from nameko import config as nameko_config

from services.gateway.service import GatewayService
from services.groups.service import GroupsService
from services.proposals.service import ProposalsService

RPC_TIMEOUT_WHILE_DOWN = 2.0


def get(api, path, **kwargs):
    kwargs.setdefault("allow_redirects", False)
    return api.http.get(api.base_url + path, timeout=15, **kwargs)


def post(api, path, **kwargs):
    kwargs.setdefault("allow_redirects", False)
    return api.http.post(api.base_url + path, timeout=15, **kwargs)


def heading(response) -> str:
    match = re.search(r"<h1[^>]*>(.*?)</h1>", response.text, re.S)
    assert match, response.text[:500]
    return match.group(1).strip()


@pytest.fixture
def site(start_services):
    """The gateway with groups and proposals; events, openings and notifications are
    not running (their parts of a page are shown as unavailable)."""
    with nameko_config.patch({"CIVIC_RPC_TIMEOUT": RPC_TIMEOUT_WHILE_DOWN}, clear=False):
        yield start_services(GatewayService, GroupsService, ProposalsService)


def test_the_home_page_is_swedish_first_and_english_on_request(site):
    swedish = get(site, "/")
    assert swedish.status_code == 200
    assert '<html lang="sv">' in swedish.text
    assert heading(swedish) == "Jokkmokk är värd en ljus framtid"
    english = get(site, "/", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert '<html lang="en">' in english.text
    assert heading(english) == "Jokkmokk is worth a bright future"


def test_the_language_switch_is_remembered_and_goes_back(site):
    switched = get(site, "/language/en?next=/about")
    assert switched.status_code == 303
    assert switched.headers["Location"] == "/about"
    cookie = switched.headers["Set-Cookie"]
    assert "civic_lang=en" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    about = get(site, "/about")  # the session keeps the cookie; the browser says Swedish
    assert '<html lang="en">' in about.text
    # Only a path of this site is a place to go back to.
    elsewhere = get(site, "/language/sv?next=//evil.example/")
    assert elsewhere.headers["Location"] == "/"
    assert get(site, "/language/xx").status_code == 404


def test_a_page_renders_what_it_can_while_a_service_is_down(site):
    page = get(site, "/")
    assert page.status_code == 200
    # Events, openings are not running: their parts say so, proposals still show.
    assert page.text.count('class="unavailable"') == 2
    assert "Nyaste förslagen" in page.text
    assert "Inga förslag än." in page.text


def test_unknown_pages_are_the_sites_404_and_the_api_keeps_json(site):
    page = get(site, "/no/such/page")
    assert page.status_code == 404
    assert page.headers["Content-Type"].startswith("text/html")
    assert heading(page) == "Sidan finns inte"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"
    api_answer = get(site, "/api/v1/no/such/thing")
    assert api_answer.status_code == 404
    assert api_answer.json()["error"]["code"] == "not_found"


def test_public_pages_may_be_cached_and_personal_ones_not(site):
    public = get(site, "/")
    assert public.headers["Cache-Control"] == "public, max-age=60"
    assert "Cookie" in public.headers["Vary"]
    css = get(site, "/static/civic.css")
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    assert get(site, "/static/../service.py").status_code == 404
    assert get(site, "/static/secret.key").status_code == 404


def test_pages_stay_small(site):
    html = get(site, "/")
    css = get(site, "/static/civic.css")
    assert len(html.content) + len(css.content) < 100_000


def test_the_dev_mail_page_is_off_without_the_mail_catcher(site):
    with nameko_config.patch({"CIVIC_MAIL_CATCHER": False}, clear=False):
        assert get(site, "/dev/mail").status_code == 404
