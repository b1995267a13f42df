"""proposals: a short reference for each (backfilled), the visitor's name, and the
reason of the last moderation

Revision ID: f13a00000002
Revises: f12c00000002
Create Date: 2026-12-02 07:00:00

"""
import secrets
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import civic.db


# revision identifiers, used by Alembic.
revision: str = 'f13a00000002'
down_revision: Union[str, Sequence[str], None] = 'f12c00000002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# As services/proposals/api.py had them when this migration was written (a migration
# does not change when the code does).
PREFIX = "JKM-"
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 5


def upgrade() -> None:
    with op.batch_alter_table('proposals') as batch:
        batch.add_column(sa.Column('reference', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('visitor_name', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('moderation_reason', sa.Text(), nullable=True))
        batch.add_column(sa.Column('moderated_at', civic.db.UTCDateTime(timezone=True), nullable=True))
    # Every existing proposal gets its reference, each one different.
    connection = op.get_bind()
    proposals = sa.table('proposals', sa.column('id', sa.String), sa.column('reference', sa.String))
    taken: set[str] = set()
    for (proposal_id,) in connection.execute(
        sa.select(proposals.c.id).order_by(proposals.c.id)
    ).fetchall():
        reference = None
        while reference is None or reference in taken:
            reference = PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        taken.add(reference)
        connection.execute(
            proposals.update().where(proposals.c.id == proposal_id).values(reference=reference)
        )
    with op.batch_alter_table('proposals') as batch:
        batch.alter_column('reference', existing_type=sa.String(length=20), nullable=False)
        batch.create_index('ix_proposals_reference', ['reference'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('proposals') as batch:
        batch.drop_index('ix_proposals_reference')
        batch.drop_column('moderated_at')
        batch.drop_column('moderation_reason')
        batch.drop_column('visitor_name')
        batch.drop_column('reference')
