"""attempts: failed sign-ins and registrations, counted here for every gateway

Revision ID: f15d00000001
Revises: f13a00000001
Create Date: 2026-12-03 09:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import civic.db


# revision identifiers, used by Alembic.
revision: str = 'f15d00000001'
down_revision: Union[str, Sequence[str], None] = 'f13a00000001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'attempts',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('scope', sa.String(length=20), nullable=False),
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('at', civic.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "scope IN ('signin_pair', 'signin_address', 'signin_account', 'signup_address')",
            name=op.f('ck_attempts_scope'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_attempts')),
    )
    with op.batch_alter_table('attempts') as batch:
        batch.create_index(batch.f('ix_attempts_at'), ['at'], unique=False)
        batch.create_index('ix_attempts_scope_key_at', ['scope', 'key', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('attempts') as batch:
        batch.drop_index('ix_attempts_scope_key_at')
        batch.drop_index(batch.f('ix_attempts_at'))
    op.drop_table('attempts')
