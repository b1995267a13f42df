"""The gateway's own schemas: its query strings, and the answers it puts together itself.

Request bodies and the groups service's answers are described by the groups service's
schemas (services.groups.api), the same ones that validate its input.
"""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields

from civic.config import DOMAIN_SERVICES
from civic.validation import PER_PAGE_MAX, per_page_field


# An answer described only as "a JSON object" (the OpenAPI document; a replayed message).
ANY_OBJECT = {"type": "object", "additionalProperties": True}


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class ErrorDetailSchema(Schema):
    code = fields.String(required=True, metadata={
        "description": "validation_error, unauthenticated, forbidden, not_found, conflict, "
                       "too_large, unsupported_media_type, rate_limited, unavailable, "
                       "method_not_allowed or internal_error"})
    message = fields.String(required=True)
    field_errors = fields.Dict(data_key="fields", keys=fields.String(), metadata={
        "description": "per field (or `_schema`, `_body`), the list of what is wrong"})


class ErrorSchema(Schema):
    error = fields.Nested(ErrorDetailSchema, required=True)


class DeadLetterQuerySchema(StrictSchema):
    per_page = per_page_field(PER_PAGE_MAX)


class LivenessSchema(Schema):
    status = fields.String(metadata={"example": "ok"})
    service = fields.String(metadata={"example": "gateway"})


AccountExportSchema = Schema.from_dict(
    {name: fields.Dict(metadata={
        "description": f"what the {name} service holds about the account; "
                       "`{\"unavailable\": true}` if it did not answer"})
     for name in DOMAIN_SERVICES},
    name="AccountExportSchema")


class ErasureSchema(Schema):
    status = fields.String(metadata={"example": "erasure_requested"})
    account_id = fields.String()


class ConfirmationEmailSchema(Schema):
    status = fields.String(metadata={"example": "confirmation_email_requested"})


class ConfirmedSchema(Schema):
    email_confirmed = fields.Boolean(metadata={"example": True})


class QueueSchema(Schema):
    name = fields.String()
    messages = fields.Integer()
    consumers = fields.Integer()


class QueueTotalsSchema(Schema):
    messages = fields.Integer()
    consumers = fields.Integer()


class ServiceHealthSchema(Schema):
    status = fields.String(metadata={"description": "ok, degraded or down"})
    version = fields.String()
    database = fields.String()
    outbox_unsent = fields.Integer(allow_none=True)
    queues = fields.List(fields.Nested(QueueSchema), allow_none=True, metadata={
        "description": "null when the RabbitMQ management API could not be asked"})
    queue_totals = fields.Nested(QueueTotalsSchema, allow_none=True)


class ManagementStatusSchema(Schema):
    ok = fields.Boolean()
    error = fields.String(allow_none=True)


class StaffHealthSchema(Schema):
    services = fields.Dict(keys=fields.String(), values=fields.Nested(ServiceHealthSchema))
    management = fields.Nested(ManagementStatusSchema)


class DeadLetterListSchema(Schema):
    items = fields.List(fields.Dict())
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


# --- proposals and joint projects: answers of the proposals service -------------------
# The proposals service's own schemas describe proposals and projects; these describe
# the smaller answers and the list pages around them.

def page_of(item_schema, name: str):
    """The list shape of API.md: `{items, total, page, per_page}`."""
    return Schema.from_dict({"items": fields.List(fields.Nested(item_schema)),
                             "total": fields.Integer(), "page": fields.Integer(),
                             "per_page": fields.Integer()}, name=name)


class SupportResultSchema(Schema):
    proposal_id = fields.String()
    support_count = fields.Integer()


class ReportResultSchema(Schema):
    proposal_id = fields.String()
    report_count = fields.Integer()
    hidden = fields.Boolean(metadata={
        "description": "true once reports from 3 accounts hid it for review"})


class CategoryListSchema(Schema):
    items = fields.List(fields.String(), metadata={
        "example": ["environment", "leisure", "culture", "business", "infrastructure",
                    "housing", "other"]})
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
