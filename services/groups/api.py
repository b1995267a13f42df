"""What the groups service accepts and answers.

The input schemas validate RPC arguments here and HTTP bodies in the gateway (which
also builds its OpenAPI document from them), so one definition serves both edges.
Unknown fields are refused everywhere.
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, pre_load, validate
from nameko.exceptions import deserialize_to_instance

from civic.contracts import (
    GROUP_KINDS,
    INVITATION_ANSWERS,
    INVITATION_TARGET_TYPES,
    SKILL_KEY_MAX,
    VOLUNTEER_AVAILABILITY,
    VOLUNTEER_INTERESTS,
    VOLUNTEER_SEASONS,
)
from civic.errors import RateLimited
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
# A client address (IPv6 text is at most 45 characters; "unknown" when none was seen).
ADDRESS_MAX = 100


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


class ClientAddressSchema(StrictSchema):
    """The address a sign-in or registration came from, as the gateway saw it (its rate
    limits are counted here, for every gateway: see limits.py)."""

    address = fields.String(required=True, validate=validate.Length(min=1, max=ADDRESS_MAX))


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


# --- volunteers ---------------------------------------------------------------------------

SKILL_NAME_MAX = 100
OTHER_SKILLS_MAX = 300
INVITATION_MESSAGE_MAX = 500
TARGET_TITLE_MAX = 200
INVITATION_STATUSES = ("pending", *INVITATION_ANSWERS)
# A skill's key: lower-case letters, digits and underscores, starting with a letter.
SKILL_KEY_PATTERN = r"^[a-z][a-z0-9_]*$"


def _skill_key(**kwargs) -> fields.String:
    return fields.String(
        validate=[
            validate.Length(min=2, max=SKILL_KEY_MAX),
            validate.Regexp(SKILL_KEY_PATTERN, error="Lower-case letters, digits and _."),
        ],
        **kwargs,
    )


def _choice_list(values, minimum: int = 0, **kwargs) -> fields.List:
    return fields.List(
        fields.String(validate=validate.OneOf(values)),
        validate=validate.Length(min=minimum, max=len(values)),
        **kwargs,
    )


class SkillCreateSchema(StrictSchema):
    key = _skill_key(required=True)
    name_sv = fields.String(required=True, validate=validate.Length(min=1, max=SKILL_NAME_MAX))
    name_en = fields.String(required=True, validate=validate.Length(min=1, max=SKILL_NAME_MAX))

    @pre_load
    def _normalise(self, data, **kwargs):
        return strip_blanks(data, ("key", "name_sv", "name_en"))


class SkillKeySchema(StrictSchema):
    key = _skill_key(required=True)


class SkillListQuerySchema(StrictSchema):
    # A real boolean (an RPC argument), not "yes" or "1".
    include_retired = fields.Boolean(truthy={True}, falsy={False}, load_default=False)


class VolunteerProfileSaveSchema(StrictSchema):
    skills = fields.List(
        _skill_key(),
        load_default=list,
        validate=validate.Length(max=50),
        metadata={"description": "keys of skills on the list (GET /volunteer-skills)"},
    )
    other_skills = fields.String(load_default="", validate=validate.Length(max=OTHER_SKILLS_MAX))
    availability = _choice_list(VOLUNTEER_AVAILABILITY, 1, required=True)
    seasons = _choice_list(VOLUNTEER_SEASONS, 1, required=True)
    interests = _choice_list(
        VOLUNTEER_INTERESTS, 0, load_default=list, metadata={"description": "proposal categories"}
    )
    contact_ok = fields.Boolean(
        required=True,
        metadata={"description": "whether group admins and staff may find and invite one"},
    )

    @pre_load
    def _normalise(self, data, **kwargs):
        return strip_blanks(data, ("other_skills",))


class VolunteerSearchQuerySchema(PageQuerySchema):
    skill = _skill_key(load_default=None, allow_none=True)
    availability = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(VOLUNTEER_AVAILABILITY)
    )
    season = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(VOLUNTEER_SEASONS)
    )
    interest = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(VOLUNTEER_INTERESTS)
    )

    @pre_load
    def _blank_is_any(self, data, **kwargs):
        if isinstance(data, dict):
            data = {
                key: (
                    None
                    if key in ("skill", "availability", "season", "interest") and value == ""
                    else value
                )
                for key, value in data.items()
            }
        return data


class VolunteerInvitationCreateSchema(StrictSchema):
    group_id = UUIDString(required=True, metadata={"description": "the inviting group"})
    target_type = fields.String(required=True, validate=validate.OneOf(INVITATION_TARGET_TYPES))
    target_id = UUIDString(
        required=True,
        metadata={
            "description": "the group itself, an event it organises or a joint project it leads"
        },
    )
    role_id = UUIDString(
        load_default=None, allow_none=True, metadata={"description": "an event's volunteer role"}
    )
    message = fields.String(load_default="", validate=validate.Length(max=INVITATION_MESSAGE_MAX))

    @pre_load
    def _normalise(self, data, **kwargs):
        return strip_blanks(data, ("message",))


class VolunteerInvitationSendSchema(VolunteerInvitationCreateSchema):
    """What the gateway sends the groups service: the request, with the title of the
    event or project it checked (a group's own title is its name)."""

    target_title = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=TARGET_TITLE_MAX)
    )


class InvitationAnswerSchema(StrictSchema):
    answer = fields.String(required=True, validate=validate.OneOf(INVITATION_ANSWERS))


class InvitationListQuerySchema(PageQuerySchema):
    status = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(INVITATION_STATUSES)
    )

    @pre_load
    def _blank_is_any(self, data, **kwargs):
        if isinstance(data, dict) and data.get("status") == "":
            data = {**data, "status": None}
        return data


class SkillSchema(Schema):
    key = fields.String()
    name_sv = fields.String()
    name_en = fields.String()
    active = fields.Boolean()


SkillListSchema = page_of(SkillSchema, "SkillListSchema")


class VolunteerProfileSchema(Schema):
    account_id = fields.String()
    skills = fields.List(fields.String())
    other_skills = fields.String()
    availability = fields.List(fields.String())
    seasons = fields.List(fields.String())
    interests = fields.List(fields.String())
    contact_ok = fields.Boolean()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class VolunteerSchema(Schema):
    """A volunteer as the search shows them: never an email address."""

    account_id = fields.String()
    display_name = fields.String()
    skills = fields.List(fields.String())
    other_skills = fields.String()
    availability = fields.List(fields.String())
    seasons = fields.List(fields.String())
    interests = fields.List(fields.String())


VolunteerListSchema = page_of(VolunteerSchema, "VolunteerListSchema")


class VolunteerInvitationSchema(Schema):
    id = fields.String()
    volunteer_id = fields.String()
    volunteer_name = fields.String(allow_none=True)
    invited_by = fields.String(
        allow_none=True, metadata={"description": "null once the inviter's account is erased"}
    )
    invited_by_name = fields.String(allow_none=True)
    group_id = fields.String()
    group_name = fields.String(allow_none=True)
    target_type = fields.String()
    target_id = fields.String()
    target_title = fields.String()
    role_id = fields.String(allow_none=True)
    message = fields.String()
    status = fields.String(metadata={"description": "pending, accepted or declined"})
    created_at = fields.AwareDateTime()
    answered_at = fields.AwareDateTime(allow_none=True)


VolunteerInvitationListSchema = page_of(VolunteerInvitationSchema, "VolunteerInvitationListSchema")


# --- errors -----------------------------------------------------------------------------


@deserialize_to_instance
class TooManyAttempts(RateLimited):
    """429: too many failed sign-ins or registrations lately, counted by the groups
    service for every gateway. `retry_after` is the whole seconds to wait (at least 1):
    it crosses RPC as the error's second argument (nameko rebuilds an error from its
    arguments only), so the gateway's Retry-After header gets it."""

    def __init__(self, message: str = "", retry_after=1):
        super().__init__(message)
        try:
            self.retry_after = max(1, int(retry_after))
        except (TypeError, ValueError):
            self.retry_after = 1
        self.args = (message, self.retry_after)
