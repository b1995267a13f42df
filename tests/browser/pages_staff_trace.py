"""The staff console's trace screens, for the render-and-accessibility sweep and
`make screenshots` (see tests/browser/pages.py). A trace of a correlation id nobody used
shows the empty story; tests/browser/test_staff_trace.py checks a real one."""

from __future__ import annotations

from tests.browser.pages import PageSpec

PAGES = [
    PageSpec("staff-trace-search", "/staff/trace", "staff"),
    PageSpec("staff-trace-empty", "/staff/trace/no-such-request-0001", "staff"),
]
