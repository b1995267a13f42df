"""What the groups service accepts and answers.

The input schemas validate RPC arguments here and HTTP bodies in the gateway (which
also builds its OpenAPI document from them), so one definition serves both edges.
Unknown fields are refused everywhere.
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from civic.contracts import GROUP_KINDS
from civic.validation import (
    ID_MAX,
    PageQuerySchema,
    StrictSchema,
    UUIDString,
    page_of,
    per_page_field,
    strip_blanks,
)

LOCALES = ("sv", "en")
PASSWORD_MIN, PASSWORD_MAX = 10, 200
NAME_MAX = 100
DESCRIPTION_MAX = 5000
REASON_MAX = 1000


# RFC 5321 (4.5.3.1): a local part of at most 64 octets, a domain label of at most 63, a
# whole address of at most 254 (a 256-octet path less its angle brackets).
EMAIL_MAX, EMAIL_LOCAL_MAX, EMAIL_LABEL_MAX = 254, 64, 63
CONFIRMATION_TOKEN_MAX = 300


def _within_smtp_limits(value: str) -> None:
    local, _, domain = value.rpartition("@")
    if len(value.encode("utf-8")) > EMAIL_MAX:
        raise ValidationError(f"An email address is at most {EMAIL_MAX} characters long.")
    if len(local.encode("utf-8")) > EMAIL_LOCAL_MAX:
        raise ValidationError(
            f"The part before the @ is at most {EMAIL_LOCAL_MAX} characters long."
        )
    for label in domain.split("."):
        try:
            encoded = label.encode("idna")
        except UnicodeError:
            encoded = label.encode("utf-8")
        if len(encoded) > EMAIL_LABEL_MAX:
            raise ValidationError(
                f"Each part of the domain is at most {EMAIL_LABEL_MAX} characters long."
            )


def email_field() -> fields.Email:
    """An account's email address (registering, signing in): valid, and within the
    limits every SMTP server keeps to."""
    return fields.Email(required=True, validate=_within_smtp_limits)


# --- inputs -----------------------------------------------------------------------------


class AccountCreateSchema(StrictSchema):
    email = email_field()
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=PASSWORD_MIN, max=PASSWORD_MAX)
    )
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    locale = fields.String(load_default="sv", validate=validate.OneOf(LOCALES))

    @pre_load
    def _normalise(self, data, **kwargs):
        data = strip_blanks(data, ("email", "display_name"))
        if isinstance(data, dict) and isinstance(data.get("email"), str):
            data["email"] = data["email"].lower()
        return data


class SessionCreateSchema(StrictSchema):
    email = email_field()
    # No minimum length here: saying "too short" would tell nothing and help no one.
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=PASSWORD_MAX)
    )

    @pre_load
    def _normalise(self, data, **kwargs):
        data = strip_blanks(data, ("email",))
        if isinstance(data, dict) and isinstance(data.get("email"), str):
            data["email"] = data["email"].lower()
        return data


class GroupCreateSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=NAME_MAX))
    kind = fields.String(required=True, validate=validate.OneOf(GROUP_KINDS))
    description = fields.String(load_default="", validate=validate.Length(max=DESCRIPTION_MAX))
    open = fields.Boolean(load_default=True)

    @pre_load
    def _normalise(self, data, **kwargs):
        data = strip_blanks(data, ("name", "description"))
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            # One space between words, so "Ski  Club" cannot sit beside "Ski Club".
            data["name"] = " ".join(data["name"].split())
        return data


class ConfirmationSchema(StrictSchema):
    token = fields.String(
        required=True,
        validate=validate.Length(min=1, max=CONFIRMATION_TOKEN_MAX),
        metadata={"description": "the token of the emailed confirmation link"},
    )


class NetworkJoinSchema(StrictSchema):
    network_id = UUIDString(required=True)


class AdminAppointSchema(StrictSchema):
    """Staff appoint an admin of a group."""

    account_id = UUIDString(required=True)


class VerificationRefusalSchema(StrictSchema):
    """Staff refuse to verify an organisation: the reason its admins are told."""

    reason = fields.String(required=True, validate=validate.Length(min=1, max=REASON_MAX))

    @pre_load
    def _normalise(self, data, **kwargs):
        return strip_blanks(data, ("reason",))


class AccountLookupSchema(StrictSchema):
    """Staff look an account up by its email address."""

    email = email_field()

    @pre_load
    def _normalise(self, data, **kwargs):
        data = strip_blanks(data, ("email",))
        if isinstance(data, dict) and isinstance(data.get("email"), str):
            data["email"] = data["email"].lower()
        return data


class GroupListQuerySchema(PageQuerySchema):
    kind = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(GROUP_KINDS))
    needs_admin = fields.Boolean(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "true: only groups left without a member, waiting for staff to "
            "appoint an admin"
        },
    )
    # No default: absent means any (and keeps the loaded query as it was before).
    awaiting_verification = fields.Boolean(
        allow_none=True,
        metadata={
            "description": "true: only associations and businesses staff have neither "
            "verified nor refused, the longest waiting first"
        },
    )
    verification_refused = fields.Boolean(
        allow_none=True,
        metadata={
            "description": "true: only organisations staff refused to verify (they may "
            "still verify them), the latest refused first"
        },
    )

    @pre_load
    def _blank_kind_is_any(self, data, **kwargs):
        if isinstance(data, dict) and data.get("kind") == "":
            data = {**data, "kind": None}
        return data


class MemberListQuerySchema(PageQuerySchema):
    """A group's members: a small town's group fits on one page."""

    per_page = per_page_field(100)


class AccountIdsSchema(StrictSchema):
    account_ids = fields.List(
        fields.String(validate=validate.Length(min=1, max=ID_MAX)),
        required=True,
        validate=validate.Length(max=1000),
    )


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
    created_by = fields.String(
        allow_none=True, metadata={"description": "null once the creator's account is erased"}
    )
    created_at = fields.AwareDateTime()
    needs_admin = fields.Boolean(
        metadata={"description": "the group lost its last member: staff are to appoint an admin"}
    )
    verification_refused_at = fields.AwareDateTime(
        allow_none=True,
        metadata={
            "description": "when staff refused to verify the organisation (null: not refused)"
        },
    )
    member_count = fields.Integer()
    admins = fields.List(fields.Nested(PublicAccountSchema))
    networks = fields.List(fields.Nested(NetworkRefSchema))


GroupListSchema = page_of(GroupSchema, "GroupListSchema")


class MembershipSchema(Schema):
    group_id = fields.String()
    account_id = fields.String()
    role = fields.String()
    status = fields.String()
    created_at = fields.AwareDateTime()


class MemberSchema(Schema):
    """A member of a group, or (for its admins) a request to join it."""

    account_id = fields.String()
    display_name = fields.String()
    role = fields.String()
    status = fields.String(metadata={"description": "`active`, or `pending` (a request)"})
    created_at = fields.AwareDateTime()


MemberListSchema = page_of(MemberSchema, "MemberListSchema")


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
    email_confirmed = fields.Boolean(
        metadata={"description": "the owner followed the emailed confirmation link"}
    )
    roles = fields.List(fields.String())
    memberships = fields.List(fields.Nested(MyMembershipSchema))


class PrincipalSchema(Schema):
    account_id = fields.String()
    display_name = fields.String()
    locale = fields.String()
    is_staff = fields.Boolean()
    email_confirmed = fields.Boolean()
    created_at = fields.AwareDateTime()
