"""The staff console's proposal screens, for the render-and-accessibility sweep and
`make screenshots` (see tests/browser/pages.py for placeholders and roles): the drop-in
desk, a receipt, the proposals board and one proposal's staff page, the moderation
queue. `{proposal}` is the newest proposal (its receipt shows it whatever its channel).
"""

from __future__ import annotations

from tests.browser.pages import PageSpec

PAGES = [
    PageSpec("staff-desk", "/staff/desk", "staff"),
    PageSpec("staff-desk-receipt", "/staff/desk/receipt/{proposal}", "staff"),
    PageSpec("staff-proposals-board", "/staff/proposals", "staff"),
    PageSpec("staff-proposals-board-column", "/staff/proposals?status=submitted", "staff"),
    PageSpec("staff-proposal", "/staff/proposals/{proposal}", "staff"),
    PageSpec("staff-moderation", "/staff/moderation", "staff"),
]
