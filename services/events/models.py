"""The events service's tables (the outbox and inbox for now; its issue adds the rest)."""
from sqlalchemy import MetaData

from civic.db import kernel_tables

metadata = MetaData()
outbox, inbox = kernel_tables(metadata)
