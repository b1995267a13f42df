"""The gateway's Events routes (API.md), asked of the events service.

A mixin of `GatewayService` (nameko finds entrypoints on base classes too): it uses the
service's `auth` and `services` dependencies. Each route's declaration says who may call
it and the schemas of its input, which the handler enforces (see `http`); the route hands
the events service the actor `{account_id, is_staff, display_name}` (None for an anonymous
reader). The events service decides what the actor may do (403: organiser-group admins,
and staff where API.md says so), what exists (404) and what the event's state allows
(409); an events service that does not answer in time is a 503.

Extensions beyond API.md: PATCH /events/{id} (change; registrants hear of a new time or
place), PUT /events/{id}/agenda, POST /events/{id}/checkins, GET /events/{id}/registrations
(the organiser's list), and `my_registration` in an event read with a token.
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from services.events.api import (
    AgendaSchema,
    CheckInResultSchema,
    CheckInSchema,
    EventCancelSchema,
    EventChangeSchema,
    EventCreateSchema,
    EventListQuerySchema,
    EventListSchema,
    EventSchema,
    MinutesSchema,
    RegistrantListSchema,
    RegistrantQuerySchema,
    RegistrationResultSchema,
)
from services.gateway.http import api, no_content, ok

EVENT = "/events/<uuid:event_id>"
TAGS = ("events",)
CALENDAR_TYPE = "text/calendar"


def calendar_response(text: str, filename: str) -> Response:
    return Response(
        text,
        status=200,
        content_type=f"{CALENDAR_TYPE}; charset=utf-8",
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "Cache-Control": "public, max-age=300",
        },
    )


class EventRoutes:
    """Entrypoints for /events and the group calendars; mixed into GatewayService."""

    # --- reading ------------------------------------------------------------------------

    @api(
        "GET",
        "/events",
        summary="Events, by time window, kind and organiser group",
        auth="optional",
        query=EventListQuerySchema,
        responses={200: EventListSchema},
        tags=TAGS,
        description="Past events are kept and listed. `from`/`to` select events that "
        "overlap the window (ISO 8601; without an offset, Europe/Stockholm "
        "time; a date alone is local midnight). Soonest first. Times are "
        "answered in Europe/Stockholm with their offset. With a token, "
        "`my_registration` is the caller's.",
    )
    def list_events(self, request, *, actor, query):
        return ok(self.services.events.list_events(actor, **query))

    @api(
        "GET",
        EVENT,
        summary="An event with its confirmed count, places left and waiting-list length",
        auth="optional",
        responses={200: EventSchema},
        tags=TAGS,
        description="`places_left` is null for an event without a limit on places. With "
        "a token, `my_registration` is the caller's registration (or null).",
    )
    def get_event(self, request, event_id, *, actor):
        return ok(self.services.events.get_event(actor, event_id))

    @api(
        "GET",
        "/events.ics",
        summary="iCalendar feed of all events",
        responses={200: {"type": "string"}},
        content_type=CALENDAR_TYPE,
        tags=TAGS,
        description="Events from a year back on. Each VEVENT has the stable UID "
        "`<event id>@civic`; times carry TZID Europe/Stockholm (with its "
        "VTIMEZONE); a cancelled event has STATUS:CANCELLED.",
    )
    def events_calendar(self, request):
        return calendar_response(self.services.events.calendar(), "civic-events.ics")

    @api(
        "GET",
        "/groups/<uuid:group_id>/events.ics",
        summary="iCalendar feed of the events a group organises",
        responses={200: {"type": "string"}},
        content_type=CALENDAR_TYPE,
        tags=TAGS,
        description="As /events.ics, for one organiser group; 404 for a group the events "
        "service does not know.",
    )
    def group_events_calendar(self, request, group_id):
        return calendar_response(
            self.services.events.calendar(group_id), f"civic-group-{group_id}.ics"
        )

    @api(
        "GET",
        EVENT + "/registrations",
        summary="Who is registered and checked in (organiser-group admin, staff)",
        auth="resident",
        query=RegistrantQuerySchema,
        responses={200: RegistrantListSchema},
        errors=(403,),
        tags=TAGS,
        description="Confirmed registrants first (in the order they got their place), "
        "then the waiting list by position.",
    )
    def list_registrants(self, request, event_id, *, actor, query):
        return ok(self.services.events.list_registrants(actor, event_id, **query))

    # --- organising ---------------------------------------------------------------------

    @api(
        "POST",
        "/events",
        summary="Schedule an event (organiser-group admin, staff)",
        auth="resident",
        body=EventCreateSchema,
        responses={201: EventSchema},
        errors=(403,),
        tags=TAGS,
        description="Starts `scheduled`. 400 when the organiser group is unknown (a new "
        "group is known to the events service a moment after it is "
        "created), the start is not in the future or the end is not after "
        "the start; 403 for anyone but an admin of the organiser group or "
        "staff. `capacity` null (or left out) means no limit.",
    )
    def create_event(self, request, *, actor, body):
        return ok(self.services.events.create_event(actor, body), 201)

    @api(
        "PATCH",
        EVENT,
        summary="Change an event (organiser-group admin, staff)",
        auth="resident",
        body=EventChangeSchema,
        responses={200: EventSchema},
        errors=(403, 409),
        tags=TAGS,
        description="Only the fields given change. A new time or place is told to every "
        "registrant (event_changed). A larger capacity promotes from the "
        "waiting list at once. 409 once the event has started or when it is "
        "cancelled, and for a capacity below the places already taken.",
    )
    def change_event(self, request, event_id, *, actor, body):
        return ok(self.services.events.change_event(actor, event_id, body))

    @api(
        "POST",
        EVENT + "/cancel",
        summary="Cancel an event (organiser-group admin, staff)",
        auth="resident",
        body=EventCancelSchema,
        responses={200: EventSchema},
        errors=(403, 409),
        tags=TAGS,
        description="Every registrant, confirmed or waitlisted, is told. 409 when the "
        "event is cancelled already or over.",
    )
    def cancel_event(self, request, event_id, *, actor, body):
        return ok(self.services.events.cancel_event(actor, event_id, body))

    @api(
        "PUT",
        EVENT + "/agenda",
        summary="Publish the agenda (organiser-group admin)",
        auth="resident",
        body=AgendaSchema,
        responses={200: EventSchema},
        errors=(403, 409),
        tags=TAGS,
        description="Publishing again revises it; registrants are told. 409 for a cancelled event.",
    )
    def publish_agenda(self, request, event_id, *, actor, body):
        return ok(self.services.events.publish_agenda(actor, event_id, body))

    @api(
        "POST",
        EVENT + "/minutes",
        summary="Publish the minutes (organiser-group admin)",
        auth="resident",
        body=MinutesSchema,
        responses={201: EventSchema},
        errors=(403, 409),
        tags=TAGS,
        description="Once the event has begun; publishing again revises them. 409 before "
        "the start and for a cancelled event.",
    )
    def publish_minutes(self, request, event_id, *, actor, body):
        return ok(self.services.events.publish_minutes(actor, event_id, body), 201)

    @api(
        "POST",
        EVENT + "/checkins",
        summary="Check an attendee in (organiser-group admin)",
        auth="resident",
        body=CheckInSchema,
        responses={201: CheckInResultSchema},
        errors=(403, 409),
        tags=TAGS,
        description="The account must be registered (confirmed, or waitlisted and let in "
        "at the door): 404 otherwise. Check-in opens an hour before the "
        "start (409 before; 409 for a cancelled event and for an attendee "
        "checked in already). Each check-in adds one to `attendance_count`.",
    )
    def check_in(self, request, event_id, *, actor, body):
        return ok(self.services.events.check_in(actor, event_id, body), 201)

    # --- registrations ------------------------------------------------------------------

    @api(
        "POST",
        EVENT + "/registrations",
        summary="Register for an event",
        auth="resident",
        responses={201: RegistrationResultSchema},
        errors=(409,),
        tags=TAGS,
        description='`{"status": "confirmed"}` while places are left, else '
        '`{"status": "waitlisted", "position": N}`. 409 when already '
        "registered, when the event is cancelled, and once it has started "
        "(registration closes at the start).",
    )
    def register(self, request, event_id, *, actor):
        return ok(self.services.events.register(actor, event_id), 201)

    @api(
        "DELETE",
        EVENT + "/registrations/mine",
        summary="Cancel one's registration; the first on the waiting list is promoted",
        auth="resident",
        responses={204: None},
        errors=(409,),
        tags=TAGS,
        description="A freed place goes at once to the first on the waiting list, and "
        "everyone behind moves up. 404 when not registered; 409 once the "
        "event has started or when it is cancelled.",
    )
    def cancel_registration(self, request, event_id, *, actor):
        self.services.events.cancel_registration(actor, event_id)
        return no_content()
