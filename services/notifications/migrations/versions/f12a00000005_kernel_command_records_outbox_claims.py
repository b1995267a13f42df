"""kernel: command records, outbox claims and parking (the same in every service)

Revision ID: f12a00000005
Revises: d7a3c5e81f20
Create Date: 2026-12-02 03:00:00

"""
from typing import Sequence, Union

from civic.migrations import downgrade_kernel_faults, upgrade_kernel_faults

# revision identifiers, used by Alembic.
revision: str = 'f12a00000005'
down_revision: Union[str, Sequence[str], None] = 'd7a3c5e81f20'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    upgrade_kernel_faults()


def downgrade() -> None:
    downgrade_kernel_faults()
