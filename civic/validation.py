"""Validation helpers every service's schemas share.

Input schemas refuse unknown fields; a failed load becomes civic's ValidationError
with per-field messages, which the gateway turns into a 400 with `fields`.
"""
from __future__ import annotations

import uuid

from marshmallow import (EXCLUDE, RAISE, Schema, ValidationError as MarshmallowError, fields,
                         validate)

from civic.errors import Unauthenticated, ValidationError

PER_PAGE_MAX = 100
ID_MAX = 64


class UUIDString(fields.UUID):
    """A UUID given and returned as its canonical string (ids travel as strings)."""

    def _deserialize(self, value, attr, data, **kwargs):
        return str(super()._deserialize(value, attr, data, **kwargs))


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


def strip_blanks(data, names):
    """Surrounding blanks are never meaningful; removing them first lets the length
    rules judge what will be stored."""
    if isinstance(data, dict):
        data = dict(data)
        for name in names:
            if isinstance(data.get(name), str):
                data[name] = data[name].strip()
    return data


def load(schema_cls: type[Schema], data) -> dict:
    """Validate `data`; bad input raises civic's ValidationError with per-field messages."""
    try:
        return schema_cls().load(data)
    except MarshmallowError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise ValidationError("the input is not valid", fields=messages) from None


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
        return ActorSchema().load(actor)
    except MarshmallowError as exc:
        raise ValidationError("the input is not valid", fields={"actor": exc.messages}) from None
