"""The event envelope and the catalogue of event contracts.

Every event crosses the broker as one JSON envelope. Producers validate `data` against
the contract before the event is written to the outbox; consumers validate the envelope
and `data` before their handler runs. A consumer ignores unknown fields and refuses a
version it cannot read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

from civic import clock
from civic.errors import ContractError
from civic.validation import schema_of

GROUP_KINDS = ("working_group", "association", "business", "network")
# What a member is in a group (member_joined carries it).
MEMBER_ROLES = ("admin", "member")


def entity_version():
    """A per-entity version its producer stamps on every fact about one membership
    (`membership_version`) or registration (`registration_version`): it goes up with
    every change of that entity, so a read model applies a fact only when it is newer
    than the one it holds, whatever the order of arrival or the producers' clocks.
    Optional: absent in events from before versions (then the fact's time decides)."""
    return fields.Integer(strict=True, validate=validate.Range(min=1))


class EnvelopeSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.UUID(required=True)
    type = fields.String(required=True, validate=validate.Length(min=1, max=100))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    occurred_at = fields.AwareDateTime(required=True)
    producer = fields.String(required=True, validate=validate.Length(min=1, max=50))
    correlation_id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    actor_id = fields.String(load_default=None, allow_none=True)
    data = fields.Dict(required=True)


@dataclass(frozen=True)
class Envelope:
    id: str
    type: str
    version: int
    occurred_at: datetime
    producer: str
    correlation_id: str
    actor_id: str | None
    data: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "type": self.type,
            "version": self.version,
            "occurred_at": clock.iso(self.occurred_at),
            "producer": self.producer,
            "correlation_id": self.correlation_id,
            "actor_id": self.actor_id,
            "data": self.data,
        }


@dataclass(frozen=True)
class Contract:
    type: str
    version: int
    producer: str
    schema: type[Schema]
    description: str


CATALOGUE: dict[str, Contract] = {}


def contract(type_, producer, description, version=1):
    """Class decorator: register the schema of an event's `data` in the catalogue."""

    def register(schema_cls):
        if type_ in CATALOGUE:
            raise ValueError(f"event type {type_!r} is registered twice")
        CATALOGUE[type_] = Contract(type_, version, producer, schema_cls, description)
        return schema_cls

    return register


def get_contract(type_: str) -> Contract:
    try:
        return CATALOGUE[type_]
    except KeyError:
        raise ContractError(f"unknown event type {type_!r}") from None


def new_envelope(
    type_: str,
    data: dict,
    *,
    producer: str,
    correlation_id: str | None,
    actor_id: str | None = None,
    occurred_at: datetime | None = None,
) -> Envelope:
    """Build a validated envelope; raises ContractError if `data` breaks the contract.

    `occurred_at` is when the fact happened: the caller's clock (a domain function's
    injected `now`), the wall clock if not given. It must be timezone-aware."""
    if occurred_at is not None and occurred_at.utcoffset() is None:
        raise ContractError("occurred_at must be timezone-aware")
    found = get_contract(type_)
    if found.producer != producer:
        raise ContractError(
            f"{producer!r} may not publish {type_!r} (its producer is {found.producer!r})"
        )
    schema = schema_of(found.schema)  # one per contract (issue 14: built per event before)
    try:
        clean = schema.dump(schema.load(data, unknown=RAISE))
    except ValidationError as exc:
        raise ContractError(f"{type_} data breaks its contract: {exc.messages}") from None
    return Envelope(
        id=str(uuid.uuid4()),
        type=type_,
        version=found.version,
        occurred_at=occurred_at or clock.utcnow(),
        producer=producer,
        correlation_id=correlation_id or str(uuid.uuid4()),
        actor_id=actor_id,
        data=clean,
    )


def parse_envelope(body, expected_type: str | None = None) -> Envelope:
    """Validate a received message body; raises ContractError on anything unreadable."""
    if not isinstance(body, dict):
        raise ContractError("message body is not a JSON object")
    try:
        raw = schema_of(EnvelopeSchema).load(body)
    except ValidationError as exc:
        raise ContractError(f"malformed envelope: {exc.messages}") from None
    if expected_type is not None and raw["type"] != expected_type:
        raise ContractError(f"expected {expected_type!r}, got {raw['type']!r}")
    found = get_contract(raw["type"])
    if raw["version"] != found.version:
        raise ContractError(
            f"{raw['type']} version {raw['version']} cannot be read "
            f"(this code reads version {found.version})"
        )
    schema = schema_of(found.schema)
    try:
        data = schema.load(raw["data"], unknown=EXCLUDE)
    except ValidationError as exc:
        raise ContractError(f"{raw['type']} data breaks its contract: {exc.messages}") from None
    data = schema.dump(data)
    return Envelope(
        id=str(raw["id"]),
        type=raw["type"],
        version=raw["version"],
        occurred_at=raw["occurred_at"],
        producer=raw["producer"],
        correlation_id=raw["correlation_id"],
        actor_id=raw["actor_id"],
        data=data,
    )


# --- groups -------------------------------------------------------------------------


def _id():
    return fields.String(required=True, validate=validate.Length(min=1, max=64))


@contract("account_registered", "groups", "A resident created an account.")
class AccountRegistered(Schema):
    account_id = _id()
    display_name = fields.String(required=True)
    locale = fields.String(required=True, validate=validate.OneOf(["sv", "en"]))


@contract(
    "account_erased",
    "groups",
    "An account was erased: every service anonymises or deletes what it holds.",
)
class AccountErased(Schema):
    account_id = _id()


@contract(
    "email_confirmation_requested",
    "groups",
    "An account's email address is to be confirmed (it registered, or asked for a "
    "new link): the notifications service sends the confirmation email in `locale`, "
    "whatever the account's email preference.",
)
class EmailConfirmationRequested(Schema):
    account_id = _id()
    locale = fields.String(required=True, validate=validate.OneOf(["sv", "en"]))


@contract(
    "email_confirmed",
    "groups",
    "An account confirmed its email address (it followed the emailed link).",
)
class EmailConfirmed(Schema):
    account_id = _id()


@contract(
    "signed_out",
    "groups",
    "A session of the account ended: it signed out. Which session is not said (no token "
    "or hash of one ever goes into an event): every gateway forgets the account's "
    "cached sessions at once and asks the groups service again at their next use.",
)
class SignedOut(Schema):
    account_id = _id()


@contract(
    "staff_role_changed",
    "groups",
    "An existing account became staff (`civic staff create` promoted it) or stopped "
    "being staff (it was erased). Every gateway forgets the account's cached sessions "
    "at once, so the new role counts at its next request.",
)
class StaffRoleChanged(Schema):
    account_id = _id()
    is_staff = fields.Boolean(required=True)


@contract("group_created", "groups", "A group was created; its creator is its admin.")
class GroupCreated(Schema):
    group_id = _id()
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(GROUP_KINDS))
    open = fields.Boolean(required=True)
    created_by = _id()


@contract("member_joined", "groups", "An account became a member of a group.")
class MemberJoined(Schema):
    group_id = _id()
    account_id = _id()
    role = fields.String(required=True, validate=validate.OneOf(MEMBER_ROLES))
    membership_version = entity_version()


@contract("member_left", "groups", "An account left (or was removed from) a group.")
class MemberLeft(Schema):
    group_id = _id()
    account_id = _id()
    membership_version = entity_version()


@contract("join_requested", "groups", "An account asked to join a closed group.")
class JoinRequested(Schema):
    group_id = _id()
    account_id = _id()
    admin_ids = fields.List(fields.String(), required=True)


@contract("group_verified", "groups", "Staff verified an association or business.")
class GroupVerified(Schema):
    group_id = _id()


@contract(
    "group_verification_refused",
    "groups",
    "Staff refused to verify an association or business, with the reason its admins "
    "are told. The group leaves the list waiting for verification; staff may still "
    "verify it later (group_verified).",
)
class GroupVerificationRefused(Schema):
    group_id = _id()
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


@contract("group_joined_network", "groups", "A group joined a network.")
class GroupJoinedNetwork(Schema):
    group_id = _id()
    network_id = _id()


ADMIN_APPOINTMENT_REASONS = ("handover", "staff")


@contract(
    "admin_appointed",
    "groups",
    "An account became an admin of a group: `handover` when the last admin left "
    "(or was erased) and the longest-standing member took over, `staff` when staff "
    "appointed it. The account is an active member (a member_joined came first if "
    "it was not one).",
)
class AdminAppointed(Schema):
    group_id = _id()
    account_id = _id()
    reason = fields.String(required=True, validate=validate.OneOf(ADMIN_APPOINTMENT_REASONS))
    membership_version = entity_version()


@contract(
    "group_needs_admin",
    "groups",
    "The last member of a group left or was erased: nobody can take over as admin, "
    "so the group waits for staff to appoint one.",
)
class GroupNeedsAdmin(Schema):
    group_id = _id()


# --- proposals ----------------------------------------------------------------------
# One event per change. A proposal's events carry its id, title and author_id (whom
# notifications tell), and the working group it is assigned to where it matters; the
# envelope's actor_id says who made the change. No contact lines, no comment or report
# texts: events say what happened, not what residents wrote.

PROPOSAL_STATUSES = (
    "submitted",
    "under_review",
    "accepted",
    "rejected",
    "in_progress",
    "done",
    "withdrawn",
)
PROJECT_STATUSES = ("planned", "active", "completed", "cancelled")


def _maybe_id():
    return fields.String(required=True, allow_none=True, validate=validate.Length(min=1, max=64))


def _title():
    return fields.String(required=True, validate=validate.Length(min=1, max=150))


class _ProposalRef(Schema):
    proposal_id = _id()
    title = _title()
    author_id = _maybe_id()  # null once the author's account is erased


@contract(
    "proposal_submitted",
    "proposals",
    "A proposal was filed (online by a resident, or by staff for a drop-in or "
    "town-hall visitor); it starts as submitted.",
)
class ProposalSubmitted(_ProposalRef):
    category = fields.String(required=True)
    channel = fields.String(
        required=True, validate=validate.OneOf(["online", "drop_in", "town_hall"])
    )
    status = fields.String(required=True, validate=validate.OneOf(PROPOSAL_STATUSES))


@contract("proposal_supported", "proposals", "An account supported a proposal.")
class ProposalSupported(_ProposalRef):
    account_id = _id()
    support_count = fields.Integer(required=True)


@contract(
    "proposal_support_withdrawn", "proposals", "An account withdrew its support from a proposal."
)
class ProposalSupportWithdrawn(_ProposalRef):
    account_id = _id()
    support_count = fields.Integer(required=True)


@contract(
    "proposal_status_changed",
    "proposals",
    "A proposal moved on in its lifecycle without an official answer (under_review, "
    "in_progress, done; withdrawn by its author). Becoming accepted or rejected is "
    "proposal_answered instead.",
)
class ProposalStatusChanged(_ProposalRef):
    from_status = fields.String(required=True, validate=validate.OneOf(PROPOSAL_STATUSES))
    to_status = fields.String(required=True, validate=validate.OneOf(PROPOSAL_STATUSES))
    assigned_group_id = _maybe_id()


@contract(
    "proposal_answered",
    "proposals",
    "Staff accepted or rejected a proposal with an official answer: the status change "
    "and the answer in one event.",
)
class ProposalAnswered(_ProposalRef):
    from_status = fields.String(required=True, validate=validate.OneOf(PROPOSAL_STATUSES))
    to_status = fields.String(required=True, validate=validate.OneOf(["accepted", "rejected"]))
    answer = fields.String(required=True)
    answered_by = _id()
    assigned_group_id = _maybe_id()


@contract(
    "proposal_assigned",
    "proposals",
    "Staff assigned a proposal to a working group, which takes it on.",
)
class ProposalAssigned(_ProposalRef):
    group_id = _id()
    group_name = fields.String(required=True)
    previous_group_id = _maybe_id()


@contract("comment_added", "proposals", "Someone commented on a proposal.")
class CommentAdded(_ProposalRef):
    comment_id = _id()
    comment_author_id = _id()
    assigned_group_id = _maybe_id()


@contract(
    "proposal_reported",
    "proposals",
    "An account reported a proposal for review (the report that hides it is "
    "proposal_hidden instead).",
)
class ProposalReported(_ProposalRef):
    report_count = fields.Integer(required=True)


@contract(
    "proposal_hidden",
    "proposals",
    "Reports from enough different accounts hid a proposal until staff review it, or "
    "staff hid it while they review it (`hidden_by`).",
)
class ProposalHidden(_ProposalRef):
    report_count = fields.Integer(required=True)
    # Events written before staff could hide a proposal were all hidden by reports.
    hidden_by = fields.String(load_default="reports", validate=validate.OneOf(["reports", "staff"]))


@contract(
    "proposal_restored",
    "proposals",
    "Staff reviewed a hidden proposal and showed it again; its reports are cleared.",
)
class ProposalRestored(_ProposalRef):
    pass


@contract(
    "proposal_removed",
    "proposals",
    "Staff removed a proposal: hidden for good, its status unchanged.",
)
class ProposalRemoved(_ProposalRef):
    pass


class _CommentRef(_ProposalRef):
    comment_id = _id()
    comment_author_id = _maybe_id()  # null once the comment's author is erased


@contract(
    "comment_reported",
    "proposals",
    "An account reported a comment for review (the report that hides it is "
    "comment_hidden instead).",
)
class CommentReported(_CommentRef):
    report_count = fields.Integer(required=True)


@contract(
    "comment_hidden",
    "proposals",
    "Reports from enough different accounts hid a comment until staff review it, or "
    "staff hid it (`hidden_by`); residents are not shown it.",
)
class CommentHidden(_CommentRef):
    report_count = fields.Integer(required=True)
    hidden_by = fields.String(required=True, validate=validate.OneOf(["reports", "staff"]))


@contract(
    "comment_restored",
    "proposals",
    "Staff reviewed a hidden comment and showed it again; its reports are cleared.",
)
class CommentRestored(_CommentRef):
    pass


@contract(
    "proposal_merged",
    "proposals",
    "Staff merged a duplicate (proposal_id) into another proposal (into_id); its "
    "supports moved over.",
)
class ProposalMerged(_ProposalRef):
    into_id = _id()
    into_title = _title()
    into_author_id = _maybe_id()
    support_count = fields.Integer(required=True)


@contract(
    "project_registered",
    "proposals",
    "An admin of the lead group (or staff) registered a joint project; it starts planned.",
)
class ProjectRegistered(Schema):
    project_id = _id()
    title = _title()
    lead_group_id = _id()
    partner_group_ids = fields.List(fields.String(), required=True)
    origin_proposal_id = _maybe_id()
    origin_proposal_author_id = _maybe_id()
    created_by = _id()


@contract("project_partner_added", "proposals", "A group became a partner of a joint project.")
class ProjectPartnerAdded(Schema):
    project_id = _id()
    title = _title()
    group_id = _id()
    lead_group_id = _id()


@contract("project_status_changed", "proposals", "A joint project moved on in its lifecycle.")
class ProjectStatusChanged(Schema):
    project_id = _id()
    title = _title()
    from_status = fields.String(required=True, validate=validate.OneOf(PROJECT_STATUSES))
    to_status = fields.String(required=True, validate=validate.OneOf(PROJECT_STATUSES))
    lead_group_id = _id()
    partner_group_ids = fields.List(fields.String(), required=True)


# --- events -------------------------------------------------------------------------
# Every event about an event carries what notifications needs to tell people without
# asking the events service: the event's id, title, organiser group and start (UTC,
# ISO 8601 with offset), and the accounts concerned. Registrants are the accounts with a
# confirmed or waitlisted place.

EVENT_KINDS = ("town_hall", "clean_up_day", "training", "meeting", "workshop", "other")
REGISTRATION_STATUSES = ("confirmed", "waitlisted")


def _ids():
    return fields.List(fields.String(validate=validate.Length(min=1, max=64)), required=True)


def _when():
    return fields.AwareDateTime(required=True)


class _EventRef(Schema):
    event_id = _id()
    title = _title()
    organiser_group_id = _id()
    starts_at = _when()


@contract(
    "event_scheduled",
    "events",
    "An admin of the organiser group (or staff) scheduled an event; the group's "
    "members may be told.",
)
class EventScheduled(_EventRef):
    kind = fields.String(required=True, validate=validate.OneOf(EVENT_KINDS))
    ends_at = _when()
    location = fields.String(required=True)
    capacity = fields.Integer(required=True, allow_none=True)
    proposal_id = _maybe_id()
    project_id = _maybe_id()
    created_by = _id()


@contract(
    "event_changed",
    "events",
    "An event was changed; `changed` names the fields. When the time or place "
    "changed (starts_at, ends_at, location, online_url), its registrants are told.",
)
class EventChanged(_EventRef):
    ends_at = _when()
    location = fields.String(required=True)
    changed = fields.List(fields.String(), required=True)
    previous_starts_at = _when()
    previous_location = fields.String(required=True)
    registrant_ids = _ids()


@contract(
    "event_cancelled",
    "events",
    "An event was cancelled; every registrant (confirmed or waitlisted) is told.",
)
class EventCancelled(_EventRef):
    reason = fields.String(required=True)
    registrant_ids = _ids()


@contract("event_completed", "events", "An event's end has passed (it was not cancelled).")
class EventCompleted(_EventRef):
    ends_at = _when()
    attendance_count = fields.Integer(required=True)


@contract("registration_confirmed", "events", "An account got a place at an event.")
class RegistrationConfirmed(_EventRef):
    account_id = _id()
    registration_version = entity_version()


@contract(
    "registration_waitlisted",
    "events",
    "An event was full: the account is on its waiting list at `position`.",
)
class RegistrationWaitlisted(_EventRef):
    account_id = _id()
    position = fields.Integer(required=True, validate=validate.Range(min=1))
    registration_version = entity_version()


@contract(
    "registration_cancelled",
    "events",
    "An account gave up its place (`was` confirmed) or left the waiting list.",
)
class RegistrationCancelled(_EventRef):
    account_id = _id()
    was = fields.String(required=True, validate=validate.OneOf(REGISTRATION_STATUSES))
    registration_version = entity_version()


@contract(
    "waitlist_promoted",
    "events",
    "A place came free (or the capacity grew): the account moved from the waiting "
    "list to a confirmed place.",
)
class WaitlistPromoted(_EventRef):
    account_id = _id()
    registration_version = entity_version()


@contract("attendee_checked_in", "events", "The organiser checked an attendee in.")
class AttendeeCheckedIn(_EventRef):
    account_id = _id()
    attendance_count = fields.Integer(required=True)


@contract("agenda_published", "events", "The organiser published (or revised) an event's agenda.")
class AgendaPublished(_EventRef):
    revised = fields.Boolean(required=True)
    registrant_ids = _ids()


@contract(
    "minutes_published",
    "events",
    "The organiser published (or revised) the minutes of an event that took place.",
)
class MinutesPublished(_EventRef):
    revised = fields.Boolean(required=True)
    registrant_ids = _ids()
    attendee_ids = _ids()


@contract(
    "event_reminder_due",
    "events",
    "An event starts within 24 hours: each confirmed registrant (`account_ids`) is "
    "due a reminder. Published once per event, even with several events-service "
    "instances running.",
)
class EventReminderDue(_EventRef):
    ends_at = _when()
    location = fields.String(required=True)
    account_ids = _ids()


# --- openings -----------------------------------------------------------------------
# Openings posted by verified businesses for returnees. Every event about an opening
# carries its id, title and business group, so notifications can word and link a
# message without asking. What residents wrote (profiles, interest messages) stays in
# the openings service: events name accounts, never their words.

SECTORS = (
    "tourism",
    "forestry",
    "energy",
    "health_care",
    "education",
    "public_sector",
    "construction",
    "it",
    "culture",
    "retail",
    "other",
)
EMPLOYMENT_TYPES = ("full_time", "part_time", "seasonal", "summer_job", "internship")
OPENING_STATUSES = ("open", "closed", "expired")
OPENING_MATCH_BATCH_MAX = 500


class _OpeningRef(Schema):
    opening_id = _id()
    title = fields.String(required=True, validate=validate.Length(min=1, max=150))
    business_group_id = _id()


@contract(
    "opening_posted",
    "openings",
    "An admin of a verified business posted an opening; it is open until closed or "
    "past its apply-by date (a date in the town's time zone).",
)
class OpeningPosted(_OpeningRef):
    business_name = fields.String(required=True)
    sector = fields.String(required=True, validate=validate.OneOf(SECTORS))
    employment_type = fields.String(required=True, validate=validate.OneOf(EMPLOYMENT_TYPES))
    apply_by = fields.Date(required=True)
    created_by = _id()


@contract(
    "opening_closed",
    "openings",
    "An admin of the business closed an opening before its apply-by date.",
)
class OpeningClosed(_OpeningRef):
    pass


@contract(
    "opening_expired",
    "openings",
    "An opening's apply-by date passed while it was open. Published once per "
    "opening, even with several openings-service instances running.",
)
class OpeningExpired(_OpeningRef):
    apply_by = fields.Date(required=True)


@contract(
    "opening_matched",
    "openings",
    "Returnees whose profile matches an open opening (its sector and employment "
    "type, and available by its start date): at most 500 accounts per event, "
    "several events for a popular opening; one account when a saved profile "
    "matched an opening already open. Each account is named once per opening.",
)
class OpeningMatched(_OpeningRef):
    account_ids = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        required=True,
        validate=validate.Length(min=1, max=OPENING_MATCH_BATCH_MAX),
    )


@contract(
    "interest_registered",
    "openings",
    "A resident expressed interest in an opening; the business's admins "
    "(`admin_ids`, as the openings service knows them) are to be told.",
)
class InterestRegistered(_OpeningRef):
    account_id = _id()
    admin_ids = fields.List(fields.String(validate=validate.Length(min=1, max=64)), required=True)


# --- volunteers ---------------------------------------------------------------------
# Volunteer profiles and invitations (groups) and the volunteer roles of events (events).
# A profile's event carries only what notifications matches on (whether the volunteer
# may be contacted, interests, skill keys): never the free text, never availability.
# Invitations carry ids and the target's title, never the inviter's message.

VOLUNTEER_AVAILABILITY = ("weekdays", "evenings", "weekends")
VOLUNTEER_SEASONS = ("spring", "summer", "autumn", "winter")
# A volunteer's interests are the proposal categories (services.proposals.api.CATEGORIES).
VOLUNTEER_INTERESTS = (
    "environment",
    "leisure",
    "culture",
    "business",
    "infrastructure",
    "housing",
    "other",
)
INVITATION_TARGET_TYPES = ("group", "event", "project")
INVITATION_ANSWERS = ("accepted", "declined")
SKILL_KEY_MAX = 40


@contract(
    "volunteer_profile_saved",
    "groups",
    "A resident created or changed their volunteer profile. `version` goes up with "
    "every change of the account's profile (read models apply the newest).",
)
class VolunteerProfileSaved(Schema):
    account_id = _id()
    contact_ok = fields.Boolean(required=True)
    interests = fields.List(
        fields.String(validate=validate.OneOf(VOLUNTEER_INTERESTS)), required=True
    )
    skills = fields.List(
        fields.String(validate=validate.Length(min=1, max=SKILL_KEY_MAX)), required=True
    )
    version = entity_version()


@contract(
    "volunteer_profile_removed",
    "groups",
    "A resident removed their volunteer profile (or the account was erased).",
)
class VolunteerProfileRemoved(Schema):
    account_id = _id()
    version = entity_version()


class _InvitationRef(Schema):
    invitation_id = _id()
    volunteer_id = _id()
    invited_by = _id()
    group_id = _id()
    target_type = fields.String(required=True, validate=validate.OneOf(INVITATION_TARGET_TYPES))
    target_id = _id()
    target_title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role_id = _maybe_id()


@contract(
    "volunteer_invited",
    "groups",
    "An admin of a group (or staff) invited a volunteer who agreed to be contacted to "
    "the group itself, an event it organises or a joint project it leads (with an "
    "event's volunteer role, `role_id`). The volunteer is to be told.",
)
class VolunteerInvited(_InvitationRef):
    pass


@contract(
    "volunteer_invitation_answered",
    "groups",
    "A volunteer accepted or declined an invitation. Accepting a group's invitation "
    "made them a member already (member_joined); accepting an event's with a role asks "
    "the events service to give them the role if a place is left.",
)
class VolunteerInvitationAnswered(_InvitationRef):
    answer = fields.String(required=True, validate=validate.OneOf(INVITATION_ANSWERS))


class _RoleRef(Schema):
    event_id = _id()
    title = _title()
    role_id = _id()
    role_name = fields.String(required=True, validate=validate.Length(min=1, max=60))
    account_id = _id()
    organiser_group_id = _id()


@contract(
    "volunteer_role_filled",
    "events",
    "An account took a place in an event's volunteer role (it offered, or accepted an "
    "invitation with the role).",
)
class VolunteerRoleFilled(_RoleRef):
    pass


@contract("volunteer_role_left", "events", "An account withdrew its offer for a volunteer role.")
class VolunteerRoleLeft(_RoleRef):
    pass


# --- notifications ------------------------------------------------------------------
# Published once per source event (however many inboxes it reached) and once per email
# given up on: no recipient lists and no addresses, only ids and counts.


@contract(
    "notification_delivered",
    "notifications",
    "The notifications of one event reached their recipients' inboxes: one event "
    "per source event, with how many were told.",
)
class NotificationDelivered(Schema):
    source_event_id = _id()
    source_event_type = fields.String(required=True, validate=validate.Length(min=1, max=100))
    kinds = fields.List(fields.String(), required=True)
    recipient_count = fields.Integer(required=True, validate=validate.Range(min=1))


@contract(
    "email_failed",
    "notifications",
    "An email (one notification, a digest, or an address confirmation) could not "
    "be sent after its last attempt; it stays in the email queue, marked failed.",
)
class EmailFailed(Schema):
    email_id = _id()
    account_id = _id()
    kind = fields.String(
        required=True, validate=validate.OneOf(["notification", "digest", "confirmation"])
    )
    attempts = fields.Integer(required=True)
    reason = fields.String(required=True, validate=validate.Length(max=200))


# --- consultations ------------------------------------------------------------------
# Consultations staff put to the town (issue 16). Events say what happened to a
# consultation and how many answered — never who answered nor what they wrote: an
# answer's event names no account, and for an anonymous consultation its envelope names
# no actor either.

# The proposal categories (services/proposals/api.py CATEGORIES; a unit test keeps
# them equal): whom a consultation concerns.
CONSULTATION_CATEGORIES = (
    "environment",
    "leisure",
    "culture",
    "business",
    "infrastructure",
    "housing",
    "other",
)
CONSULTATION_STATUSES = ("draft", "scheduled", "open", "closed", "results_published")
CONSULTATION_CHANNELS = ("online", "interview", "town_hall")


class _ConsultationRef(Schema):
    consultation_id = _id()
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))


def _categories():
    return fields.List(
        fields.String(validate=validate.OneOf(CONSULTATION_CATEGORIES)), required=True
    )


@contract(
    "consultation_opened",
    "consultations",
    "A consultation opened for answers (when staff published it, or at its opening "
    "moment, by the timer): published once per consultation, whatever the number of "
    "consultations-service instances.",
)
class ConsultationOpened(_ConsultationRef):
    categories = _categories()
    closes_at = fields.AwareDateTime(required=True)


@contract(
    "consultation_closed",
    "consultations",
    "A consultation stopped taking answers (at its closing moment, by the timer, or "
    "early by staff); published once per consultation.",
)
class ConsultationClosed(_ConsultationRef):
    answer_count = fields.Integer(required=True, validate=validate.Range(min=0))


@contract(
    "consultation_results_published",
    "consultations",
    "Staff published a closed consultation's results (after moderating its free texts).",
)
class ConsultationResultsPublished(_ConsultationRef):
    categories = _categories()


@contract(
    "consultation_answered",
    "consultations",
    "One more answer to a consultation (online, or entered by staff from an interview "
    "or a town-hall meeting): no account id, and for an anonymous consultation the "
    "envelope's actor_id is null.",
)
class ConsultationAnswered(Schema):
    consultation_id = _id()
    channel = fields.String(required=True, validate=validate.OneOf(CONSULTATION_CHANNELS))
    answer_count = fields.Integer(required=True, validate=validate.Range(min=1))
