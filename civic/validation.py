"""Validation helpers every service's schemas share.

Input schemas refuse unknown fields; a failed load becomes civic's ValidationError
with per-field messages, which the gateway turns into a 400 with `fields`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import cache

from marshmallow import EXCLUDE, RAISE, Schema, fields, validate, validates_schema
from marshmallow import ValidationError as MarshmallowError

from civic.clock import MONTH_PATTERN, months_in
from civic.errors import Unauthenticated, ValidationError

PER_PAGE_MAX = 100
PER_PAGE_DEFAULT = 20
# Far beyond any list Civic holds, and small enough for every database's OFFSET.
PAGE_MAX = 100_000
ID_MAX = 64
# Times and dates outside these years are typing errors, and near the ends of the
# calendar (year 1 or 9999) converting one to UTC overflows: refused as input.
EARLIEST_YEAR, LATEST_YEAR = 1900, 9000
DATETIME_TEXT_MAX = 40


class UUIDString(fields.UUID):
    """A UUID given and returned as its canonical string (ids travel as strings)."""

    def _deserialize(self, value, attr, data, **kwargs):
        return str(super()._deserialize(value, attr, data, **kwargs))


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


# --- pagination: the query of every list ------------------------------------------------


def page_field() -> fields.Integer:
    """`?page=`: 1 to PAGE_MAX (a larger number is a 400, never a database error)."""
    return fields.Integer(
        load_default=1,
        validate=validate.Range(min=1, max=PAGE_MAX),
        metadata={"description": "Which page, from 1"},
    )


def per_page_field(default: int = PER_PAGE_DEFAULT) -> fields.Integer:
    """`?per_page=`: 1 to PER_PAGE_MAX, `default` when not given."""
    return fields.Integer(
        load_default=default,
        validate=validate.Range(min=1, max=PER_PAGE_MAX),
        metadata={"description": f"Items per page (default {default})"},
    )


class PageQuerySchema(StrictSchema):
    """`?page=` and `?per_page=`, the pagination of API.md, for every list.

    A list query schema inherits from this one; a list with another default page size
    says `per_page = per_page_field(N)`.
    """

    page = page_field()
    per_page = per_page_field()


def page_of(
    items: type[Schema] | fields.Field, name: str, **more_fields: fields.Field
) -> type[Schema]:
    """The answer of every list, `{items, total, page, per_page}`, as a schema called `name`.

    `items` is the schema of one item, or the `items` field itself when the items are not
    objects (e.g. `fields.List(fields.String())`); `more_fields` go beside the four (a
    count the list reports too). `name` is the class name, from which the OpenAPI
    document names the component: one name, one schema.
    """
    items_field = items if isinstance(items, fields.Field) else fields.List(fields.Nested(items))
    return Schema.from_dict(
        {
            "items": items_field,
            "total": fields.Integer(),
            "page": fields.Integer(),
            "per_page": fields.Integer(),
            **more_fields,
        },
        name=name,
    )


# --- times and dates ----------------------------------------------------------------------


class AwareDateTime(fields.DateTime):
    """ISO 8601 date and time in; an aware datetime in UTC loaded.

    A time given with an offset (or `Z`) is taken as given. One given without is read
    in the zone `naive_zone()` returns (refused when a daylight-saving change makes it
    ambiguous or non-existent there), or refused when `naive_zone` is None. Times outside
    the years `earliest_year` to `latest_year`, as given or in UTC, are refused: every
    time field of every service's input uses this field, so none can overflow later.
    """

    default_error_messages = {
        "invalid": "Not a valid ISO 8601 date and time.",
        "naive": "Give the time with its UTC offset (e.g. +01:00 or Z).",
        "range": "Give a time between {earliest} and {latest}.",
        "gap_or_overlap": "This local time does not exist or happens twice (a daylight-"
        "saving change): give it with its UTC offset.",
    }

    def __init__(
        self,
        *,
        naive_zone=None,
        earliest_year: int = EARLIEST_YEAR,
        latest_year: int = LATEST_YEAR,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.naive_zone = naive_zone
        self.earliest_year, self.latest_year = earliest_year, latest_year

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, str) and 0 < len(value) <= DATETIME_TEXT_MAX:
            try:
                parsed = datetime.fromisoformat(value.strip())
            except ValueError:
                raise self.make_error("invalid") from None
        else:
            raise self.make_error("invalid")
        if parsed.tzinfo is None:
            if self.naive_zone is None:
                raise self.make_error("naive")
            parsed = _aware_in(parsed, self.naive_zone())
            if parsed is None:
                raise self.make_error("gap_or_overlap")
        try:
            utc = parsed.astimezone(UTC)
        except OverflowError:
            utc = None
        if utc is None or not all(
            self.earliest_year <= moment.year <= self.latest_year for moment in (parsed, utc)
        ):
            raise self.make_error("range", earliest=self.earliest_year, latest=self.latest_year)
        return utc


def _aware_in(naive: datetime, zone) -> datetime | None:
    """A naive time made aware in `zone`; None when it is skipped or repeated by a
    change of offset (which one was meant cannot be known)."""
    first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    try:
        if first.utcoffset() != second.utcoffset():
            return None
    except OverflowError:
        return None
    return first


class BoundedDate(fields.Date):
    """An ISO 8601 date (`2027-06-15`) between the years EARLIEST_YEAR and LATEST_YEAR."""

    default_error_messages = {
        "range": "Give a date between {earliest} and {latest}.",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        loaded = super()._deserialize(value, attr, data, **kwargs)
        if not EARLIEST_YEAR <= loaded.year <= LATEST_YEAR:
            raise self.make_error("range", earliest=EARLIEST_YEAR, latest=LATEST_YEAR)
        return loaded


def strip_blanks(data, names):
    """Surrounding blanks are never meaningful; removing them first lets the length
    rules judge what will be stored."""
    if isinstance(data, dict):
        data = dict(data)
        for name in names:
            if isinstance(data.get(name), str):
                data[name] = data[name].strip()
    return data


@cache
def schema_of(schema_cls: type[Schema]) -> Schema:
    """One instance of `schema_cls` per process, reused by every call: building a
    schema costs ~4× loading a small input with it (its fields are copied and bound), and
    loading keeps no state on the instance (issue 14's profile: 7% of the gateway's CPU
    went to building query schemas). Only for schemas built without arguments."""
    return schema_cls()


def load(schema_cls: type[Schema], data) -> dict:
    """Validate `data`; bad input raises civic's ValidationError with per-field messages."""
    try:
        return schema_of(schema_cls).load(data)
    except MarshmallowError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise ValidationError("the input is not valid", fields=messages) from None


def dump(schema_cls: type[Schema], value) -> dict:
    """`value` as `schema_cls` shows it, with the process's one instance (`schema_of`):
    dumping keeps no state on the instance either."""
    return schema_of(schema_cls).dump(value)


def clean_id(name: str, value) -> str:
    """An id given as a plain argument: a string (or UUID), else the caller erred.

    Any string is accepted: one that names nothing is simply not found.
    """
    if isinstance(value, uuid.UUID):
        return str(value)
    if not isinstance(value, str) or not value or len(value) > ID_MAX:
        raise ValidationError("the input is not valid", fields={name: ["Not a valid id."]})
    return value


def blank_is_none(data, names):
    """An empty query parameter (`?status=`) or optional text means "none"/"any"."""
    if isinstance(data, dict):
        data = dict(data)
        for name in names:
            if isinstance(data.get(name), str) and not data[name].strip():
                data[name] = None
    return data


def text(min_length: int, max_length: int, **kwargs) -> fields.String:
    return fields.String(validate=validate.Length(min=min_length, max=max_length), **kwargs)


class ActorSchema(Schema):
    """Who is calling, as the gateway (the trust boundary) tells it from a valid session."""

    class Meta:
        unknown = EXCLUDE

    account_id = fields.String(required=True, validate=validate.Length(min=1, max=ID_MAX))
    is_staff = fields.Boolean(load_default=False)
    display_name = fields.String(load_default=None, allow_none=True)


def load_actor(actor, required: bool = True) -> dict | None:
    """The actor dict checked; None for an anonymous reader (where that is allowed)."""
    if actor is None:
        if required:
            raise Unauthenticated("sign in first")
        return None
    try:
        return schema_of(ActorSchema).load(actor)
    except MarshmallowError as exc:
        raise ValidationError("the input is not valid", fields={"actor": exc.messages}) from None


# --- a period of whole months (the programme report's figures, each service's part) ---

PERIOD_MONTHS_MAX = 36


class PeriodOfMonthsSchema(StrictSchema):
    """A period of whole months ("YYYY-MM", the town's zone), `period_to` not before
    `period_from`, at most PERIOD_MONTHS_MAX months."""

    period_from = fields.String(
        required=True, validate=validate.Regexp(MONTH_PATTERN, error="A month is YYYY-MM.")
    )
    period_to = fields.String(
        required=True, validate=validate.Regexp(MONTH_PATTERN, error="A month is YYYY-MM.")
    )

    @validates_schema
    def _period(self, data, **kwargs):
        first, last = data.get("period_from"), data.get("period_to")
        if not first or not last:
            return
        if last < first:
            raise MarshmallowError("The period ends before it starts.", "period_to")
        if months_in(first, last) > PERIOD_MONTHS_MAX:
            raise MarshmallowError(f"A period is at most {PERIOD_MONTHS_MAX} months.", "period_to")


class MonthlyFiguresSchema(Schema):
    """A service's figures for each month of a period, in order."""

    months = fields.List(fields.Dict(), required=True)
