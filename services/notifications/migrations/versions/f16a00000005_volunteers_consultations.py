"""volunteers' interests (read model); the programme and consultations can be followed

Revision ID: f16a00000005
Revises: f13b00000005
Create Date: 2026-12-02 23:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'f16a00000005'
down_revision: Union[str, Sequence[str], None] = 'f13b00000005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OLD_TARGETS = "'proposal', 'project', 'group', 'event'"
NEW_TARGETS = OLD_TARGETS + ", 'programme', 'consultation'"
OLD_SUBJECTS = "'membership', 'registration'"
NEW_SUBJECTS = OLD_SUBJECTS + ", 'volunteer'"


def _check(table: str, name: str, column: str, values: str) -> None:
    with op.batch_alter_table(table) as batch:
        batch.drop_constraint(op.f(name), type_='check')
        batch.create_check_constraint(op.f(name), f"{column} IN ({values})")


def upgrade() -> None:
    op.create_table(
        'volunteer_interests',
        sa.Column('account_id', sa.String(length=64), nullable=False),
        sa.Column('category', sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint('account_id', 'category', name=op.f('pk_volunteer_interests')),
    )
    with op.batch_alter_table('volunteer_interests') as batch:
        batch.create_index('ix_volunteer_interests_category', ['category'], unique=False)
    _check('follows', 'ck_follows_target_type', 'target_type', NEW_TARGETS)
    _check('targets', 'ck_targets_type', 'type', NEW_TARGETS)
    _check('fact_versions', 'ck_fact_versions_subject', 'subject', NEW_SUBJECTS)


def downgrade() -> None:
    op.execute("DELETE FROM fact_versions WHERE subject = 'volunteer'")
    op.execute("DELETE FROM follows WHERE target_type IN ('programme', 'consultation')")
    op.execute("DELETE FROM targets WHERE type IN ('programme', 'consultation')")
    _check('fact_versions', 'ck_fact_versions_subject', 'subject', OLD_SUBJECTS)
    _check('targets', 'ck_targets_type', 'type', OLD_TARGETS)
    _check('follows', 'ck_follows_target_type', 'target_type', OLD_TARGETS)
    with op.batch_alter_table('volunteer_interests') as batch:
        batch.drop_index('ix_volunteer_interests_category')
    op.drop_table('volunteer_interests')
