"""What the consultations service accepts and answers.

The input schemas validate RPC arguments here and HTTP bodies and query strings in the
gateway (which also builds its OpenAPI document from them). Unknown fields are refused
everywhere. Rules that need the consultation (an answer's shape for its question, a
required question left out, a time already past) are the domain's.
"""

from __future__ import annotations

from marshmallow import Schema, fields, post_load, pre_load, validate, validates_schema
from marshmallow import ValidationError as MarshmallowError

from civic.clock import town_zone
from civic.contracts import CONSULTATION_CATEGORIES, CONSULTATION_CHANNELS, CONSULTATION_STATUSES
from civic.validation import (
    AwareDateTime,
    PageQuerySchema,
    StrictSchema,
    UUIDString,
    blank_is_none,
    page_of,
    strip_blanks,
)

__all__ = ["CONSULTATION_CATEGORIES", "CONSULTATION_CHANNELS", "CONSULTATION_STATUSES"]

QUESTION_KINDS = ("single", "multiple", "scale", "text", "ranking")
# The kinds whose answers are chosen from the question's options.
WITH_OPTIONS = ("single", "multiple", "ranking")
TEXT_STATUSES = ("pending", "approved", "hidden")
DECISIONS = ("approve", "hide")
# Statuses anyone may list; staff also see drafts and scheduled ones.
PUBLIC_STATUSES = ("open", "closed", "results_published")
TITLE_MAX = 200
INTRO_MAX = 5_000
PROMPT_MAX = 500
OPTION_MAX = 200
OPTIONS_MIN, OPTIONS_MAX = 2, 12
QUESTIONS_MIN, QUESTIONS_MAX = 1, 30
TEXT_ANSWER_MAX = 2_000
SCALE_MIN, SCALE_MAX = 1, 5


# --- inputs: consultations ----------------------------------------------------------------


class QuestionInputSchema(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(QUESTION_KINDS))
    prompt = fields.String(
        required=True,
        validate=validate.Length(min=1, max=PROMPT_MAX),
        metadata={"example": "Vilken bransch vill du se växa i Jokkmokk?"},
    )
    options = fields.List(
        fields.String(validate=validate.Length(min=1, max=OPTION_MAX)),
        load_default=list,
        validate=validate.Length(max=OPTIONS_MAX),
        metadata={
            "description": f"{OPTIONS_MIN} to {OPTIONS_MAX} different options for a single, "
            "multiple or ranking question; none for scale and text"
        },
    )
    required = fields.Boolean(load_default=False)

    @pre_load
    def _normalise(self, data, **kwargs):
        data = strip_blanks(data, ("prompt",))
        if isinstance(data, dict) and isinstance(data.get("options"), list):
            data["options"] = [o.strip() if isinstance(o, str) else o for o in data["options"]]
        return data

    @validates_schema
    def _options_fit_kind(self, data, **kwargs):
        options = data.get("options") or []
        if data.get("kind") in WITH_OPTIONS:
            if len(options) < OPTIONS_MIN:
                raise MarshmallowError(f"At least {OPTIONS_MIN} options.", "options")
            if len(set(options)) != len(options):
                raise MarshmallowError("Each option once.", "options")
        elif options:
            raise MarshmallowError(
                "Only single, multiple and ranking questions have options.", "options"
            )


class ConsultationSaveSchema(StrictSchema):
    title = fields.String(
        required=True,
        validate=validate.Length(min=2, max=TITLE_MAX),
        metadata={"example": "Lokalt Omvärldsprogram: jobben i Jokkmokk"},
    )
    intro = fields.String(load_default="", validate=validate.Length(max=INTRO_MAX))
    opens_at = AwareDateTime(
        required=True,
        naive_zone=town_zone,
        metadata={"description": "when it opens for answers (once published)"},
    )
    closes_at = AwareDateTime(
        required=True,
        naive_zone=town_zone,
        metadata={"description": "when it closes by itself; after `opens_at`"},
    )
    anonymous = fields.Boolean(
        load_default=False,
        metadata={
            "description": "answers are not linked to accounts at all (one answer per "
            "account still holds)"
        },
    )
    categories = fields.List(
        fields.String(validate=validate.OneOf(CONSULTATION_CATEGORIES)),
        load_default=list,
        validate=validate.Length(max=len(CONSULTATION_CATEGORIES) * 2),
        metadata={"description": "proposal categories: residents interested in them are told"},
    )
    questions = fields.List(
        fields.Nested(QuestionInputSchema),
        required=True,
        validate=validate.Length(min=QUESTIONS_MIN, max=QUESTIONS_MAX),
    )

    @pre_load
    def _normalise(self, data, **kwargs):
        return strip_blanks(data, ("title", "intro"))

    @validates_schema
    def _window(self, data, **kwargs):
        opens, closes = data.get("opens_at"), data.get("closes_at")
        if opens is not None and closes is not None and not opens < closes:
            raise MarshmallowError("Must be after `opens_at`.", "closes_at")

    @post_load
    def _each_once(self, data, **kwargs):
        data["categories"] = list(dict.fromkeys(data["categories"]))
        return data


class ConsultationListQuerySchema(PageQuerySchema):
    status = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(CONSULTATION_STATUSES),
        metadata={"description": "draft and scheduled: staff only"},
    )

    @pre_load
    def _normalise(self, data, **kwargs):
        return blank_is_none(data, ("status",))


# --- inputs: answers and moderation -------------------------------------------------------


class AnswerItemSchema(StrictSchema):
    question_id = UUIDString(required=True)
    value = fields.Raw(
        required=True,
        allow_none=True,
        metadata={
            "description": 'single: "option"; multiple: ["a", "b"]; scale: 1..5; text: a '
            "text of at most 2000 characters; ranking: every option once, best first"
        },
    )


class AnswerSubmitSchema(StrictSchema):
    channel = fields.String(
        load_default="online",
        validate=validate.OneOf(CONSULTATION_CHANNELS),
        metadata={"description": "online (a resident's own answer); staff: interview, town_hall"},
    )
    answers = fields.List(
        fields.Nested(AnswerItemSchema),
        required=True,
        validate=validate.Length(max=QUESTIONS_MAX),
    )


class TextListQuerySchema(PageQuerySchema):
    status = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(TEXT_STATUSES)
    )

    @pre_load
    def _normalise(self, data, **kwargs):
        return blank_is_none(data, ("status",))


class TextDecisionSchema(StrictSchema):
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))


# --- outputs ------------------------------------------------------------------------------


class QuestionSchema(Schema):
    id = fields.String()
    position = fields.Integer()
    kind = fields.String(metadata={"enum": list(QUESTION_KINDS)})
    prompt = fields.String()
    options = fields.List(fields.String())
    required = fields.Boolean()


class ConsultationSchema(Schema):
    id = fields.String()
    title = fields.String()
    intro = fields.String()
    status = fields.String(metadata={"enum": list(CONSULTATION_STATUSES)})
    anonymous = fields.Boolean()
    categories = fields.List(fields.String())
    opens_at = fields.AwareDateTime()
    closes_at = fields.AwareDateTime()
    answer_count = fields.Integer()
    answered_by_me = fields.Boolean(
        metadata={"description": "the caller answered online (false without a token)"}
    )
    questions = fields.List(fields.Nested(QuestionSchema))
    created_at = fields.AwareDateTime()
    opened_at = fields.AwareDateTime(allow_none=True)
    closed_at = fields.AwareDateTime(allow_none=True)
    results_published_at = fields.AwareDateTime(allow_none=True)


ConsultationListSchema = page_of(ConsultationSchema, "ConsultationListSchema")


class AnswerReceiptSchema(Schema):
    """What an answer's sender learns: that it counted. No response id (an anonymous
    answer must not be traceable back to its sender through a stored reply)."""

    consultation_id = fields.String()
    channel = fields.String(metadata={"enum": list(CONSULTATION_CHANNELS)})
    answer_count = fields.Integer()


class OptionResultSchema(Schema):
    option = fields.String()
    count = fields.Integer(metadata={"description": "single and multiple"})
    mean_rank = fields.Float(
        allow_none=True, metadata={"description": "ranking: 1 is best; null if never ranked"}
    )
    borda = fields.Integer(metadata={"description": "ranking: n − rank points per answer"})


class ScaleResultSchema(Schema):
    value = fields.Integer()
    count = fields.Integer()


class TallySchema(Schema):
    answered = fields.Integer()
    options = fields.List(fields.Nested(OptionResultSchema))
    scale = fields.List(fields.Nested(ScaleResultSchema))
    mean = fields.Float(allow_none=True)
    texts = fields.List(fields.String(), metadata={"description": "approved texts only"})


class QuestionResultSchema(TallySchema):
    question_id = fields.String()
    kind = fields.String(metadata={"enum": list(QUESTION_KINDS)})
    prompt = fields.String()
    by_channel = fields.Dict(keys=fields.String(), values=fields.Nested(TallySchema))


class ResultsSchema(Schema):
    consultation_id = fields.String()
    title = fields.String()
    status = fields.String(metadata={"enum": list(CONSULTATION_STATUSES)})
    total = fields.Integer()
    by_channel = fields.Dict(keys=fields.String(), values=fields.Integer())
    questions = fields.List(fields.Nested(QuestionResultSchema))


class AnswersCsvSchema(Schema):
    filename = fields.String()
    csv = fields.String()


class TextEntrySchema(Schema):
    id = fields.String()
    question_id = fields.String()
    prompt = fields.String()
    text = fields.String()
    status = fields.String(metadata={"enum": list(TEXT_STATUSES)})


TextListSchema = page_of(TextEntrySchema, "ConsultationTextListSchema")
