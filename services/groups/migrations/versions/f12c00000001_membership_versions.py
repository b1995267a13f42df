"""membership versions: one counter per group, stamped on each fact about a membership

Revision ID: f12c00000001
Revises: f12a00000001
Create Date: 2026-12-02 06:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'f12c00000001'
down_revision: Union[str, Sequence[str], None] = 'f12a00000001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('groups') as batch:
        batch.add_column(sa.Column('membership_version', sa.Integer(), nullable=False,
                                   server_default=sa.text('0')))


def downgrade() -> None:
    with op.batch_alter_table('groups') as batch:
        batch.drop_column('membership_version')
