"""registration versions (one counter per event); membership versions in the read
model; erased accounts remembered

Revision ID: f12c00000003
Revises: f12a00000003
Create Date: 2026-12-02 06:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'f12c00000003'
down_revision: Union[str, Sequence[str], None] = 'f12a00000003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('events') as batch:
        batch.add_column(sa.Column('registration_version', sa.Integer(), nullable=False,
                                   server_default=sa.text('0')))
    # The producer's membership version of the fact each row holds (null: heard of
    # only from events from before versions).
    with op.batch_alter_table('known_memberships') as batch:
        batch.add_column(sa.Column('version', sa.Integer(), nullable=True))
    # Erased accounts' ids: a late fact about one brings no membership back.
    op.create_table('erased_accounts',
                    sa.Column('account_id', sa.String(length=64), nullable=False),
                    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_erased_accounts')))


def downgrade() -> None:
    op.drop_table('erased_accounts')
    with op.batch_alter_table('known_memberships') as batch:
        batch.drop_column('version')
    with op.batch_alter_table('events') as batch:
        batch.drop_column('registration_version')
