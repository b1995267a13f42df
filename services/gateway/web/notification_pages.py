"""The website's pages: Notifications: the inbox, follows, preferences, the unsubscribe link.

A mixin of `GatewayService`; see `handler.web` for what a page declaration does. Every
call asks the notifications service exactly as the API's routes do
(`notifications_routes.py`): the inbox, follows and preferences are the signed-in
account's own.

The unsubscribe link of an email needs no sign-in: its signed token says whose email to
turn off. Its page asks first (a GET changes nothing: mail scanners and link previews
open links), and is written in the language of the email the link came in — the
account's (`?lang=`, which the email's link carries) — whatever the browser prefers
(but for a language chosen with the site's switch).
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from civic import signing
from civic.errors import NotFound, ValidationError
from services.gateway.web import i18n
from services.gateway.web.forms import empty_form, submitted_form
from services.gateway.web.handler import Missing, Page, safe_next, web
from services.notifications.api import (
    FollowListQuerySchema,
    NotificationListQuerySchema,
    PreferencesViewSchema,
)

INBOX = "/notifications"
INBOX_PAGE_SIZE = 20
FOLLOWS_PAGE_SIZE = 50
UNSUBSCRIBE = "/unsubscribe/<token>"
# Where what can be followed is on the site.
TARGET_PATHS = {
    "proposal": "/proposals/{id}",
    "project": "/projects/{id}",
    "group": "/groups/{id}",
    "event": "/events/{id}",
    # The programme's followers hear of its consultations.
    "programme": "/consultations",
    "consultation": "/consultations/{id}",
}
PREFERENCE_FIELDS = tuple(PreferencesViewSchema().fields)


def _(message: str) -> str:
    """Marks a message id for extraction; translated where it is shown."""
    return message


TARGET_TYPES = {
    "proposal": _("Proposal"),
    "project": _("Joint project"),
    "group": _("Group"),
    "event": _("Event"),
    "programme": _("The development programme"),
    "consultation": _("Consultation"),
}


def _follow_title(page, item: dict) -> str | None:
    """A follow's title as shown: the one the notifications service keeps (a proposal's,
    a group's… in the words they were written in), except the programme's, which is the
    site's own and so in the page's language."""
    if item["target_type"] == "programme":
        return page.gettext("Jokkmokk's development programme")
    return item.get("title")


# --- whether an account follows something (the follow boxes of other pages) -------------


def following(follows, target_type: str, target_id: str) -> bool | None:
    """Whether the account's follows (`list_follows`' page) hold the target; None when
    they are unknown (signed out, or the notifications service did not answer)."""
    if not follows:
        return None
    return any(
        item["target_type"] == target_type and item["target_id"] == target_id
        for item in follows["items"]
    )


def follows_known(follows) -> bool:
    return follows is not None and not isinstance(follows, Missing)


class NotificationPages:
    """Pages of this area; mixed into GatewayService."""

    # --- the inbox ----------------------------------------------------------------------

    @web("GET", INBOX, auth="resident")
    def web_notification_inbox(self, page: Page):
        query, refused = page.load_args(NotificationListQuerySchema, per_page=INBOX_PAGE_SIZE)
        actor = page.actor
        parts = page.gather(
            notifications=lambda: self.services.notifications.list_notifications(actor, **query)
        )
        notifications = parts["notifications"]
        if notifications:
            # The list answers the unread count too: the header shows the same number.
            page.unread_count = notifications.get("unread_count", page.unread_count)
        kept = {}
        if query.get("unread") is not None:
            kept["unread"] = "1" if query["unread"] else "0"
        if query["per_page"] != INBOX_PAGE_SIZE:
            kept["per_page"] = query["per_page"]
        return page.render(
            "notifications/inbox.html",
            query=query,
            refused=refused,
            notifications=notifications,
            page_base=INBOX + "?" + urlencode(kept) + ("&" if kept else ""),
            here=page.request.full_path.rstrip("?"),
        )

    @web("POST", INBOX + "/<uuid:notification_id>/read", auth="resident")
    def web_notification_read(self, page: Page, notification_id):
        self.services.notifications.mark_read(page.actor, notification_id)
        return page.redirect(
            _back_to_inbox(page), notice=page.gettext("The notification is marked as read.")
        )

    @web("POST", INBOX + "/read-all", auth="resident")
    def web_notification_read_all(self, page: Page):
        result = self.services.notifications.mark_all_read(page.actor)
        marked = result.get("marked", 0)
        if marked:
            notice = page.ngettext(
                "%(num)s notification is marked as read.",
                "%(num)s notifications are marked as read.",
                marked,
            )
        else:
            notice = page.gettext("There was nothing unread.")
        return page.redirect(_back_to_inbox(page), notice=notice)

    # --- follows --------------------------------------------------------------------------

    @web("GET", "/follows", auth="resident")
    def web_follow_list(self, page: Page):
        query, refused = page.load_args(FollowListQuerySchema, per_page=FOLLOWS_PAGE_SIZE)
        actor = page.actor
        parts = page.gather(
            follows=lambda: self.services.notifications.list_follows(actor, **query)
        )
        follows = parts["follows"]
        if follows:
            follows = {
                **follows,
                "items": [
                    {
                        **item,
                        "title": _follow_title(page, item),
                        "path": _target_path(item["target_type"], item["target_id"]),
                        "kind": page.gettext(TARGET_TYPES.get(item["target_type"], _("Other"))),
                    }
                    for item in follows["items"]
                ],
            }
        kept = {"per_page": query["per_page"]} if query["per_page"] != FOLLOWS_PAGE_SIZE else {}
        return page.render(
            "notifications/follows.html",
            follows=follows,
            refused=refused,
            page_base="/follows?" + urlencode(kept) + ("&" if kept else ""),
        )

    @web("POST", "/follows/<target_type>/<uuid:target_id>/delete", auth="resident")
    def web_follow_delete(self, page: Page, target_type, target_id):
        if target_type not in TARGET_TYPES:
            raise NotFound("nothing of that kind can be followed")
        try:
            self.services.notifications.unfollow(page.actor, target_type, target_id)
        except NotFound:
            pass  # not followed (any more): what was asked for is so
        return page.redirect("/follows", notice=page.gettext("You no longer follow it."))

    # --- preferences ----------------------------------------------------------------------

    @web("GET", "/me/preferences", auth="resident")
    def web_preferences(self, page: Page):
        actor = page.actor
        parts = page.gather(preferences=lambda: self.services.notifications.get_preferences(actor))
        preferences = parts["preferences"]
        if isinstance(preferences, Missing):
            raise preferences.error  # a form of unknown choices would mislead
        values = {name: preferences.get(name) for name in PREFERENCE_FIELDS}
        return page.render("notifications/preferences.html", form=empty_form(page, **values))

    @web("POST", "/me/preferences", auth="resident")
    def web_preferences_save(self, page: Page):
        form = page.form
        # Every box unticked is a choice too: the list replaces the saved one.
        payload = {"muted_kinds": form.getlist("muted_kinds")}
        if form.get("email"):
            payload["email"] = form.get("email")
        try:
            self.services.notifications.set_preferences(page.actor, payload)
        except ValidationError as error:
            state = submitted_form(page, error, names={"_schema": "_form"})
            state.values["muted_kinds"] = form.getlist("muted_kinds")
            return page.render("notifications/preferences.html", status=400, form=state)
        return page.redirect("/me/preferences", notice=page.gettext("Your choices are saved."))

    # --- the emailed unsubscribe link -----------------------------------------------------

    @web("GET", UNSUBSCRIBE)
    def web_unsubscribe(self, page: Page, token):
        """Asks before turning email off; after that, says it is off (`?done=1`)."""
        _speak_the_links_language(page)
        _check_token(token)
        response = page.render(
            "notifications/unsubscribe.html",
            token=token,
            done=page.args.get("done") == "1",
            form=empty_form(page),
        )
        return _not_kept(response)

    @web("POST", UNSUBSCRIBE)
    def web_unsubscribe_confirm(self, page: Page, token):
        _speak_the_links_language(page)
        _check_token(token)
        self.services.notifications.unsubscribe(token)
        done = f"/unsubscribe/{quote(token, safe='')}?" + urlencode(
            {"lang": page.lang, "done": "1"}
        )
        return _not_kept(page.redirect(done))


# --- helpers ------------------------------------------------------------------------------


def _back_to_inbox(page: Page) -> str:
    """The inbox as it was shown (its filter and page), else the inbox."""
    back = safe_next(page.form.get("back"))
    return back if back and back.startswith(INBOX) else INBOX


def _target_path(target_type: str, target_id: str) -> str | None:
    path = TARGET_PATHS.get(target_type)
    return path.format(id=quote(target_id, safe="")) if path else None


def _speak_the_links_language(page: Page) -> None:
    """The page in the language of the email the link came in (the account's), which
    the link names, whatever the browser prefers. A language the visitor chose on the
    site (the switch's cookie) still wins, so that the switch works here too; a link
    without one is read in the visitor's language."""
    lang = page.args.get("lang")
    chosen = i18n.is_language(page.request.cookies.get(i18n.LANGUAGE_COOKIE))
    if i18n.is_language(lang) and not chosen:
        page.use_language(lang)


def _check_token(token: str) -> None:
    """A link that was not made by Civic (or was cut short in a mail client) is a 404
    before anything is asked — the notifications service checks it again."""
    if signing.unsign(signing.UNSUBSCRIBE, token) is None:
        raise NotFound("this unsubscribe link is not valid")


def _not_kept(response):
    """The token in the address is a key to someone's email settings: no cache keeps
    the page, and no link on it tells another site the address."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
