"""The website's pages: Openings for returnees and the returnee profile.

A mixin of `GatewayService`; see `handler.web` for what a page declaration does. Every
call asks the openings service (and the groups service for the businesses a person
administers) exactly as the API's routes do (`openings_routes.py`); who may post, close
and read the interest list is decided there, the page only shows what makes sense.
"""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import quote, urlencode

from civic.errors import Conflict, Forbidden, NotFound, ValidationError
from services.gateway.web.forms import empty_form, submitted_form
from services.gateway.web.handler import Missing, Page, web
from services.openings.api import OpeningListQuerySchema, OpeningPageQuerySchema

OPENING = "/openings/<uuid:opening_id>"
LIST_PAGE_SIZE = 10
INTEREST_PAGE_SIZE = 50
FILTERS = ("sector", "employment_type")
# The fields of the form to post an opening, as OpeningCreateSchema names them (but
# `remote`, a checkbox).
OPENING_FIELDS = (
    "business_group_id",
    "title",
    "description",
    "sector",
    "employment_type",
    "location",
    "apply_by",
    "start_date",
    "salary_min",
    "salary_max",
    "contact",
)
CHOICE_FIELDS = ("sectors", "employment_types")


def _(message: str) -> str:
    """Marks a message id for extraction; translated where it is shown."""
    return message


# The openings service's own sentences about a field (its schemas and domain) → the
# site's words for them; marshmallow's general ones are translated by `forms`.
SERVICE_MESSAGES = {
    "Give the place of work, or set `remote`.": _(
        "Give the place of work, or tick that the work can be done remotely."
    ),
    "Must not be below `salary_min`.": _("The highest salary must not be below the lowest."),
    "The apply-by date has passed.": _("The last day to apply has passed."),
    "At most two years ahead.": _("Choose a date at most two years ahead."),
    "The start date has passed.": _("The start date has passed."),
    "No such business group.": _("Choose one of your businesses."),
    "Not a business group.": _("Choose one of your businesses."),
    "Not a valid date.": _("Enter a date, like 2027-06-15."),
}
DATE_RANGE = re.compile(r"Give a date between (?P<earliest>\S+) and (?P<latest>\S+)\.")
DATE_RANGE_MESSAGE = _("Give a date between %(earliest)s and %(latest)s.")
CHOICE_MESSAGES = {
    "sectors": _("Choose at least one sector."),
    "employment_types": _("Choose at least one kind of employment."),
}


class OpeningPages:
    """Pages of this area; mixed into GatewayService."""

    # --- the list -------------------------------------------------------------------

    @web("GET", "/openings")
    def web_opening_list(self, page: Page):
        query, refused = page.load_args(OpeningListQuerySchema, per_page=LIST_PAGE_SIZE)
        actor = page.actor
        calls = {"openings": lambda: self.services.openings.list_openings(actor, **query)}
        if page.signed_in:
            calls["me"] = lambda: self.services.groups.get_me(actor)
        parts = page.gather(**calls)
        kept = {name: query[name] for name in FILTERS if query.get(name)}
        if query["per_page"] != LIST_PAGE_SIZE:
            kept["per_page"] = query["per_page"]
        openings = parts["openings"]
        if openings:
            openings = {**openings, "items": [_with_dates(item) for item in openings["items"]]}
        return page.render(
            "openings/list.html",
            query=query,
            refused=refused,
            filtered=bool(query.get("sector") or query.get("employment_type")),
            page_base="/openings?" + urlencode(kept) + ("&" if kept else ""),
            openings=openings,
            businesses=_administered_businesses(parts.get("me")),
        )

    # --- one opening ----------------------------------------------------------------

    @web("GET", OPENING)
    def web_opening(self, page: Page, opening_id):
        return self._opening_page(page, opening_id)

    def _opening_page(self, page: Page, opening_id, status: int = 200, interest_form=None):
        """The opening's page; after a refused expression of interest, with its input
        and errors."""
        actor = page.actor
        parts = page.gather(opening=lambda: self.services.openings.get_opening(actor, opening_id))
        opening = parts["opening"]
        if isinstance(opening, Missing):
            raise opening.error
        return page.render(
            "openings/detail.html",
            status=status,
            opening=_with_dates(opening),
            interest_form=interest_form or empty_form(page),
            sign_in_here="/signin?next=" + quote(f"/openings/{opening['id']}", safe="/"),
        )

    @web("POST", OPENING + "/interest", auth="resident")
    def web_opening_interest(self, page: Page, opening_id):
        here = f"/openings/{opening_id}"
        try:
            self.services.openings.register_interest(
                page.actor, opening_id, {"message": page.form.get("message", "")}
            )
        except Conflict:
            # Interest given already (another tab), or the opening closed meanwhile: its
            # page says which.
            return page.redirect(
                here,
                notice=page.gettext(
                    "You have expressed interest already, or the opening no longer takes interest."
                ),
            )
        except (ValidationError, Forbidden) as error:
            return self._opening_page(
                page, opening_id, status=error.status, interest_form=submitted_form(page, error)
            )
        return page.redirect(
            here + "#interest",
            notice=page.gettext(
                "Thank you! The business has your interest and your message, and may contact you."
            ),
        )

    # --- posting one (a business's admins) ------------------------------------------

    @web("GET", "/openings/new", auth="resident")
    def web_opening_new(self, page: Page):
        actor = page.actor
        parts = page.gather(me=lambda: self.services.groups.get_me(actor))
        if isinstance(parts["me"], Missing):
            raise parts["me"].error  # whose businesses is not known: no form to show
        businesses = _administered_businesses(parts["me"])
        chosen = page.args.get("group", "")
        if not any(business["group_id"] == chosen for business in businesses):
            chosen = businesses[0]["group_id"] if len(businesses) == 1 else ""
        form = empty_form(page, business_group_id=chosen)
        return _new_opening_page(page, form, businesses)

    @web("POST", "/openings/new", auth="resident")
    def web_opening_post(self, page: Page):
        payload = _filled(page.form, OPENING_FIELDS)
        payload["remote"] = page.form.get("remote") == "yes"
        try:
            opening = self.services.openings.post_opening(page.actor, payload)
        except (ValidationError, Forbidden) as error:
            state = submitted_form(page, _in_site_words(page, error))
            if isinstance(error, Forbidden):
                state.errors = {
                    "_form": [
                        page.gettext(
                            "Only the admins of a verified business post openings for it. "
                            "Staff verify a new business first."
                        )
                    ]
                }
            return _new_opening_page(page, state, self._my_businesses(page), status=error.status)
        return page.redirect(
            f"/openings/{opening['id']}",
            notice=page.gettext(
                "Your opening is posted. Returnees whose profile matches it are told at once."
            ),
        )

    def _my_businesses(self, page: Page) -> list[dict]:
        return _administered_businesses(self.services.groups.get_me(page.actor))

    # --- closing one ----------------------------------------------------------------

    @web("GET", OPENING + "/close", auth="resident")
    def web_opening_close_confirm(self, page: Page, opening_id):
        """The confirmation step: closing cannot be undone."""
        actor = page.actor
        parts = page.gather(opening=lambda: self.services.openings.get_opening(actor, opening_id))
        opening = parts["opening"]
        if isinstance(opening, Missing):
            raise opening.error
        if not opening.get("is_admin"):
            raise Forbidden("only the business's admins close its openings")
        return page.render(
            "openings/close.html", opening=_with_dates(opening), form=empty_form(page)
        )

    @web("POST", OPENING + "/close", auth="resident")
    def web_opening_close(self, page: Page, opening_id):
        here = f"/openings/{opening_id}"
        try:
            self.services.openings.close_opening(page.actor, opening_id)
        except Conflict:
            return page.redirect(
                here, notice=page.gettext("This opening was closed already, or has expired.")
            )
        return page.redirect(
            here, notice=page.gettext("The opening is closed. It takes no more interest.")
        )

    # --- the interest list (a business's admins) ------------------------------------

    @web("GET", OPENING + "/interest", auth="resident")
    def web_opening_interest_list(self, page: Page, opening_id):
        query, refused = page.load_args(OpeningPageQuerySchema, per_page=INTEREST_PAGE_SIZE)
        actor = page.actor
        parts = page.gather(
            opening=lambda: self.services.openings.get_opening(actor, opening_id),
            interest=lambda: self.services.openings.list_interest(actor, opening_id, **query),
        )
        for part in ("opening", "interest"):
            if isinstance(parts[part], Missing):
                raise parts[part].error
        return page.render(
            "openings/interest.html",
            opening=_with_dates(parts["opening"]),
            interest=parts["interest"],
            refused=refused,
            page_base=f"/openings/{opening_id}/interest?",
        )

    # --- my returnee profile --------------------------------------------------------

    @web("GET", "/me/returnee", auth="resident")
    def web_returnee_profile(self, page: Page):
        actor = page.actor
        parts = page.gather(profile=lambda: self.services.openings.get_profile(actor))
        profile = parts["profile"]
        if isinstance(profile, Missing):
            if not isinstance(profile.error, NotFound):
                raise profile.error
            profile = None
        values = {}
        if profile:
            values = {
                "sectors": profile["sectors"],
                "employment_types": profile["employment_types"],
                "available_from": profile["available_from"],
                "message": profile.get("message") or "",
            }
        return page.render(
            "openings/returnee.html", profile=profile, form=empty_form(page, **values)
        )

    @web("POST", "/me/returnee", auth="resident")
    def web_returnee_profile_save(self, page: Page):
        form = page.form
        payload = _filled(form, ("available_from", "message"))
        payload.update(
            sectors=form.getlist("sectors"), employment_types=form.getlist("employment_types")
        )
        try:
            self.services.openings.save_profile(page.actor, payload)
        except ValidationError as error:
            state = submitted_form(page, _in_site_words(page, error))
            for name in CHOICE_FIELDS:
                state.values[name] = form.getlist(name)
            had_profile = self._has_profile(page)
            return page.render(
                "openings/returnee.html", status=400, profile=had_profile, form=state
            )
        return page.redirect(
            "/me/returnee",
            notice=page.gettext(
                "Your returnee profile is saved. You will be told of openings that match it."
            ),
        )

    def _has_profile(self, page: Page):
        try:
            return self.services.openings.get_profile(page.actor)
        except NotFound:
            return None

    @web("POST", "/me/returnee/delete", auth="resident")
    def web_returnee_profile_delete(self, page: Page):
        try:
            self.services.openings.delete_profile(page.actor)
        except NotFound:
            pass  # gone already: what was asked for is so
        return page.redirect(
            "/me/returnee",
            notice=page.gettext(
                "Your returnee profile is removed. You will not be told of new openings."
            ),
        )


# --- helpers ------------------------------------------------------------------------------


def _filled(form, names) -> dict:
    """The fields of `names` that were filled in. One left blank is left out, so that the
    service says "fill this in" of a required one, and takes its default otherwise."""
    return {name: form.get(name) for name in names if form.get(name, "").strip()}


def _administered_businesses(me) -> list[dict]:
    """The businesses `me` (groups' get_me, or Missing/None) is an active admin of."""
    if not me:
        return []
    return [
        membership
        for membership in me.get("memberships", ())
        if membership.get("kind") == "business"
        and membership.get("role") == "admin"
        and membership.get("status") == "active"
    ]


def _new_opening_page(page: Page, form, businesses: list[dict], status: int = 200):
    options = [(business["group_id"], business["group_name"]) for business in businesses]
    return page.render(
        "openings/new.html",
        status=status,
        form=form,
        businesses=businesses,
        business_options=options,
    )


def _with_dates(opening: dict) -> dict:
    """The opening with its calendar dates as dates: they are days of the town's
    calendar, not moments, and are shown as such (no time-zone shift)."""
    shown = dict(opening)
    for name in ("apply_by", "start_date"):
        if isinstance(shown.get(name), str):
            shown[name] = date.fromisoformat(shown[name])
    return shown


def _in_site_words(page: Page, error):
    """`error` with the openings service's own sentences about fields in the page's
    language (for a ValidationError with fields; anything else as it is)."""
    if not isinstance(error, ValidationError) or not error.fields:
        return error
    fields = {}
    for name, messages in error.fields.items():
        if name in CHOICE_MESSAGES:
            # A list of checkboxes: none ticked, or a choice that is not one.
            fields[name] = [page.gettext(CHOICE_MESSAGES[name])]
        elif isinstance(messages, list | tuple):
            fields[name] = [_message_in_site_words(page, str(text)) for text in messages]
        else:
            fields[name] = messages
    return ValidationError(error.message, fields=fields)


def _message_in_site_words(page: Page, text: str) -> str:
    if text in SERVICE_MESSAGES:
        return page.gettext(SERVICE_MESSAGES[text])
    match = DATE_RANGE.fullmatch(text)
    if match:
        return page.gettext(DATE_RANGE_MESSAGE, **match.groupdict())
    return text
