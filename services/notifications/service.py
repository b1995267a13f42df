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
from civic.validation import clean_id, load, load_actor
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
        return api.UnsubscribeResultSchema().dump(result)

    # --- inbox ----------------------------------------------------------------------------

    @rpc
    def list_notifications(self, actor, unread=None, page=1, per_page=20):
        account_id = load_actor(actor)["account_id"]
        query = load(
            api.NotificationListQuerySchema, {"unread": unread, "page": page, "per_page": per_page}
        )
        with self.db as uow:
            page = domain.list_notifications(uow, account_id, **query)
        return api.NotificationListSchema().dump(page)

    @rpc(command=True)
    def mark_read(self, actor, notification_id):
        account_id = load_actor(actor)["account_id"]
        notification_id = clean_id("notification_id", notification_id)
        with self.db as uow:
            notification = domain.mark_read(uow, account_id, notification_id)
        return api.NotificationSchema().dump(notification)

    @rpc(command=True)
    def mark_all_read(self, actor):
        account_id = load_actor(actor)["account_id"]
        with self.db as uow:
            result = domain.mark_all_read(uow, account_id)
        return api.ReadAllResultSchema().dump(result)

    # --- preferences ----------------------------------------------------------------------

    @rpc
    def get_preferences(self, actor):
        account_id = load_actor(actor)["account_id"]
        with self.db as uow:
            preferences = domain.get_preferences(uow, account_id)
        return api.PreferencesViewSchema().dump(preferences)

    @rpc(command=True)
    def set_preferences(self, actor, payload):
        account_id = load_actor(actor)["account_id"]
        data = load(api.PreferencesSchema, payload)
        with self.db as uow:
            preferences = domain.set_preferences(uow, account_id, **data)
        return api.PreferencesViewSchema().dump(preferences)

    # --- follows --------------------------------------------------------------------------

    @rpc(command=True)
    def follow(self, actor, payload):
        account_id = load_actor(actor)["account_id"]
        data = load(api.FollowCreateSchema, payload)
        with self.db as uow:
            found = domain.follow(uow, account_id, **data)
        return api.FollowSchema().dump(found)

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
        return api.FollowListSchema().dump(page)

    # --- staff ----------------------------------------------------------------------------

    @rpc
    def list_activity(self, actor, type=None, since=None, page=1, per_page=20):
        actor = load_actor(actor)
        query = load(
            api.ActivityQuerySchema,
            {"type": type, "since": since, "page": page, "per_page": per_page},
        )
        with self.db as uow:
            page = activity.list_entries(uow, actor, **query)
        return api.ActivityListSchema().dump(page)

    # --- personal data --------------------------------------------------------------------

    @rpc
    def export_account(self, account_id):
        account_id = clean_id("account_id", account_id)
        with self.db as uow:
            return domain.export_account(uow, account_id)
