"""open data: anonymised public datasets of proposals, events, projects and openings

Revision ID: f13b00000005
Revises: f13a00000005
Create Date: 2026-12-02 07:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

import civic.db


# revision identifiers, used by Alembic.
revision: str = 'f13b00000005'
down_revision: Union[str, Sequence[str], None] = 'f13a00000005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _when(name, nullable=True):
    return sa.Column(name, civic.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        'open_datasets',
        sa.Column('name', sa.String(length=12), nullable=False),
        _when('modified', nullable=False),
        sa.CheckConstraint("name IN ('proposals', 'events', 'projects', 'openings')",
                           name=op.f('ck_open_datasets_name')),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_open_datasets')),
    )
    op.create_table(
        'open_proposals',
        sa.Column('proposal_id', sa.String(length=64), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('category', sa.String(length=100), nullable=True),
        sa.Column('channel', sa.String(length=20), nullable=True),
        _when('submitted_at'),
        sa.Column('status', sa.String(length=20), nullable=False),
        _when('status_as_of'),
        _when('answered_at'),
        sa.Column('assigned_group_id', sa.String(length=64), nullable=True),
        sa.Column('assigned_group_name', sa.String(length=200), nullable=True),
        _when('assigned_as_of'),
        sa.Column('support_count', sa.Integer(), nullable=False),
        _when('support_as_of'),
        sa.Column('merged_into_id', sa.String(length=64), nullable=True),
        sa.Column('visibility', sa.String(length=8), nullable=False),
        _when('visibility_as_of'),
        _when('updated_at', nullable=False),
        sa.CheckConstraint("visibility IN ('shown', 'hidden', 'removed')",
                           name=op.f('ck_open_proposals_visibility')),
        sa.PrimaryKeyConstraint('proposal_id', name=op.f('pk_open_proposals')),
    )
    op.create_table(
        'open_events',
        sa.Column('event_id', sa.String(length=64), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=True),
        sa.Column('organiser_group_id', sa.String(length=64), nullable=False),
        _when('starts_at', nullable=False),
        _when('ends_at'),
        sa.Column('location', sa.Text(), nullable=True),
        sa.Column('capacity', sa.Integer(), nullable=True),
        sa.Column('proposal_id', sa.String(length=64), nullable=True),
        sa.Column('project_id', sa.String(length=64), nullable=True),
        _when('scheduled_at'),
        _when('details_as_of'),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('attendance_count', sa.Integer(), nullable=True),
        _when('updated_at', nullable=False),
        sa.PrimaryKeyConstraint('event_id', name=op.f('pk_open_events')),
    )
    op.create_table(
        'open_projects',
        sa.Column('project_id', sa.String(length=64), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('lead_group_id', sa.String(length=64), nullable=False),
        sa.Column('partner_group_ids', sa.Text(), nullable=False),
        sa.Column('origin_proposal_id', sa.String(length=64), nullable=True),
        _when('registered_at'),
        sa.Column('status', sa.String(length=10), nullable=False),
        _when('status_as_of'),
        _when('updated_at', nullable=False),
        sa.PrimaryKeyConstraint('project_id', name=op.f('pk_open_projects')),
    )
    op.create_table(
        'open_openings',
        sa.Column('opening_id', sa.String(length=64), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('business_group_id', sa.String(length=64), nullable=False),
        sa.Column('business_name', sa.String(length=200), nullable=True),
        sa.Column('sector', sa.String(length=20), nullable=True),
        sa.Column('employment_type', sa.String(length=20), nullable=True),
        sa.Column('apply_by', sa.String(length=10), nullable=True),
        _when('posted_at'),
        sa.Column('status', sa.String(length=10), nullable=False),
        _when('updated_at', nullable=False),
        sa.PrimaryKeyConstraint('opening_id', name=op.f('pk_open_openings')),
    )


def downgrade() -> None:
    op.drop_table('open_openings')
    op.drop_table('open_projects')
    op.drop_table('open_events')
    op.drop_table('open_proposals')
    op.drop_table('open_datasets')
