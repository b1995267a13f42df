"""The pages of notifications, for the render-and-accessibility sweep and `make
screenshots` (see tests/browser/pages.py for placeholders and roles).

The demo resident has unread notifications (the demo data's events, projects and
memberships), follows (their groups and events) and the default preferences. The
unsubscribe page needs a token from an email: tests/browser/test_notifications.py checks
it with axe-core, in both languages, before and after unsubscribing.
"""

from __future__ import annotations

from tests.browser.pages import PageSpec

PAGES = [
    PageSpec("notifications", "/notifications", "resident"),
    PageSpec("notifications-unread", "/notifications?unread=1", "resident"),
    PageSpec("notifications-returnee", "/notifications", "returnee"),
    PageSpec("follows", "/follows", "resident"),
    PageSpec("preferences", "/me/preferences", "resident"),
]
