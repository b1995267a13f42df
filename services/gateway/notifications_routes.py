"""The gateway's Notifications routes (API.md), and the staff activity feed, asked of the
notifications service.

A mixin of `GatewayService` (nameko finds entrypoints on base classes too): it uses the
service's `auth` and `services` dependencies; the handler enforces each route's
declaration (who may call it, the schemas of its input: see `http`). Every route but the
emailed unsubscribe link is for the signed-in account itself (its inbox, preferences,
follows); the feed of every domain event is for staff. A notifications service that does
not answer in time is a 503.

Extensions beyond API.md: GET /follows (what the account follows, automatically or by
hand) and POST /unsubscribe/{token} (RFC 8058 one-click unsubscribe: what mail clients
send for the List-Unsubscribe header).
"""

from __future__ import annotations

from html import escape

from werkzeug.wrappers import Response

from services.gateway.http import api, no_content, ok
from services.notifications.api import (
    ActivityListSchema,
    ActivityQuerySchema,
    FollowCreateSchema,
    FollowListQuerySchema,
    FollowListSchema,
    FollowSchema,
    NotificationListQuerySchema,
    NotificationListSchema,
    NotificationSchema,
    PreferencesSchema,
    PreferencesViewSchema,
    ReadAllResultSchema,
    UnsubscribeResultSchema,
)

TAGS = ("notifications",)
# What mail clients send a one-click unsubscribe as (RFC 8058), besides JSON.
ONE_CLICK_TYPES = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
UNSUBSCRIBED_PAGE = """<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>{title}</h1>
<p lang="sv">Du får inga fler mejl från Civic. Aviseringarna finns kvar i din inkorg,
och du kan slå på e-post igen under dina inställningar.</p>
<p lang="en">You will get no more email from Civic. Your notifications stay in your
inbox, and you can turn email on again in your settings.</p></main></body></html>
"""


def _unsubscribed(request, result: dict) -> Response:
    """JSON for programs; a short page for a person who clicked the emailed link."""
    wanted = request.accept_mimetypes.best_match(["application/json", "text/html"])
    if wanted == "text/html":
        page = UNSUBSCRIBED_PAGE.format(title=escape("E-post avstängd · Email turned off"))
        return Response(page, status=200, content_type="text/html; charset=utf-8")
    return ok(result)


class NotificationRoutes:
    """Entrypoints for /notifications, /me/preferences, /follows, /unsubscribe and
    /staff/activity; mixed into GatewayService."""

    # --- the inbox ------------------------------------------------------------------------

    @api(
        "GET",
        "/notifications",
        summary="The signed-in account's inbox, newest first",
        auth="resident",
        query=NotificationListQuerySchema,
        responses={200: NotificationListSchema},
        tags=TAGS,
        description="`unread=true` lists only unread notifications. `unread_count` is "
        "the account's unread notifications, whatever the filter. Titles and "
        "bodies are in the account's language.",
    )
    def list_notifications(self, request, *, actor, query):
        return ok(self.services.notifications.list_notifications(actor, **query))

    @api(
        "POST",
        "/notifications/<uuid:notification_id>/read",
        summary="Mark one notification read",
        auth="resident",
        responses={200: NotificationSchema},
        tags=TAGS,
        description="Marking a read notification again changes nothing. 404 for "
        "another account's notification.",
    )
    def read_notification(self, request, notification_id, *, actor):
        return ok(self.services.notifications.mark_read(actor, notification_id))

    @api(
        "POST",
        "/notifications/read-all",
        summary="Mark every notification read",
        auth="resident",
        responses={200: ReadAllResultSchema},
        tags=TAGS,
    )
    def read_all_notifications(self, request, *, actor):
        return ok(self.services.notifications.mark_all_read(actor))

    # --- preferences ----------------------------------------------------------------------

    @api(
        "GET",
        "/me/preferences",
        summary="How the account is told: email and muted kinds",
        auth="resident",
        responses={200: PreferencesViewSchema},
        tags=TAGS,
        description="Without a choice made, email is a `daily` digest and nothing is muted.",
    )
    def get_preferences(self, request, *, actor):
        return ok(self.services.notifications.get_preferences(actor))

    @api(
        "PUT",
        "/me/preferences",
        summary="Choose email (immediate, daily, weekly, off) and muted kinds",
        auth="resident",
        body=PreferencesSchema,
        responses={200: PreferencesViewSchema},
        tags=TAGS,
        description="`email`: `immediate` (one email per notification), `daily` or "
        "`weekly` (one digest at 07:00 Europe/Stockholm; weekly on Mondays; "
        "none when nothing happened) or `off`. `muted_kinds` replaces the "
        "list: those kinds are neither put in the inbox nor emailed. A field "
        "left out keeps its value.",
    )
    def put_preferences(self, request, *, actor, body):
        return ok(self.services.notifications.set_preferences(actor, body))

    # --- follows --------------------------------------------------------------------------

    @api(
        "GET",
        "/follows",
        summary="What the account follows",
        auth="resident",
        query=FollowListQuerySchema,
        responses={200: FollowListSchema},
        tags=TAGS,
        description="Newest first. `automatic` follows were made for the account: its "
        "proposals, the events it registered for, its groups.",
    )
    def list_follows(self, request, *, actor, query):
        return ok(self.services.notifications.list_follows(actor, **query))

    @api(
        "POST",
        "/follows",
        summary="Follow a proposal, project, group or event",
        auth="resident",
        body=FollowCreateSchema,
        responses={201: FollowSchema},
        errors=(404, 409),
        tags=TAGS,
        description="404 when there is no such thing to follow (yet: something just "
        "created is followable a moment later); 409 when already following.",
    )
    def create_follow(self, request, *, actor, body):
        return ok(self.services.notifications.follow(actor, body), 201)

    @api(
        "DELETE",
        "/follows/<target_type>/<uuid:target_id>",
        summary="Unfollow a proposal, project, group or event",
        auth="resident",
        responses={204: None},
        errors=(400,),
        tags=TAGS,
        description="Automatic follows can be ended too. 404 when not following it.",
    )
    def delete_follow(self, request, target_type, target_id, *, actor):
        self.services.notifications.unfollow(actor, target_type, target_id)
        return no_content()

    # --- the emailed link -----------------------------------------------------------------

    @api(
        "GET",
        "/unsubscribe/<token>",
        summary="Turn email off, from the emailed link",
        responses={200: UnsubscribeResultSchema},
        tags=TAGS,
        description="No sign-in: the signed token says whose email to turn off. A "
        "browser (asking for HTML) gets a short page. 404 for a token that "
        "is not valid.",
    )
    def unsubscribe(self, request, token):
        return _unsubscribed(request, self.services.notifications.unsubscribe(token))

    @api(
        "POST",
        "/unsubscribe/<token>",
        summary="One-click unsubscribe (RFC 8058)",
        responses={200: UnsubscribeResultSchema},
        tags=TAGS,
        accepts=ONE_CLICK_TYPES,
        description="What mail clients send for the emails' List-Unsubscribe header "
        "(with the body `List-Unsubscribe=One-Click`, which is not read).",
    )
    def unsubscribe_one_click(self, request, token):
        return ok(self.services.notifications.unsubscribe(token))

    # --- staff ----------------------------------------------------------------------------

    @api(
        "GET",
        "/staff/activity",
        summary="The audit feed of every domain event (staff)",
        auth="staff",
        query=ActivityQuerySchema,
        responses={200: ActivityListSchema},
        tags=("staff",),
        description="Newest first; `type` filters by event type, `since` and `until` "
        "(ISO 8601 with offset; `since` inclusive, `until` exclusive) by when it "
        "occurred, `subject_type` and `subject_id` by what it is about, `actor_id` by "
        "who caused it, `correlation_id` by the request it came from. Append-only.",
    )
    def staff_activity(self, request, *, actor, query):
        return ok(self.services.notifications.list_activity(actor, **query))
