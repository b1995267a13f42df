"""email confirmation; groups left without a member wait for staff to appoint an admin

Revision ID: c4f1e9a2b7d3
Revises: bb8bd5c60ef9
Create Date: 2026-12-01 17:40:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import civic.db


# revision identifiers, used by Alembic.
revision: str = 'c4f1e9a2b7d3'
down_revision: Union[str, Sequence[str], None] = 'bb8bd5c60ef9'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('accounts') as batch:
        batch.add_column(sa.Column('email_confirmed_at', civic.db.UTCDateTime(),
                                   nullable=True))
    # Accounts from before email confirmation were never sent a link: they count as
    # confirmed (else every one older than the grace period would lose its writes).
    accounts = sa.table('accounts', sa.column('email_confirmed_at', civic.db.UTCDateTime()),
                        sa.column('created_at', civic.db.UTCDateTime()),
                        sa.column('erased_at', civic.db.UTCDateTime()))
    op.execute(accounts.update().where(accounts.c.erased_at.is_(None))
               .values(email_confirmed_at=accounts.c.created_at))
    with op.batch_alter_table('groups') as batch:
        batch.add_column(sa.Column('needs_admin', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('groups') as batch:
        batch.drop_column('needs_admin')
    with op.batch_alter_table('accounts') as batch:
        batch.drop_column('email_confirmed_at')
