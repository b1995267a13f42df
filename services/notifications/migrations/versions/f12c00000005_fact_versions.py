"""the last fact applied about each membership and registration (read models)

Revision ID: f12c00000005
Revises: f12b00000005
Create Date: 2026-12-02 06:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import civic.db


# revision identifiers, used by Alembic.
revision: str = 'f12c00000005'
down_revision: Union[str, Sequence[str], None] = 'f12b00000005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'fact_versions',
        sa.Column('subject', sa.String(length=12), nullable=False),
        sa.Column('scope_id', sa.String(length=64), nullable=False),
        sa.Column('account_id', sa.String(length=64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=True),
        sa.Column('as_of', civic.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("subject IN ('membership', 'registration')",
                           name=op.f('ck_fact_versions_subject')),
        sa.PrimaryKeyConstraint('subject', 'scope_id', 'account_id',
                                name=op.f('pk_fact_versions')),
    )
    with op.batch_alter_table('fact_versions') as batch:
        batch.create_index(batch.f('ix_fact_versions_account_id'), ['account_id'],
                           unique=False)


def downgrade() -> None:
    with op.batch_alter_table('fact_versions') as batch:
        batch.drop_index(batch.f('ix_fact_versions_account_id'))
    op.drop_table('fact_versions')
