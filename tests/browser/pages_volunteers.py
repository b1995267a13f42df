"""The volunteer pages ("Ställer du upp?") for the render-and-accessibility sweep and
`make screenshots` (see tests/browser/pages.py for placeholders and roles).

The demo (demo/volunteers.py) gives `returnee` a volunteer profile and an invitation
waiting for an answer, to the clean-up day's coffee host (her page names the role);
`resident` has offered no help. `organiser` administers the working group Trafik och
gator, whose clean-up day asks for volunteers, so the search shows the invitation forms.
Staff keep the skill list (`/staff/volunteer-skills`); the page that confirms taking a
skill off it changes nothing by being seen. The states the demo does not have — a
refused offer, the 403 page of a resident who may not search, the clean-up day's roles
filled from offers, invitations to a joint project, a refused skill —
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
    PageSpec("staff-volunteer-skills", "/staff/volunteer-skills", "staff"),
    PageSpec("staff-volunteer-skill-remove", "/staff/volunteer-skills/driving/remove", "staff"),
]
