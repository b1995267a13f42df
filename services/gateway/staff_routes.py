"""The gateway's operations routes for staff: the system's health and its dead letters.

A mixin of `GatewayService` (nameko finds entrypoints on base classes too): it uses the
service's `auth` (every route is `auth="staff"`, enforced by the handler: see `http`)
and `services` dependencies. The staff activity feed is a notifications route
(`notifications_routes`).
"""

from __future__ import annotations

from marshmallow import fields
from marshmallow.validate import Length

from civic import config
from civic.config import DOMAIN_SERVICES
from civic.errors import NotFound
from civic.validation import StrictSchema
from services.gateway import staff
from services.gateway.http import api, ok
from services.gateway.schemas import (
    ANY_OBJECT,
    DeadLetterListSchema,
    DeadLetterQuerySchema,
    StaffHealthSchema,
)

TAGS = ("staff",)


class DeadLetterReplayAllSchema(StrictSchema):
    queue = fields.String(
        required=True,
        validate=Length(min=1, max=255),
        metadata={"description": "the queue its handler consumes from (a dead letter's `queue`)"},
    )


class DeadLetterReplayAllResultSchema(StrictSchema):
    queue = fields.String()
    replayed = fields.Integer(metadata={"description": "how many were sent back"})


_DEAD_LETTER_ID_MAX = 200


class StaffRoutes:
    """Entrypoints for /staff/health and /staff/dead-letters (list, replay one, replay
    every one of a handler's queue); mixed into GatewayService."""

    @api(
        "GET",
        "/staff/health",
        summary="Each service: health, version, queue depth and consumers (staff)",
        auth="staff",
        responses={200: StaffHealthSchema},
        tags=TAGS,
        description='A service that does not answer is `{"status": "down"}`; when '
        "the RabbitMQ management API cannot be asked, `queues` is null and "
        "`management.error` says why. Each queue also has `ready`, `unacknowledged`, "
        "`publish_rate` and `deliver_rate` (messages per second); each service has "
        "`instances` (each running instance's own answer: `instance_id, service, host, "
        "pid, version, started_at, uptime_s`; null when they cannot be asked) and "
        "`instances_listening` (how many the broker counts); `gateway.instances` likewise; "
        "`dead_letters.count` is asked of the broker (null when it does not answer).",
    )
    def staff_health(self, request):
        return ok(
            staff.system_health(
                self.services,
                DOMAIN_SERVICES,
                config.get("RABBIT_MANAGEMENT_URI"),
                config.get("AMQP_URI"),
            )
        )

    @api(
        "GET",
        "/staff/dead-letters",
        summary="Messages no handler could handle (staff)",
        auth="staff",
        query=DeadLetterQuerySchema,
        responses={200: DeadLetterListSchema},
        tags=TAGS,
    )
    def list_dead_letters(self, request, *, query):
        from civic import deadletters  # imported when used: an optional kernel part

        items = deadletters.list_dead_letters(config.get("AMQP_URI"), limit=query["per_page"])
        return ok({"items": items, "total": len(items), "page": 1, "per_page": query["per_page"]})

    @api(
        "POST",
        "/staff/dead-letters/<dead_letter_id>/replay",
        summary="Send a dead letter back to its queue (staff)",
        auth="staff",
        responses={200: ANY_OBJECT},
        errors=(400, 409),
        tags=TAGS,
        description="409 when the queue it failed on no longer exists.",
    )
    def replay_dead_letter(self, request, dead_letter_id):
        if len(dead_letter_id) > _DEAD_LETTER_ID_MAX:
            raise NotFound("no such dead letter")
        from civic import deadletters

        return ok(deadletters.replay(config.get("AMQP_URI"), dead_letter_id))

    @api(
        "POST",
        "/staff/dead-letters/replay",
        summary="Send every dead letter of one handler's queue back to it (staff)",
        auth="staff",
        body=DeadLetterReplayAllSchema,
        responses={200: DeadLetterReplayAllResultSchema},
        errors=(400, 409),
        tags=TAGS,
        description="After a handler's fault was fixed: each dead letter that failed on "
        "`queue` (of those waiting when the call starts) goes back to it once. 409 when "
        "that queue no longer exists (nothing is replayed then).",
    )
    def replay_dead_letters_of_queue(self, request, *, body):
        from civic import deadletters

        return ok(deadletters.replay_queue(config.get("AMQP_URI"), body["queue"]))
