"""The site's frame in a real browser: the error page in the site's layout and the
visitor's language, the language switch, and the development mail page a newcomer
reads the confirmation email on."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from services.gateway.web.render import NAVIGATION
from tests.browser.harness import LANGUAGES
from tests.browser.words import new_account, sv

NOT_FOUND = {"sv": "Sidan finns inte", "en": "Page not found"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_unknown_page_is_the_sites_404(lang, site, new_context, check_accessibility):
    page = new_context(lang).new_page()
    response = page.goto(site.url("/no/such/page"))
    assert response.status == 404
    assert page.locator("html").get_attribute("lang") == lang
    expect(page.locator("h1")).to_have_text(NOT_FOUND[lang])
    # The way on is there.
    expect(page.locator("nav.main-nav a")).to_have_count(len(NAVIGATION))
    check_accessibility(page, f"404 ({lang})")


def test_the_language_switch_changes_the_page_and_is_remembered(site, page):
    page.goto(site.url("/proposals"))
    assert page.locator("html").get_attribute("lang") == "sv"
    page.get_by_role("link", name="English").click()
    page.wait_for_url(site.url("/proposals"))
    assert page.locator("html").get_attribute("lang") == "en"
    page.goto(site.url("/events"))  # remembered in the cookie
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("link", name="Svenska").click()
    assert page.locator("html").get_attribute("lang") == "sv"


def test_a_newcomer_reads_the_confirmation_email_on_the_dev_mail_page(
    site, page, check_accessibility
):
    account = new_account(site, "Nykomling")
    site.mail(to=account["email"])  # it has arrived
    page.goto(site.url("/dev/mail"))
    row = page.locator("tr", has_text=account["email"])
    expect(row).to_have_count(1)
    check_accessibility(page, "dev mail list")
    row.get_by_role("link").click()
    expect(page.locator("h1")).not_to_be_empty()
    link = page.locator("a[href*='/confirm/']").first
    expect(link).to_be_visible()
    check_accessibility(page, "dev mail message")
    link.click()
    page.get_by_role("button", name=sv("Confirm my email address")).click()
    expect(page.locator("h1")).to_have_text(sv("Your email address is confirmed"))
