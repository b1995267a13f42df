"""The notifications service: its capability arrives with its own issue; it already runs, answers
`health` and `export_account`, and relays its outbox."""
from civic.db import Database
from civic.service import ServiceBase
from services.notifications.models import metadata


class NotificationsService(ServiceBase):
    name = "notifications"
    db = Database(metadata)
