"""the staff activity feed filtered by a request's correlation id

Revision ID: f13a00000005
Revises: f12c00000005
Create Date: 2026-12-02 07:00:00

"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'f13a00000005'
down_revision: Union[str, Sequence[str], None] = 'f12c00000005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index('ix_activity_correlation_id', 'activity', ['correlation_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_activity_correlation_id', table_name='activity')
