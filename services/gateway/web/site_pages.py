"""The site's frame: the home page, the language switch, the stylesheet, the page about
Civic (with the accessibility statement Swedish law asks of a public-sector site) and the
development mail page. A mixin of `GatewayService`, like the API's `*_routes.py`."""

from __future__ import annotations

from pathlib import Path

from werkzeug.wrappers import Response

from civic import config
from civic.clock import utcnow
from civic.errors import NotFound
from services.events.api import EventListQuerySchema
from services.gateway.web import i18n
from services.gateway.web.handler import (
    LANGUAGE_COOKIE_SECONDS,
    Page,
    safe_next,
    secure_cookies,
    web,
)
from services.openings.api import OpeningListQuerySchema
from services.proposals.api import ProposalListQuerySchema

STATIC_DIR = Path(__file__).with_name("static")
STATIC_FILES = {
    "civic.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
HOME_LIST_LENGTH = 4


def load_query(schema_cls, **values) -> dict:
    from civic.validation import load

    return load(schema_cls, values)


class SitePages:
    """Entrypoints of the site's frame; mixed into GatewayService."""

    @web("GET", "/")
    def web_home(self, page: Page):
        actor = page.actor
        proposals = load_query(ProposalListQuerySchema, per_page=HOME_LIST_LENGTH)
        events = load_query(EventListQuerySchema, per_page=HOME_LIST_LENGTH)
        events["starts_from"] = utcnow()
        openings = load_query(OpeningListQuerySchema, per_page=HOME_LIST_LENGTH)
        parts = page.gather(
            proposals=lambda: self.services.proposals.list_proposals(actor, **proposals),
            events=lambda: self.services.events.list_events(actor, **events),
            openings=lambda: self.services.openings.list_openings(actor, **openings),
        )
        return page.render("home.html", **parts)

    @web("GET", "/language/<lang>", auth="anyone")
    def web_language(self, page: Page, lang):
        """The language switch: a plain link (works without JavaScript and needs no
        form), remembered for a year; back to the page it was clicked on."""
        if not i18n.is_language(lang):
            raise NotFound("no such language")
        response = Response(
            status=303, headers={"Location": safe_next(page.args.get("next")) or "/"}
        )
        response.set_cookie(
            i18n.LANGUAGE_COOKIE,
            lang,
            max_age=LANGUAGE_COOKIE_SECONDS,
            path="/",
            secure=secure_cookies(),
            httponly=True,
            samesite="Lax",
        )
        return response

    @web("GET", "/static/<name>", auth="anyone")
    def web_static(self, page: Page, name):
        content_type = STATIC_FILES.get(name)
        if content_type is None:
            raise NotFound("no such file")
        response = Response((STATIC_DIR / name).read_bytes(), content_type=content_type)
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response

    @web("GET", "/about")
    def web_about(self, page: Page):
        return page.render("about.html")

    # --- development: the mail the local mail catcher keeps ----------------------------

    @web("GET", "/dev/mail")
    def web_dev_mail(self, page: Page):
        from civic import mailcatcher

        directory = _mail_directory()
        return page.render("dev_mail.html", messages=mailcatcher.list_messages(directory))

    @web("GET", "/dev/mail/<message_id>")
    def web_dev_mail_message(self, page: Page, message_id):
        from civic import mailcatcher

        message = mailcatcher.read_message(_mail_directory(), message_id)
        if message is None:
            raise NotFound("no such email")
        return page.render("dev_mail_message.html", message=message)


def _mail_directory() -> Path:
    """The catcher's directory; the page does not exist unless the catcher runs
    (`civic up` without CIVIC_SMTP_HOST), so no real mail is ever shown here."""
    from civic import mailcatcher

    if not config.get("CIVIC_MAIL_CATCHER", False):
        raise NotFound("the development mail page is off: mail goes to an SMTP server")
    return mailcatcher.mail_dir({"CIVIC_VAR_DIR": config.get("CIVIC_VAR_DIR", "var")})
