"""The events service: events, registrations with capacity and waiting list, check-in,
agenda and minutes, reminders and iCalendar feeds, over RPC; a read model of groups and
memberships from the groups service's events.

Entrypoints only check what they were given (nothing the gateway sends is trusted
beyond who the actor is), open one unit of work, let the domain decide, and dump its
answer with api.py's schemas; see domain.py for the rules. Nothing here calls the groups
service: who administers a group is known from its events, so events keeps answering
while groups is down.

A timer (every CIVIC_REMINDER_INTERVAL seconds, 60 by default) sends the 24-hour
reminders and records events that have ended. It is safe with several instances
running: each event is claimed by one conditional UPDATE in the transaction that writes
the outbox row, so only the instance whose UPDATE changed the row publishes.
"""

from __future__ import annotations

from civic.db import Database, utcnow
from civic.log import get_logger
from civic.messaging import event_handler
from civic.readmodels import KeepsGroupFacts
from civic.service import ReportsProgrammeFigures, ServiceBase, rpc, timer
from civic.validation import clean_id, dump, load, load_actor
from services.events import api, domain, feeds, figures, models, roles
from services.events.models import metadata

__all__ = ["EventsService", "metadata"]

log = get_logger(__name__)


class EventsService(KeepsGroupFacts, ServiceBase, ReportsProgrammeFigures):
    name = "events"
    # Its part of the programme report (civic.service.ReportsProgrammeFigures).
    monthly_figures = staticmethod(figures.programme_figures)
    group_facts = models.group_facts
    db = Database(metadata)

    # --- reading ------------------------------------------------------------------------

    @rpc
    def list_events(
        self, actor, starts_from=None, starts_to=None, kind=None, group_id=None, page=1, per_page=20
    ):
        actor = load_actor(actor, required=False)
        query = load(
            api.EventListQuerySchema,
            {
                "from": starts_from,
                "to": starts_to,
                "kind": kind,
                "group_id": group_id,
                "page": page,
                "per_page": per_page,
            },
        )
        with self.db as uow:
            page = domain.list_events(uow, actor, **query)
        return dump(api.EventListSchema, page)

    @rpc
    def get_event(self, actor, event_id):
        actor = load_actor(actor, required=False)
        event_id = clean_id("event_id", event_id)
        with self.db as uow:
            event = domain.get_event(uow, actor, event_id)
        return dump(api.EventSchema, event)

    @rpc
    def list_registrants(self, actor, event_id, page=1, per_page=100):
        actor = load_actor(actor)
        event_id = clean_id("event_id", event_id)
        query = load(api.RegistrantQuerySchema, {"page": page, "per_page": per_page})
        with self.db as uow:
            page = domain.list_registrants(uow, actor, event_id, **query)
        return dump(api.RegistrantListSchema, page)

    @rpc
    def calendar(self, group_id=None):
        """The iCalendar feed of every event, or of one group's events, as text."""
        if group_id is not None:
            group_id = clean_id("group_id", group_id)
        with self.db as uow:
            events, name = domain.feed_events(uow, group_id)
        return feeds.calendar_text(events, name)

    # --- organising ---------------------------------------------------------------------

    @rpc(command=True)
    def create_event(self, actor, payload):
        actor = load_actor(actor)
        data = load(api.EventCreateSchema, payload)
        with self.db as uow:
            event = domain.create_event(uow, actor, **data)
        return dump(api.EventSchema, event)

    @rpc(command=True)
    def change_event(self, actor, event_id, payload):
        actor = load_actor(actor)
        event_id = clean_id("event_id", event_id)
        changes = load(api.EventChangeSchema, payload)
        with self.db as uow:
            event = domain.change_event(uow, actor, event_id, changes)
        return dump(api.EventSchema, event)

    @rpc(command=True)
    def cancel_event(self, actor, event_id, payload):
        actor = load_actor(actor)
        event_id = clean_id("event_id", event_id)
        data = load(api.EventCancelSchema, payload)
        with self.db as uow:
            event = domain.cancel_event(uow, actor, event_id, data["reason"])
        return dump(api.EventSchema, event)

    @rpc(command=True)
    def publish_agenda(self, actor, event_id, payload):
        actor = load_actor(actor)
        event_id = clean_id("event_id", event_id)
        data = load(api.AgendaSchema, payload)
        with self.db as uow:
            event = domain.publish_agenda(uow, actor, event_id, data["body"])
        return dump(api.EventSchema, event)

    @rpc(command=True)
    def publish_minutes(self, actor, event_id, payload):
        actor = load_actor(actor)
        event_id = clean_id("event_id", event_id)
        data = load(api.MinutesSchema, payload)
        with self.db as uow:
            event = domain.publish_minutes(uow, actor, event_id, data["body"])
        return dump(api.EventSchema, event)

    @rpc(command=True)
    def check_in(self, actor, event_id, payload):
        actor = load_actor(actor)
        event_id = clean_id("event_id", event_id)
        data = load(api.CheckInSchema, payload)
        with self.db as uow:
            result = domain.check_in(uow, actor, event_id, data["account_id"])
        return dump(api.CheckInResultSchema, result)

    # --- registrations ------------------------------------------------------------------

    @rpc(command=True)
    def register(self, actor, event_id):
        actor = load_actor(actor)
        event_id = clean_id("event_id", event_id)
        with self.db as uow:
            registration = domain.register(uow, actor, event_id)
        return dump(api.RegistrationResultSchema, registration)

    @rpc(command=True)
    def cancel_registration(self, actor, event_id):
        actor = load_actor(actor)
        event_id = clean_id("event_id", event_id)
        with self.db as uow:
            return domain.cancel_registration(uow, actor, event_id)

    # --- volunteer roles (roles.py) ------------------------------------------------------

    @rpc(command=True)
    def set_roles(self, actor, event_id, payload):
        actor = load_actor(actor)
        event_id = clean_id("event_id", event_id)
        data = load(api.RolesSetSchema, payload)
        with self.db as uow:
            answer = roles.set_roles(uow, actor, event_id, data["roles"])
        return dump(api.RoleListSchema, answer)

    @rpc
    def list_helpers(self, actor, event_id, page=1, per_page=100):
        actor = load_actor(actor)
        event_id = clean_id("event_id", event_id)
        query = load(api.HelperQuerySchema, {"page": page, "per_page": per_page})
        with self.db as uow:
            page = roles.list_helpers(uow, actor, event_id, **query)
        return dump(api.HelperListSchema, page)

    @rpc(command=True)
    def offer_help(self, actor, event_id, role_id):
        actor = load_actor(actor)
        event_id, role_id = clean_id("event_id", event_id), clean_id("role_id", role_id)
        with self.db as uow:
            answer = roles.offer(uow, actor, event_id, role_id)
        return dump(api.OfferResultSchema, answer)

    @rpc(command=True)
    def withdraw_offer(self, actor, event_id, role_id):
        actor = load_actor(actor)
        event_id, role_id = clean_id("event_id", event_id), clean_id("role_id", role_id)
        with self.db as uow:
            return roles.withdraw(uow, actor, event_id, role_id)

    @event_handler("groups", "volunteer_invitation_answered", name="on_volunteer_answered")
    def on_volunteer_invitation_answered(self, envelope, uow):
        roles.invitation_answered(uow, envelope.data)

    # --- reminders and completion -------------------------------------------------------

    @timer("CIVIC_REMINDER_INTERVAL", eager=True)
    def send_due_reminders(self):
        """Claim and send each reminder that is due, and record events that ended; one
        transaction per event, so one failure does not hold back the rest."""
        now = utcnow()
        with self.db as uow:
            due = domain.events_due_a_reminder(uow.session, now)
            ended = domain.events_ended(uow.session, now)
        sent = completed = 0
        for event_id in due:
            with self.db as uow:
                sent += domain.send_reminder(uow, event_id, now)
        for event_id in ended:
            with self.db as uow:
                completed += domain.complete_event(uow, event_id, now)
        if sent or completed:
            log.info("event_timer_done", reminders_sent=sent, events_completed=completed)
        return {"reminders_sent": sent, "events_completed": completed}

    # --- personal data ------------------------------------------------------------------

    @rpc
    def export_account(self, account_id):
        account_id = clean_id("account_id", account_id)
        with self.db as uow:
            exported = domain.export_account(uow, account_id)
            exported.update(roles.export_account(uow.session, account_id))
            return exported

    # --- erasure (the read models of groups' facts: civic.readmodels.KeepsGroupFacts) --

    @event_handler("groups", "account_erased", name="on_account_erased")
    def on_account_erased(self, envelope, uow):
        roles.erase_account(uow.session, envelope.data["account_id"])
        domain.erase_account(uow, envelope.data["account_id"])
