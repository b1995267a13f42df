"""The staff console's organisation and activity screens. Staff only (`auth="staff"`:
anyone else gets the 403 page). A mixin of `GatewayService`.

`/staff/organisations`: the associations and businesses waiting for verification (the
groups service's `list_groups(awaiting_verification=True)`, the longest waiting first),
each verified or refused with a reason (its admins are told, by the notifications
service, from `group_verification_refused`); the latest refused ones, which may still be
verified; and the groups left without an admin (`needs_admin`), where staff appoint
one by the account's email address.

`/staff/activity`: the notifications service's activity feed, filtered by event type,
subject, actor, date range (dates in the town's zone: a day runs from midnight to
midnight there) and correlation id, newest first, paginated; each entry links to its
subject's public page and to its trace (`/staff/trace/<correlation id>`).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from civic.clock import town_zone
from civic.contracts import CATALOGUE
from civic.errors import Conflict, NotFound, ValidationError
from civic.validation import load
from services.gateway.web.forms import FormState, error_message, field_message, submitted_form
from services.gateway.web.handler import Missing, Page, web
from services.notifications.api import SUBJECT_TYPES, ActivityQuerySchema

ORGANISATIONS = "/staff/organisations"
ORGANISATION = ORGANISATIONS + "/<uuid:group_id>"
ACTIVITY = "/staff/activity"
WAITING_PAGE_SIZE = 20
# Groups left without an admin are few in a small town: one page of the service's largest.
NEEDS_ADMIN_SHOWN = 100
# The latest refusals, which staff may still turn into a verification.
REFUSED_SHOWN = 20
MEMBERS_SHOWN = 100
ACTIVITY_PAGE_SIZE = 25
# Subjects with a public page: where an entry about them links.
SUBJECT_PAGES = {
    "proposal": "/proposals/{id}",
    "project": "/projects/{id}",
    "event": "/events/{id}",
    "opening": "/openings/{id}",
    "group": "/groups/{id}",
    "consultation": "/staff/consultations/{id}",
}
# The activity screen's own query names (what its form sends) → the feed's filters.
ACTIVITY_TEXT_FILTERS = ("type", "subject_type", "subject_id", "actor_id", "correlation_id")


def _call(function, *args, **kwargs):
    """A call for `page.gather`, its arguments bound now (not when it runs)."""
    return lambda: function(*args, **kwargs)


def _page_number(value) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return 1
    return number if number >= 1 else 1


def subject_link(entry: dict) -> str | None:
    pattern = SUBJECT_PAGES.get(entry.get("subject_type") or "")
    if pattern and entry.get("subject_id"):
        return pattern.format(id=entry["subject_id"])
    return None


def _(message: str) -> str:
    return message


# What an entry can be about, for the screen (Babel finds `_("…")`).
SUBJECT_NAMES = {
    "proposal": _("Proposal"),
    "project": _("Joint project"),
    "event": _("Event"),
    "opening": _("Opening"),
    "group": _("Group"),
    "email": _("Email"),
    "account": _("Account"),
    "consultation": _("Consultation"),
    "invitation": _("Volunteer invitation"),
}


def subject_names(page: Page) -> dict[str, str]:
    return {key: page.gettext(text) for key, text in SUBJECT_NAMES.items()}


def day_start(day: date) -> datetime:
    """Midnight at the start of `day` in the town's zone."""
    return datetime.combine(day, time(0), tzinfo=town_zone())


class StaffOrgPages:
    """Entrypoints of the organisations and activity screens."""

    # --- organisations ----------------------------------------------------------------

    @web("GET", ORGANISATIONS, auth="staff")
    def web_staff_organisations(self, page: Page):
        return self._organisations(page)

    def _organisations(self, page: Page, status: int = 200, failed: dict | None = None):
        """The screen; `failed` = {"group_id", "action", "form"} shows one refused form
        again (its input and errors) in its row."""
        waiting_page = _page_number(page.args.get("page"))
        parts = page.gather(
            waiting=_call(
                self.services.groups.list_groups,
                awaiting_verification=True,
                page=waiting_page,
                per_page=WAITING_PAGE_SIZE,
            ),
            orphaned=_call(
                self.services.groups.list_groups, needs_admin=True, per_page=NEEDS_ADMIN_SHOWN
            ),
            refused=_call(
                self.services.groups.list_groups,
                verification_refused=True,
                per_page=REFUSED_SHOWN,
            ),
        )
        orphaned = parts["orphaned"]
        candidates = {}
        if orphaned and orphaned["items"]:
            # Who could be picked: those still asking to join (a group without members
            # keeps its pending requests), one round of calls for all the groups.
            asked = page.gather(
                **{
                    group["id"]: _call(
                        self.services.groups.list_members,
                        page.actor,
                        group["id"],
                        per_page=MEMBERS_SHOWN,
                    )
                    for group in orphaned["items"]
                }
            )
            candidates = {
                group_id: members["items"] for group_id, members in asked.items() if members
            }
        return page.render(
            "staff/organisations.html",
            status=status,
            waiting=parts["waiting"],
            orphaned=orphaned,
            candidates=candidates,
            refused=parts["refused"],
            failed=failed or {},
            page_base=ORGANISATIONS + "?",
        )

    def _refused_form(self, page: Page, group_id, action: str, error) -> dict:
        # A picked account that cannot be appointed belongs to no field of the form.
        form = submitted_form(page, error, names={"account_id": "_form"})
        return {"group_id": group_id, "action": action, "form": form}

    @web("POST", ORGANISATION + "/verify", auth="staff")
    def web_staff_organisation_verify(self, page: Page, group_id):
        try:
            group = self.services.groups.verify_group(page.actor, group_id)
        except (Conflict, NotFound) as error:
            return page.redirect(ORGANISATIONS, notice=error_message(page, error))
        return page.redirect(
            ORGANISATIONS, notice=page.gettext("%(name)s is verified.", name=group["name"])
        )

    @web("POST", ORGANISATION + "/refuse", auth="staff")
    def web_staff_organisation_refuse(self, page: Page, group_id):
        reason = page.form.get("reason", "")
        try:
            group = self.services.groups.refuse_group_verification(page.actor, group_id, reason)
        except ValidationError as error:
            return self._organisations(
                page, status=400, failed=self._refused_form(page, group_id, "refuse", error)
            )
        except (Conflict, NotFound) as error:
            return page.redirect(ORGANISATIONS, notice=error_message(page, error))
        return page.redirect(
            ORGANISATIONS,
            notice=page.gettext(
                "Verifying %(name)s was refused: its admins are told the reason.",
                name=group["name"],
            ),
        )

    @web("POST", ORGANISATION + "/admins", auth="staff")
    def web_staff_organisation_appoint(self, page: Page, group_id):
        """Appoint an admin of the group: one picked from those asking to join it
        (`account_id`), or the account with the given email address."""
        picked = page.form.get("account_id", "")
        email = page.form.get("email", "")
        try:
            if picked:
                group = self.services.groups.appoint_admin(page.actor, group_id, picked)
                account = next(
                    (admin for admin in group["admins"] if admin["id"] == picked),
                    {"display_name": ""},
                )
            else:
                account = self.services.groups.find_account(page.actor, email)
                group = self.services.groups.appoint_admin(page.actor, group_id, account["id"])
        except ValidationError as error:
            return self._organisations(
                page, status=400, failed=self._refused_form(page, group_id, "appoint", error)
            )
        except NotFound as error:
            if error.message == "no account with this email address":
                unknown = ValidationError(
                    error.message,
                    fields={"email": [page.gettext("No account has this email address.")]},
                )
                return self._organisations(
                    page, status=400, failed=self._refused_form(page, group_id, "appoint", unknown)
                )
            return page.redirect(ORGANISATIONS, notice=error_message(page, error))
        except Conflict as error:
            return self._organisations(
                page, status=409, failed=self._refused_form(page, group_id, "appoint", error)
            )
        return page.redirect(
            ORGANISATIONS,
            notice=page.gettext(
                "%(person)s is now an admin of %(name)s.",
                person=account["display_name"],
                name=group["name"],
            ),
        )

    # --- activity -----------------------------------------------------------------------

    @web("GET", ACTIVITY, auth="staff")
    def web_staff_activity(self, page: Page):
        given = {key: page.args.get(key, "").strip() for key in ACTIVITY_TEXT_FILTERS}
        given.update(
            {key: page.args.get(key, "").strip() for key in ("from", "to")},
        )
        filters, errors = self._activity_filters(page, given)
        number = _page_number(page.args.get("page"))
        parts = page.gather(
            feed=_call(
                self.services.notifications.list_activity,
                page.actor,
                page=number,
                per_page=ACTIVITY_PAGE_SIZE,
                **filters,
            )
        )
        feed = parts["feed"]
        actors = {}
        if feed and not isinstance(feed, Missing):
            ids = sorted({e["actor_id"] for e in feed["items"] if e.get("actor_id")})
            if ids:
                names = page.gather(accounts=_call(self.services.groups.get_accounts, ids))
                if names["accounts"]:
                    actors = names["accounts"]
        kept = {key: value for key, value in given.items() if value and key not in errors}
        form = FormState(values=given, errors=errors)
        return page.render(
            "staff/activity.html",
            status=400 if errors else 200,
            feed=feed,
            form=form,
            actors=actors,
            event_types=sorted(CATALOGUE),
            subject_types=SUBJECT_TYPES,
            subject_names=subject_names(page),
            subject_link=subject_link,
            filtered=bool(kept),
            filter_link=lambda **values: ACTIVITY + "?" + urlencode(values),
            page_base=ACTIVITY + "?" + urlencode(kept) + ("&" if kept else ""),
        )

    def _activity_filters(self, page: Page, given: dict) -> tuple[dict, dict]:
        """The feed's filters from the screen's form, checked by the feed's own schema
        (ActivityQuerySchema); the dates are whole days in the town's zone (`to`
        included). Returns (filters, {field: [message]}); a refused filter is left out."""
        errors: dict[str, list[str]] = {}
        data = {key: given[key] for key in ACTIVITY_TEXT_FILTERS if given[key]}
        days = {}
        for key in ("from", "to"):
            if given[key]:
                try:
                    days[key] = date.fromisoformat(given[key])
                except ValueError:
                    errors[key] = [page.gettext("Enter a date, like 2026-12-01.")]
        if "from" in days:
            data["since"] = day_start(days["from"]).isoformat()
        if "to" in days:
            data["until"] = day_start(days["to"] + timedelta(days=1)).isoformat()
        if "from" in days and "to" in days and days["to"] < days["from"]:
            errors["to"] = [page.gettext("The last day cannot be before the first.")]
            data.pop("until")
        names = {"since": "from", "until": "to"}
        while True:
            try:
                load(ActivityQuerySchema, data)
                break
            except ValidationError as error:
                refused = error.fields or {}
                if not refused or not set(refused) & set(data):
                    raise
                for name, messages in refused.items():
                    shown = names.get(name, name)
                    texts = messages if isinstance(messages, list) else [str(messages)]
                    errors.setdefault(shown, []).extend(
                        field_message(page, str(text)) for text in texts
                    )
                    data.pop(name, None)
        # As given (strings, times in ISO 8601): the service loads them again.
        return data, errors
