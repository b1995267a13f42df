"""The event pages for the render-and-accessibility sweep and `make screenshots` (see
tests/browser/pages.py for placeholders and roles).

`{event}` is the demo's soonest event, the network's breakfast meeting: administered by
`association_admin` (its organiser pages), with `project_lead` registered for it.
tests/browser/test_events.py pins `{event}` before it schedules events of its own, and
checks the states the demo does not have (a waiting list, check-in open, minutes, a
cancelled event, forms with errors).
"""

from __future__ import annotations

from tests.browser.pages import PageSpec

PAGES = [
    PageSpec("events", "/events", None),
    PageSpec("events-signed-in", "/events", "resident"),
    PageSpec("events-training", "/events?kind=training", None),
    PageSpec("events-month", "/events/month", None),
    PageSpec("events-month-signed-in", "/events/month", "resident"),
    PageSpec("event-signed-out", "/events/{event}", None),
    PageSpec("event-registered", "/events/{event}", "project_lead"),
    PageSpec("event-not-registered", "/events/{event}", "resident"),
    PageSpec("event-organiser", "/events/{event}", "association_admin"),
    PageSpec("event-staff", "/events/{event}", "staff"),
    PageSpec("event-new", "/events/new", "organiser"),
    PageSpec("event-new-not-an-admin", "/events/new", "returnee"),
    PageSpec("event-edit", "/events/{event}/edit", "association_admin"),
    PageSpec("event-cancel", "/events/{event}/cancel", "association_admin"),
    PageSpec("event-agenda", "/events/{event}/agenda", "association_admin"),
    PageSpec("event-checkin", "/events/{event}/checkin", "association_admin"),
    PageSpec("event-minutes", "/events/{event}/minutes", "association_admin"),
]
