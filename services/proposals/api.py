"""What the proposals service accepts and answers.

The input schemas validate RPC arguments here and HTTP bodies and query strings in the
gateway (which also builds its OpenAPI document from them), so one definition serves both
edges; the gateway hands over what it loaded, so loading twice gives the same data.
Unknown fields are refused everywhere (except in the actor, which the gateway builds).
"""

from __future__ import annotations

from marshmallow import Schema, fields, pre_load, validate, validates_schema
from marshmallow import ValidationError as MarshmallowError

from civic.contracts import PROJECT_STATUSES, PROPOSAL_STATUSES
from civic.validation import (
    PageQuerySchema,
    StrictSchema,
    UUIDString,
    blank_is_none,
    page_of,
    strip_blanks,
    text,
)

__all__ = ["CATEGORIES", "CHANNELS", "PROPOSAL_STATUSES", "PROJECT_STATUSES"]

CATEGORIES = ("environment", "leisure", "culture", "business", "infrastructure", "housing", "other")
# How a proposal reached the town: filed online by a resident, or by staff for a visitor
# at a drop-in or a town-hall meeting.
CHANNELS = ("online", "drop_in", "town_hall")

TITLE_MIN, TITLE_MAX = 5, 150
BODY_MAX = 10_000
COMMENT_MAX = 5_000
REASON_MAX = 1_000
ANSWER_MAX = 10_000
CONTACT_MAX = 300
PLACE_MAX = 200
QUERY_MAX = 200
PARTNERS_MAX = 50
VISITOR_NAME_MAX = 100
# waiting: the longest waiting first (the oldest first), for the staff board.
SORTS = ("newest", "supports", "waiting")
# hide: staff hide a visible proposal until they decide; restore: show a hidden one again
# (its reports cleared); remove: hidden for good.
MODERATION_ACTIONS = ("hide", "restore", "remove")
# A comment is hidden or shown again (never removed for good: its proposal's thread
# keeps its place, shown to staff only).
COMMENT_MODERATION_ACTIONS = ("hide", "restore")
# A proposal's short reference, e.g. JKM-7F3K2: a prefix and characters nobody misreads
# (no 0/O, 1/I/L), given to a visitor on a receipt and typed back to find the proposal.
REFERENCE_PREFIX = "JKM-"
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
REFERENCE_LENGTH = 5
REFERENCE_MAX = 20


# --- inputs: proposals -------------------------------------------------------------------


class LocationSchema(StrictSchema):
    name = text(1, PLACE_MAX, required=True, metadata={"example": "Stadsparken, Jokkmokk"})
    lat = fields.Float(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=-90, max=90),
        metadata={"example": 66.6066},
    )
    lon = fields.Float(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=-180, max=180),
        metadata={"example": 19.8227},
    )

    @pre_load
    def _normalise(self, data, **kwargs):
        return strip_blanks(data, ("name",))

    @validates_schema
    def _both_coordinates_or_none(self, data, **kwargs):
        if (data.get("lat") is None) != (data.get("lon") is None):
            raise MarshmallowError("Give both lat and lon, or neither.", "lat")


class ProposalCreateSchema(StrictSchema):
    title = text(TITLE_MIN, TITLE_MAX, required=True)
    body = text(0, BODY_MAX, required=True)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    location = fields.Nested(LocationSchema, load_default=None, allow_none=True)
    channel = fields.String(
        load_default="online",
        validate=validate.OneOf(CHANNELS),
        metadata={"description": "drop_in and town_hall: staff only"},
    )
    contact = text(
        1,
        CONTACT_MAX,
        load_default=None,
        allow_none=True,
        metadata={
            "description": "How to reach the visitor (drop_in, town_hall); only staff see it"
        },
    )
    visitor_name = text(
        1,
        VISITOR_NAME_MAX,
        load_default=None,
        allow_none=True,
        metadata={"description": "The visitor's name (drop_in, town_hall); only staff see it"},
    )

    @pre_load
    def _normalise(self, data, **kwargs):
        data = strip_blanks(data, ("title", "body", "contact", "visitor_name"))
        return blank_is_none(data, ("contact", "visitor_name"))

    @validates_schema
    def _contact_only_for_visitors(self, data, **kwargs):
        if data.get("channel", "online") != "online":
            return
        for name in ("contact", "visitor_name"):
            if data.get(name) is not None:
                raise MarshmallowError(
                    f"A {name} belongs to a drop_in or town_hall proposal.", name
                )


class ProposalListQuerySchema(PageQuerySchema):
    status = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(PROPOSAL_STATUSES)
    )
    category = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(CATEGORIES)
    )
    q = text(
        1,
        QUERY_MAX,
        load_default=None,
        allow_none=True,
        metadata={"description": "Words to find in the title or body"},
    )
    sort = fields.String(load_default="newest", validate=validate.OneOf(SORTS))

    @pre_load
    def _normalise(self, data, **kwargs):
        data = strip_blanks(data, ("q",))
        data = blank_is_none(data, ("status", "category", "q"))
        if isinstance(data, dict) and data.get("sort") is None:
            data.pop("sort", None)
        return data


class CommentCreateSchema(StrictSchema):
    body = text(1, COMMENT_MAX, required=True)

    @pre_load
    def _normalise(self, data, **kwargs):
        return strip_blanks(data, ("body",))


class TransitionSchema(StrictSchema):
    status = fields.String(required=True, validate=validate.OneOf(PROPOSAL_STATUSES))
    answer = text(
        1,
        ANSWER_MAX,
        load_default=None,
        allow_none=True,
        metadata={
            "description": "The official answer; required for "
            "accepted and rejected, refused otherwise"
        },
    )

    @pre_load
    def _normalise(self, data, **kwargs):
        return strip_blanks(data, ("answer",))


class AssignmentSchema(StrictSchema):
    group_id = UUIDString(required=True)


class ReportSchema(StrictSchema):
    reason = text(1, REASON_MAX, required=True)

    @pre_load
    def _normalise(self, data, **kwargs):
        return strip_blanks(data, ("reason",))


class ModerationSchema(StrictSchema):
    action = fields.String(required=True, validate=validate.OneOf(MODERATION_ACTIONS))
    reason = text(
        1,
        REASON_MAX,
        load_default=None,
        allow_none=True,
        metadata={"description": "Why (staff only; kept with the proposal, not in events)"},
    )

    @pre_load
    def _normalise(self, data, **kwargs):
        data = strip_blanks(data, ("reason",))
        return blank_is_none(data, ("reason",))


class CommentModerationSchema(StrictSchema):
    action = fields.String(required=True, validate=validate.OneOf(COMMENT_MODERATION_ACTIONS))
    reason = text(
        1,
        REASON_MAX,
        load_default=None,
        allow_none=True,
        metadata={"description": "Why (staff only; kept with the comment, not in events)"},
    )

    @pre_load
    def _normalise(self, data, **kwargs):
        data = strip_blanks(data, ("reason",))
        return blank_is_none(data, ("reason",))


def normal_reference(value) -> str | None:
    """A reference as typed (any case, spaces or dashes, with or without its prefix) →
    its stored form, or None when it cannot be one."""
    if not isinstance(value, str):
        return None
    cleaned = "".join(c for c in value.upper() if c.isalnum())
    prefix = REFERENCE_PREFIX.rstrip("-")
    if len(cleaned) == len(prefix) + REFERENCE_LENGTH and cleaned.startswith(prefix):
        cleaned = cleaned[len(prefix) :]
    if len(cleaned) != REFERENCE_LENGTH or any(c not in REFERENCE_ALPHABET for c in cleaned):
        return None
    return REFERENCE_PREFIX + cleaned


class ReferenceSchema(StrictSchema):
    reference = text(1, REFERENCE_MAX, required=True, metadata={"example": "JKM-7F3K2"})

    @validates_schema
    def _a_reference(self, data, **kwargs):
        if normal_reference(data.get("reference")) is None:
            raise MarshmallowError("Not a proposal reference (like JKM-7F3K2).", "reference")


class ModerationQueueQuerySchema(PageQuerySchema):
    pass


class MergeSchema(StrictSchema):
    into_id = UUIDString(required=True, metadata={"description": "The surviving proposal"})


# --- inputs: joint projects --------------------------------------------------------------


class ProjectCreateSchema(StrictSchema):
    title = text(TITLE_MIN, TITLE_MAX, required=True)
    description = text(0, BODY_MAX, load_default="")
    lead_group_id = UUIDString(required=True)
    partner_group_ids = fields.List(
        UUIDString(), load_default=list, validate=validate.Length(max=PARTNERS_MAX)
    )
    origin_proposal_id = UUIDString(load_default=None, allow_none=True)

    @pre_load
    def _normalise(self, data, **kwargs):
        return strip_blanks(data, ("title", "description"))

    @validates_schema
    def _partners_distinct_and_not_the_lead(self, data, **kwargs):
        partners = data.get("partner_group_ids") or []
        if len(set(partners)) != len(partners):
            raise MarshmallowError("A partner is named more than once.", "partner_group_ids")
        if data.get("lead_group_id") in partners:
            raise MarshmallowError("The lead group is not its own partner.", "partner_group_ids")


class PartnerAddSchema(StrictSchema):
    group_id = UUIDString(required=True)


class ProjectTransitionSchema(StrictSchema):
    status = fields.String(required=True, validate=validate.OneOf(PROJECT_STATUSES))


class ProjectListQuerySchema(PageQuerySchema):
    status = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(PROJECT_STATUSES)
    )
    group_id = UUIDString(
        load_default=None,
        allow_none=True,
        metadata={"description": "Projects this group leads or partners"},
    )

    @pre_load
    def _normalise(self, data, **kwargs):
        return blank_is_none(data, ("status", "group_id"))


# --- outputs ----------------------------------------------------------------------------


class LocationOutSchema(Schema):
    name = fields.String()
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)


ERASED = {
    "description": "null once that account is erased: what it wrote or did stays, "
    "with nothing that ties it to the rest"
}


class ReportOutSchema(Schema):
    reason = fields.String()
    created_at = fields.AwareDateTime()


class CommentSchema(Schema):
    id = fields.String()
    author_id = fields.String(allow_none=True, metadata=ERASED)
    author_name = fields.String(allow_none=True)
    body = fields.String()
    created_at = fields.AwareDateTime()
    hidden = fields.Boolean(
        metadata={"description": "staff only: residents are not shown hidden comments"}
    )
    report_count = fields.Integer(metadata={"description": "staff only"})
    moderation_reason = fields.String(
        allow_none=True, metadata={"description": "staff only: the last moderation's reason"}
    )
    moderated_at = fields.AwareDateTime(allow_none=True, metadata={"description": "staff only"})


class CommentProposalSchema(Schema):
    id = fields.String()
    title = fields.String()
    reference = fields.String()
    hidden = fields.Boolean()


class ReportedCommentSchema(CommentSchema):
    """A comment in the moderation queue: with its reports and the proposal it is on."""

    reports = fields.List(fields.Nested(ReportOutSchema))
    proposal = fields.Nested(CommentProposalSchema)


ReportedCommentListSchema = page_of(ReportedCommentSchema, "ReportedCommentListSchema")


class CommentReportResultSchema(Schema):
    proposal_id = fields.String()
    comment_id = fields.String()
    report_count = fields.Integer()
    hidden = fields.Boolean(
        metadata={"description": "true once reports from 3 accounts hid it for review"}
    )


class AnswerSchema(Schema):
    body = fields.String()
    answered_by = fields.String(allow_none=True, metadata=ERASED)
    answered_at = fields.AwareDateTime()


class ProposalStepSchema(Schema):
    from_status = fields.String(
        allow_none=True, metadata={"description": "null for the submission"}
    )
    to_status = fields.String()
    actor_id = fields.String(allow_none=True, metadata=ERASED)
    at = fields.AwareDateTime()
    answer = fields.String(metadata={"description": "with accepted and rejected only"})


class ProposalSchema(Schema):
    id = fields.String()
    reference = fields.String(
        metadata={"description": "Short and unique, for a receipt", "example": "JKM-7F3K2"}
    )
    title = fields.String()
    body = fields.String()
    category = fields.String()
    status = fields.String()
    author_id = fields.String(allow_none=True, metadata=ERASED)
    author_name = fields.String(
        allow_none=True,
        metadata={"description": '"former resident" once the author\'s account is erased'},
    )
    channel = fields.String()
    location = fields.Nested(LocationOutSchema, allow_none=True)
    support_count = fields.Integer()
    supported_by_me = fields.Boolean()
    comments = fields.List(fields.Nested(CommentSchema), metadata={"description": "not in lists"})
    answer = fields.Nested(AnswerSchema, allow_none=True)
    assigned_group_id = fields.String(allow_none=True)
    assigned_group_name = fields.String(allow_none=True)
    history = fields.List(
        fields.Nested(ProposalStepSchema), metadata={"description": "not in lists"}
    )
    project_ids = fields.List(fields.String())
    merged_into_id = fields.String(allow_none=True)
    hidden = fields.Boolean()
    removed = fields.Boolean(metadata={"description": "staff only"})
    report_count = fields.Integer(metadata={"description": "staff only"})
    reports = fields.List(
        fields.Nested(ReportOutSchema), metadata={"description": "staff only, not in lists"}
    )
    contact = fields.String(allow_none=True, metadata={"description": "staff only"})
    visitor_name = fields.String(allow_none=True, metadata={"description": "staff only"})
    moderation_reason = fields.String(
        allow_none=True, metadata={"description": "staff only: the last moderation's reason"}
    )
    moderated_at = fields.AwareDateTime(allow_none=True, metadata={"description": "staff only"})
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


ProposalListSchema = page_of(ProposalSchema, "ProposalListSchema")

CategoryListSchema = page_of(
    fields.List(fields.String(), metadata={"example": list(CATEGORIES)}), "CategoryListSchema"
)


class SupportResultSchema(Schema):
    proposal_id = fields.String()
    support_count = fields.Integer()


class ReportResultSchema(Schema):
    proposal_id = fields.String()
    report_count = fields.Integer()
    hidden = fields.Boolean(
        metadata={"description": "true once reports from 3 accounts hid it for review"}
    )


class ProjectStepSchema(Schema):
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    actor_id = fields.String(allow_none=True, metadata=ERASED)
    at = fields.AwareDateTime()


class ProjectSchema(Schema):
    id = fields.String()
    title = fields.String()
    description = fields.String()
    status = fields.String()
    lead_group_id = fields.String()
    lead_group_name = fields.String(allow_none=True)
    partner_group_ids = fields.List(fields.String())
    origin_proposal_id = fields.String(allow_none=True)
    history = fields.List(fields.Nested(ProjectStepSchema))
    created_by = fields.String(allow_none=True, metadata=ERASED)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


ProjectListSchema = page_of(ProjectSchema, "ProjectListSchema")
