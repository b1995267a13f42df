"""What the events service accepts and answers.

The input schemas validate RPC arguments here and HTTP bodies and query strings in the
gateway (which also builds its OpenAPI document from them), so one definition serves
both edges; loading what the gateway loaded gives the same data again. Unknown fields
are refused everywhere (except in the actor, which the gateway builds).

Times are answered in the town's time zone (CIVIC_TIMEZONE, Europe/Stockholm) with
their offset. A time given with an offset (or `Z`) is taken as given; one given without
is read as local time, and refused when the daylight-saving change makes it ambiguous
or non-existent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from marshmallow import Schema, fields, pre_load, validate, validates_schema
from marshmallow import ValidationError as MarshmallowError

from civic.clock import iso, to_town, town_zone
from civic.contracts import EVENT_KINDS, REGISTRATION_STATUSES
from civic.validation import (
    PER_PAGE_MAX,
    AwareDateTime,
    PageQuerySchema,
    StrictSchema,
    UUIDString,
    blank_is_none,
    load,
    page_of,
    per_page_field,
    strip_blanks,
    text,
)

__all__ = ["EVENT_KINDS", "EVENT_STATUSES", "REGISTRATION_STATUSES", "load"]

EVENT_STATUSES = ("scheduled", "cancelled", "completed")

TITLE_MIN, TITLE_MAX = 3, 150
DESCRIPTION_MAX = 10_000
PLACE_MAX = 200
URL_MAX = 500
CAPACITY_MAX = 100_000
REASON_MAX = 1_000
TEXT_MAX = 20_000
LONGEST_EVENT = timedelta(days=31)
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100


class LocalDateTime(AwareDateTime):
    """The kernel's time field (civic.validation.AwareDateTime), reading a time without
    offset as local time and refusing years outside EARLIEST_YEAR..LATEST_YEAR; shown in
    local time with its offset."""

    def __init__(self, **kwargs):
        super().__init__(
            naive_zone=town_zone, earliest_year=EARLIEST_YEAR, latest_year=LATEST_YEAR, **kwargs
        )

    def _serialize(self, value, attr, obj, **kwargs):
        return iso(to_town(value))


def times_problem(starts_at: datetime, ends_at: datetime) -> str | None:
    """What is wrong with this start and end (None: nothing)."""
    if ends_at <= starts_at:
        return "The end must come after the start."
    if ends_at - starts_at > LONGEST_EVENT:
        return "An event may last at most 31 days."
    return None


def _check_times(starts_at, ends_at):
    problem = times_problem(starts_at, ends_at)
    if problem:
        raise MarshmallowError(problem, "ends_at")


# --- inputs -----------------------------------------------------------------------------


def _event_fields(required: bool) -> dict:
    """The fields an organiser sets, required on creation and optional on a change."""
    needed = {"required": True} if required else {}
    return {
        "title": text(
            TITLE_MIN, TITLE_MAX, **needed, metadata={"example": "Stadsstädning vid Talvatissjön"}
        ),
        "kind": fields.String(validate=validate.OneOf(EVENT_KINDS), **needed),
        "description": text(0, DESCRIPTION_MAX, **({"load_default": ""} if required else {})),
        "starts_at": LocalDateTime(
            **needed,
            metadata={
                "description": "ISO 8601; without an offset, local time (Europe/Stockholm)",
                "example": "2027-05-15T10:00:00+02:00",
            },
        ),
        "ends_at": LocalDateTime(**needed, metadata={"example": "2027-05-15T14:00:00+02:00"}),
        "location": text(1, PLACE_MAX, **needed, metadata={"example": "Talvatissjön"}),
        "online_url": fields.URL(
            schemes={"http", "https"},
            allow_none=True,
            validate=validate.Length(max=URL_MAX),
            **({"load_default": None} if required else {}),
            metadata={"description": "Where to join a hybrid event online"},
        ),
        "capacity": fields.Integer(
            strict=True,
            allow_none=True,
            validate=validate.Range(min=1, max=CAPACITY_MAX),
            **({"load_default": None} if required else {}),
            metadata={"description": "Places; null: no limit"},
        ),
        "proposal_id": UUIDString(allow_none=True, **({"load_default": None} if required else {})),
        "project_id": UUIDString(allow_none=True, **({"load_default": None} if required else {})),
    }


class EventCreateSchema(
    StrictSchema.from_dict(_event_fields(required=True), name="_EventCreateBase")
):
    organiser_group_id = UUIDString(required=True)

    @pre_load
    def _normalise(self, data, **kwargs):
        data = strip_blanks(data, ("title", "description", "location", "online_url"))
        return blank_is_none(data, ("online_url", "proposal_id", "project_id"))

    @validates_schema
    def _times(self, data, **kwargs):
        if "starts_at" in data and "ends_at" in data:
            _check_times(data["starts_at"], data["ends_at"])


class EventChangeSchema(
    StrictSchema.from_dict(_event_fields(required=False), name="_EventChangeBase")
):
    """A change: only the fields given change; null clears capacity and the links."""

    @pre_load
    def _normalise(self, data, **kwargs):
        data = strip_blanks(data, ("title", "description", "location", "online_url"))
        return blank_is_none(data, ("online_url", "proposal_id", "project_id"))

    @validates_schema
    def _something_and_times(self, data, **kwargs):
        if not data:
            raise MarshmallowError("Give at least one field to change.", "_schema")
        if "starts_at" in data and "ends_at" in data:
            _check_times(data["starts_at"], data["ends_at"])


class EventListQuerySchema(PageQuerySchema):
    starts_from = LocalDateTime(
        data_key="from",
        load_default=None,
        allow_none=True,
        metadata={"description": "Events that end after this time (a date means local midnight)"},
    )
    starts_to = LocalDateTime(
        data_key="to",
        load_default=None,
        allow_none=True,
        metadata={"description": "Events that start before this time"},
    )
    kind = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(EVENT_KINDS))
    group_id = UUIDString(
        load_default=None, allow_none=True, metadata={"description": "Events this group organises"}
    )

    @pre_load
    def _blanks(self, data, **kwargs):
        return blank_is_none(data, ("from", "to", "kind", "group_id"))

    @validates_schema
    def _window(self, data, **kwargs):
        if (
            data.get("starts_from")
            and data.get("starts_to")
            and data["starts_to"] <= data["starts_from"]
        ):
            raise MarshmallowError("`to` must come after `from`.", "to")


class RegistrantQuerySchema(PageQuerySchema):
    per_page = per_page_field(PER_PAGE_MAX)


class EventCancelSchema(StrictSchema):
    reason = text(
        1, REASON_MAX, required=True, metadata={"example": "Storm warning: we meet another day."}
    )

    @pre_load
    def _normalise(self, data, **kwargs):
        return strip_blanks(data, ("reason",))


class TextSchema(StrictSchema):
    """The agenda or the minutes of an event."""

    body = text(1, TEXT_MAX, required=True)

    @pre_load
    def _normalise(self, data, **kwargs):
        return strip_blanks(data, ("body",))


class MinutesSchema(TextSchema):
    pass


class AgendaSchema(TextSchema):
    pass


class CheckInSchema(StrictSchema):
    account_id = UUIDString(required=True)


# --- volunteer roles ----------------------------------------------------------------------

ROLE_NAME_MAX = 60
ROLE_NEEDED_MAX = 50
ROLES_MAX = 20


class RoleInputSchema(StrictSchema):
    id = UUIDString(
        load_default=None,
        allow_none=True,
        metadata={"description": "an existing role of the event, to keep (and rename)"},
    )
    name = text(1, ROLE_NAME_MAX, required=True, metadata={"example": "Förare"})
    needed = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=ROLE_NEEDED_MAX)
    )

    @pre_load
    def _normalise(self, data, **kwargs):
        return strip_blanks(data, ("name",))


class RolesSetSchema(StrictSchema):
    """The event's volunteer roles, all of them: roles left out are removed. A role is
    matched by its `id`, else by its name."""

    roles = fields.List(
        fields.Nested(RoleInputSchema), required=True, validate=validate.Length(max=ROLES_MAX)
    )

    @validates_schema
    def _distinct(self, data, **kwargs):
        names = [role["name"].casefold() for role in data.get("roles", [])]
        if len(names) != len(set(names)):
            raise MarshmallowError("Two roles have the same name.", "roles")
        ids = [role["id"] for role in data.get("roles", []) if role.get("id")]
        if len(ids) != len(set(ids)):
            raise MarshmallowError("A role is given twice.", "roles")


class HelperQuerySchema(PageQuerySchema):
    per_page = per_page_field(PER_PAGE_MAX)


# --- outputs ----------------------------------------------------------------------------


class RegistrationResultSchema(Schema):
    status = fields.String(metadata={"description": "confirmed or waitlisted"})
    position = fields.Integer(
        metadata={"description": "Place on the waiting list (1 is next); only when waitlisted"}
    )


class RoleSchema(Schema):
    id = fields.String()
    name = fields.String()
    needed = fields.Integer()
    filled = fields.Integer(metadata={"description": "how many have offered (places taken)"})
    offered_by_me = fields.Boolean(
        metadata={"description": "the caller has a place in this role (false if not signed in)"}
    )


class RoleListSchema(Schema):
    roles = fields.List(fields.Nested(RoleSchema))


class HelperSchema(Schema):
    role_id = fields.String()
    role_name = fields.String()
    account_id = fields.String()
    display_name = fields.String(
        allow_none=True, metadata={"description": "the helper's name (the gateway adds it)"}
    )
    source = fields.String(metadata={"description": "offer, or invitation (accepted)"})
    created_at = LocalDateTime()


HelperListSchema = page_of(HelperSchema, "HelperListSchema")


class OfferResultSchema(Schema):
    role_id = fields.String()
    role_name = fields.String()
    event_id = fields.String()
    created_at = LocalDateTime()


class EventSchema(Schema):
    id = fields.String()
    kind = fields.String()
    title = fields.String()
    description = fields.String()
    starts_at = LocalDateTime()
    ends_at = LocalDateTime()
    location = fields.String()
    online_url = fields.String(allow_none=True)
    capacity = fields.Integer(allow_none=True)
    confirmed_count = fields.Integer()
    places_left = fields.Integer(
        allow_none=True, metadata={"description": "null when the event has no limit on places"}
    )
    waitlist_count = fields.Integer()
    status = fields.String(metadata={"description": "scheduled, cancelled or completed"})
    organiser_group_id = fields.String()
    organiser_group_name = fields.String(allow_none=True)
    proposal_id = fields.String(allow_none=True)
    project_id = fields.String(allow_none=True)
    attendance_count = fields.Integer()
    agenda = fields.String(allow_none=True)
    agenda_published_at = LocalDateTime(allow_none=True)
    minutes = fields.String(allow_none=True)
    minutes_published_at = LocalDateTime(allow_none=True)
    cancel_reason = fields.String(allow_none=True)
    cancelled_at = LocalDateTime(allow_none=True)
    created_at = LocalDateTime()
    updated_at = LocalDateTime()
    my_registration = fields.Nested(
        RegistrationResultSchema,
        allow_none=True,
        metadata={"description": "The caller's registration (null: none, or not signed in)"},
    )
    roles = fields.List(
        fields.Nested(RoleSchema),
        metadata={"description": "The event's volunteer roles, in the organiser's order"},
    )


EventListSchema = page_of(EventSchema, "EventListSchema")


class RegistrantSchema(Schema):
    account_id = fields.String()
    status = fields.String()
    position = fields.Integer(allow_none=True)
    registered_at = LocalDateTime()
    checked_in = fields.Boolean()


RegistrantListSchema = page_of(RegistrantSchema, "RegistrantListSchema")


class CheckInResultSchema(Schema):
    event_id = fields.String()
    account_id = fields.String()
    checked_in_at = LocalDateTime()
    attendance_count = fields.Integer()
