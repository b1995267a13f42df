"""The volunteer pages ("Ställer du upp?") for the render-and-accessibility sweep and
`make screenshots` (see tests/browser/pages.py for placeholders and roles).

The demo (demo/volunteers.py) gives `returnee` a volunteer profile and an invitation
waiting for an answer; `resident` has offered no help. `organiser` administers the
working group Trafik och gator, whose clean-up day asks for volunteers, so the search
shows the invitation forms. The states the demo does not have — a refused offer, the
403 page of a resident who may not search, the clean-up day's roles filled from offers —
are checked by tests/browser/test_volunteers.py.
"""

from __future__ import annotations

from tests.browser.pages import PageSpec

PAGES = [
    PageSpec("volunteer-none", "/volunteer", "resident"),
    PageSpec("volunteer-profile", "/volunteer", "returnee"),
    PageSpec("volunteers-search", "/volunteers", "organiser"),
    PageSpec("volunteers-search-filtered", "/volunteers?skill=driving&season=winter", "organiser"),
    PageSpec("volunteers-search-staff", "/volunteers", "staff"),
    PageSpec("event-roles", "/events/{event}/roles", "association_admin"),
]
