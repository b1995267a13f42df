"""erased accounts' ids (tombstones); the activity feed by actor and by subject

Revision ID: 3a9d5e7c1f28
Revises: b1eae7f5571c
Create Date: 2026-12-02 10:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '3a9d5e7c1f28'
down_revision: Union[str, Sequence[str], None] = 'b1eae7f5571c'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('erased_accounts',
                    sa.Column('account_id', sa.String(length=64), nullable=False),
                    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_erased_accounts')))
    with op.batch_alter_table('activity') as batch_op:
        batch_op.create_index(batch_op.f('ix_activity_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index('ix_activity_subject', ['subject_type', 'subject_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('activity') as batch_op:
        batch_op.drop_index('ix_activity_subject')
        batch_op.drop_index(batch_op.f('ix_activity_actor_id'))
    op.drop_table('erased_accounts')
