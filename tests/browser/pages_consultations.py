"""The consultations' pages (issue 16), for the render-and-accessibility sweep and `make
screenshots` (see tests/browser/pages.py): `{consultation}` is the demo's consultation,
open and anonymous, which the `resident` of ROLES has not answered (the form shows).
A consultation's results are published by tests/browser/test_consultations.py, which
checks the results page with axe-core in both languages."""

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
    PageSpec("staff-consultation-answers", "/staff/consultations/{consultation}/answers", "staff"),
]
