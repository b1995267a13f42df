"""The gateway's own schemas: its query strings, and the answers it puts together itself.

Request bodies and the domain services' answers (their lists included) are described by
each service's contract module, services.<name>.api: one definition for both edges.
"""

from __future__ import annotations

from marshmallow import Schema, fields

from civic.config import DOMAIN_SERVICES
from civic.validation import PER_PAGE_MAX, StrictSchema, page_of, per_page_field

# An answer described only as "a JSON object" (the OpenAPI document; a replayed message).
ANY_OBJECT = {"type": "object", "additionalProperties": True}


class ErrorDetailSchema(Schema):
    code = fields.String(
        required=True,
        metadata={
            "description": "validation_error, unauthenticated, forbidden, not_found, conflict, "
            "too_large, unsupported_media_type, rate_limited, unavailable, "
            "method_not_allowed or internal_error"
        },
    )
    message = fields.String(required=True)
    field_errors = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        metadata={"description": "per field (or `_schema`, `_body`), the list of what is wrong"},
    )


class ErrorSchema(Schema):
    error = fields.Nested(ErrorDetailSchema, required=True)


class DeadLetterQuerySchema(StrictSchema):
    per_page = per_page_field(PER_PAGE_MAX)


class LivenessSchema(Schema):
    status = fields.String(metadata={"example": "ok"})
    service = fields.String(metadata={"example": "gateway"})


AccountExportSchema = Schema.from_dict(
    {
        name: fields.Dict(
            metadata={
                "description": f"what the {name} service holds about the account; "
                '`{"unavailable": true}` if it did not answer'
            }
        )
        for name in DOMAIN_SERVICES
    },
    name="AccountExportSchema",
)


class ErasureSchema(Schema):
    status = fields.String(metadata={"example": "erasure_requested"})
    account_id = fields.String()


class ConfirmationEmailSchema(Schema):
    status = fields.String(metadata={"example": "confirmation_email_requested"})


class ConfirmedSchema(Schema):
    email_confirmed = fields.Boolean(metadata={"example": True})


class QueueSchema(Schema):
    name = fields.String()
    type = fields.String(
        allow_none=True,
        metadata={"description": "the queue's type: quorum or classic (CIVIC_QUEUE_TYPE)"},
    )
    messages = fields.Integer()
    consumers = fields.Integer()
    ready = fields.Integer(allow_none=True)
    unacknowledged = fields.Integer(allow_none=True)
    publish_rate = fields.Float(
        allow_none=True, metadata={"description": "messages per second published to it"}
    )
    deliver_rate = fields.Float(
        allow_none=True, metadata={"description": "messages per second delivered from it"}
    )


class InstanceSchema(Schema):
    instance_id = fields.String()
    service = fields.String()
    host = fields.String()
    pid = fields.Integer()
    version = fields.String()
    started_at = fields.String()
    uptime_s = fields.Float()


class InstancesSchema(Schema):
    """Each running instance of a service answering for itself."""

    instances = fields.List(
        fields.Nested(InstanceSchema),
        allow_none=True,
        metadata={"description": "each running instance's own answer; null: not known"},
    )
    instances_listening = fields.Integer(
        allow_none=True,
        metadata={"description": "instances the broker counts (more than answered: stuck)"},
    )


class QueueTotalsSchema(Schema):
    messages = fields.Integer()
    consumers = fields.Integer()


class ServiceHealthSchema(InstancesSchema):
    status = fields.String(metadata={"description": "ok, degraded or down"})
    version = fields.String()
    database = fields.String()
    outbox_unsent = fields.Integer(allow_none=True)
    outbox_parked = fields.Integer(
        allow_none=True,
        metadata={"description": "outbox rows that failed too often and wait for staff"},
    )
    outbox_oldest_unsent_at = fields.String(
        allow_none=True, metadata={"description": "when the oldest unsent row was written"}
    )
    queues = fields.List(
        fields.Nested(QueueSchema),
        allow_none=True,
        metadata={"description": "null when the RabbitMQ management API could not be asked"},
    )
    queue_totals = fields.Nested(QueueTotalsSchema, allow_none=True)


class ManagementStatusSchema(Schema):
    ok = fields.Boolean()
    error = fields.String(allow_none=True)


class OrphanedQueueSchema(Schema):
    name = fields.String()
    service = fields.String(allow_none=True)
    messages = fields.Integer()


class DeadLetterCountSchema(Schema):
    count = fields.Integer(allow_none=True)
    queue = fields.String()


class StaffHealthSchema(Schema):
    services = fields.Dict(keys=fields.String(), values=fields.Nested(ServiceHealthSchema))
    gateway = fields.Nested(InstancesSchema)
    dead_letters = fields.Nested(DeadLetterCountSchema)
    management = fields.Nested(ManagementStatusSchema)
    orphaned_queues = fields.List(
        fields.Nested(OrphanedQueueSchema),
        allow_none=True,
        metadata={
            "description": "Civic queues no current handler consumes, with their messages "
            "(a renamed or removed handler's); null when the management API could not be asked"
        },
    )


DeadLetterListSchema = page_of(fields.List(fields.Dict()), "DeadLetterListSchema")
