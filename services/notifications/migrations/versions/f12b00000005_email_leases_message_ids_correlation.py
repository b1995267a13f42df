"""emails: lease owners, one resend after a crash, the correlation id of their cause

Revision ID: f12b00000005
Revises: f12a00000005
Create Date: 2026-12-02 04:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

import civic.db

# revision identifiers, used by Alembic.
revision: str = 'f12b00000005'
down_revision: Union[str, Sequence[str], None] = 'f12a00000005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _statuses(batch, statuses: str) -> None:
    batch.drop_constraint(op.f('ck_emails_status'), type_='check')
    batch.create_check_constraint(op.f('ck_emails_status'), f"status IN ({statuses})")


def upgrade() -> None:
    with op.batch_alter_table('emails') as batch:
        batch.add_column(sa.Column('lease_owner', sa.String(length=36), nullable=True))
        batch.add_column(
            sa.Column('resent_at', civic.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column('correlation_id', sa.String(length=100), nullable=True))
        _statuses(batch, "'queued', 'sending', 'sent', 'failed'")


def downgrade() -> None:
    # An email handed to the SMTP server and never confirmed is taken as sent: the old
    # schema would send it again with a new Message-ID.
    op.execute("UPDATE emails SET status = 'sent' WHERE status = 'sending'")
    with op.batch_alter_table('emails') as batch:
        _statuses(batch, "'queued', 'sent', 'failed'")
        batch.drop_column('correlation_id')
        batch.drop_column('resent_at')
        batch.drop_column('lease_owner')
