"""The consultations' pages (issue 16), for the render-and-accessibility sweep and `make
screenshots` (see tests/browser/pages.py): `{consultation}` is the demo's consultation,
open and anonymous, which the `resident` of ROLES has not answered (the form shows) and
does not follow (the follow box offers to); `{draft_consultation}` is the demo's draft
(staff only: the console's edit page). A consultation's results are published by
tests/browser/test_consultations.py, which checks the results page with axe-core in
both languages, and also the forms that only a POST shows (a refused draft, the form
with a seventh question slot)."""

from __future__ import annotations

from tests.browser.pages import PageSpec

PAGES = [
    PageSpec("consultations", "/consultations", None),
    PageSpec("consultations-signed-in", "/consultations", "resident"),
    PageSpec("consultation-signed-out", "/consultations/{consultation}", None),
    PageSpec("consultation-answer-form", "/consultations/{consultation}", "resident"),
    PageSpec("staff-consultations", "/staff/consultations", "staff"),
    PageSpec("staff-consultation-new", "/staff/consultations/new", "staff"),
    PageSpec("staff-consultation", "/staff/consultations/{consultation}", "staff"),
    PageSpec("staff-consultation-draft", "/staff/consultations/{draft_consultation}", "staff"),
    PageSpec("staff-consultation-edit", "/staff/consultations/{draft_consultation}/edit", "staff"),
    PageSpec("staff-consultation-answers", "/staff/consultations/{consultation}/answers", "staff"),
]
