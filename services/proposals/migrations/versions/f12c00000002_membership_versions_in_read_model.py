"""read model of memberships: the version of the fact each row holds

Revision ID: f12c00000002
Revises: f12a00000002
Create Date: 2026-12-02 06:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'f12c00000002'
down_revision: Union[str, Sequence[str], None] = 'f12a00000002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # The producer's membership version of the fact each row holds (null: heard of
    # only from events from before versions).
    with op.batch_alter_table('known_memberships') as batch:
        batch.add_column(sa.Column('version', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('known_memberships') as batch:
        batch.drop_column('version')
