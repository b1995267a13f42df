"""Who is told what: one table of rules instead of one handler per case.

Each `Rule` says, for one event type: who is told (audiences, resolved from the event's
data, the follows and this service's read models — never by asking another service),
the kind of notification (what an account can mute), how it reads in Swedish and
English, and what it links to. An event may have several rules (e.g. a proposal's
author and the members of the group it was assigned to read different words); a
recipient gets one notification per event, from the first rule that names them. The
account that acted is never told of its own action (see domain.py).

Templates are `str.format` templates over the event's data plus a few derived values
(see `context`): `<field>_name` for each group id field (from the groups read model),
`status` (the new status, worded), `starts` and `closes` (the start, the closing, in the
town's time zone).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from string import Formatter
from zoneinfo import ZoneInfo

from civic.clock import iso
from services.notifications.api import KINDS, LOCALES, PROGRAMME_ID

TEXT_MAX = 500


# --- audiences ------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """The account (or accounts) whose id is in a data field."""

    field: str


@dataclass(frozen=True)
class Followers:
    """Accounts following the target(s) whose id is in a data field."""

    target_type: str
    field: str


@dataclass(frozen=True)
class GroupAdmins:
    """Admins of the group(s) whose id is in a data field (memberships read model)."""

    field: str


@dataclass(frozen=True)
class Registrants:
    """Confirmed and waitlisted accounts of the event whose id is in a data field
    (registrations read model)."""

    field: str


@dataclass(frozen=True)
class ProgrammeFollowers:
    """Accounts following the programme (the one target `programme`, api.PROGRAMME_ID),
    for an event about something of the programme whose id is in a data field (an event
    without it tells them nothing)."""

    field: str
    target_type: str = "programme"
    target_id: str = PROGRAMME_ID


@dataclass(frozen=True)
class Interested:
    """Accounts whose volunteer profile names one of the proposal categories in a data
    field among its interests (volunteers' interests read model). Every profile counts,
    whether or not it may be contacted: the interests are the resident's own choice of
    news, and the kind can be muted."""

    field: str


# --- rules ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Words:
    sv: str
    en: str

    def get(self, locale: str) -> str:
        return getattr(self, locale)


@dataclass(frozen=True)
class Rule:
    event_type: str
    kind: str
    tell: tuple
    title: Words
    body: Words
    link: str  # a path of the web UI, a template
    target: tuple[str, str]  # (target type, data field with its id)
    when: Callable[[dict], bool] | None = field(default=None, compare=False)
    # The actor is never told of their own action — except where the event is news to
    # them although they caused it (a profile they saved matched an open opening).
    tells_actor: bool = False
    # Data fields naming accounts that did what the event tells (whoever the envelope
    # names as actor, e.g. none when another service acted for them): never told.
    not_told: tuple[str, ...] = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"{self.kind!r} is not one of the kinds in api.KINDS")

    def applies(self, data: dict) -> bool:
        return self.when is None or bool(self.when(data))


TIME_OR_PLACE = {"starts_at", "ends_at", "location", "online_url"}


def _time_or_place_changed(data: dict) -> bool:
    return bool(TIME_OR_PLACE & set(data.get("changed") or ()))


GROUP = "/groups/{group_id}"
PROPOSAL = "/proposals/{proposal_id}"
PROJECT = "/projects/{project_id}"
EVENT = "/events/{event_id}"
OPENING = "/openings/{opening_id}"
CONSULTATION = "/consultations/{consultation_id}"
PROPOSAL_PEOPLE = (Account("author_id"), Followers("proposal", "proposal_id"))
EVENT_PEOPLE = (Account("registrant_ids"), Registrants("event_id"), Followers("event", "event_id"))
# Whom a consultation concerns: the programme's followers and the residents interested
# in one of its categories.
CONSULTATION_PEOPLE = (ProgrammeFollowers("consultation_id"), Interested("categories"))
INVITATION = ("invitation", "invitation_id")


def _outcome(data: dict) -> str:
    """What an answer to a volunteer invitation came to: `declined`; or accepted — to a
    `group` (a member at once), to an event's `role` (the volunteer gets it if a place
    is left), or `accepted` (an event without a role, a joint project)."""
    if data.get("answer") != "accepted":
        return "declined"
    if data.get("target_type") == "group":
        return "group"
    if data.get("target_type") == "event" and data.get("role_id"):
        return "role"
    return "accepted"


def _answered(outcome: str) -> Callable[[dict], bool]:
    return lambda data: _outcome(data) == outcome


RULES: tuple[Rule, ...] = (
    # --- groups ---
    Rule(
        "join_requested",
        "join_requested",
        (GroupAdmins("group_id"), Account("admin_ids")),
        Words("Ny ansökan om medlemskap i {group_name}", "New request to join {group_name}"),
        Words(
            "Någon vill gå med i {group_name}. Godkänn eller avböj på gruppens sida.",
            "Someone asked to join {group_name}. Approve or decline on the group's page.",
        ),
        GROUP,
        ("group", "group_id"),
    ),
    Rule(
        "member_joined",
        "member_joined",
        (Account("account_id"),),
        Words("Du är nu medlem i {group_name}", "You are now a member of {group_name}"),
        Words("Välkommen till {group_name}!", "Welcome to {group_name}!"),
        GROUP,
        ("group", "group_id"),
        # An admin who joins is the group's creator (told nothing of their own act) or
        # one staff appointed, who reads admin_appointed's words instead.
        when=lambda data: data.get("role") != "admin",
    ),
    Rule(
        "admin_appointed",
        "admin_appointed",
        (Account("account_id"),),
        Words("Du är nu administratör för {group_name}", "You are now an admin of {group_name}"),
        Words(
            "Den sista administratören har lämnat {group_name}. Som den medlem som "
            "varit med längst är du nu administratör: du godkänner nya medlemmar och "
            "företräder gruppen.",
            "The last admin has left {group_name}. As its longest-standing member you "
            "are now its admin: you approve new members and act for the group.",
        ),
        GROUP,
        ("group", "group_id"),
        when=lambda data: data.get("reason") == "handover",
    ),
    Rule(
        "admin_appointed",
        "admin_appointed",
        (Account("account_id"),),
        Words("Du är nu administratör för {group_name}", "You are now an admin of {group_name}"),
        Words(
            "Personalen har utsett dig till administratör för {group_name}: du "
            "godkänner nya medlemmar och företräder gruppen.",
            "Staff appointed you admin of {group_name}: you approve new members and "
            "act for the group.",
        ),
        GROUP,
        ("group", "group_id"),
        when=lambda data: data.get("reason") != "handover",
    ),
    Rule(
        "member_left",
        "member_removed",
        (Account("account_id"),),
        Words(
            "Du är inte längre medlem i {group_name}", "You are no longer a member of {group_name}"
        ),
        Words(
            "En administratör har tagit bort dig ur {group_name}.",
            "An admin removed you from {group_name}.",
        ),
        GROUP,
        ("group", "group_id"),
    ),
    Rule(
        "group_verified",
        "group_verified",
        (GroupAdmins("group_id"),),
        Words("{group_name} är nu verifierad", "{group_name} is now verified"),
        Words("Personalen har verifierat {group_name}.", "Staff verified {group_name}."),
        GROUP,
        ("group", "group_id"),
    ),
    Rule(
        "group_verification_refused",
        "group_verified",
        (GroupAdmins("group_id"),),
        Words("{group_name} har inte verifierats", "{group_name} was not verified"),
        Words(
            "Personalen har inte verifierat {group_name}. Skäl: {reason}",
            "Staff did not verify {group_name}. Reason: {reason}",
        ),
        GROUP,
        ("group", "group_id"),
    ),
    Rule(
        "group_joined_network",
        "network_joined",
        (GroupAdmins("network_id"),),
        Words("{group_name} har gått med i {network_name}", "{group_name} joined {network_name}"),
        Words(
            "{group_name} är nu med i ert nätverk {network_name}.",
            "{group_name} is now part of your network {network_name}.",
        ),
        "/groups/{network_id}",
        ("group", "network_id"),
    ),
    # --- proposals ---
    # A receipt for what one filed online (the trace of a submission ends in this email);
    # a visitor at the drop-in desk or a town-hall meeting gets a printed one instead.
    Rule(
        "proposal_submitted",
        "proposal_received",
        (Account("author_id"),),
        Words("Vi har tagit emot ditt förslag ”{title}”", "We received your proposal “{title}”"),
        Words(
            "Tack! Du får besked här när personalen har granskat det.",
            "Thank you! You will be told here when staff have reviewed it.",
        ),
        PROPOSAL,
        ("proposal", "proposal_id"),
        when=lambda data: data["channel"] == "online",
        tells_actor=True,
    ),
    Rule(
        "proposal_status_changed",
        "proposal_status_changed",
        PROPOSAL_PEOPLE,
        Words("Nytt läge för förslaget ”{title}”", "Update on the proposal “{title}”"),
        Words("Förslaget har nu status: {status}.", "The proposal is now: {status}."),
        PROPOSAL,
        ("proposal", "proposal_id"),
    ),
    Rule(
        "proposal_answered",
        "proposal_answered",
        PROPOSAL_PEOPLE,
        Words("Förslaget ”{title}” har besvarats", "The proposal “{title}” was answered"),
        Words("Status: {status}. Svar: {answer}", "Status: {status}. Answer: {answer}"),
        PROPOSAL,
        ("proposal", "proposal_id"),
    ),
    Rule(
        "proposal_assigned",
        "proposal_assigned",
        PROPOSAL_PEOPLE,
        Words(
            "Förslaget ”{title}” har tilldelats {group_name}",
            "The proposal “{title}” was assigned to {group_name}",
        ),
        Words(
            "Arbetsgruppen {group_name} tar sig an förslaget.",
            "The working group {group_name} takes it on.",
        ),
        PROPOSAL,
        ("proposal", "proposal_id"),
    ),
    Rule(
        "proposal_assigned",
        "group_proposal_assigned",
        (Followers("group", "group_id"),),
        Words("{group_name} har fått ett förslag", "{group_name} has taken on a proposal"),
        Words(
            "Förslaget ”{title}” har tilldelats gruppen.",
            "The proposal “{title}” was assigned to the group.",
        ),
        PROPOSAL,
        ("proposal", "proposal_id"),
    ),
    Rule(
        "comment_added",
        "comment_added",
        PROPOSAL_PEOPLE,
        Words("Ny kommentar på ”{title}”", "New comment on “{title}”"),
        Words("Någon har kommenterat förslaget.", "Someone commented on the proposal."),
        PROPOSAL,
        ("proposal", "proposal_id"),
    ),
    Rule(
        "proposal_supported",
        "proposal_supported",
        (Account("author_id"),),
        Words(
            "Ditt förslag ”{title}” har fått stöd", "Your proposal “{title}” has a new supporter"
        ),
        Words("Förslaget har nu {support_count} stöd.", "It now has {support_count} supporters."),
        PROPOSAL,
        ("proposal", "proposal_id"),
    ),
    Rule(
        "proposal_hidden",
        "proposal_moderated",
        (Account("author_id"),),
        Words(
            "Ditt förslag ”{title}” är dolt i väntan på granskning",
            "Your proposal “{title}” is hidden pending review",
        ),
        Words(
            "Flera har anmält förslaget. Personalen granskar det.",
            "Several people reported it; staff will review it.",
        ),
        PROPOSAL,
        ("proposal", "proposal_id"),
        when=lambda data: data.get("hidden_by", "reports") == "reports",
    ),
    Rule(
        "proposal_hidden",
        "proposal_moderated",
        (Account("author_id"),),
        Words(
            "Ditt förslag ”{title}” är dolt i väntan på granskning",
            "Your proposal “{title}” is hidden pending review",
        ),
        Words(
            "Personalen har dolt förslaget medan de granskar det.",
            "Staff have hidden it while they review it.",
        ),
        PROPOSAL,
        ("proposal", "proposal_id"),
        when=lambda data: data.get("hidden_by") == "staff",
    ),
    Rule(
        "proposal_restored",
        "proposal_moderated",
        (Account("author_id"),),
        Words("Ditt förslag ”{title}” visas igen", "Your proposal “{title}” is shown again"),
        Words(
            "Personalen har granskat förslaget och visar det igen.",
            "Staff reviewed it and show it again.",
        ),
        PROPOSAL,
        ("proposal", "proposal_id"),
    ),
    Rule(
        "proposal_removed",
        "proposal_moderated",
        (Account("author_id"),),
        Words("Ditt förslag ”{title}” har tagits bort", "Your proposal “{title}” was removed"),
        Words(
            "Personalen har granskat förslaget och tagit bort det.",
            "Staff reviewed it and removed it.",
        ),
        PROPOSAL,
        ("proposal", "proposal_id"),
    ),
    Rule(
        "comment_hidden",
        "comment_moderated",
        (Account("comment_author_id"),),
        Words(
            "Din kommentar på ”{title}” är dold i väntan på granskning",
            "Your comment on “{title}” is hidden pending review",
        ),
        Words(
            "Flera har anmält kommentaren. Personalen granskar den.",
            "Several people reported it; staff will review it.",
        ),
        PROPOSAL,
        ("proposal", "proposal_id"),
        when=lambda data: data.get("hidden_by") == "reports",
    ),
    Rule(
        "comment_hidden",
        "comment_moderated",
        (Account("comment_author_id"),),
        Words(
            "Din kommentar på ”{title}” har dolts",
            "Your comment on “{title}” was hidden",
        ),
        Words(
            "Personalen har granskat kommentaren och dolt den.",
            "Staff reviewed it and hid it.",
        ),
        PROPOSAL,
        ("proposal", "proposal_id"),
        when=lambda data: data.get("hidden_by") == "staff",
    ),
    Rule(
        "comment_restored",
        "comment_moderated",
        (Account("comment_author_id"),),
        Words(
            "Din kommentar på ”{title}” visas igen",
            "Your comment on “{title}” is shown again",
        ),
        Words(
            "Personalen har granskat kommentaren och visar den igen.",
            "Staff reviewed it and show it again.",
        ),
        PROPOSAL,
        ("proposal", "proposal_id"),
    ),
    Rule(
        "proposal_merged",
        "proposal_merged",
        PROPOSAL_PEOPLE,
        Words(
            "”{title}” har slagits ihop med ”{into_title}”",
            "“{title}” was merged into “{into_title}”",
        ),
        Words(
            "Förslaget var en dubblett; stödet har flyttats över.",
            "It duplicated another proposal; its supports moved over.",
        ),
        "/proposals/{into_id}",
        ("proposal", "into_id"),
    ),
    # --- joint projects ---
    Rule(
        "project_registered",
        "project_from_proposal",
        (Account("origin_proposal_author_id"), Followers("proposal", "origin_proposal_id")),
        Words(
            "Ett projekt har startats utifrån ett förslag du följer",
            "A project was started from a proposal you follow",
        ),
        Words(
            "Det gemensamma projektet ”{title}” leds av {lead_group_name}.",
            "The joint project “{title}” is led by {lead_group_name}.",
        ),
        PROJECT,
        ("project", "project_id"),
    ),
    Rule(
        "project_registered",
        "group_project",
        (Followers("group", "lead_group_id"), Followers("group", "partner_group_ids")),
        Words("Nytt gemensamt projekt: ”{title}”", "New joint project: “{title}”"),
        Words("{lead_group_name} leder projektet.", "{lead_group_name} leads the project."),
        PROJECT,
        ("project", "project_id"),
    ),
    Rule(
        "project_partner_added",
        "group_project",
        (Followers("group", "group_id"),),
        Words(
            "{group_name} är nu partner i ”{title}”", "{group_name} is now a partner in “{title}”"
        ),
        Words("Projektet leds av {lead_group_name}.", "The project is led by {lead_group_name}."),
        PROJECT,
        ("project", "project_id"),
    ),
    Rule(
        "project_status_changed",
        "project_status_changed",
        (
            Followers("project", "project_id"),
            Followers("group", "lead_group_id"),
            Followers("group", "partner_group_ids"),
        ),
        Words("Nytt läge för projektet ”{title}”", "Update on the project “{title}”"),
        Words("Projektet har nu status: {status}.", "The project is now: {status}."),
        PROJECT,
        ("project", "project_id"),
    ),
    # --- events ---
    Rule(
        "event_scheduled",
        "event_scheduled",
        (
            Followers("group", "organiser_group_id"),
            Followers("project", "project_id"),
            Followers("proposal", "proposal_id"),
        ),
        Words("Nytt evenemang: ”{title}”", "New event: “{title}”"),
        Words(
            "{organiser_group_name} bjuder in {starts}, {location}.",
            "{organiser_group_name} invites you on {starts}, {location}.",
        ),
        EVENT,
        ("event", "event_id"),
    ),
    Rule(
        "event_changed",
        "event_changed",
        EVENT_PEOPLE,
        Words("”{title}” har ändrats", "“{title}” has changed"),
        Words("Ny tid och plats: {starts}, {location}.", "Now: {starts}, {location}."),
        EVENT,
        ("event", "event_id"),
        when=_time_or_place_changed,
    ),
    Rule(
        "event_cancelled",
        "event_cancelled",
        EVENT_PEOPLE,
        Words("”{title}” är inställt", "“{title}” is cancelled"),
        Words(
            "Evenemanget {starts} är inställt. {reason}",
            "The event on {starts} is cancelled. {reason}",
        ),
        EVENT,
        ("event", "event_id"),
    ),
    Rule(
        "waitlist_promoted",
        "waitlist_promoted",
        (Account("account_id"),),
        Words("Du har fått en plats på ”{title}”", "You got a place at “{title}”"),
        Words(
            "En plats blev ledig: du är nu anmäld till {starts}.",
            "A place came free: you are now registered for {starts}.",
        ),
        EVENT,
        ("event", "event_id"),
    ),
    Rule(
        "event_reminder_due",
        "event_reminder",
        (Account("account_ids"),),
        Words("Påminnelse: ”{title}” börjar {starts}", "Reminder: “{title}” starts {starts}"),
        Words("Plats: {location}.", "Place: {location}."),
        EVENT,
        ("event", "event_id"),
    ),
    Rule(
        "agenda_published",
        "agenda_published",
        (Account("registrant_ids"), Followers("event", "event_id")),
        Words("Dagordningen för ”{title}” är publicerad", "The agenda for “{title}” is published"),
        Words("Läs den före mötet {starts}.", "Read it before the meeting on {starts}."),
        EVENT,
        ("event", "event_id"),
    ),
    Rule(
        "minutes_published",
        "minutes_published",
        (Account("registrant_ids"), Account("attendee_ids"), Followers("event", "event_id")),
        Words("Protokollet från ”{title}” är publicerat", "The minutes of “{title}” are published"),
        Words("Läs vad som sades och beslutades.", "Read what was said and decided."),
        EVENT,
        ("event", "event_id"),
    ),
    # --- openings for returnees ---
    Rule(
        "opening_matched",
        "opening_matched",
        (Account("account_ids"),),
        Words(
            "Ett jobb som passar dig: ”{title}”", "An opening that matches your profile: “{title}”"
        ),
        Words(
            "{business_group_name} söker folk som du.",
            "{business_group_name} is looking for people like you.",
        ),
        OPENING,
        ("opening", "opening_id"),
        tells_actor=True,
    ),
    Rule(
        "interest_registered",
        "interest_registered",
        (Account("admin_ids"), GroupAdmins("business_group_id")),
        Words("Någon är intresserad av ”{title}”", "Someone is interested in “{title}”"),
        Words(
            "En återvändare har visat intresse för er annons.",
            "A returnee expressed interest in your opening.",
        ),
        OPENING,
        ("opening", "opening_id"),
    ),
    Rule(
        "opening_posted",
        "group_opening",
        (Followers("group", "business_group_id"),),
        Words(
            "Nytt jobb hos {business_name}: ”{title}”", "New opening at {business_name}: “{title}”"
        ),
        Words("Sök senast {apply_by}.", "Apply by {apply_by}."),
        OPENING,
        ("opening", "opening_id"),
    ),
    # --- volunteers ---
    Rule(
        "volunteer_invited",
        "volunteer_invited",
        (Account("volunteer_id"),),
        Words(
            "Ställer du upp? {group_name} bjuder in dig till ”{target_title}”",
            "Will you help? {group_name} invites you to “{target_title}”",
        ),
        Words(
            "Svara ja eller nej bland dina inbjudningar under Ställer du upp?",
            "Accept or decline it among your invitations under Will you help?",
        ),
        "/volunteer",
        INVITATION,
    ),
    Rule(
        "volunteer_invitation_answered",
        "volunteer_invitation_answered",
        (Account("invited_by"), GroupAdmins("group_id")),
        Words(
            "En volontär har tackat ja till ”{target_title}”",
            "A volunteer said yes to “{target_title}”",
        ),
        Words(
            "Inbjudan från {group_name} har accepterats: volontären är nu medlem i gruppen.",
            "The invitation from {group_name} was accepted: the volunteer is now a member.",
        ),
        "/groups/{group_id}",
        INVITATION,
        when=_answered("group"),
        not_told=("volunteer_id",),
    ),
    Rule(
        "volunteer_invitation_answered",
        "volunteer_invitation_answered",
        (Account("invited_by"), GroupAdmins("group_id")),
        Words(
            "En volontär har tackat ja till ”{target_title}”",
            "A volunteer said yes to “{target_title}”",
        ),
        Words(
            "Inbjudan från {group_name} har accepterats. Volontären får rollen om det "
            "finns en plats kvar i den.",
            "The invitation from {group_name} was accepted. The volunteer gets the role "
            "if a place in it is left.",
        ),
        "/events/{target_id}",
        INVITATION,
        when=_answered("role"),
        not_told=("volunteer_id",),
    ),
    Rule(
        "volunteer_invitation_answered",
        "volunteer_invitation_answered",
        (Account("invited_by"), GroupAdmins("group_id")),
        Words(
            "En volontär har tackat ja till ”{target_title}”",
            "A volunteer said yes to “{target_title}”",
        ),
        Words(
            "Inbjudan från {group_name} har accepterats.",
            "The invitation from {group_name} was accepted.",
        ),
        "/{target_type}s/{target_id}",
        INVITATION,
        when=_answered("accepted"),
        not_told=("volunteer_id",),
    ),
    Rule(
        "volunteer_invitation_answered",
        "volunteer_invitation_answered",
        (Account("invited_by"), GroupAdmins("group_id")),
        Words(
            "En volontär har tackat nej till ”{target_title}”",
            "A volunteer said no to “{target_title}”",
        ),
        Words(
            "Inbjudan från {group_name} har avböjts. Sök gärna efter fler volontärer.",
            "The invitation from {group_name} was declined. You can look for other volunteers.",
        ),
        "/volunteers",
        INVITATION,
        when=_answered("declined"),
        not_told=("volunteer_id",),
    ),
    Rule(
        "volunteer_role_filled",
        "volunteer_role_filled",
        (GroupAdmins("organiser_group_id"),),
        Words(
            "En volontär ställer upp som {role_name} på ”{title}”",
            "A volunteer signed up as {role_name} for “{title}”",
        ),
        Words(
            "Se vilka som hjälper till på evenemangets sida.",
            "See who is helping on the event's page.",
        ),
        EVENT,
        ("event", "event_id"),
        not_told=("account_id",),
    ),
    # --- consultations ---
    Rule(
        "consultation_opened",
        "consultation_opened",
        CONSULTATION_PEOPLE,
        Words("Säg din mening: ”{title}”", "Have your say: “{title}”"),
        Words(
            "En ny konsultation är öppen för svar till {closes}.",
            "A new consultation is open for answers until {closes}.",
        ),
        CONSULTATION,
        ("consultation", "consultation_id"),
    ),
    Rule(
        "consultation_results_published",
        "consultation_results_published",
        (*CONSULTATION_PEOPLE, Followers("consultation", "consultation_id")),
        Words(
            "Resultatet av ”{title}” är publicerat",
            "The results of “{title}” are published",
        ),
        Words(
            "Se vad invånarna svarade i konsultationen.",
            "See what residents answered in the consultation.",
        ),
        CONSULTATION,
        ("consultation", "consultation_id"),
    ),
)


def rules_for(event_type: str) -> list[Rule]:
    return [rule for rule in RULES if rule.event_type == event_type]


# --- words ----------------------------------------------------------------------------

STATUS_WORDS = {
    "sv": {
        "submitted": "inlämnat",
        "under_review": "under behandling",
        "accepted": "antaget",
        "rejected": "avslaget",
        "in_progress": "påbörjat",
        "done": "genomfört",
        "withdrawn": "återtaget",
        "planned": "planerat",
        "active": "pågår",
        "completed": "avslutat",
        "cancelled": "inställt",
    },
    "en": {
        "submitted": "submitted",
        "under_review": "under review",
        "accepted": "accepted",
        "rejected": "rejected",
        "in_progress": "in progress",
        "done": "done",
        "withdrawn": "withdrawn",
        "planned": "planned",
        "active": "active",
        "completed": "completed",
        "cancelled": "cancelled",
    },
}
UNKNOWN_GROUP = {"sv": "gruppen", "en": "the group"}
MONTHS_SV = (
    "jan.",
    "feb.",
    "mars",
    "apr.",
    "maj",
    "juni",
    "juli",
    "aug.",
    "sep.",
    "okt.",
    "nov.",
    "dec.",
)


def format_time(value: datetime, locale: str, tz: ZoneInfo) -> str:
    local = value.astimezone(tz)
    if locale == "sv":
        return f"{local.day} {MONTHS_SV[local.month - 1]} {local.year} kl. {local:%H:%M}"
    return f"{local.day} {local:%b} {local.year}, {local:%H:%M}"


def _shorten(value):
    if isinstance(value, str) and len(value) > TEXT_MAX:
        return value[: TEXT_MAX - 1] + "…"
    return value


def context(data: dict, locale: str, group_names: dict[str, str], tz: ZoneInfo) -> dict:
    """What a template may use: the data, group names, the status and start worded."""
    values = {key: _shorten(value) for key, value in data.items()}
    for key, value in data.items():
        if key.endswith("group_id") or key == "network_id":
            name_key = key[:-3] + "_name"
            if name_key not in values:
                values[name_key] = (
                    group_names.get(value) if isinstance(value, str) else None
                ) or UNKNOWN_GROUP[locale]
    status = data.get("to_status")
    if status:
        values["status"] = STATUS_WORDS[locale].get(status, status)
    starts = data.get("starts_at")
    if isinstance(starts, str):
        starts = datetime.fromisoformat(starts)
    if isinstance(starts, datetime):
        values["starts"] = format_time(starts, locale, tz)
    closes = data.get("closes_at")
    if isinstance(closes, str):
        closes = datetime.fromisoformat(closes)
    if isinstance(closes, datetime):
        values["closes"] = format_time(closes, locale, tz)
    apply_by = data.get("apply_by")
    if isinstance(apply_by, date):
        values["apply_by"] = iso(apply_by)
    elif isinstance(apply_by, str):
        values["apply_by"] = apply_by
    return values


class _Template(Formatter):
    """`str.format`, where a field the data lacks reads as empty rather than failing
    (an older or newer producer may leave one out)."""

    def get_value(self, key, args, kwargs):
        if isinstance(key, str):
            value = kwargs.get(key)
            return "" if value is None else value
        return super().get_value(key, args, kwargs)


_template = _Template()


def render(template: str, values: dict) -> str:
    return " ".join(_template.vformat(template, (), values).split())


def words_for(rule: Rule, data: dict, group_names: dict[str, str], tz: ZoneInfo) -> dict:
    """The message of `rule` for this event, in every locale, with its link."""
    rendered = {}
    for locale in LOCALES:
        values = context(data, locale, group_names, tz)
        rendered[f"title_{locale}"] = render(rule.title.get(locale), values)
        rendered[f"body_{locale}"] = render(rule.body.get(locale), values)
    target_type, target_field = rule.target
    rendered["link"] = render(rule.link, data)
    rendered["target_type"] = target_type
    rendered["target_id"] = str(data.get(target_field) or "")
    return rendered
