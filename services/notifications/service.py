"""The notifications service: inbox, follows, preferences, email, and the staff activity
feed — over RPC, fed by one handler of every event.

Entrypoints only check what they were given, open one unit of work and let the domain
decide (domain.py; who is told what is the table in rules.py). A timer sends the email
queue and the digests (email.py), asking the groups service for addresses once per
batch.
"""

from civic.db import Database, utcnow
from civic.messaging import all_events_handler
from civic.rpc import Services
from civic.service import ServiceBase, rpc, timer
from civic.validation import clean_id, load
from services.notifications import activity, domain, email, schemas
from services.notifications.models import metadata

__all__ = ["NotificationsService", "metadata"]


class NotificationsService(ServiceBase):
    name = "notifications"
    db = Database(metadata)
    services = Services()

    # --- every event ----------------------------------------------------------------------

    @all_events_handler()
    def on_event(self, envelope):
        with self.db as uow:
            domain.handle_event(uow, envelope, email.MailSettings.from_config())

    # --- email ----------------------------------------------------------------------------

    @timer("CIVIC_EMAIL_INTERVAL")
    def deliver_emails(self):
        settings = email.MailSettings.from_config()
        now = utcnow()
        with self.db as uow:
            email.enqueue_due_digests(uow, now, settings)
        sender = email.EmailSender(lambda: self.db, self.services.groups.get_emails,
                                   settings)
        sender.send_due(now)

    @rpc
    def unsubscribe(self, token):
        token = load(schemas.TokenSchema, {"token": token})["token"]
        with self.db as uow:
            return domain.unsubscribe(uow, token)

    # --- inbox ----------------------------------------------------------------------------

    @rpc
    def list_notifications(self, account_id, unread=None, page=1, per_page=20):
        account_id = clean_id("account_id", account_id)
        query = load(schemas.NotificationListQuerySchema,
                     {"unread": unread, "page": page, "per_page": per_page})
        with self.db as uow:
            return domain.list_notifications(uow, account_id, **query)

    @rpc
    def mark_read(self, account_id, notification_id):
        account_id = clean_id("account_id", account_id)
        notification_id = clean_id("notification_id", notification_id)
        with self.db as uow:
            return domain.mark_read(uow, account_id, notification_id)

    @rpc
    def mark_all_read(self, account_id):
        account_id = clean_id("account_id", account_id)
        with self.db as uow:
            return domain.mark_all_read(uow, account_id)

    # --- preferences ----------------------------------------------------------------------

    @rpc
    def get_preferences(self, account_id):
        account_id = clean_id("account_id", account_id)
        with self.db as uow:
            return domain.get_preferences(uow, account_id)

    @rpc
    def set_preferences(self, account_id, payload):
        account_id = clean_id("account_id", account_id)
        data = load(schemas.PreferencesSchema, payload)
        with self.db as uow:
            return domain.set_preferences(uow, account_id, **data)

    # --- follows --------------------------------------------------------------------------

    @rpc
    def follow(self, account_id, payload):
        account_id = clean_id("account_id", account_id)
        data = load(schemas.FollowCreateSchema, payload)
        with self.db as uow:
            return domain.follow(uow, account_id, **data)

    @rpc
    def unfollow(self, account_id, target_type, target_id):
        account_id = clean_id("account_id", account_id)
        data = load(schemas.FollowTargetSchema,
                    {"target_type": target_type, "target_id": target_id})
        with self.db as uow:
            return domain.unfollow(uow, account_id, **data)

    @rpc
    def list_follows(self, account_id, page=1, per_page=20):
        account_id = clean_id("account_id", account_id)
        query = load(schemas.FollowListQuerySchema, {"page": page, "per_page": per_page})
        with self.db as uow:
            return domain.list_follows(uow, account_id, **query)

    # --- staff ----------------------------------------------------------------------------

    @rpc
    def list_activity(self, type=None, since=None, page=1, per_page=20):
        query = load(schemas.ActivityQuerySchema,
                     {"type": type, "since": since, "page": page, "per_page": per_page})
        with self.db as uow:
            return activity.list_entries(uow, **query)

    # --- personal data --------------------------------------------------------------------

    @rpc
    def export_account(self, account_id):
        account_id = clean_id("account_id", account_id)
        with self.db as uow:
            return domain.export_account(uow, account_id)
