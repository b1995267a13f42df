"""proposals: comments are reported and moderated like proposals (a report table, and
each comment's report count, hidden flag and last moderation reason)

Revision ID: f13c00000002
Revises: f13a00000002
Create Date: 2026-12-02 09:45:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import civic.db


# revision identifiers, used by Alembic.
revision: str = 'f13c00000002'
down_revision: Union[str, Sequence[str], None] = 'f13a00000002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('comments') as batch:
        batch.add_column(
            sa.Column('report_count', sa.Integer(), nullable=False, server_default='0')
        )
        batch.add_column(
            sa.Column('hidden', sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column('moderation_reason', sa.Text(), nullable=True))
        batch.add_column(
            sa.Column('moderated_at', civic.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.create_check_constraint(op.f('ck_comments_report_count'), 'report_count >= 0')
        batch.create_index('ix_comments_report_count', ['report_count'], unique=False)
        batch.create_index('ix_comments_hidden', ['hidden'], unique=False)
    op.create_table(
        'comment_reports',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('comment_id', sa.String(length=36), nullable=False),
        sa.Column('reporter_id', sa.String(length=64), nullable=True),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('created_at', civic.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['comment_id'], ['comments.id'], name='fk_comment_reports_comment_id_comments'
        ),
        sa.PrimaryKeyConstraint('id', name='pk_comment_reports'),
        sa.UniqueConstraint(
            'comment_id', 'reporter_id', name='uq_comment_reports_comment_reporter'
        ),
    )
    op.create_index('ix_comment_reports_comment_id', 'comment_reports', ['comment_id'])
    op.create_index('ix_comment_reports_reporter_id', 'comment_reports', ['reporter_id'])


def downgrade() -> None:
    op.drop_index('ix_comment_reports_reporter_id', table_name='comment_reports')
    op.drop_index('ix_comment_reports_comment_id', table_name='comment_reports')
    op.drop_table('comment_reports')
    with op.batch_alter_table('comments') as batch:
        batch.drop_index('ix_comments_hidden')
        batch.drop_index('ix_comments_report_count')
        batch.drop_constraint(op.f('ck_comments_report_count'), type_='check')
        batch.drop_column('moderated_at')
        batch.drop_column('moderation_reason')
        batch.drop_column('hidden')
        batch.drop_column('report_count')
