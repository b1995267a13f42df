"""The proposals service: its capability arrives with its own issue; it already runs, answers
`health` and `export_account`, and relays its outbox."""
from civic.db import Database
from civic.service import ServiceBase
from services.proposals.models import metadata


class ProposalsService(ServiceBase):
    name = "proposals"
    db = Database(metadata)
