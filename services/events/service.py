"""The events service: its capability arrives with its own issue; it already runs, answers
`health` and `export_account`, and relays its outbox."""
from civic.db import Database
from civic.service import ServiceBase
from services.events.models import metadata


class EventsService(ServiceBase):
    name = "events"
    db = Database(metadata)
