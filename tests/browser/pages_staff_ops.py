"""The staff console's home and operations screens (health, dead letters), for the
render-and-accessibility sweep and `make screenshots` (see tests/browser/pages.py)."""

from __future__ import annotations

from tests.browser.pages import PageSpec

PAGES = [
    PageSpec("staff-home", "/staff/", "staff"),
    PageSpec("staff-health", "/staff/health?refresh=off", "staff"),
    PageSpec("staff-dead-letters", "/staff/dead-letters", "staff"),
    PageSpec(
        "staff-dead-letters-replay-all",
        "/staff/dead-letters/replay-all?queue=evt-all--notifications.on_event",
        "staff",
    ),
]
