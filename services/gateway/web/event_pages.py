"""The website's pages: Events: the list, the month view, an event, registering and the
waiting list, and what organisers do.

A mixin of `GatewayService`; see `handler.web` for what a page declaration does.

The events service decides who may do what (an admin of the organiser group; staff may
also change and cancel an event and read its registrants): the pages only choose which
links and forms to show, from the visitor's memberships (`groups.get_me`, asked in the
same round as the event).
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, time, timedelta

from civic.clock import to_town, town_zone, utcnow
from civic.errors import Conflict, Forbidden, NotFound, ValidationError
from civic.validation import load
from services.events.api import EVENT_KINDS, EventListQuerySchema
from services.gateway.events_routes import calendar_response
from services.gateway.web.forms import empty_form, error_message, submitted_form
from services.gateway.web.handler import Missing, Page, web

LIST_LENGTH = 20
# The most events a month view shows (the events service's largest page).
MONTH_EVENTS_MAX = 100
# Groups offered in the list's filter and, to staff, as organisers of a new event.
GROUP_CHOICES = 100
REGISTRANTS_PER_PAGE = 100
HELPERS_PER_PAGE = 100
# Blank rows the role editor offers for new roles (the events service takes at most 20).
NEW_ROLE_ROWS = 3
ROLES_MAX = 20
CHECKIN_OPENS = timedelta(hours=1)
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
MONTH_PATTERN = re.compile(r"(?P<year>\d{4})-(?P<month>\d{2})")
LOCAL_INPUT_FORMAT = "%Y-%m-%dT%H:%M"
# The fields an organiser sets, as the form names them (the events service's names).
EVENT_FIELDS = (
    "title",
    "kind",
    "description",
    "starts_at",
    "ends_at",
    "location",
    "online_url",
    "capacity",
)


def _(message: str) -> str:
    """Marks a message id for extraction; translated where it is shown."""
    return message


# The events service's own sentences about an event's input (services/events/api.py and
# domain.py) → the site's words for them.
SERVICE_MESSAGES = {
    "The end must come after the start.": _("The end must come after the start."),
    "An event may last at most 31 days.": _("An event may last at most 31 days."),
    "The start must be in the future.": _("The start must be in the future."),
    "Not a valid ISO 8601 date and time.": _("Enter a date and a time."),
    "Not a valid URL.": _("Enter a web address that starts with https://."),
    "This local time does not exist or happens twice (a daylight-saving change): give it "
    "with its UTC offset.": _(
        "This time does not exist or happens twice when the clocks change. Choose another time."
    ),
    "Give a time between 2000 and 2100.": _("Choose a date between the years 2000 and 2100."),
    "No such group (a new group is known here a moment after it is created).": _(
        "No such group. A new group can organise events a moment after it is created."
    ),
}


class EventPages:
    """Pages of this area; mixed into GatewayService."""

    # --- reading ------------------------------------------------------------------------

    @web("GET", "/events")
    def web_events(self, page: Page):
        actor = page.actor
        filters, refused = _filters(page)
        parts = page.gather(
            events=lambda: self.services.events.list_events(
                actor,
                starts_from=utcnow(),
                kind=filters["kind"],
                group_id=filters["group_id"],
                page=filters["page"],
                per_page=LIST_LENGTH,
            ),
            groups=lambda: self.services.groups.list_groups(per_page=GROUP_CHOICES),
        )
        events = parts["events"]
        if events:
            for event in events["items"]:
                _describe(event)
        return page.render(
            "events/list.html",
            events=events,
            filters=filters,
            refused=refused,
            group_options=_group_options(parts["groups"]),
            query=_filter_query(filters),
            per_page=LIST_LENGTH,
        )

    @web("GET", "/events/month")
    def web_events_month(self, page: Page):
        actor = page.actor
        filters, refused = _filters(page)
        first, month_refused = _month_of(page.args.get("month"))
        if month_refused:
            refused["month"] = month_refused
        weeks = _month_grid(first)
        grid_start = datetime.combine(weeks[0][0]["date"], time(), town_zone())
        grid_end = datetime.combine(weeks[-1][-1]["date"] + timedelta(days=1), time(), town_zone())
        parts = page.gather(
            events=lambda: self.services.events.list_events(
                actor,
                starts_from=grid_start,
                starts_to=grid_end,
                kind=filters["kind"],
                group_id=filters["group_id"],
                per_page=MONTH_EVENTS_MAX,
            ),
            groups=lambda: self.services.groups.list_groups(per_page=GROUP_CHOICES),
        )
        events = parts["events"]
        if events:
            for event in events["items"]:
                _describe(event)
            _place_in_grid(weeks, events["items"])
        previous_month = (first - timedelta(days=1)).replace(day=1)
        next_month = (first + timedelta(days=32)).replace(day=1)
        query = _filter_query(filters)
        return page.render(
            "events/month.html",
            events=events,
            weeks=weeks,
            first=first,
            month_events=[
                event
                for event in (events["items"] if events else [])
                if _local_day(event["starts_at"]).month == first.month
                or _local_day(event["ends_at"]).month == first.month
            ],
            previous_month=previous_month if previous_month.year >= EARLIEST_YEAR else None,
            next_month=next_month if next_month.year <= LATEST_YEAR else None,
            this_month=to_town(utcnow()).date().replace(day=1),
            filters=filters,
            refused=refused,
            group_options=_group_options(parts["groups"]),
            query=query,
            today=to_town(utcnow()).date(),
        )

    @web("GET", "/events/<uuid:event_id>")
    def web_event(self, page: Page, event_id):
        event, me = self._event_and_me(page, event_id)
        context = self._detail_context(page, event, me)
        helpers = None
        if context["may_manage"] and event.get("roles"):
            helpers = self._helpers(page, event_id)
        return page.render("events/detail.html", helpers=helpers, **context)

    def _helpers(self, page: Page, event_id):
        """Who comes to help, by role, with their names (the organisers' part of the
        event's page): Missing when the events service does not answer."""
        actor = page.actor
        found = page.gather(
            helpers=lambda: self.services.events.list_helpers(
                actor, event_id, per_page=HELPERS_PER_PAGE
            )
        )["helpers"]
        if isinstance(found, Missing):
            return found
        ids = sorted({item["account_id"] for item in found["items"]})
        names = page.gather(accounts=lambda: self.services.groups.get_accounts(ids) if ids else {})[
            "accounts"
        ]
        by_role: dict[str, list] = {}
        for item in found["items"]:
            account = names.get(item["account_id"]) if names else None
            item["name"] = account["display_name"] if account else None
            by_role.setdefault(item["role_id"], []).append(item)
        return {"by_role": by_role, "total": found["total"], "names_missing": not names and ids}

    # --- volunteer roles: offers and the organisers' editor -----------------------------

    @web("POST", "/events/<uuid:event_id>/roles/<uuid:role_id>/offer", auth="resident")
    def web_event_offer(self, page: Page, event_id, role_id):
        back = f"/events/{event_id}#roles"
        try:
            result = self.services.events.offer_help(page.actor, event_id, role_id)
        except (Conflict, NotFound) as error:
            return page.redirect(back, notice=_refusal(page, error))
        return page.redirect(
            back,
            notice=page.gettext(
                "Thank you! You help as %(role)s. The organisers see that you come.",
                role=result["role_name"],
            ),
        )

    @web("POST", "/events/<uuid:event_id>/roles/<uuid:role_id>/withdraw", auth="resident")
    def web_event_withdraw_offer(self, page: Page, event_id, role_id):
        back = f"/events/{event_id}#roles"
        try:
            self.services.events.withdraw_offer(page.actor, event_id, role_id)
        except NotFound:
            return page.redirect(
                back, notice=page.gettext("You had not offered to help in this role.")
            )
        return page.redirect(back, notice=page.gettext("Your offer to help is withdrawn."))

    @web("GET", "/events/<uuid:event_id>/roles", auth="resident")
    def web_event_roles(self, page: Page, event_id):
        event, me = self._event_and_me(page, event_id)
        context = _allowed(self._detail_context(page, event, me), "may_manage")
        return page.render("events/roles.html", form=_roles_form(page, event), **context)

    @web("POST", "/events/<uuid:event_id>/roles", auth="resident")
    def web_event_roles_save(self, page: Page, event_id):
        roles, rows = _roles_from_form(page)
        try:
            self.services.events.set_roles(page.actor, event_id, {"roles": roles})
        except (ValidationError, Conflict, Forbidden) as error:
            event, me = self._event_and_me(page, event_id)
            return page.render(
                "events/roles.html",
                status=_status_of(error),
                form=_roles_form_again(page, event, error, rows),
                **self._detail_context(page, event, me),
            )
        return page.redirect(
            f"/events/{event_id}#roles",
            notice=page.gettext("The volunteer roles are saved. Residents can offer to help now."),
        )

    @web("GET", "/events/<uuid:event_id>.ics")
    def web_event_calendar(self, page: Page, event_id):
        """The event alone as an iCalendar file, cut from its group's feed (the events
        service's one way of writing events as iCalendar: the same UID and SEQUENCE)."""
        event = self.services.events.get_event(None, event_id)
        from icalendar import Calendar  # here only: the gateway need not carry it otherwise

        feed = Calendar.from_ical(self.services.events.calendar(event["organiser_group_id"]))
        single = Calendar()
        for name, value in feed.items():
            single[name] = value
        found = False
        for component in feed.subcomponents:
            # The feed's UID is `<event id>@<domain>` (services/events/feeds.py).
            if component.name == "VEVENT" and not str(component.get("uid")).startswith(
                f"{event['id']}@"
            ):
                continue
            found = found or component.name == "VEVENT"
            single.add_component(component)
        if not found:
            raise NotFound("this event is too old for calendar files")
        single["x-wr-calname"] = event["title"]
        return calendar_response(single.to_ical().decode("utf-8"), f"civic-event-{event_id}.ics")

    # --- registering --------------------------------------------------------------------

    @web("POST", "/events/<uuid:event_id>/register", auth="resident")
    def web_event_register(self, page: Page, event_id):
        back = f"/events/{event_id}#my-registration"
        try:
            result = self.services.events.register(page.actor, event_id)
        except Conflict as error:
            return page.redirect(back, notice=_refusal(page, error))
        if result["status"] == "confirmed":
            notice = page.gettext("You are registered: you have a place at the event.")
        else:
            notice = page.gettext(
                "The event is full: you are number %(position)s on the waiting list.",
                position=result["position"],
            )
        return page.redirect(back, notice=notice)

    @web("POST", "/events/<uuid:event_id>/cancel-registration", auth="resident")
    def web_event_cancel_registration(self, page: Page, event_id):
        back = f"/events/{event_id}#my-registration"
        try:
            self.services.events.cancel_registration(page.actor, event_id)
        except NotFound:
            return page.redirect(
                back, notice=page.gettext("You were not registered for this event.")
            )
        except Conflict as error:
            return page.redirect(back, notice=_refusal(page, error))
        return page.redirect(back, notice=page.gettext("Your registration is cancelled."))

    # --- organising ---------------------------------------------------------------------

    @web("GET", "/events/new", auth="resident")
    def web_event_new(self, page: Page):
        actor = page.actor
        calls = {"me": lambda: self.services.groups.get_me(actor)}
        if page.is_staff:
            calls["groups"] = lambda: self.services.groups.list_groups(per_page=GROUP_CHOICES)
        parts = page.gather(**calls)
        chosen = page.args.get("group", "")
        form = empty_form(page, organiser_group_id=chosen, kind="meeting")
        return page.render("events/new.html", form=form, **self._organiser_choices(page, parts))

    @web("POST", "/events/new", auth="resident")
    def web_event_create(self, page: Page):
        payload = {name: _form_value(page, name) for name in EVENT_FIELDS}
        payload["organiser_group_id"] = page.form.get("organiser_group_id", "")
        try:
            event = self.services.events.create_event(page.actor, payload)
        except (ValidationError, Forbidden) as error:
            calls = {"me": lambda: self.services.groups.get_me(page.actor)}
            if page.is_staff:
                calls["groups"] = lambda: self.services.groups.list_groups(per_page=GROUP_CHOICES)
            parts = page.gather(**calls)
            return page.render(
                "events/new.html",
                status=403 if isinstance(error, Forbidden) else 400,
                form=_event_form_again(page, error),
                **self._organiser_choices(page, parts),
            )
        return page.redirect(
            f"/events/{event['id']}",
            notice=page.gettext("The event is scheduled. It is in the calendar now."),
        )

    @web("GET", "/events/<uuid:event_id>/edit", auth="resident")
    def web_event_edit(self, page: Page, event_id):
        event, me = self._event_and_me(page, event_id)
        context = _allowed(self._detail_context(page, event, me), "may_manage")
        form = empty_form(page, **_event_form_values(event))
        return page.render("events/edit.html", form=form, kind_values=EVENT_KINDS, **context)

    @web("POST", "/events/<uuid:event_id>/edit", auth="resident")
    def web_event_change(self, page: Page, event_id):
        event = self.services.events.get_event(page.actor, event_id)
        current = _event_form_values(event)
        # Only what the organiser changed is sent: an unchanged time (shown to the
        # minute) must not move the event or tell registrants of a change.
        changes = {}
        for name in EVENT_FIELDS:
            given = _text(page, name)
            if given.strip() != str(current.get(name) or "").strip():
                changes[name] = _form_value(page, name)
        if not changes:
            return page.redirect(f"/events/{event_id}", notice=page.gettext("Nothing was changed."))
        try:
            self.services.events.change_event(page.actor, event_id, changes)
        except (ValidationError, Conflict, Forbidden) as error:
            me = _capture_me(self, page)
            return page.render(
                "events/edit.html",
                status=_status_of(error),
                form=_event_form_again(page, error),
                kind_values=EVENT_KINDS,
                **self._detail_context(page, event, me),
            )
        return page.redirect(
            f"/events/{event_id}",
            notice=page.gettext(
                "The event is changed. Everyone registered is told of a new time or place."
            ),
        )

    @web("GET", "/events/<uuid:event_id>/cancel", auth="resident")
    def web_event_cancel_confirm(self, page: Page, event_id):
        event, me = self._event_and_me(page, event_id)
        context = _allowed(self._detail_context(page, event, me), "may_manage")
        return page.render("events/cancel.html", form=empty_form(page), **context)

    @web("POST", "/events/<uuid:event_id>/cancel", auth="resident")
    def web_event_cancel(self, page: Page, event_id):
        return self._organiser_form_sent(
            page,
            event_id,
            "events/cancel.html",
            lambda: self.services.events.cancel_event(
                page.actor, event_id, {"reason": _text(page, "reason")}
            ),
            f"/events/{event_id}",
            page.gettext("The event is cancelled. Everyone registered is told."),
        )

    def _organiser_form_sent(self, page: Page, event_id, template, call, done_at, notice):
        """An organiser's one-field form (cancel, agenda, minutes): `call()`, then back
        to the event with `notice`; a refusal shows the form again with its reason."""
        try:
            call()
        except (ValidationError, Conflict, Forbidden) as error:
            event, me = self._event_and_me(page, event_id)
            return page.render(
                template,
                status=_status_of(error),
                form=submitted_form(page, error),
                **self._detail_context(page, event, me),
            )
        return page.redirect(done_at, notice=notice)

    @web("GET", "/events/<uuid:event_id>/agenda", auth="resident")
    def web_event_agenda_form(self, page: Page, event_id):
        return self._organiser_text_form(page, event_id, "events/agenda.html", "agenda")

    @web("POST", "/events/<uuid:event_id>/agenda", auth="resident")
    def web_event_agenda(self, page: Page, event_id):
        return self._organiser_form_sent(
            page,
            event_id,
            "events/agenda.html",
            lambda: self.services.events.publish_agenda(
                page.actor, event_id, {"body": _text(page, "body")}
            ),
            f"/events/{event_id}#agenda",
            page.gettext("The agenda is published. Everyone registered is told."),
        )

    @web("GET", "/events/<uuid:event_id>/minutes", auth="resident")
    def web_event_minutes_form(self, page: Page, event_id):
        return self._organiser_text_form(page, event_id, "events/minutes.html", "minutes")

    def _organiser_text_form(self, page: Page, event_id, template, text_field):
        """The agenda's or the minutes' form, holding what is published so far."""
        event, me = self._event_and_me(page, event_id)
        context = _allowed(self._detail_context(page, event, me), "may_organise")
        form = empty_form(page, body=event.get(text_field) or "")
        return page.render(template, form=form, **context)

    @web("POST", "/events/<uuid:event_id>/minutes", auth="resident")
    def web_event_minutes(self, page: Page, event_id):
        return self._organiser_form_sent(
            page,
            event_id,
            "events/minutes.html",
            lambda: self.services.events.publish_minutes(
                page.actor, event_id, {"body": _text(page, "body")}
            ),
            f"/events/{event_id}#minutes",
            page.gettext("The minutes are published."),
        )

    @web("GET", "/events/<uuid:event_id>/checkin", auth="resident")
    def web_event_checkin_list(self, page: Page, event_id):
        actor = page.actor
        number = _page_number(page)
        parts = page.gather(
            event=lambda: self.services.events.get_event(actor, event_id),
            me=lambda: self.services.groups.get_me(actor),
            registrants=lambda: self.services.events.list_registrants(
                actor, event_id, page=number, per_page=REGISTRANTS_PER_PAGE
            ),
        )
        for part in ("event", "registrants"):
            if isinstance(parts[part], Missing):
                raise parts[part].error
        registrants = parts["registrants"]
        # Names are the groups service's: a second round, once the list says whose.
        ids = [row["account_id"] for row in registrants["items"]]
        asked = page.gather(accounts=lambda: self.services.groups.get_accounts(ids) if ids else {})
        names = asked["accounts"]
        for row in registrants["items"]:
            account = names.get(row["account_id"]) if names else None
            row["name"] = account["display_name"] if account else None
        context = self._detail_context(page, parts["event"], parts["me"])
        return page.render(
            "events/checkin.html",
            registrants=registrants,
            names_missing=isinstance(names, Missing),
            per_page=REGISTRANTS_PER_PAGE,
            **context,
        )

    @web("POST", "/events/<uuid:event_id>/checkin", auth="resident")
    def web_event_check_in(self, page: Page, event_id):
        account_id = page.form.get("account_id", "")
        back = f"/events/{event_id}/checkin"
        if page.form.get("page", "").isdigit():
            back += f"?page={page.form['page']}"
        try:
            self.services.events.check_in(page.actor, event_id, {"account_id": account_id})
        except (Conflict, NotFound, ValidationError) as error:
            return page.redirect(back, notice=_refusal(page, error))
        return page.redirect(f"{back}#registrant-{account_id}", notice=page.gettext("Checked in."))

    # --- shared -------------------------------------------------------------------------

    def _event_and_me(self, page: Page, event_id):
        """The event (or its error page) and the visitor's memberships (None when signed
        out; Missing when the groups service does not answer)."""
        actor = page.actor
        calls = {"event": lambda: self.services.events.get_event(actor, event_id)}
        if actor is not None:
            calls["me"] = lambda: self.services.groups.get_me(actor)
        parts = page.gather(**calls)
        if isinstance(parts["event"], Missing):
            raise parts["event"].error
        return parts["event"], parts.get("me")

    def _detail_context(self, page: Page, event: dict, me) -> dict:
        _describe(event)
        admin = _is_admin_of(me, event["organiser_group_id"])
        return {
            "event": event,
            "me_missing": isinstance(me, Missing),
            # What the events service lets this visitor do (it checks again).
            "may_organise": admin,
            "may_manage": admin or page.is_staff,
        }

    def _organiser_choices(self, page: Page, parts: dict) -> dict:
        me = parts["me"]
        choices = {}
        if me:
            for membership in me.get("memberships", []):
                if membership["role"] == "admin" and membership["status"] == "active":
                    choices[membership["group_id"]] = membership["group_name"]
        groups = parts.get("groups")
        if groups:
            for group in groups["items"]:
                choices.setdefault(group["id"], group["name"])
        options = sorted(choices.items(), key=lambda item: item[1].casefold())
        return {
            "group_options": options,
            "groups_missing": isinstance(me, Missing) or isinstance(groups, Missing),
            "kind_values": EVENT_KINDS,
        }


# --- helpers ---------------------------------------------------------------------------


def _filters(page: Page) -> tuple[dict, dict]:
    """The list's filters from the query string (`kind`, `group`, `page`), loaded by the
    events service's own query schema; values it refuses are left out and named."""
    given = {
        "kind": page.args.get("kind", ""),
        "group_id": page.args.get("group", ""),
        "page": page.args.get("page", ""),
    }
    data = {key: value.strip() for key, value in given.items() if value.strip()}
    try:
        loaded = load(EventListQuerySchema, data)
        refused = {}
    except ValidationError as error:
        refused = dict(error.fields or {})
        loaded = load(
            EventListQuerySchema, {key: value for key, value in data.items() if key not in refused}
        )
    if "group_id" in refused:
        refused["group"] = refused.pop("group_id")
    return {
        "kind": loaded["kind"],
        "group_id": loaded["group_id"],
        "page": loaded["page"],
    }, refused


def _filter_query(filters: dict) -> str:
    """The filters as a query string to carry on to another page (`kind=…&group=…`):
    both values were checked by the schema (a kind and a UUID), so need no quoting."""
    parts = []
    if filters["kind"]:
        parts.append(f"kind={filters['kind']}")
    if filters["group_id"]:
        parts.append(f"group={filters['group_id']}")
    return "&".join(parts)


def _group_options(groups) -> list[tuple[str, str]] | None:
    if not groups:
        return None
    return sorted(
        ((group["id"], group["name"]) for group in groups["items"]),
        key=lambda item: item[1].casefold(),
    )


def _page_number(page: Page) -> int:
    value = page.args.get("page", "1")
    return int(value) if value.isdigit() and 0 < int(value) <= 100_000 else 1


def _month_of(value) -> tuple[date, list[str] | None]:
    """The first day of `?month=YYYY-MM`, else of this month in the town."""
    this_month = to_town(utcnow()).date().replace(day=1)
    if not value:
        return this_month, None
    match = MONTH_PATTERN.fullmatch(value.strip())
    if match:
        year, month = int(match["year"]), int(match["month"])
        if EARLIEST_YEAR <= year <= LATEST_YEAR and 1 <= month <= 12:
            return date(year, month, 1), None
    return this_month, ["Not a valid month."]


def _month_grid(first: date) -> list[list[dict]]:
    """The weeks (Monday first) that hold the month of `first`, each day a dict."""
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    day = first - timedelta(days=first.weekday())
    end = last + timedelta(days=6 - last.weekday())
    weeks = []
    while day <= end:
        week = []
        for _weekday in range(7):
            week.append({"date": day, "in_month": day.month == first.month, "events": []})
            day += timedelta(days=1)
        weeks.append(week)
    return weeks


def _place_in_grid(weeks: list[list[dict]], events: list[dict]) -> None:
    """Each event under every day of the grid it takes place on."""
    days = {day["date"]: day for week in weeks for day in week}
    for event in events:
        first = day = _local_day(event["starts_at"])
        while day <= event["last_day"]:
            if day in days:
                days[day]["events"].append({"event": event, "starts_here": day == first})
            day += timedelta(days=1)


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _local_day(value: str) -> date:
    return to_town(_moment(value)).date()


def _describe(event: dict) -> None:
    """What the templates ask of an event beyond the service's answer."""
    if "last_day" in event:
        return
    now = utcnow()
    starts_at, ends_at = _moment(event["starts_at"]), _moment(event["ends_at"])
    # An event that ends at midnight does not take place on the day that begins then.
    event["last_day"] = to_town(ends_at - timedelta(microseconds=1)).date()
    event["same_day"] = event["last_day"] == to_town(starts_at).date()
    event["started"] = starts_at <= now
    event["over"] = event["status"] == "completed" or ends_at <= now
    event["cancelled"] = event["status"] == "cancelled"
    event["open_for_registration"] = not event["cancelled"] and not event["started"]
    event["checkin_open"] = not event["cancelled"] and now >= starts_at - CHECKIN_OPENS
    event["checkin_opens_at"] = (starts_at - CHECKIN_OPENS).isoformat()


def _allowed(context: dict, permission: str) -> dict:
    """`context` when the visitor may use this organiser's page; a 403 page when their
    memberships say they may not (when they cannot be read now, the form is shown and
    the events service decides on submission)."""
    if not context[permission] and not context["me_missing"]:
        raise Forbidden("only the organisers of the event may do this")
    return context


def _is_admin_of(me, group_id: str) -> bool:
    if not me:
        return False
    return any(
        membership["group_id"] == group_id
        and membership["role"] == "admin"
        and membership["status"] == "active"
        for membership in me.get("memberships", [])
    )


def _capture_me(service, page: Page):
    return page.gather(me=lambda: service.services.groups.get_me(page.actor))["me"]


def _local_input(value) -> str:
    """An ISO time as a `datetime-local` input shows it: the town's time, to the minute."""
    return to_town(_moment(value)).strftime(LOCAL_INPUT_FORMAT) if value else ""


def _event_form_values(event: dict) -> dict:
    return {
        "title": event["title"],
        "kind": event["kind"],
        "description": event.get("description") or "",
        "starts_at": _local_input(event["starts_at"]),
        "ends_at": _local_input(event["ends_at"]),
        "location": event["location"],
        "online_url": event.get("online_url") or "",
        "capacity": "" if event.get("capacity") is None else str(event["capacity"]),
    }


def _form_value(page: Page, name: str):
    """A field of the event form as the events service takes it: a `datetime-local`
    value is the town's time; a blank capacity is no limit, a whole number is an int
    and anything else is passed on to be refused with the service's message."""
    value = _text(page, name)
    if name in ("starts_at", "ends_at"):
        return value.strip() or None
    if name == "capacity":
        value = value.strip()
        if not value:
            return None
        return int(value) if value.isdigit() and len(value) < 10 else value
    if name == "online_url":
        return value.strip() or None
    return value


def _text(page: Page, name: str) -> str:
    """A field as typed; a textarea's line breaks arrive as CRLF and are kept as LF."""
    return page.form.get(name, "").replace("\r\n", "\n")


def _event_form_again(page: Page, error) -> object:
    form = submitted_form(page, error)
    form.errors = {
        name: [
            page.gettext(SERVICE_MESSAGES[text]) if text in SERVICE_MESSAGES else text
            for text in texts
        ]
        for name, texts in form.errors.items()
    }
    return form


def _status_of(error) -> int:
    if isinstance(error, Forbidden):
        return 403
    if isinstance(error, Conflict):
        return 409
    return 400


def _refusal(page: Page, error) -> str:
    """Why the events service refused, in the visitor's words."""
    known = {
        "the event is cancelled": _("The event is cancelled."),
        "the event is cancelled already": _("The event is cancelled."),
        "registration closed when the event started": _(
            "Registration closed when the event started."
        ),
        "already registered for this event": _("You are registered for this event already."),
        "the event has started: the registration stands": _(
            "The event has started: registrations can no longer be cancelled."
        ),
        "check-in opens an hour before the start": _("Check-in opens an hour before the start."),
        "this attendee is checked in already": _("This person is checked in already."),
        "this account is not registered for the event": _(
            "This person is not registered for the event."
        ),
        "the event is cancelled: nobody attends it": _("The event is cancelled."),
        "the role is full": _("Every place in this role is taken."),
        "already offered for this role": _("You have offered to help in this role already."),
        "no such role at this event": _("This role is no longer at the event."),
        "the event is cancelled: cannot offer to help": _("The event is cancelled."),
        "the event is over: cannot offer to help": _("The event is over."),
        "the event is cancelled: cannot change its volunteer roles": _("The event is cancelled."),
        "the event is over: cannot change its volunteer roles": _("The event is over."),
    }
    if error.message in known:
        return page.gettext(known[error.message])
    return error_message(page, error)


# --- the role editor ---------------------------------------------------------------------


def _roles_form(page: Page, event: dict):
    """The editor's rows: each role of the event, then NEW_ROLE_ROWS blank ones."""
    values = {}
    roles = event.get("roles") or []
    for index, role in enumerate(roles):
        values[f"id-{index}"] = role["id"]
        values[f"name-{index}"] = role["name"]
        values[f"needed-{index}"] = str(role["needed"])
    form = empty_form(page, **values)
    form.values["rows"] = _role_rows(roles, len(roles) + NEW_ROLE_ROWS)
    return form


def _role_rows(roles: list, count: int) -> list[dict]:
    """Row index, and the role it holds (its filled places), for the template."""
    count = min(count, ROLES_MAX + NEW_ROLE_ROWS)
    return [
        {"index": index, "role": roles[index] if index < len(roles) else None}
        for index in range(count)
    ]


def _roles_from_form(page: Page) -> tuple[list[dict], list[int]]:
    """The roles the editor sends (a row left blank, or ticked to be removed, is left
    out) and, for each, the row it came from (to tie the service's errors to it)."""
    roles, rows = [], []
    for index in range(ROLES_MAX + NEW_ROLE_ROWS):
        name = page.form.get(f"name-{index}", "")
        needed = page.form.get(f"needed-{index}", "").strip()
        role_id = page.form.get(f"id-{index}", "")
        if page.form.get(f"remove-{index}") == "yes":
            continue
        if not name.strip() and not needed and not role_id:
            continue
        role = {
            "name": name,
            "needed": int(needed) if needed.isdigit() and len(needed) < 6 else needed,
        }
        if role_id:
            role["id"] = role_id
        roles.append(role)
        rows.append(index)
    return roles, rows


def _roles_form_again(page: Page, event: dict, error, rows: list[int]):
    """The editor as sent, with the service's errors tied to the row and field."""
    form = submitted_form(page, error)
    if isinstance(error, Conflict):
        form.errors = {"_form": [_role_conflict(page, error)]}
    errors = {}
    for name, texts in form.errors.items():
        parts = name.split(".")
        if len(parts) == 3 and parts[0] == "roles" and parts[1].isdigit():
            position = int(parts[1])
            row = rows[position] if position < len(rows) else None
            if row is not None and parts[2] in ("name", "needed"):
                errors.setdefault(f"{parts[2]}-{row}", []).extend(texts)
                continue
        if name == "roles":
            texts = [page.gettext(ROLE_MESSAGES.get(text, text)) for text in texts]
        errors.setdefault("_form", []).extend(texts)
    form.errors = errors
    known = {role["id"]: role for role in event.get("roles") or []}
    count = max(
        [index + 1 for index in range(ROLES_MAX + NEW_ROLE_ROWS) if f"name-{index}" in form.values]
        or [0]
    )
    form.values["rows"] = [
        {"index": index, "role": known.get(form.values.get(f"id-{index}", ""))}
        for index in range(count)
    ]
    return form


ROLE_MESSAGES = {
    "Two roles have the same name.": _("Two roles have the same name."),
    "A role is given twice.": _("A role is given twice."),
}
ROLE_CONFLICTS = (
    (
        re.compile(r"the role “(?P<role>.+)” has offers: it cannot be removed"),
        _("The role %(role)s has offers: it cannot be removed. Ask the helpers first."),
    ),
    (
        re.compile(r"the role “(?P<role>.+)” has (?P<count>\d+) offers: it needs at least as many"),
        _("The role %(role)s has %(count)s offers: it needs at least as many places."),
    ),
)


def _role_conflict(page: Page, error) -> str:
    """Why the events service refused the roles, in the visitor's words."""
    for pattern, message in ROLE_CONFLICTS:
        match = pattern.fullmatch(error.message or "")
        if match:
            return page.gettext(message, **match.groupdict())
    return _refusal(page, error)
