"""Fixtures of the browser tests: one whole platform (`civic up`, demo data seeded) and
one headless chromium for the whole run, a new browser context for each test.

Every test here is marked `browser`: `make test-browser` runs them on their own
(`pytest -m browser tests/browser`); the SQLite and PostgreSQL runs leave them out. They
need none of the nameko fixtures of tests/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import accessibility
from tests.browser.harness import (
    DEFAULT_PASSWORD,
    PLACEHOLDERS,
    START_TIMEOUT,
    Site,
    launch_browser,
    open_context,
    sign_in_through_form,
    start_playwright,
)

BROWSER_TESTS = Path(__file__).resolve().parent
# pytest-timeout counts a test's fixtures too: the first test of the run also waits for
# the platform to start, the last one for it to stop.
TEST_TIMEOUT = START_TIMEOUT + 120


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Mark every test under tests/browser/ `browser` (before `-m` selects by marker)."""
    for item in items:
        if BROWSER_TESTS in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(TEST_TIMEOUT))


# How long `civic up` took in this run (the first browser test waits for it).
STARTED: list[Site] = []


def pytest_terminal_summary(terminalreporter):
    lines = accessibility.summary()
    for site in STARTED:
        lines.append(
            f"platform: `civic up` took {site.startup_seconds:.1f}s "
            f"(demo data {site.seed_seconds:.1f}s of it)"
        )
    if lines:
        terminalreporter.section("browser tests")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def site():
    """The whole platform, up for the whole run; `civic down` at the end, even when a
    test failed. When it does not start, the error carries the services' last output."""
    platform = Site.start()
    STARTED.append(platform)
    try:
        # Pin every placeholder to the demo data now, before tests add their own items.
        for name in PLACEHOLDERS:
            platform.resolve("{" + name + "}")
        yield platform
    finally:
        platform.stop()


@pytest.fixture(scope="session")
def browser():
    playwright = start_playwright()
    try:
        chromium = launch_browser(playwright)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


@pytest.fixture
def new_context(browser, site):
    """`new_context(lang="sv"|"en", javascript=True, viewport="desktop"|"phone"|{...},
    role=None)`: a fresh browser context (see harness.open_context), closed after the
    test. With `role` it is signed in as that account."""
    contexts = []

    def make(lang="sv", javascript=True, viewport="desktop", role=None):
        context = open_context(browser, site, lang, javascript, viewport, role)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context):
    """A page in a Swedish desktop context, signed out."""
    return new_context("sv").new_page()


@pytest.fixture
def sign_in(site):
    """`sign_in(page, role_or_email, password=DEFAULT_PASSWORD, keep_language=True)`:
    through the website's form (see harness.sign_in_through_form)."""

    def sign_in(page, role_or_email, password=DEFAULT_PASSWORD, keep_language=True):
        sign_in_through_form(page, site.base_url, role_or_email, password, keep_language)

    return sign_in


@pytest.fixture
def check_accessibility():
    """`check_accessibility(page, label)`: axe-core finds 0 WCAG 2.1 A/AA violations on
    the page (see tests/browser/accessibility.py); every check counts in the summary."""
    return accessibility.check_accessibility
