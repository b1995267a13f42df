"""confirmation emails: a third kind of queued email

Revision ID: d7a3c5e81f20
Revises: 3a9d5e7c1f28
Create Date: 2026-12-01 18:20:00

"""
from typing import Sequence, Union

from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'd7a3c5e81f20'
down_revision: Union[str, Sequence[str], None] = '3a9d5e7c1f28'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _kinds(batch, kinds: str) -> None:
    batch.drop_constraint(op.f('ck_emails_kind'), type_='check')
    batch.create_check_constraint(op.f('ck_emails_kind'), f"kind IN ({kinds})")


def upgrade() -> None:
    with op.batch_alter_table('emails') as batch:
        _kinds(batch, "'notification', 'digest', 'confirmation'")


def downgrade() -> None:
    op.execute("DELETE FROM emails WHERE kind = 'confirmation'")
    with op.batch_alter_table('emails') as batch:
        _kinds(batch, "'notification', 'digest'")
