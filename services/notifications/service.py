"""The notifications service: inbox, follows, preferences, email, and the staff activity
feed — over RPC, fed by one handler of every event.

Entrypoints only check what they were given (the caller through `load_actor`), open one
unit of work, let the domain decide (domain.py; who is told what is the table in
rules.py) and dump its answer with api.py's schemas. A timer sends the email
queue and the digests (email.py), asking the groups service for addresses once per
batch.
"""

from civic.db import Database, utcnow
from civic.messaging import all_events_handler
from civic.rpc import Services
from civic.service import ServiceBase, rpc, timer
from civic.validation import clean_id, dump, load, load_actor
from services.notifications import activity, api, domain, email
from services.notifications.models import metadata

__all__ = ["NotificationsService", "metadata"]


class NotificationsService(ServiceBase):
    name = "notifications"
    db = Database(metadata)
    services = Services()

    # --- every event ----------------------------------------------------------------------

    @all_events_handler(name="on_event")
    def on_event(self, envelope, uow):
        domain.handle_event(uow, envelope, email.MailSettings.from_config())

    # --- email ----------------------------------------------------------------------------

    @timer("CIVIC_EMAIL_INTERVAL")
    def deliver_emails(self):
        settings = email.MailSettings.from_config()
        now = utcnow()
        with self.db as uow:
            email.enqueue_due_digests(uow, now, settings)
        sender = email.EmailSender(lambda: self.db, self.services.groups.get_emails, settings)
        sender.send_due(now)

    @rpc
    def unsubscribe(self, token):
        token = load(api.TokenSchema, {"token": token})["token"]
        with self.db as uow:
            result = domain.unsubscribe(uow, token)
        return dump(api.UnsubscribeResultSchema, result)

    # --- inbox ----------------------------------------------------------------------------

    @rpc
    def list_notifications(self, actor, unread=None, page=1, per_page=20):
        account_id = load_actor(actor)["account_id"]
        query = load(
            api.NotificationListQuerySchema, {"unread": unread, "page": page, "per_page": per_page}
        )
        with self.db as uow:
            page = domain.list_notifications(uow, account_id, **query)
        return dump(api.NotificationListSchema, page)

    @rpc(command=True)
    def mark_read(self, actor, notification_id):
        account_id = load_actor(actor)["account_id"]
        notification_id = clean_id("notification_id", notification_id)
        with self.db as uow:
            notification = domain.mark_read(uow, account_id, notification_id)
        return dump(api.NotificationSchema, notification)

    @rpc(command=True)
    def mark_all_read(self, actor):
        account_id = load_actor(actor)["account_id"]
        with self.db as uow:
            result = domain.mark_all_read(uow, account_id)
        return dump(api.ReadAllResultSchema, result)

    # --- preferences ----------------------------------------------------------------------

    @rpc
    def get_preferences(self, actor):
        account_id = load_actor(actor)["account_id"]
        with self.db as uow:
            preferences = domain.get_preferences(uow, account_id)
        return dump(api.PreferencesViewSchema, preferences)

    @rpc(command=True)
    def set_preferences(self, actor, payload):
        account_id = load_actor(actor)["account_id"]
        data = load(api.PreferencesSchema, payload)
        with self.db as uow:
            preferences = domain.set_preferences(uow, account_id, **data)
        return dump(api.PreferencesViewSchema, preferences)

    # --- follows --------------------------------------------------------------------------

    @rpc(command=True)
    def follow(self, actor, payload):
        account_id = load_actor(actor)["account_id"]
        data = load(api.FollowCreateSchema, payload)
        with self.db as uow:
            found = domain.follow(uow, account_id, **data)
        return dump(api.FollowSchema, found)

    @rpc(command=True)
    def unfollow(self, actor, target_type, target_id):
        account_id = load_actor(actor)["account_id"]
        data = load(api.FollowTargetSchema, {"target_type": target_type, "target_id": target_id})
        with self.db as uow:
            return domain.unfollow(uow, account_id, **data)

    @rpc
    def list_follows(self, actor, page=1, per_page=20):
        account_id = load_actor(actor)["account_id"]
        query = load(api.FollowListQuerySchema, {"page": page, "per_page": per_page})
        with self.db as uow:
            page = domain.list_follows(uow, account_id, **query)
        return dump(api.FollowListSchema, page)

    # --- staff ----------------------------------------------------------------------------

    @rpc
    def list_activity(
        self,
        actor,
        type=None,
        since=None,
        page=1,
        per_page=20,
        until=None,
        subject_type=None,
        subject_id=None,
        actor_id=None,
        correlation_id=None,
    ):
        actor = load_actor(actor)
        query = load(
            api.ActivityQuerySchema,
            {
                "type": type,
                "since": since,
                "until": until,
                "subject_type": subject_type,
                "subject_id": subject_id,
                "actor_id": actor_id,
                "correlation_id": correlation_id,
                "page": page,
                "per_page": per_page,
            },
        )
        with self.db as uow:
            page = activity.list_entries(uow, actor, **query)
        return dump(api.ActivityListSchema, page)

    # --- personal data --------------------------------------------------------------------

    @rpc
    def export_account(self, account_id):
        account_id = clean_id("account_id", account_id)
        with self.db as uow:
            return domain.export_account(uow, account_id)

    # --- open data (issue 13) -------------------------------------------------------------
    # The public datasets are a read model of the events that carry public facts, one
    # handler (and queue) per event type; opendata.py says what goes in.

    def _open_data_handler(source, event_type):  # runs in the class body: a factory
        from civic.messaging import event_handler

        @event_handler(source, event_type, name=f"open_data_{event_type}")
        def handle(self, envelope, uow):
            from services.notifications import opendata

            opendata.apply(uow.session, envelope, utcnow())

        handle.__name__ = handle.__qualname__ = f"on_open_data_{event_type}"
        return handle

    on_open_data_proposal_submitted = _open_data_handler("proposals", "proposal_submitted")
    on_open_data_proposal_status_changed = _open_data_handler(
        "proposals", "proposal_status_changed"
    )
    on_open_data_proposal_answered = _open_data_handler("proposals", "proposal_answered")
    on_open_data_proposal_assigned = _open_data_handler("proposals", "proposal_assigned")
    on_open_data_proposal_supported = _open_data_handler("proposals", "proposal_supported")
    on_open_data_proposal_support_withdrawn = _open_data_handler(
        "proposals", "proposal_support_withdrawn"
    )
    on_open_data_proposal_merged = _open_data_handler("proposals", "proposal_merged")
    on_open_data_proposal_hidden = _open_data_handler("proposals", "proposal_hidden")
    on_open_data_proposal_restored = _open_data_handler("proposals", "proposal_restored")
    on_open_data_proposal_removed = _open_data_handler("proposals", "proposal_removed")
    on_open_data_event_scheduled = _open_data_handler("events", "event_scheduled")
    on_open_data_event_changed = _open_data_handler("events", "event_changed")
    on_open_data_event_cancelled = _open_data_handler("events", "event_cancelled")
    on_open_data_event_completed = _open_data_handler("events", "event_completed")
    on_open_data_project_registered = _open_data_handler("proposals", "project_registered")
    on_open_data_project_partner_added = _open_data_handler("proposals", "project_partner_added")
    on_open_data_project_status_changed = _open_data_handler("proposals", "project_status_changed")
    on_open_data_opening_posted = _open_data_handler("openings", "opening_posted")
    on_open_data_opening_closed = _open_data_handler("openings", "opening_closed")
    on_open_data_opening_expired = _open_data_handler("openings", "opening_expired")
    del _open_data_handler

    @rpc
    def open_dataset(self, name):
        """One open dataset (public: anyone may have it): its columns, last change and
        rows. An unknown name is not found."""
        from civic.errors import NotFound
        from services.notifications import opendata

        if not isinstance(name, str) or name not in opendata.FIELDS:
            raise NotFound("no such open dataset")
        with self.db as uow:
            return opendata.dataset(uow.session, name)

    @rpc
    def open_data_catalogue(self):
        """Every open dataset's name, columns, last change and number of rows."""
        from services.notifications import opendata

        with self.db as uow:
            return opendata.catalogue(uow.session)
