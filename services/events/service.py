"""The events service: events, registrations with capacity and waiting list, check-in,
agenda and minutes, reminders and iCalendar feeds, over RPC; a read model of groups and
memberships from the groups service's events.

Entrypoints only check what they were given (nothing the gateway sends is trusted
beyond who the actor is), open one unit of work, and let the domain decide; see
domain.py for the rules. Nothing here calls the groups service: who administers a group
is known from its events, so events keeps answering while groups is down.

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
from civic.service import ServiceBase, rpc, timer
from civic.validation import clean_id, load
from services.events import domain, feeds, schemas
from services.events.models import metadata
from civic.validation import load_actor

__all__ = ["EventsService", "metadata"]

log = get_logger(__name__)



class EventsService(KeepsGroupFacts, ServiceBase):
    name = "events"
    group_facts = domain.GROUP_FACTS
    db = Database(metadata)

    # --- reading ------------------------------------------------------------------------

    @rpc
    def list_events(self, actor, starts_from=None, starts_to=None, kind=None,
                    group_id=None, page=1, per_page=20):
        actor = load_actor(actor, required=False)
        query = load(schemas.EventListQuerySchema, {
            "from": starts_from, "to": starts_to, "kind": kind, "group_id": group_id,
            "page": page, "per_page": per_page})
        with self.db as uow:
            return domain.list_events(uow, actor, **query)

    @rpc
    def get_event(self, actor, event_id):
        actor = load_actor(actor, required=False)
        event_id = clean_id("event_id", event_id)
        with self.db as uow:
            return domain.get_event(uow, actor, event_id)

    @rpc
    def list_registrants(self, actor, event_id, page=1, per_page=100):
        actor = load_actor(actor)
        event_id = clean_id("event_id", event_id)
        query = load(schemas.RegistrantQuerySchema, {"page": page, "per_page": per_page})
        with self.db as uow:
            return domain.list_registrants(uow, actor, event_id, **query)

    @rpc
    def calendar(self, group_id=None):
        """The iCalendar feed of every event, or of one group's events, as text."""
        if group_id is not None:
            group_id = clean_id("group_id", group_id)
        with self.db as uow:
            events, name = domain.feed_events(uow, group_id)
        return feeds.calendar_text(events, name)

    # --- organising ---------------------------------------------------------------------

    @rpc
    def create_event(self, actor, payload):
        actor = load_actor(actor)
        data = load(schemas.EventCreateSchema, payload)
        with self.db as uow:
            return domain.create_event(uow, actor, **data)

    @rpc
    def change_event(self, actor, event_id, payload):
        actor = load_actor(actor)
        event_id = clean_id("event_id", event_id)
        changes = load(schemas.EventChangeSchema, payload)
        with self.db as uow:
            return domain.change_event(uow, actor, event_id, changes)

    @rpc
    def cancel_event(self, actor, event_id, payload):
        actor = load_actor(actor)
        event_id = clean_id("event_id", event_id)
        data = load(schemas.EventCancelSchema, payload)
        with self.db as uow:
            return domain.cancel_event(uow, actor, event_id, data["reason"])

    @rpc
    def publish_agenda(self, actor, event_id, payload):
        actor = load_actor(actor)
        event_id = clean_id("event_id", event_id)
        data = load(schemas.AgendaSchema, payload)
        with self.db as uow:
            return domain.publish_agenda(uow, actor, event_id, data["body"])

    @rpc
    def publish_minutes(self, actor, event_id, payload):
        actor = load_actor(actor)
        event_id = clean_id("event_id", event_id)
        data = load(schemas.MinutesSchema, payload)
        with self.db as uow:
            return domain.publish_minutes(uow, actor, event_id, data["body"])

    @rpc
    def check_in(self, actor, event_id, payload):
        actor = load_actor(actor)
        event_id = clean_id("event_id", event_id)
        data = load(schemas.CheckInSchema, payload)
        with self.db as uow:
            return domain.check_in(uow, actor, event_id, data["account_id"])

    # --- registrations ------------------------------------------------------------------

    @rpc
    def register(self, actor, event_id):
        actor = load_actor(actor)
        event_id = clean_id("event_id", event_id)
        with self.db as uow:
            return domain.register(uow, actor, event_id)

    @rpc
    def cancel_registration(self, actor, event_id):
        actor = load_actor(actor)
        event_id = clean_id("event_id", event_id)
        with self.db as uow:
            return domain.cancel_registration(uow, actor, event_id)

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
            return domain.export_account(uow, account_id)

    # --- erasure (the read models of groups' facts: civic.readmodels.KeepsGroupFacts) --

    @event_handler("groups", "account_erased")
    def on_account_erased(self, envelope):
        domain.erase_account(self.db, envelope.data["account_id"])
