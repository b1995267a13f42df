"""The account pages for the render-and-accessibility sweep and `make screenshots`
(see tests/browser/pages.py). Pages that need a state of their own — a form with errors,
the emailed link's page, an unconfirmed account's page — are checked in test_accounts.py."""

from __future__ import annotations

from tests.browser.pages import PageSpec

PAGES = [
    PageSpec("account-register", "/register", None),
    PageSpec("account-signin", "/signin", None),
    PageSpec("account-confirmed", "/confirmed", None),
    PageSpec("account-confirmed-signed-in", "/confirmed", "resident"),
    PageSpec("account-me", "/me", "resident"),
    PageSpec("account-me-returnee", "/me", "returnee"),
    PageSpec("account-me-association-admin", "/me", "association_admin"),
    PageSpec("account-erase", "/me/erase", "resident"),
]
