"""openings an erased account posted keep no link to it

Revision ID: 8e2f6b1c4d70
Revises: bea73c98f5d0
Create Date: 2026-12-02 10:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '8e2f6b1c4d70'
down_revision: Union[str, Sequence[str], None] = 'bea73c98f5d0'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _foreign_keys_off() -> None:
    # SQLite rebuilds the table to change a column (batch mode), dropping the old one:
    # with foreign keys enforced, that drop would refuse while interests point at it.
    # The pragma works outside a transaction only, which is where an upgrade of an
    # existing database starts; a fresh one has no rows that could refuse.
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('PRAGMA foreign_keys=OFF')


def upgrade() -> None:
    _foreign_keys_off()
    with op.batch_alter_table('openings') as batch_op:
        batch_op.alter_column('created_by', existing_type=sa.String(length=64),
                              nullable=True)
    # Accounts erased before this revision: unlinked now, as erasure does from now on.
    op.execute(sa.text('UPDATE openings SET created_by = NULL WHERE created_by IN '
                       '(SELECT account_id FROM known_accounts WHERE erased)'))


def downgrade() -> None:
    # The erased accounts' nulls become a placeholder that names nobody.
    _foreign_keys_off()
    op.execute(sa.text("UPDATE openings SET created_by = 'erased' WHERE created_by IS NULL"))
    with op.batch_alter_table('openings') as batch_op:
        batch_op.alter_column('created_by', existing_type=sa.String(length=64),
                              nullable=False)
