"""The pages of proposals, for the render-and-accessibility sweep and `make screenshots`
(see tests/browser/pages.py for placeholders and roles).

`{proposal}` is the newest proposal; the list is shown plain and searched, sorted and
paged (the filters kept in the pagination's links). Signed in, a proposal's page has the
support, comment, follow and report forms; staff also see its reports.
"""

from __future__ import annotations

from tests.browser.pages import PageSpec

PAGES = [
    PageSpec("proposals", "/proposals", None),
    PageSpec("proposals-filtered", "/proposals?q=park&sort=supports&per_page=1", None),
    PageSpec("proposals-signed-in", "/proposals", "resident"),
    PageSpec("proposal-signed-out", "/proposals/{proposal}", None),
    PageSpec("proposal-signed-in", "/proposals/{proposal}", "resident"),
    PageSpec("proposal-staff", "/proposals/{proposal}", "staff"),
    PageSpec("proposal-new", "/proposals/new", "resident"),
]
