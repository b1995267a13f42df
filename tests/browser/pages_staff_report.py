"""The staff console's programme report, for the render-and-accessibility sweep and
`make screenshots` (see tests/browser/pages.py); tests/browser/test_staff_report.py
checks its numbers."""

from __future__ import annotations

from tests.browser.pages import PageSpec

PAGES = [
    PageSpec("staff-report", "/staff/report", "staff"),
]
