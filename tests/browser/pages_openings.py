"""The pages of openings for returnees, for the render-and-accessibility sweep and `make
screenshots` (see tests/browser/pages.py for placeholders and roles).

`{opening}` is the newest open opening, which the business admin of ROLES need not
administer (the demo's newest is the health centre's). The pages only its admins see —
the interest list and the confirmation to close an opening — need an opening of their
own: tests/browser/test_openings.py checks them with axe-core, in both languages, on the
opening its story posts.
"""

from __future__ import annotations

from tests.browser.pages import PageSpec

PAGES = [
    PageSpec("openings", "/openings", None),
    PageSpec("openings-filtered", "/openings?sector=tourism&employment_type=seasonal", None),
    PageSpec("openings-business-admin", "/openings", "business_admin"),
    PageSpec("opening-signed-out", "/openings/{opening}", None),
    PageSpec("opening-returnee", "/openings/{opening}", "returnee"),
    PageSpec("opening-new", "/openings/new?group={business}", "business_admin"),
    PageSpec("opening-new-not-an-admin", "/openings/new", "resident"),
    PageSpec("returnee-profile", "/me/returnee", "returnee"),
    PageSpec("returnee-profile-none", "/me/returnee", "resident"),
]
