"""The gateway's consultations routes (issue 16), asked of the consultations service.

A mixin of `GatewayService`: it uses the service's `auth` and `services` dependencies.
Each route's declaration says who may call it and the schemas of its input, which the
handler enforces (see `http`); the route hands the consultations service the actor. The
consultations service decides what staff alone may do (403), what exists (404: drafts
and scheduled consultations exist for staff only) and what the state allows (409);
one that does not answer in time is a 503.
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from services.consultations.api import (
    AnswerReceiptSchema,
    AnswerSubmitSchema,
    ConsultationListQuerySchema,
    ConsultationListSchema,
    ConsultationSaveSchema,
    ConsultationSchema,
    ResultsSchema,
    TextDecisionSchema,
    TextEntrySchema,
    TextListQuerySchema,
    TextListSchema,
)
from services.gateway.http import api, ok

CONSULTATION = "/consultations/<uuid:consultation_id>"
TAGS = ("consultations",)
CSV_TYPE = "text/csv"


class ConsultationRoutes:
    """Entrypoints for /consultations; mixed into GatewayService."""

    # --- reading ------------------------------------------------------------------------

    @api(
        "GET",
        "/consultations",
        summary="Consultations, the latest to open first, paginated",
        auth="optional",
        query=ConsultationListQuerySchema,
        responses={200: ConsultationListSchema},
        errors=(403,),
        tags=TAGS,
        description="Open, closed and those with published results for everyone; "
        "`status=draft` and `status=scheduled` for staff only (403 for others).",
    )
    def list_consultations(self, request, *, actor, query):
        return ok(self.services.consultations.list_consultations(actor, **query))

    @api(
        "GET",
        CONSULTATION,
        summary="One consultation, with its questions and how many answered",
        auth="optional",
        responses={200: ConsultationSchema},
        tags=TAGS,
        description="`answered_by_me` tells a signed-in resident whether they answered. "
        "Drafts and scheduled consultations are 404 but for staff.",
    )
    def get_consultation(self, request, consultation_id, *, actor):
        return ok(self.services.consultations.get_consultation(actor, consultation_id))

    # --- staff: drafting and the lifecycle ----------------------------------------------

    @api(
        "POST",
        "/consultations",
        summary="Draft a consultation (staff)",
        auth="staff",
        body=ConsultationSaveSchema,
        responses={201: ConsultationSchema},
        tags=TAGS,
        description="A draft, seen by staff only until published. Questions: single, "
        "multiple and ranking with 2–12 options, scale (1–5) and text.",
    )
    def create_consultation(self, request, *, actor, body):
        return ok(self.services.consultations.create_consultation(actor, body), 201)

    @api(
        "PUT",
        CONSULTATION,
        summary="Replace a draft consultation, its questions too (staff)",
        auth="staff",
        body=ConsultationSaveSchema,
        responses={200: ConsultationSchema},
        errors=(409,),
        tags=TAGS,
        description="409 once it is published.",
    )
    def update_consultation(self, request, consultation_id, *, actor, body):
        return ok(self.services.consultations.update_consultation(actor, consultation_id, body))

    @api(
        "POST",
        CONSULTATION + "/publish",
        summary="Publish a draft consultation (staff)",
        auth="staff",
        responses={200: ConsultationSchema},
        errors=(409,),
        tags=TAGS,
        description="Open at once when `opens_at` has come, else scheduled: it opens by "
        "itself then. 400 when `closes_at` has passed; 409 when it is not a draft.",
    )
    def publish_consultation(self, request, consultation_id, *, actor):
        return ok(self.services.consultations.publish_consultation(actor, consultation_id))

    @api(
        "POST",
        CONSULTATION + "/close",
        summary="Close a consultation early (staff)",
        auth="staff",
        responses={200: ConsultationSchema},
        errors=(409,),
        tags=TAGS,
        description="409 when it is not open or scheduled. It closes by itself at `closes_at`.",
    )
    def close_consultation(self, request, consultation_id, *, actor):
        return ok(self.services.consultations.close_consultation(actor, consultation_id))

    @api(
        "POST",
        CONSULTATION + "/results",
        summary="Publish a closed consultation's results (staff)",
        auth="staff",
        responses={200: ConsultationSchema},
        errors=(409,),
        tags=TAGS,
        description="409 when it is not closed. Moderate the free texts first: only "
        "approved ones are shown.",
    )
    def publish_results(self, request, consultation_id, *, actor):
        return ok(self.services.consultations.publish_results(actor, consultation_id))

    # --- answers and results ------------------------------------------------------------

    @api(
        "POST",
        CONSULTATION + "/answers",
        summary="Answer a consultation",
        auth="resident",
        body=AnswerSubmitSchema,
        responses={201: AnswerReceiptSchema},
        errors=(403, 409),
        tags=TAGS,
        description="A resident answers once (`channel` online, the default): 409 the "
        "second time, and when it is not open. Staff enter answers from interviews and "
        "town-hall meetings with `channel` interview or town_hall (403 for others): "
        "those store no account. 400 for answers that do not fit their questions or "
        "leave a required one out. An anonymous consultation keeps no link between the "
        "account and its answer.",
    )
    def submit_answer(self, request, consultation_id, *, actor, body):
        return ok(self.services.consultations.submit_answer(actor, consultation_id, body), 201)

    @api(
        "GET",
        CONSULTATION + "/results",
        summary="A consultation's results per question and channel",
        auth="optional",
        responses={200: ResultsSchema},
        errors=(409,),
        tags=TAGS,
        description="After it closes (409 before); staff any time. Single and multiple: "
        "count per option; scale: count per 1–5 and the mean; ranking: mean rank (lower "
        "is better) and Borda points per option; text: the approved texts.",
    )
    def get_consultation_results(self, request, consultation_id, *, actor):
        return ok(self.services.consultations.get_results(actor, consultation_id))

    @api(
        "GET",
        CONSULTATION + "/answers.csv",
        summary="Every answer as CSV, one row per response, no account ids",
        auth="optional",
        responses={200: {"type": "string"}},
        content_type=CSV_TYPE,
        errors=(409,),
        tags=TAGS,
        description="Once the results are published (409 before); staff any time. "
        'Multiple choices are joined by "; ", rankings by " > "; only approved texts.',
    )
    def consultation_answers_csv(self, request, consultation_id, *, actor):
        found = self.services.consultations.answers_csv(actor, consultation_id)
        return Response(
            found["csv"],
            status=200,
            content_type=f"{CSV_TYPE}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{found["filename"]}"'},
        )

    # --- staff: moderation of free texts ------------------------------------------------

    @api(
        "GET",
        CONSULTATION + "/texts",
        summary="A consultation's free-text answers, to moderate (staff)",
        auth="staff",
        query=TextListQuerySchema,
        responses={200: TextListSchema},
        tags=TAGS,
        description="Filtered by `status`: pending, approved, hidden.",
    )
    def list_consultation_texts(self, request, consultation_id, *, actor, query):
        return ok(self.services.consultations.list_texts(actor, consultation_id, **query))

    @api(
        "POST",
        CONSULTATION + "/texts/<uuid:answer_id>",
        summary="Approve or hide a free-text answer (staff)",
        auth="staff",
        body=TextDecisionSchema,
        responses={200: TextEntrySchema},
        tags=TAGS,
        description="Approved texts show in the results and the CSV; hidden ones do not.",
    )
    def moderate_consultation_text(self, request, consultation_id, answer_id, *, actor, body):
        return ok(
            self.services.consultations.moderate_text(actor, consultation_id, answer_id, body)
        )
