"""What the notifications service accepts and answers.

The input schemas validate RPC arguments here and HTTP input in the gateway (which also
builds its OpenAPI document from them). Unknown fields are refused everywhere.

The programme itself can be followed: target type `programme`, one well-known id,
`PROGRAMME_ID` (a fixed UUID string, the same on every installation), always followable
(no event makes it known). Its followers hear of every consultation that opens and of
its results; a consultation (`consultation`, by its id) can be followed too, once its
opening is known here.
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from civic.contracts import CATALOGUE
from civic.validation import (
    ID_MAX,
    AwareDateTime,
    PageQuerySchema,
    StrictSchema,
    UUIDString,
    page_of,
)

LOCALES = ("sv", "en")
EMAIL_MODES = ("immediate", "daily", "weekly", "off")
# What can be followed.
TARGET_TYPES = ("proposal", "project", "group", "event", "programme", "consultation")
# The programme: the one target of type `programme` (see the module's docstring).
PROGRAMME_ID = "5a1e0c4e-7d1f-4f0a-9a3b-1b2c3d4e5f60"
PROGRAMME_TITLE = "Jokkmokks utvecklingsprogram"
# The kinds of notification (what an account can mute), in the order of the rules
# table (rules.py), which gives each rule one of them.
KINDS = (
    "join_requested",
    "member_joined",
    "admin_appointed",
    "member_removed",
    "group_verified",
    "network_joined",
    "proposal_received",
    "proposal_status_changed",
    "proposal_answered",
    "proposal_assigned",
    "group_proposal_assigned",
    "comment_added",
    "proposal_supported",
    "proposal_moderated",
    "comment_moderated",
    "proposal_merged",
    "project_from_proposal",
    "group_project",
    "project_status_changed",
    "event_scheduled",
    "event_changed",
    "event_cancelled",
    "waitlist_promoted",
    "event_reminder",
    "agenda_published",
    "minutes_published",
    "opening_matched",
    "interest_registered",
    "group_opening",
    "volunteer_invited",
    "volunteer_invitation_answered",
    "volunteer_role_filled",
    "consultation_opened",
    "consultation_results_published",
)

TOKEN_MAX = 300
# What an activity entry can be about (activity.SUBJECT_FIELDS gives each event one).
SUBJECT_TYPES = (
    "proposal",
    "project",
    "event",
    "opening",
    "group",
    "email",
    "account",
    "consultation",
    "invitation",
)
CORRELATION_ID_MAX = 100


def _catalogued(value):
    if value not in CATALOGUE:
        raise ValidationError("Not an event type in the catalogue.")


# --- inputs -----------------------------------------------------------------------------


class NotificationListQuerySchema(PageQuerySchema):
    unread = fields.Boolean(
        load_default=None,
        allow_none=True,
        metadata={"description": "true: only unread; false: only read; absent: all"},
    )


class PreferencesSchema(StrictSchema):
    email = fields.String(
        validate=validate.OneOf(EMAIL_MODES),
        metadata={
            "description": "immediate, daily or weekly digest (07:00, Europe/Stockholm; "
            "weekly on Mondays), or off"
        },
    )
    muted_kinds = fields.List(
        fields.String(validate=validate.OneOf(KINDS)),
        validate=validate.Length(max=len(KINDS)),
        metadata={
            "description": "kinds of notification not wanted at all (neither in the inbox "
            "nor by email)"
        },
    )

    @validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ValidationError("Give `email`, `muted_kinds` or both.", "_schema")


class FollowCreateSchema(StrictSchema):
    target_type = fields.String(required=True, validate=validate.OneOf(TARGET_TYPES))
    target_id = UUIDString(required=True)


class FollowTargetSchema(FollowCreateSchema):
    """The path of DELETE /follows/{target_type}/{target_id}."""


class FollowListQuerySchema(PageQuerySchema):
    pass


class ActivityQuerySchema(PageQuerySchema):
    type = fields.String(
        load_default=None,
        allow_none=True,
        validate=_catalogued,
        metadata={"description": "only events of this type"},
    )
    since = AwareDateTime(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "only events that occurred at or after this time (ISO 8601 with offset)"
        },
    )
    until = AwareDateTime(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "only events that occurred before this time (ISO 8601 with offset)"
        },
    )
    subject_type = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(SUBJECT_TYPES),
        metadata={"description": "only events about a thing of this type"},
    )
    subject_id = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=ID_MAX),
        metadata={"description": "only events about this thing (its id)"},
    )
    actor_id = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=ID_MAX),
        metadata={"description": "only events this account caused"},
    )
    correlation_id = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=CORRELATION_ID_MAX),
        metadata={"description": "only events of this request (its correlation id)"},
    )

    @validates_schema
    def _a_range_in_order(self, data, **kwargs):
        since, until = data.get("since"), data.get("until")
        if since is not None and until is not None and until <= since:
            raise ValidationError("Must be later than `since`.", "until")


class TokenSchema(StrictSchema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=TOKEN_MAX))


# --- outputs ----------------------------------------------------------------------------


class NotificationSchema(Schema):
    id = fields.String()
    kind = fields.String(metadata={"description": "what can be muted, e.g. `join_requested`"})
    title = fields.String(metadata={"description": "in the account's language"})
    body = fields.String()
    link = fields.String(metadata={"description": "a path of the web UI"})
    target_type = fields.String()
    target_id = fields.String()
    created_at = fields.AwareDateTime()
    read_at = fields.AwareDateTime(allow_none=True)


NotificationListSchema = page_of(
    NotificationSchema, "NotificationListSchema", unread_count=fields.Integer()
)


class ReadAllResultSchema(Schema):
    marked = fields.Integer(metadata={"description": "how many were unread"})
    unread_count = fields.Integer()


class PreferencesViewSchema(Schema):
    email = fields.String()
    muted_kinds = fields.List(fields.String())


class FollowSchema(Schema):
    target_type = fields.String()
    target_id = fields.String()
    title = fields.String(allow_none=True)
    automatic = fields.Boolean(
        metadata={"description": "true when made for the account (its proposal, event, group)"}
    )
    created_at = fields.AwareDateTime()


FollowListSchema = page_of(FollowSchema, "FollowListSchema")


class UnsubscribeResultSchema(Schema):
    email = fields.String(metadata={"example": "off"})


class ActivitySchema(Schema):
    id = fields.String()
    type = fields.String()
    actor_id = fields.String(allow_none=True)
    occurred_at = fields.AwareDateTime()
    correlation_id = fields.String()
    subject_type = fields.String(allow_none=True)
    subject_id = fields.String(allow_none=True)
    summary = fields.String()


ActivityListSchema = page_of(ActivitySchema, "ActivityListSchema")
