"""The staff console's frame and operations screens: `/staff/` (the console's home),
health and dead letters. Staff only (`auth="staff"`: anyone else gets the 403 page).
A mixin of `GatewayService`, like the site's other `*_pages.py`."""

from __future__ import annotations

from services.gateway.web.handler import Page, web


class StaffConsolePages:
    """Entrypoints of the staff console's home and operations screens."""

    @web("GET", "/staff/", auth="staff")
    def web_staff_home(self, page: Page):
        return page.render("staff/home.html")
