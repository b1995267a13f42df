"""kernel: command records, outbox claims and parking (the same in every service)

Revision ID: f12a00000002
Revises: 5d0c8e4b9a21
Create Date: 2026-12-02 03:00:00

"""
from typing import Sequence, Union

from civic.migrations import downgrade_kernel_faults, upgrade_kernel_faults

# revision identifiers, used by Alembic.
revision: str = 'f12a00000002'
down_revision: Union[str, Sequence[str], None] = '5d0c8e4b9a21'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    upgrade_kernel_faults()


def downgrade() -> None:
    downgrade_kernel_faults()
