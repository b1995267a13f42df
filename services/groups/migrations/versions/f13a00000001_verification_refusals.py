"""verification refusals: when staff refused to verify an organisation, and why

Revision ID: f13a00000001
Revises: f12c00000001
Create Date: 2026-12-02 07:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import civic.db


# revision identifiers, used by Alembic.
revision: str = 'f13a00000001'
down_revision: Union[str, Sequence[str], None] = 'f12c00000001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('groups') as batch:
        batch.add_column(sa.Column('verification_refused_at', civic.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('verification_refusal', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('groups') as batch:
        batch.drop_column('verification_refusal')
        batch.drop_column('verification_refused_at')
