"""The open-data page, for the render-and-accessibility sweep and `make screenshots`
(see tests/browser/pages.py): public, for anyone signed in or not."""

from __future__ import annotations

from tests.browser.pages import PageSpec

PAGES = [
    PageSpec("open-data", "/open-data", None),
    PageSpec("open-data-signed-in", "/open-data", "resident"),
]
