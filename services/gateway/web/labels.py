"""The words the site shows for the services' fixed values (categories, statuses, kinds,
sectors, …): one table, in English message ids; templates show them with
`value | label("category")`, in the page's language. A unit test checks that every value
of every contract enum has a label here."""

from __future__ import annotations


def _(message: str) -> str:
    return message


LABELS: dict[str, dict[str, str]] = {
    "category": {
        "environment": _("Environment"),
        "leisure": _("Leisure"),
        "culture": _("Culture"),
        "business": _("Business"),
        "infrastructure": _("Roads and infrastructure"),
        "housing": _("Housing"),
        "other": _("Other"),
    },
    "proposal_status": {
        "submitted": _("Submitted"),
        "under_review": _("Under review"),
        "accepted": _("Accepted"),
        "rejected": _("Rejected"),
        "in_progress": _("In progress"),
        "done": _("Done"),
        "withdrawn": _("Withdrawn"),
    },
    "channel": {
        "online": _("Online"),
        "drop_in": _("At the drop-in office"),
        "town_hall": _("At a town-hall meeting"),
    },
    "project_status": {
        "planned": _("Planned"),
        "active": _("Active"),
        "completed": _("Completed"),
        "cancelled": _("Discontinued"),
    },
    "group_kind": {
        "working_group": _("Working group"),
        "association": _("Association"),
        "business": _("Company"),
        "network": _("Network"),
    },
    "group_kind_plural": {
        "working_group": _("Working groups"),
        "association": _("Associations"),
        "business": _("Businesses"),
        "network": _("Networks"),
    },
    "member_role": {
        "admin": _("Admin"),
        "member": _("Member"),
    },
    "event_kind": {
        "town_hall": _("Town-hall meeting"),
        "clean_up_day": _("Clean-up day"),
        "training": _("Training"),
        "meeting": _("Meeting"),
        "workshop": _("Workshop"),
        "other": _("Other"),
    },
    "event_status": {
        "scheduled": _("Scheduled"),
        "cancelled": _("Cancelled"),
        "completed": _("Held"),
    },
    "registration_status": {
        "confirmed": _("Confirmed"),
        "waitlisted": _("On the waiting list"),
    },
    "sector": {
        "tourism": _("Tourism"),
        "forestry": _("Forestry"),
        "energy": _("Energy"),
        "health_care": _("Health care"),
        "education": _("Education"),
        "public_sector": _("Public sector"),
        "construction": _("Construction"),
        "it": _("IT"),
        "culture": _("Culture"),
        "retail": _("Retail"),
        "other": _("Other"),
    },
    "employment_type": {
        "full_time": _("Full time"),
        "part_time": _("Part time"),
        "seasonal": _("Seasonal"),
        "summer_job": _("Summer job"),
        "internship": _("Internship"),
    },
    "opening_status": {
        "open": _("Open"),
        "closed": _("Closed"),
        "expired": _("Past its apply-by date"),
    },
    "volunteer_availability": {
        "weekdays": _("Weekdays"),
        "evenings": _("Evenings"),
        "weekends": _("Weekends"),
    },
    "season": {
        "spring": _("Spring"),
        "summer": _("Summer"),
        "autumn": _("Autumn"),
        "winter": _("Winter"),
    },
    "invitation_target": {
        "group": _("The group"),
        "event": _("An event"),
        "project": _("A joint project"),
    },
    "invitation_status": {
        "pending": _("Waiting for your answer"),
        "accepted": _("You said yes"),
        "declined": _("You said no"),
    },
    "consultation_status": {
        "draft": _("Draft"),
        "scheduled": _("Published, not yet open"),
        "open": _("Open for answers"),
        "closed": _("Closed"),
        "results_published": _("Results published"),
    },
    "consultation_channel": {
        "online": _("Online"),
        "interview": _("Interview"),
        "town_hall": _("Town-hall meeting"),
    },
    "question_kind": {
        "single": _("Single choice"),
        "multiple": _("Multiple choice"),
        "scale": _("Scale 1–5"),
        "text": _("Free text"),
        "ranking": _("Ranking"),
    },
    "text_status": {
        "pending": _("Waiting for moderation"),
        "approved": _("Approved"),
        "hidden": _("Hidden"),
    },
    "email_mode": {
        "immediate": _("At once"),
        "daily": _("A daily digest"),
        "weekly": _("A weekly digest"),
        "off": _("No email"),
    },
    "notification_kind": {
        "join_requested": _("Someone asks to join your group"),
        "member_joined": _("A new member in your group"),
        "admin_appointed": _("You became an admin"),
        "member_removed": _("Removed from a group"),
        "group_verified": _("Your group's verification"),
        "network_joined": _("A group joined your network"),
        "proposal_received": _("Receipts for your proposals"),
        "proposal_status_changed": _("A proposal changed status"),
        "proposal_answered": _("A proposal got an official answer"),
        "proposal_assigned": _("A proposal was given to a working group"),
        "group_proposal_assigned": _("Your group was given a proposal"),
        "comment_added": _("New comments"),
        "proposal_supported": _("Support for your proposal"),
        "proposal_moderated": _("Moderation of your proposal"),
        "comment_moderated": _("Moderation of your comments"),
        "proposal_merged": _("A proposal was merged"),
        "project_from_proposal": _("A joint project from a proposal"),
        "group_project": _("Your group's joint projects"),
        "project_status_changed": _("A joint project changed status"),
        "event_scheduled": _("New events"),
        "event_changed": _("Changed events"),
        "event_cancelled": _("Cancelled events"),
        "waitlist_promoted": _("A place for you from the waiting list"),
        "event_reminder": _("Event reminders"),
        "agenda_published": _("Agendas"),
        "minutes_published": _("Minutes"),
        "opening_matched": _("Openings that match your profile"),
        "interest_registered": _("Interest in your openings"),
        "group_opening": _("Your group's openings"),
        "volunteer_invited": _("Invitations to help"),
        "volunteer_invitation_answered": _("Answers to your group's invitations"),
        "volunteer_role_filled": _("Volunteers for your events"),
        "consultation_opened": _("New consultations"),
        "consultation_results_published": _("Consultation results"),
    },
}


def label(page_gettext, table: str, value) -> str:
    """The words for `value` in `table`, translated; the value itself if it has none."""
    words = LABELS.get(table, {}).get(value)
    return page_gettext(words) if words else ("" if value is None else str(value))


def options(page_gettext, table: str, values=None) -> list[tuple[str, str]]:
    """(value, words) pairs for a select or radio buttons, in the table's order."""
    entries = LABELS[table]
    return [(value, page_gettext(entries[value])) for value in (values or entries)]
