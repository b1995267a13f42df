"""What the groups service accepts and answers.

The input schemas validate RPC arguments here and HTTP bodies in the gateway (which
also builds its OpenAPI document from them), so one definition serves both edges.
Unknown fields are refused everywhere.
"""
from __future__ import annotations

from marshmallow import Schema, fields, pre_load, validate

from civic.contracts import GROUP_KINDS
from civic.validation import ID_MAX, PER_PAGE_MAX, StrictSchema, UUIDString, strip_blanks

LOCALES = ("sv", "en")
PASSWORD_MIN, PASSWORD_MAX = 10, 200
NAME_MAX = 100
DESCRIPTION_MAX = 5000


# --- inputs -----------------------------------------------------------------------------

class AccountCreateSchema(StrictSchema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, load_only=True,
                             validate=validate.Length(min=PASSWORD_MIN, max=PASSWORD_MAX))
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    locale = fields.String(load_default="sv", validate=validate.OneOf(LOCALES))

    @pre_load
    def _normalise(self, data, **kwargs):
        data = strip_blanks(data, ("email", "display_name"))
        if isinstance(data, dict) and isinstance(data.get("email"), str):
            data["email"] = data["email"].lower()
        return data


class SessionCreateSchema(StrictSchema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    # No minimum length here: saying "too short" would tell nothing and help no one.
    password = fields.String(required=True, load_only=True,
                             validate=validate.Length(min=1, max=PASSWORD_MAX))

    @pre_load
    def _normalise(self, data, **kwargs):
        data = strip_blanks(data, ("email",))
        if isinstance(data, dict) and isinstance(data.get("email"), str):
            data["email"] = data["email"].lower()
        return data


class GroupCreateSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=NAME_MAX))
    kind = fields.String(required=True, validate=validate.OneOf(GROUP_KINDS))
    description = fields.String(load_default="",
                                validate=validate.Length(max=DESCRIPTION_MAX))
    open = fields.Boolean(load_default=True)

    @pre_load
    def _normalise(self, data, **kwargs):
        data = strip_blanks(data, ("name", "description"))
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            # One space between words, so "Ski  Club" cannot sit beside "Ski Club".
            data["name"] = " ".join(data["name"].split())
        return data


class NetworkJoinSchema(StrictSchema):
    network_id = UUIDString(required=True)


class GroupListQuerySchema(StrictSchema):
    kind = fields.String(load_default=None, allow_none=True,
                         validate=validate.OneOf(GROUP_KINDS))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1,
                                                                       max=PER_PAGE_MAX))

    @pre_load
    def _blank_kind_is_any(self, data, **kwargs):
        if isinstance(data, dict) and data.get("kind") == "":
            data = {**data, "kind": None}
        return data


class AccountIdsSchema(StrictSchema):
    account_ids = fields.List(fields.String(validate=validate.Length(min=1, max=ID_MAX)),
                              required=True, validate=validate.Length(max=1000))


# --- outputs ----------------------------------------------------------------------------

class PublicAccountSchema(Schema):
    id = fields.String()
    display_name = fields.String()


class AccountSchema(Schema):
    """An account as its owner sees it."""
    id = fields.String()
    email = fields.String()
    display_name = fields.String()
    locale = fields.String()
    created_at = fields.AwareDateTime()


class SessionSchema(Schema):
    token = fields.String()
    account = fields.Nested(AccountSchema)


class NetworkRefSchema(Schema):
    id = fields.String()
    name = fields.String()


class GroupSchema(Schema):
    id = fields.String()
    name = fields.String()
    kind = fields.String()
    description = fields.String()
    open = fields.Boolean()
    verified = fields.Boolean()
    created_by = fields.String()
    created_at = fields.AwareDateTime()
    member_count = fields.Integer()
    admins = fields.List(fields.Nested(PublicAccountSchema))
    networks = fields.List(fields.Nested(NetworkRefSchema))


class GroupListSchema(Schema):
    items = fields.List(fields.Nested(GroupSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class MembershipSchema(Schema):
    group_id = fields.String()
    account_id = fields.String()
    role = fields.String()
    status = fields.String()
    created_at = fields.AwareDateTime()


class JoinResultSchema(Schema):
    status = fields.String()  # "member" or "pending"
    membership = fields.Nested(MembershipSchema)


class MyMembershipSchema(Schema):
    group_id = fields.String()
    group_name = fields.String()
    kind = fields.String()
    role = fields.String()
    status = fields.String()


class MeSchema(AccountSchema):
    roles = fields.List(fields.String())
    memberships = fields.List(fields.Nested(MyMembershipSchema))


class PrincipalSchema(Schema):
    account_id = fields.String()
    display_name = fields.String()
    locale = fields.String()
    is_staff = fields.Boolean()
