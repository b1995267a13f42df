"""The staff console's organisations and activity screens, for the render-and-
accessibility sweep and `make screenshots` (see tests/browser/pages.py)."""

from __future__ import annotations

from tests.browser.pages import PageSpec

PAGES = [
    PageSpec("staff-organisations", "/staff/organisations", "staff"),
    PageSpec("staff-activity", "/staff/activity", "staff"),
    PageSpec("staff-activity-groups", "/staff/activity?subject_type=group", "staff"),
]
