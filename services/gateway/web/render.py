"""Pages from Jinja2 templates, one environment per language (its gettext installed).

Templates are in `templates/`: `base.html` is the layout (skip link, header with the
navigation, the language switch and the visitor's unread count, main, footer) and
`macros.html` the form fields (label, hint, the field's errors tied to it with
`aria-describedby`, the error summary at the top). Every template gets `page` (the
request, see `handler.Page`), `_`/`gettext`/`ngettext`, and the formatting filters
`datetime`, `date`, `time`, `number` in the page's language and the town's zone.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from werkzeug.wrappers import Response

from civic import config
from services.gateway.web import i18n, labels

TEMPLATES_DIR = Path(__file__).with_name("templates")
HTML = "text/html; charset=utf-8"

# The site's sections, in the order of the navigation: (path, message id).


def _(message: str) -> str:
    """Marks a message id for extraction; translated where it is shown."""
    return message


NAVIGATION = (
    ("/", _("Home")),
    ("/proposals", _("Proposals")),
    ("/groups", _("Groups")),
    ("/projects", _("Joint projects")),
    ("/events", _("Events")),
    ("/openings", _("Openings")),
    ("/consultations", _("Consultations")),
)


@cache
def environment(language: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(("html",), default_for_string=True),
        undefined=StrictUndefined,
        extensions=("jinja2.ext.i18n",),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    translations = i18n.translations(language)
    env.install_gettext_translations(translations, newstyle=True)
    env.filters["label"] = lambda value, table: labels.label(translations.gettext, table, value)
    env.globals["options"] = lambda table, values=None: labels.options(
        translations.gettext, table, values
    )
    env.filters.update(
        datetime=lambda value, form="medium": i18n.format_datetime(value, language, form),
        date=lambda value, form="medium": i18n.format_date(value, language, form),
        time=lambda value: i18n.format_time(value, language),
        number=lambda value: i18n.format_number(value, language),
    )
    env.globals.update(
        lang=language,
        languages=i18n.LANGUAGES,
        language_names=i18n.LANGUAGE_NAMES,
        navigation=NAVIGATION,
        month_name=lambda month: i18n.month_name(month, language),
        weekday_names=i18n.weekday_names(language),
    )
    return env


def render_page(page, template: str, status: int = 200, **context) -> Response:
    html = render_template(page.lang, template, page=page, **context)
    return Response(html, status=status, content_type=HTML)


def render_template(language: str, template: str, **context) -> str:
    # The footer links the development mail page only while the mail catcher runs.
    context.setdefault("mail_catcher", bool(config.get("CIVIC_MAIL_CATCHER", False)))
    return environment(language).get_template(template).render(**context)


class AnonymousPage:
    """What the layout needs of a page, for an error rendered outside a page function."""

    def __init__(self, request):
        self.request = request
        self.lang = i18n.negotiate(request)
        self.principal = None
        self.signed_in = False
        self.is_staff = False
        self.unread_count = None
        self.notice = None
        self.csrf_token = ""

    def new_form_key(self) -> str:
        return ""


def render_error(request, error) -> Response:
    status = error.status if 400 <= error.status < 600 else 500
    page = AnonymousPage(request)
    html = render_template(
        page.lang, "error.html", page=page, error=error, error_status=status, visitor_message=None
    )
    response = Response(html, status=status, content_type=HTML)
    response.headers["Cache-Control"] = "no-store"
    return response
