"""What the openings service accepts and answers.

The input schemas validate RPC arguments here and HTTP bodies and query strings in the
gateway (which also builds its OpenAPI document from them), so one definition serves both
edges; the gateway hands over what it loaded, and loading that again gives the same
data. Unknown fields are refused everywhere. Rules that need the clock or the database
(an apply-by date already past, a business that is not verified) are the domain's.
"""

from __future__ import annotations

from marshmallow import Schema, fields, post_load, pre_load, validate, validates_schema
from marshmallow import ValidationError as MarshmallowError

from civic.contracts import EMPLOYMENT_TYPES, OPENING_STATUSES, SECTORS
from civic.validation import (
    BoundedDate,
    PageQuerySchema,
    StrictSchema,
    UUIDString,
    blank_is_none,
    page_of,
    strip_blanks,
)

__all__ = ["EMPLOYMENT_TYPES", "OPENING_STATUSES", "SECTORS"]

TITLE_MIN, TITLE_MAX = 2, 150
DESCRIPTION_MAX = 10_000
LOCATION_MAX = 200
CONTACT_MAX = 300
INTEREST_MESSAGE_MAX = 2_000
PROFILE_MESSAGE_MAX = 2_000
# Items a list of choices may hold as sent (repeats are merged afterwards).
CHOICES_MAX = 50
# Kronor a month: a bound that keeps typos (an extra zero or three) out.
SALARY_MAX = 1_000_000


def _dedupe(values):
    """The values in their first order, each once (a repeated choice means nothing more)."""
    return list(dict.fromkeys(values))


# --- inputs: openings -----------------------------------------------------------------------


class OpeningCreateSchema(StrictSchema):
    business_group_id = UUIDString(
        required=True,
        metadata={
            "description": "the verified business group posting it; the caller must be one "
            "of its admins"
        },
    )
    title = fields.String(
        required=True,
        validate=validate.Length(min=TITLE_MIN, max=TITLE_MAX),
        metadata={"example": "Guide för norrskensturer"},
    )
    description = fields.String(required=True, validate=validate.Length(min=1, max=DESCRIPTION_MAX))
    sector = fields.String(
        required=True, validate=validate.OneOf(SECTORS), metadata={"example": "tourism"}
    )
    employment_type = fields.String(
        required=True, validate=validate.OneOf(EMPLOYMENT_TYPES), metadata={"example": "seasonal"}
    )
    location = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=LOCATION_MAX),
        metadata={
            "description": "where the work is; may be left out when `remote` is true",
            "example": "Jokkmokk",
        },
    )
    remote = fields.Boolean(
        load_default=False, metadata={"description": "the work can be done remotely"}
    )
    apply_by = BoundedDate(
        required=True,
        metadata={
            "description": "the last day to apply (the town's calendar); today or later. The "
            "opening expires by itself once this day has ended.",
            "example": "2026-12-31",
        },
    )
    start_date = BoundedDate(
        load_default=None,
        allow_none=True,
        metadata={"description": "when the work starts; returnees available by then are matched"},
    )
    salary_min = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=0, max=SALARY_MAX),
        metadata={"description": "kronor a month, before tax"},
    )
    salary_max = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=0, max=SALARY_MAX),
        metadata={"description": "kronor a month, before tax"},
    )
    contact = fields.String(
        required=True,
        validate=validate.Length(min=1, max=CONTACT_MAX),
        metadata={
            "description": "how to apply or ask: a name, email or phone number",
            "example": "jobb@example.se",
        },
    )

    @pre_load
    def _normalise(self, data, **kwargs):
        data = strip_blanks(data, ("title", "description", "location", "contact"))
        return blank_is_none(data, ("location",))

    @validates_schema
    def _consistent(self, data, **kwargs):
        errors = {}
        if not data.get("remote") and data.get("location") is None:
            errors["location"] = ["Give the place of work, or set `remote`."]
        low, high = data.get("salary_min"), data.get("salary_max")
        if low is not None and high is not None and low > high:
            errors["salary_max"] = ["Must not be below `salary_min`."]
        if errors:
            raise MarshmallowError(errors)


class OpeningListQuerySchema(PageQuerySchema):
    sector = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(SECTORS))
    employment_type = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(EMPLOYMENT_TYPES)
    )

    @pre_load
    def _normalise(self, data, **kwargs):
        return blank_is_none(data, ("sector", "employment_type"))


class OpeningPageQuerySchema(PageQuerySchema):
    pass


class InterestCreateSchema(StrictSchema):
    message = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=INTEREST_MESSAGE_MAX),
        metadata={"description": "a few words to the business; only its admins read it"},
    )

    @pre_load
    def _normalise(self, data, **kwargs):
        return blank_is_none(strip_blanks(data, ("message",)), ("message",))


# --- inputs: returnee profiles -------------------------------------------------------------


class ReturneeProfileSaveSchema(StrictSchema):
    sectors = fields.List(
        fields.String(validate=validate.OneOf(SECTORS)),
        required=True,
        validate=validate.Length(min=1, max=CHOICES_MAX),
        metadata={"example": ["tourism", "culture"]},
    )
    employment_types = fields.List(
        fields.String(validate=validate.OneOf(EMPLOYMENT_TYPES)),
        required=True,
        validate=validate.Length(min=1, max=CHOICES_MAX),
        metadata={"example": ["full_time", "seasonal"]},
    )
    available_from = BoundedDate(
        required=True,
        metadata={"description": "from when the returnee can start", "example": "2027-06-15"},
    )
    message = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=PROFILE_MESSAGE_MAX),
        metadata={"description": "a few words about oneself"},
    )

    @pre_load
    def _normalise(self, data, **kwargs):
        return blank_is_none(strip_blanks(data, ("message",)), ("message",))

    @post_load
    def _each_once(self, data, **kwargs):
        # A choice given twice means nothing more than once.
        data["sectors"] = _dedupe(data["sectors"])
        data["employment_types"] = _dedupe(data["employment_types"])
        return data


# --- outputs -------------------------------------------------------------------------------


class OpeningSchema(Schema):
    id = fields.String()
    business_group_id = fields.String()
    business_name = fields.String(allow_none=True)
    title = fields.String()
    description = fields.String()
    sector = fields.String(metadata={"enum": list(SECTORS)})
    employment_type = fields.String(metadata={"enum": list(EMPLOYMENT_TYPES)})
    location = fields.String(allow_none=True)
    remote = fields.Boolean()
    apply_by = fields.Date()
    start_date = fields.Date(allow_none=True)
    salary_min = fields.Integer(allow_none=True)
    salary_max = fields.Integer(allow_none=True)
    contact = fields.String()
    status = fields.String(metadata={"enum": list(OPENING_STATUSES)})
    created_at = fields.AwareDateTime()
    ended_at = fields.AwareDateTime(
        allow_none=True, metadata={"description": "when it was closed or expired"}
    )
    interested_by_me = fields.Boolean(
        metadata={"description": "the caller registered interest (false without a token)"}
    )
    is_admin = fields.Boolean(
        metadata={
            "description": "the caller administers the business (may close it and read "
            "the interest list)"
        }
    )
    interest_count = fields.Integer(
        metadata={"description": "how many expressed interest; only for the business's admins"}
    )


class InterestSchema(Schema):
    """An expression of interest, as the resident who made it sees it."""

    id = fields.String()
    opening_id = fields.String()
    account_id = fields.String()
    message = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()


class InterestEntrySchema(InterestSchema):
    """An expression of interest, as the business's admins see it."""

    display_name = fields.String(
        allow_none=True,
        metadata={"description": "null while the account is not known to the openings service yet"},
    )


OpeningListSchema = page_of(OpeningSchema, "OpeningListSchema")


InterestListSchema = page_of(InterestEntrySchema, "InterestListSchema")


class ReturneeProfileSchema(Schema):
    account_id = fields.String()
    sectors = fields.List(fields.String())
    employment_types = fields.List(fields.String())
    available_from = fields.Date()
    message = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


# A fixed list the API publishes (sectors, employment types).
ChoiceListSchema = page_of(fields.List(fields.String()), "ChoiceListSchema")
