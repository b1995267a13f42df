"""an erased account's proposals, comments, steps and projects keep no link to it

Revision ID: 5d0c8e4b9a21
Revises: 2f43e5aed897
Create Date: 2026-12-02 10:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '5d0c8e4b9a21'
down_revision: Union[str, Sequence[str], None] = '2f43e5aed897'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# (table, column): null once the account is erased.
UNLINKED = (('proposals', 'author_id'), ('comments', 'author_id'),
            ('proposal_steps', 'actor_id'), ('projects', 'created_by'),
            ('project_steps', 'actor_id'))


def _foreign_keys_off() -> None:
    # SQLite rebuilds a table to change a column (batch mode), dropping the old one:
    # with foreign keys enforced, that drop would refuse while other rows point at it.
    # The pragma works outside a transaction only, which is where an upgrade of an
    # existing database starts; a fresh one has no rows that could refuse.
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('PRAGMA foreign_keys=OFF')


def upgrade() -> None:
    _foreign_keys_off()
    for table, column in UNLINKED:
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(column, existing_type=sa.String(length=64),
                                  nullable=True)
    # Accounts erased before this revision: unlinked now, as erasure does from now on.
    for table, column in UNLINKED + (('proposals', 'answered_by'),):
        op.execute(sa.text(f'UPDATE {table} SET {column} = NULL WHERE {column} IN '
                           '(SELECT account_id FROM known_accounts WHERE erased)'))


def downgrade() -> None:
    # The erased accounts' nulls become one placeholder that names nobody.
    _foreign_keys_off()
    for table, column in reversed(UNLINKED):
        op.execute(sa.text(f"UPDATE {table} SET {column} = 'erased' WHERE {column} IS NULL"))
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(column, existing_type=sa.String(length=64),
                                  nullable=False)
